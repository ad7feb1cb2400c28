// Three controllers share a 3-member etcd: a write through any of them reaches a proxy connected
// to another; concurrent writes through different controllers are all kept; the controller a
// proxy follows is killed under load and the proxy moves to the next one without a failed
// request; an etcd member dies and the controllers go on.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/etcd_cluster.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/load_generator.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class ControllersOnEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start(3);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    for (int i = 0; i < 3; ++i) {
      controllers_.push_back(std::make_unique<ControllerProcess>(std::vector<std::string>{
          "--store=etcd", absl::StrCat("--etcd_endpoints=", absl::StrJoin(etcd_->endpoints(), ",")),
          "--etcd_prefix=/lb-ha-test/", "--etcd_request_timeout=2s",
          "--fleet_publish_interval=500ms"}));
      absl::Status s = controllers_.back()->Start();
      ASSERT_TRUE(s.ok()) << s << controllers_.back()->LogTail();
    }
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<ControllerProcess>> controllers_;
};

TEST_F(ControllersOnEtcdTest, WritesThroughAnyControllerReachEveryProxy) {
  TestBackend web0("web_0"), web1("web_1"), web2("web_2"), web3("web_3");
  for (TestBackend* b : {&web0, &web1, &web2, &web3}) ASSERT_TRUE(b->Start().ok());
  // Each controller bootstrapped the same default cluster and route, once.
  for (auto& c : controllers_) {
    absl::StatusOr<std::vector<std::string>> list = SeedList(c->rest_port());
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_TRUE(list->empty());
  }
  ASSERT_TRUE(SeedConfig(controllers_[0]->rest_port(), "add", web0.port()).ok());
  ASSERT_TRUE(SeedConfig(controllers_[1]->rest_port(), "add", web1.port()).ok());

  // The proxy follows controller 0, then 1, then 2.
  ProxyProcess proxy("ha-proxy");
  absl::Status s =
      proxy.Start(absl::StrCat(controllers_[0]->grpc_target(), ",", controllers_[1]->grpc_target(),
                               ",", controllers_[2]->grpc_target()));
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(proxy.WaitReady().ok());
  s = WaitForEndpoints(proxy.admin_port(), "backend", {web0.address(), web1.address()});
  ASSERT_TRUE(s.ok()) << s;
  // A write through controller 2, which the proxy is not connected to.
  ASSERT_TRUE(SeedConfig(controllers_[2]->rest_port(), "add", web2.port()).ok());
  s = WaitForEndpoints(proxy.admin_port(), "backend",
                       {web0.address(), web1.address(), web2.address()});
  ASSERT_TRUE(s.ok()) << s;

  LoadGenerator load(proxy.port(), 3);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();
  // The controller the proxy follows dies; the proxy keeps serving, moves to controller 1 and
  // follows a write made through controller 2.
  controllers_[0]->Kill();
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();
  ASSERT_TRUE(SeedConfig(controllers_[2]->rest_port(), "add", web3.port()).ok());
  ASSERT_TRUE(SeedConfig(controllers_[1]->rest_port(), "del", web0.port()).ok());
  s = WaitForEndpoints(proxy.admin_port(), "backend",
                       {web1.address(), web2.address(), web3.address()}, absl::Seconds(40));
  ASSERT_TRUE(s.ok()) << s << "\n" << proxy.LogTail();
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();
  load.Stop();
  EXPECT_EQ(load.failures(), 0u) << load.Summary();
  std::printf("%s\n", load.Summary().c_str());
}

// The proxy's config generation (a new one is published only when the content changed).
int64_t ConfigGeneration(int admin_port) {
  absl::StatusOr<HttpResponse> r = HttpGet(admin_port, "/stats");
  if (!r.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    int64_t v = 0;
    if (absl::ConsumePrefix(&line, "lb_proxy_config_generation ") && absl::SimpleAtoi(line, &v)) {
      return v;
    }
  }
  return -1;
}

