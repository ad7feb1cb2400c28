// Abuse suite, REST: more idle connections than --rest_max_connections, and a controller out of
// descriptors. The listener rests instead of spinning, idle and slow clients are cut at
// --rest_request_timeout, a waiting client is then served, gRPC is unaffected throughout, and
// the metrics show it.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "tests/controller/abuse/abuse_fixture.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/proc_stats.h"

namespace lb::testing {
namespace {

class RestAbuseTest : public ControllerAbuseTest {
 protected:
  double CpuOver(absl::Duration d) { return *CpuSecondsOver(controller_->pid(), d); }
  // gRPC answers while REST is saturated.
  void ExpectGrpcServes() {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    lb::v1::ListClustersResponse clusters;
    grpc::Status s = LbStub()->ListClusters(&ctx, {}, &clusters);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  IdleClients clients_;
};

TEST_F(RestAbuseTest, AtMaxConnectionsTheListenerRestsAndIdleClientsAreCutAtTheTimeout) {
  StartController({"--rest_max_connections=8", "--rest_request_timeout=1s"});
  ASSERT_TRUE(clients_.Open(controller_->rest_port(), 24).ok());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_LT(CpuOver(absl::Seconds(1)), 0.3) << "the REST listener spins at the cap";
  ExpectGrpcServes();
  // Waits behind the idle ones, which are cut 8 at a time, a second each.
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> r = HttpGet(controller_->rest_port(), "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));
  EXPECT_GE(Exceeded("rest_max_connections"), 1u);
  EXPECT_GE(Exceeded("rest_request_timeout"), 16u);
  EXPECT_EQ(Metric("lb_controller_limit{limit=\"rest_max_connections\"}"), 8u);
}

TEST_F(RestAbuseTest, OutOfDescriptorsTheListenerRestsInsteadOfSpinning) {
  StartController();
  const pid_t pid = controller_->pid();
  absl::StatusOr<uint64_t> limit = FdLimitAllowing(pid, 4);
  ASSERT_TRUE(limit.ok()) << limit.status();
  ASSERT_TRUE(SetOpenFileLimit(pid, *limit).ok());
  ASSERT_TRUE(clients_.Open(controller_->rest_port(), 40).ok());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_LT(CpuOver(absl::Seconds(1)), 0.5) << "accept() spins on EMFILE";
  clients_.CloseAll();
  ASSERT_TRUE(SetOpenFileLimit(pid, 4096).ok());
  absl::StatusOr<HttpResponse> r = HttpGet(controller_->rest_port(), "/healthz");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(Metric("lb_controller_rest_accept_paused_total"), 1u);
  // One line per 10 s at most, not one per failed accept().
  EXPECT_LT(controller_->LogTail(1 << 20).size(), 16u * 1024);
}

}  // namespace
}  // namespace lb::testing
