// The controller dies under load: SIGKILL, then a restart on the same ports and data
// directory. The proxy keeps serving its last configuration meanwhile (zero failed requests),
// reconnects, and follows changes made after the restart.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/load_generator.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

TEST(ControllerRestartTest, ProxyKeepsServingAndFollowsChangesAfterRestart) {
  ControllerProcess first;
  ASSERT_TRUE(first.Start().ok());
  const int grpc_port = first.grpc_port();
  const int rest_port = first.rest_port();

  TestBackend web0("web_0"), web1("web_1"), web2("web_2");
  ASSERT_TRUE(web0.Start().ok());
  ASSERT_TRUE(web1.Start().ok());
  ASSERT_TRUE(web2.Start().ok());
  ASSERT_TRUE(SeedConfig(rest_port, "add", web0.port()).ok());
  ASSERT_TRUE(SeedConfig(rest_port, "add", web1.port()).ok());

  ProxyProcess proxy("restart-proxy");
  absl::Status s = proxy.Start(first.grpc_target());
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(proxy.WaitReady().ok());
  ASSERT_TRUE(
      WaitForEndpoints(proxy.admin_port(), "backend", {web0.address(), web1.address()}).ok());

  LoadGenerator load(proxy.port(), 3);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();

  // SIGKILL the controller; the proxy notices the stream is gone and keeps its config.
  first.Kill();
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> d = ConfigDump(proxy.admin_port());
        return d.ok() && d->contains("source") && !(*d)["source"].value("connected", true);
      },
      absl::Seconds(20)))
      << "the proxy never reported the controller as disconnected";
  ASSERT_TRUE(load.WaitForMore(500, absl::Seconds(30))) << load.Summary();
  {
    absl::StatusOr<nlohmann::json> d = ConfigDump(proxy.admin_port());
    ASSERT_TRUE(d.ok());
    std::vector<std::string> want = {web0.address(), web1.address()};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(DumpEndpoints(*d, "backend", true), want);
    absl::StatusOr<HttpResponse> ready = HttpGet(proxy.admin_port(), "/ready");
    ASSERT_TRUE(ready.ok());
    EXPECT_EQ(ready->status, 200) << "a controller outage must not make the proxy unready";
  }
  // Some more load while the controller is down.
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();

  // Restart on the same ports and data directory.
  ControllerProcess second({absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port),
                            absl::StrCat("--rest_listen=127.0.0.1:", rest_port),
                            absl::StrCat("--data_dir=", first.data_dir())});
  s = second.StartRetrying();  // The ports were just released by a killed process.
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(second.grpc_port(), grpc_port);
  ASSERT_EQ(second.rest_port(), rest_port);
  absl::StatusOr<std::vector<std::string>> list = SeedList(rest_port);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<std::string>{web0.address(), web1.address()}));

  // The proxy reconnects (backoff at most 10 s) and follows a change made after the restart.
  ASSERT_TRUE(SeedConfig(rest_port, "add", web2.port()).ok());
  s = WaitForEndpoints(proxy.admin_port(), "backend",
                       {web0.address(), web1.address(), web2.address()}, absl::Seconds(40));
  ASSERT_TRUE(s.ok()) << s << "\n" << proxy.LogTail();
  ASSERT_TRUE(SeedConfig(rest_port, "del", web0.port()).ok());
  s = WaitForEndpoints(proxy.admin_port(), "backend", {web1.address(), web2.address()});
  ASSERT_TRUE(s.ok()) << s;
  // The admin page shows a snapshot once every worker serves with it, but a request that
  // picked web_0 before may still be on its way there (removal drains, it does not cut). Once
  // no request is in flight, every later one is routed with the new snapshot.
  ASSERT_TRUE(load.Pause()) << load.Summary();
  uint64_t web2_before = web2.requests();
  uint64_t web0_before = web0.requests();
  load.Resume();
  ASSERT_TRUE(load.WaitForMore(500, absl::Seconds(30))) << load.Summary();
  load.Stop();
  EXPECT_GT(web2.requests(), web2_before) << "the endpoint added after the restart got nothing";
  EXPECT_EQ(web0.requests(), web0_before) << "the endpoint deleted after the restart got traffic";

  absl::StatusOr<nlohmann::json> d = ConfigDump(proxy.admin_port());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE((*d)["source"].value("connected", false));
  EXPECT_GE((*d)["source"].value("streams", 0), 2);

  EXPECT_EQ(load.failures(), 0u) << load.Summary();
  std::printf("%s\n", load.Summary().c_str());
}

// The controller is down when the proxy starts: the proxy is not ready (503 on /ready, and
// requests get 503, not 404) until the controller comes up; then it converges.
TEST(ControllerRestartTest, ProxyStartedBeforeTheControllerConverges) {
  ControllerProcess probe;
  ASSERT_TRUE(probe.Start().ok());
  const int grpc_port = probe.grpc_port();
  const int rest_port = probe.rest_port();
  TestBackend web0("web_0");
  ASSERT_TRUE(web0.Start().ok());
  ASSERT_TRUE(SeedConfig(rest_port, "add", web0.port()).ok());
  ASSERT_TRUE(probe.Stop().ok());

  ProxyProcess proxy("early-proxy");
  absl::Status s = proxy.Start(LoopbackAddress(grpc_port));
  ASSERT_TRUE(s.ok()) << s;
  // The proxy has tried the controller and failed.
  std::string source;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<nlohmann::json> d = ConfigDump(proxy.admin_port());
        if (!d.ok() || !d->contains("source")) return false;
        source = (*d)["source"].dump();
        return !(*d)["source"].value("connected", true) &&
               !(*d)["source"].value("last_error", std::string()).empty();
      },
      absl::Seconds(20)))
      << "the proxy never reported a failed attempt to reach the controller; source: " << source;
  absl::StatusOr<HttpResponse> ready = HttpGet(proxy.admin_port(), "/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
  absl::StatusOr<HttpResponse> before_config = HttpGet(proxy.port(), "/");
  ASSERT_TRUE(before_config.ok()) << before_config.status();

  ControllerProcess controller({absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port),
                                absl::StrCat("--rest_listen=127.0.0.1:", rest_port),
                                absl::StrCat("--data_dir=", probe.data_dir())});
  s = controller.StartRetrying();
  ASSERT_TRUE(s.ok()) << s;
  s = proxy.WaitReady(absl::Seconds(40));
  ASSERT_TRUE(s.ok()) << s;
  s = WaitForEndpoints(proxy.admin_port(), "backend", {web0.address()});
  ASSERT_TRUE(s.ok()) << s;
  // Connected, with nothing NACKed: the failed attempts' error no longer holds and is gone
  // (the status is set before the configuration it came with is published).
  absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy.admin_port());
  ASSERT_TRUE(dump.ok()) << dump.status();
  EXPECT_TRUE((*dump)["source"].value("connected", false)) << (*dump)["source"].dump();
  EXPECT_EQ((*dump)["source"].value("last_error", "?"), "") << (*dump)["source"].dump();
  absl::StatusOr<HttpResponse> r = HttpGet(proxy.port(), "/");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello from web_0\n");

  // Before any configuration: a retryable 503 (like /ready), not a 404 "no route".
  EXPECT_EQ(before_config->status, 503) << before_config->raw;
  EXPECT_EQ(before_config->body, "no configuration received from the controller yet\n");
}

}  // namespace
}  // namespace lb::testing