TEST_F(ControllersOnEtcdTest, AProxyMovingToAnotherControllerGetsNothingNew) {
  TestBackend web0("web_0"), web1("web_1");
  ASSERT_TRUE(web0.Start().ok());
  ASSERT_TRUE(web1.Start().ok());
  ASSERT_TRUE(SeedConfig(controllers_[0]->rest_port(), "add", web0.port()).ok());
  ProxyProcess proxy("moving-proxy");
  ASSERT_TRUE(
      proxy.Start(absl::StrCat(controllers_[0]->grpc_target(), ",", controllers_[1]->grpc_target()))
          .ok());
  ASSERT_TRUE(proxy.WaitReady().ok());
  ASSERT_TRUE(WaitForEndpoints(proxy.admin_port(), "backend", {web0.address()}).ok());
  const int64_t before = ConfigGeneration(proxy.admin_port());
  ASSERT_GT(before, 0);
  controllers_[0]->Kill();
  // Versions are content hashes, the same on every controller: the resources controller 1
  // sends are the ones the proxy has, so no new configuration is published.
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> d = ConfigDump(proxy.admin_port());
        return d.ok() && (*d)["source"].value("connected", false) &&
               (*d)["source"].value("controller", std::string()) == controllers_[1]->grpc_target();
      },
      absl::Seconds(20)));
  EXPECT_EQ(ConfigGeneration(proxy.admin_port()), before);
  ASSERT_TRUE(SeedConfig(controllers_[1]->rest_port(), "add", web1.port()).ok());
  ASSERT_TRUE(
      WaitForEndpoints(proxy.admin_port(), "backend", {web0.address(), web1.address()}).ok());
  EXPECT_GT(ConfigGeneration(proxy.admin_port()), before);
}

TEST_F(ControllersOnEtcdTest, EveryControllerListsTheProxiesOfAll) {
  ProxyProcess p0("fleet-proxy-0"), p1("fleet-proxy-1");
  ASSERT_TRUE(p0.Start(controllers_[0]->grpc_target()).ok());
  ASSERT_TRUE(p1.Start(controllers_[1]->grpc_target()).ok());
  // Controller 2 has no proxy of its own; it lists both, each with its controller.
  std::string body;
  auto listed = [&](int c, const std::vector<std::string>& want) {
    return WaitUntil(
        [&] {
          absl::StatusOr<HttpResponse> r = HttpGet(controllers_[c]->rest_port(), "/v1/proxies");
          if (!r.ok() || r->status != 200) return false;
          body = r->body;
          nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
          if (!j.is_object() || !j.contains("proxies")) return false;
          std::vector<std::string> seen;
          for (const auto& p : j["proxies"]) {
            seen.push_back(p.value("node_id", "") + "@" + p.value("controller", ""));
          }
          return Sorted(seen) == Sorted(want);
        },
        absl::Seconds(20));
  };
  auto id = [&](int c) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    return absl::StrCat(host, ":", controllers_[c]->grpc_port());
  };
  const std::vector<std::string> both = {"fleet-proxy-0@" + id(0), "fleet-proxy-1@" + id(1)};
  EXPECT_TRUE(listed(2, both)) << body;
  EXPECT_TRUE(listed(0, both)) << body;
  // A controller that stops takes its entry with it; its proxy is no longer listed.
  ASSERT_TRUE(controllers_[1]->Stop().ok());
  EXPECT_TRUE(listed(2, {"fleet-proxy-0@" + id(0)})) << body;
}

TEST_F(ControllersOnEtcdTest, ConcurrentWritesThroughDifferentControllersAreAllKept) {
  // 3 controllers x 15 adds of distinct endpoints at once: every add is a read-modify-write of
  // the same cluster, so they conflict in etcd and are retried; none may be lost.
  constexpr int kPerController = 15;
  std::vector<std::thread> writers;
  std::vector<std::string> failures[3];
  for (int c = 0; c < 3; ++c) {
    writers.emplace_back([&, c] {
      for (int i = 0; i < kPerController; ++i) {
        const int port = 20000 + c * 100 + i;
        absl::Status st = SeedConfig(controllers_[c]->rest_port(), "add", port);
        if (!st.ok()) failures[c].push_back(std::string(st.message()));
      }
    });
  }
  for (std::thread& t : writers) t.join();
  for (int c = 0; c < 3; ++c) EXPECT_TRUE(failures[c].empty()) << failures[c].front();
  std::vector<std::string> want;
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < kPerController; ++i) {
      want.push_back(absl::StrCat("127.0.0.1:", 20000 + c * 100 + i));
    }
  }
  want = Sorted(want);
  for (auto& c : controllers_) {
    // Every controller's view converges on all of them (its cache follows the etcd watch).
    std::vector<std::string> seen;
    EXPECT_TRUE(WaitUntil(
        [&] {
          absl::StatusOr<std::vector<std::string>> list = SeedList(c->rest_port());
          if (!list.ok()) return false;
          seen = Sorted(*list);
          return seen == want;
        },
        absl::Seconds(20)))
        << "controller on port " << c->rest_port() << " sees " << seen.size() << " endpoints";
  }
}

