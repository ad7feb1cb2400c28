// An upstream dies under GET load: the proxy retries the failed attempts on another endpoint
// (zero failed GETs) and outlier detection ejects the dead endpoint.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/backend_process.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/load_generator.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

// True once the dump shows `address` of cluster backend as ejected or not eligible.
bool Ejected(int admin_port, const std::string& address, std::string* last = nullptr) {
  absl::StatusOr<nlohmann::json> d = ConfigDump(admin_port);
  if (!d.ok()) return false;
  nlohmann::json e = DumpEndpoint(*d, "backend", address);
  if (last != nullptr) *last = e.dump();
  return e.is_object() && (e.value("ejected", false) || !e.value("eligible", true));
}

class BackendKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(controller_.Start().ok());
    absl::Status s = proxy_.Start(controller_.grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(proxy_.WaitReady().ok());
  }

  absl::Status AddAll(const std::vector<int>& ports) {
    std::vector<std::string> want;
    for (int p : ports) {
      if (absl::Status s = SeedConfig(controller_.rest_port(), "add", p); !s.ok()) return s;
      want.push_back(LoopbackAddress(p));
    }
    return WaitForEndpoints(proxy_.admin_port(), "backend", want);
  }

  ControllerProcess controller_;
  ProxyProcess proxy_{"kill-proxy"};
};

// Backends are child processes; one is SIGKILLed (listener and connections vanish at once).
TEST_F(BackendKillTest, SigkilledBackendIsRetriedAroundAndEjected) {
  std::vector<std::unique_ptr<BackendProcess>> backends;
  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    backends.push_back(std::make_unique<BackendProcess>(absl::StrCat("web_", i)));
    absl::Status s = backends.back()->Start();
    ASSERT_TRUE(s.ok()) << s;
    ports.push_back(backends.back()->port());
  }
  ASSERT_TRUE(AddAll(ports).ok());

  LoadGenerator load(proxy_.port(), 3);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(1000, absl::Seconds(30))) << load.Summary();
  absl::StatusOr<uint64_t> retries_before =
      StatValue(proxy_.admin_port(), "lb_proxy_retries_total");
  ASSERT_TRUE(retries_before.ok()) << retries_before.status();

  backends[1]->Kill();
  std::string last;
  EXPECT_TRUE(
      WaitUntil([&] { return Ejected(proxy_.admin_port(), LoopbackAddress(ports[1]), &last); },
                absl::Seconds(20)))
      << "the dead endpoint was never ejected; last: " << last;
  ASSERT_TRUE(load.WaitForMore(2000, absl::Seconds(30))) << load.Summary();
  load.Stop();

  EXPECT_EQ(load.failures(), 0u) << load.Summary();
  absl::StatusOr<uint64_t> retries = StatValue(proxy_.admin_port(), "lb_proxy_retries_total");
  ASSERT_TRUE(retries.ok());
  EXPECT_GT(*retries, *retries_before) << "no attempt was retried after the kill";
  absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
  ASSERT_TRUE(d.ok());
  nlohmann::json dead = DumpEndpoint(*d, "backend", LoopbackAddress(ports[1]));
  EXPECT_GT(dead.value("failures", 0), 0) << dead.dump();
  for (int i : {0, 2}) {
    nlohmann::json e = DumpEndpoint(*d, "backend", LoopbackAddress(ports[i]));
    EXPECT_TRUE(e.value("eligible", false)) << e.dump();
    EXPECT_FALSE(e.value("ejected", true)) << e.dump();
  }
  std::printf("after kill: %s; retries %llu\n", load.Summary().c_str(),
              static_cast<unsigned long long>(*retries));
}

// In-process backends; one is stopped abruptly (RST on every connection) while slow requests
// are in flight on it. GETs that had not received a byte are retried elsewhere.
TEST_F(BackendKillTest, BackendResettingInFlightRequestsIsRetriedAround) {
  TestBackend web0("web_0"), web1("web_1"), web2("web_2");
  for (TestBackend* b : {&web0, &web1, &web2}) {
    ASSERT_TRUE(b->Start().ok());
    b->set_delay(absl::Milliseconds(20));
  }
  ASSERT_TRUE(AddAll({web0.port(), web1.port(), web2.port()}).ok());
  LoadGenerator load(proxy_.port(), 4);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();
  ASSERT_TRUE(WaitUntil([&] { return web1.in_flight() > 0; }, absl::Seconds(10)));
  web1.Stop();
  std::string last;
  EXPECT_TRUE(WaitUntil([&] { return Ejected(proxy_.admin_port(), web1.address(), &last); },
                        absl::Seconds(20)))
      << last;
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();
  load.Stop();
  EXPECT_EQ(load.failures(), 0u) << load.Summary();
  absl::StatusOr<uint64_t> retries = StatValue(proxy_.admin_port(), "lb_proxy_retries_total");
  ASSERT_TRUE(retries.ok());
  EXPECT_GT(*retries, 0u);
}

// A live backend that resets every connection after reading the request head: each attempt on
// it is retried, and consecutive gateway failures eject it.
TEST_F(BackendKillTest, BackendResettingEveryRequestIsEjected) {
  TestBackend web0("web_0"), web1("web_1"), web2("web_2");
  for (TestBackend* b : {&web0, &web1, &web2}) ASSERT_TRUE(b->Start().ok());
  ASSERT_TRUE(AddAll({web0.port(), web1.port(), web2.port()}).ok());
  web1.set_reset_after_headers(true);
  LoadGenerator load(proxy_.port(), 2);
  load.Start();
  std::string last;
  EXPECT_TRUE(WaitUntil([&] { return Ejected(proxy_.admin_port(), web1.address(), &last); },
                        absl::Seconds(20)))
      << last;
  uint64_t web1_requests = web1.requests();
  ASSERT_TRUE(load.WaitForMore(1000, absl::Seconds(30))) << load.Summary();
  load.Stop();
  EXPECT_EQ(load.failures(), 0u) << load.Summary();
  EXPECT_GE(web1_requests, 5u);
  EXPECT_EQ(web1.requests(), web1_requests) << "an ejected endpoint still got requests";
}

