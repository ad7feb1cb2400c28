// A silent partition between the proxy and its controller (issue 12, ADS client keepalive):
// the proxy reaches controller A through a relay that is then frozen — no RST, no FIN, the
// bytes just stop. The proxy's keepalive pings go unanswered, it gives the stream up and moves
// to controller B within keepalive time + timeout (here 1 s + 1 s; 10 s + 5 s by default),
// serving its last good config all along.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/tcp_relay.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

std::string SourceController(int admin_port, bool* connected) {
  absl::StatusOr<nlohmann::json> d = ConfigDump(admin_port);
  if (!d.ok() || !d->contains("source")) return "";
  *connected = (*d)["source"].value("connected", false);
  return (*d)["source"].value("controller", std::string());
}

TEST(ControllerPartitionTest, SilentPartitionFailsOverWithinTheKeepalive) {
  TestBackend web("web");
  ASSERT_TRUE(web.Start().ok());
  ControllerProcess a, b;
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  for (ControllerProcess* c : {&a, &b}) {
    ASSERT_TRUE(SeedConfig(c->rest_port(), "add", web.port()).ok());
  }
  TcpRelay relay(a.grpc_port());
  const std::string via_relay = absl::StrCat("127.0.0.1:", relay.port());
  ProxyProcess proxy("partition-proxy",
                     {"--controller_keepalive_time=1s", "--controller_keepalive_timeout=1s"});
  ASSERT_TRUE(proxy.Start(via_relay + "," + b.grpc_target()).ok());
  ASSERT_TRUE(proxy.WaitReady().ok()) << proxy.LogTail();
  bool connected = false;
  ASSERT_TRUE(WaitUntil(
      [&] { return SourceController(proxy.admin_port(), &connected) == via_relay && connected; },
      absl::Seconds(20)));
  // Longer than several ping intervals: a healthy quiet stream is not given up (the controller
  // accepts pings this often).
  absl::SleepFor(absl::Seconds(4));
  EXPECT_EQ(SourceController(proxy.admin_port(), &connected), via_relay);
  EXPECT_TRUE(connected);

  relay.Freeze();
  const absl::Time frozen = absl::Now();
  std::string now;
  ASSERT_TRUE(WaitUntil(
      [&] {
        now = SourceController(proxy.admin_port(), &connected);
        absl::StatusOr<HttpResponse> r = HttpGet(proxy.port(), "/");
        EXPECT_TRUE(r.ok() && r->status == 200) << "the last good config stopped serving";
        return now == b.grpc_target() && connected;
      },
      absl::Seconds(30)))
      << "still on " << now << "\n"
      << proxy.LogTail();
  const double took = absl::ToDoubleSeconds(absl::Now() - frozen);
  std::printf("failed over to the second controller %.1f s after the partition\n", took);
  // 1 s + 1 s of keepalive, the reconnect backoff and polling; far below TCP's own minutes.
  EXPECT_LT(took, 15.0);
}

}  // namespace
}  // namespace lb::testing