TEST_F(ControllersOnEtcdTest, ControllersGoOnWhenAnEtcdMemberDies) {
  ASSERT_TRUE(SeedConfig(controllers_[0]->rest_port(), "add", 30001).ok());
  etcd_->Kill(0);
  // Writes and reads through every controller still work (each moves to a live member; a
  // write that was in flight on the dead one may fail once and is retried by the caller).
  for (int c = 0; c < 3; ++c) {
    absl::Status st;
    ASSERT_TRUE(WaitUntil(
        [&] {
          st = SeedConfig(controllers_[c]->rest_port(), "add", 30010 + c);
          return st.ok();
        },
        absl::Seconds(20)))
        << st;
  }
  for (auto& c : controllers_) {
    std::vector<std::string> seen;
    EXPECT_TRUE(WaitUntil(
        [&] {
          absl::StatusOr<std::vector<std::string>> list = SeedList(c->rest_port());
          if (!list.ok()) return false;
          seen = Sorted(*list);
          return seen.size() == 4;
        },
        absl::Seconds(20)))
        << absl::StrJoin(seen, ",");
  }
}

TEST_F(ControllersOnEtcdTest, WithoutQuorumWritesFailClearlyAndProxiesKeepServing) {
  TestBackend web0("web_0"), web1("web_1");
  ASSERT_TRUE(web0.Start().ok());
  ASSERT_TRUE(web1.Start().ok());
  ASSERT_TRUE(SeedConfig(controllers_[0]->rest_port(), "add", web0.port()).ok());
  ProxyProcess proxy("quorum-proxy");
  ASSERT_TRUE(proxy.Start(controllers_[1]->grpc_target()).ok());
  ASSERT_TRUE(proxy.WaitReady().ok());
  ASSERT_TRUE(WaitForEndpoints(proxy.admin_port(), "backend", {web0.address()}).ok());
  LoadGenerator load(proxy.port(), 2);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();

  // Two of three members down: no quorum.
  etcd_->Kill(1);
  etcd_->Kill(2);
  absl::Status refused = SeedConfig(controllers_[0]->rest_port(), "add", web1.port());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find(" 503 "), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("etcd"), std::string::npos) << refused;
  // Readiness is checked every --ready_check_interval, each probe bounded by the etcd timeout.
  absl::StatusOr<HttpResponse> ready;
  EXPECT_TRUE(WaitUntil(
      [&] {
        ready = HttpGet(controllers_[0]->rest_port(), "/readyz");
        return ready.ok() && ready->status == 503;
      },
      absl::Seconds(30)))
      << (ready.ok() ? ready->body : ready.status().ToString());
  // The proxy keeps serving its last configuration.
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();

  // Quorum back: writes work again and reach the proxy.
  ASSERT_TRUE(etcd_->Restart(1).ok());
  absl::Status st;
  ASSERT_TRUE(WaitUntil(
      [&] {
        st = SeedConfig(controllers_[0]->rest_port(), "add", web1.port());
        return st.ok();
      },
      absl::Seconds(30)))
      << st;
  absl::Status s = WaitForEndpoints(proxy.admin_port(), "backend", {web0.address(), web1.address()},
                                    absl::Seconds(30));
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();
  load.Stop();
  EXPECT_EQ(load.failures(), 0u) << load.Summary();
}

TEST_F(ControllersOnEtcdTest, EveryAcknowledgedWriteSurvivesAControllerKilledMidWrites) {
  // Writers keep adding endpoints through controller 0 until it is killed; every add that
  // was answered 200 must be in the store afterwards, as seen through controller 1.
  std::vector<int> acknowledged;  // The writer's until joined.
  std::atomic<int> answered{0};
  std::thread writer([&] {
    for (int i = 0; i < 400; ++i) {
      if (!SeedConfig(controllers_[0]->rest_port(), "add", 40000 + i).ok()) return;
      acknowledged.push_back(40000 + i);
      ++answered;
    }
  });
  // Kill once 20 adds were answered (counting what controller 1 lists could include an add
  // committed but not yet answered).
  const bool enough = WaitUntil([&] { return answered.load() >= 20; }, absl::Seconds(30));
  controllers_[0]->Kill();
  writer.join();
  ASSERT_TRUE(enough);
  ASSERT_GE(acknowledged.size(), 20u);
  absl::StatusOr<std::vector<std::string>> list = SeedList(controllers_[1]->rest_port());
  ASSERT_TRUE(list.ok()) << list.status();
  for (int port : acknowledged) {
    EXPECT_NE(std::find(list->begin(), list->end(), absl::StrCat("127.0.0.1:", port)), list->end())
        << "acknowledged add of port " << port << " is missing";
  }
  std::printf("%zu acknowledged adds before the kill, %zu present\n", acknowledged.size(),
              list->size());
}

}  // namespace
}  // namespace lb::testing