// A backend answering 500: the 500s reach the client (a response is never retried), and after
// consecutive_5xx (5) of them the endpoint is ejected and the rest go elsewhere.
TEST_F(BackendKillTest, ConsecutiveFiveHundredsEject) {
  TestBackend web0("web_0"), web1("web_1"), web2("web_2");
  for (TestBackend* b : {&web0, &web1, &web2}) ASSERT_TRUE(b->Start().ok());
  web1.set_status(500);
  ASSERT_TRUE(AddAll({web0.port(), web1.port(), web2.port()}).ok());
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(proxy_.port());
  ASSERT_TRUE(conn.ok());
  // Requests until exactly 5 of them got web_1's 500: each reaches the client as it is.
  int fivehundreds = 0;
  for (int i = 0; i < 400 && fivehundreds < 5; ++i) {
    absl::StatusOr<HttpResponse> r = (*conn)->Get("/");
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->status == 500) {
      ++fivehundreds;
      EXPECT_EQ(r->body, "Hello from web_1\n");
    } else {
      ASSERT_EQ(r->status, 200);
    }
  }
  ASSERT_EQ(fivehundreds, 5);
  // Those 5 are enough: the endpoint is ejected without another request (waiting here, not
  // counting requests, keeps the check independent of how fast the ejection reaches workers).
  std::string last;
  EXPECT_TRUE(WaitUntil([&] { return Ejected(proxy_.admin_port(), web1.address(), &last); },
                        absl::Seconds(20)))
      << "the endpoint answering 500 was not ejected after 5 of them: " << last;
  // Once ejected, it gets nothing: every further answer is a 200 from the others.
  const uint64_t web1_requests = web1.requests();
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<HttpResponse> r = (*conn)->Get("/");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(web1.requests(), web1_requests) << "an ejected endpoint still got requests";
}

// A reset before any response byte: an idempotent GET is retried on the other endpoint, a
// POST whose body was sent is not replayed (it may have been acted on).
TEST_F(BackendKillTest, ResetIsRetriedForGetButNotReplayedForPost) {
  TestBackend web0("web_0"), web1("web_1");
  for (TestBackend* b : {&web0, &web1}) {
    ASSERT_TRUE(b->Start().ok());
    b->set_reset_after_headers(true);
  }
  ASSERT_TRUE(AddAll({web0.port(), web1.port()}).ok());
  auto total = [&] { return web0.requests() + web1.requests(); };

  uint64_t before = total();
  absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 502) << r->raw;
  EXPECT_EQ(total() - before, 2u) << "a GET reset by every endpoint should be tried once on each";

  before = total();
  r = HttpPost(proxy_.port(), "/", "order=1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 502) << r->raw;
  EXPECT_EQ(total() - before, 1u) << "a POST was replayed after the upstream reset";
}

// Active health checks (cluster health_check.path): an endpoint whose /health fails is taken
// out, and put back once it passes again.
TEST_F(BackendKillTest, ActiveHealthCheckTakesOutAndPutsBack) {
  TestBackend web0("web_0"), web1("web_1");
  for (TestBackend* b : {&web0, &web1}) ASSERT_TRUE(b->Start().ok());
  ASSERT_TRUE(AddAll({web0.port(), web1.port()}).ok());
  absl::Status s = V1Call(controller_.rest_port(), "PUT", "/v1/clusters/backend",
                          R"({"name":"backend","health_check":{"path":"/health",)"
                          R"("interval":"0.2s","timeout":"0.1s","healthy_threshold":1,)"
                          R"("unhealthy_threshold":2}})",
                          200);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(WaitUntil([&] { return web0.health_checks() > 2 && web1.health_checks() > 2; },
                        absl::Seconds(20)))
      << "no health checks arrived";
  auto healthy = [&](const std::string& address) {
    absl::StatusOr<nlohmann::json> d = ConfigDump(proxy_.admin_port());
    if (!d.ok()) return -1;
    nlohmann::json e = DumpEndpoint(*d, "backend", address);
    if (!e.is_object()) return -1;
    return e.value("healthy", false) && e.value("eligible", false) ? 1 : 0;
  };
  ASSERT_TRUE(
      WaitUntil([&] { return healthy(web0.address()) == 1 && healthy(web1.address()) == 1; },
                absl::Seconds(20)));

  web1.set_healthy(false);
  ASSERT_TRUE(WaitUntil([&] { return healthy(web1.address()) == 0; }, absl::Seconds(20)))
      << "the failing endpoint stayed in";
  uint64_t web1_before = web1.requests();
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->body, "Hello from web_0\n");
  }
  EXPECT_EQ(web1.requests(), web1_before);

  web1.set_healthy(true);
  ASSERT_TRUE(WaitUntil([&] { return healthy(web1.address()) == 1; }, absl::Seconds(20)))
      << "the recovered endpoint never came back";
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    absl::StatusOr<HttpResponse> r = HttpGet(proxy_.port(), "/");
    ASSERT_TRUE(r.ok());
    seen = r->body == "Hello from web_1\n";
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace lb::testing
