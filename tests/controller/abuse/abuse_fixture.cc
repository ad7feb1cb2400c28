#include "tests/controller/abuse/abuse_fixture.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/test_common/http_client.h"

namespace lb::testing {

void ControllerAbuseTest::StartController(std::vector<std::string> flags) {
  controller_.emplace(std::move(flags));
  absl::Status s = controller_->Start();
  ASSERT_TRUE(s.ok()) << s << "\n" << controller_->LogTail();
}

uint64_t ControllerAbuseTest::Metric(const std::string& series) {
  absl::StatusOr<uint64_t> v = PrometheusValue(controller_->rest_port(), "/metrics", series);
  return v.ok() ? *v : 0;
}

uint64_t ControllerAbuseTest::Exceeded(const std::string& flag) {
  return Metric(absl::StrCat("lb_controller_limit_exceeded_total{limit=\"", flag, "\"}"));
}

ProcStats ControllerAbuseTest::Stats() {
  absl::StatusOr<ProcStats> s = ReadProcStats(controller_->pid());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : ProcStats();
}

std::shared_ptr<grpc::Channel> ControllerAbuseTest::NewChannel(grpc::ChannelArguments args) {
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(controller_->grpc_target(), grpc::InsecureChannelCredentials(),
                                   args);
}

std::unique_ptr<lb::v1::LoadBalancer::Stub> ControllerAbuseTest::LbStub() {
  return lb::v1::LoadBalancer::NewStub(NewChannel());
}

absl::Status ControllerAbuseTest::CreateBigCluster(const std::string& name, int endpoints) {
  lb::v1::CreateClusterRequest req;
  req.mutable_cluster()->set_name(name);
  for (int i = 0; i < endpoints; ++i) {
    lb::v1::Endpoint* e = req.mutable_cluster()->add_endpoints();
    e->set_address(absl::StrCat("10.", i / 65536, ".", (i / 256) % 256, ".", i % 256));
    e->set_port(80);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  lb::v1::Cluster created;
  grpc::Status s = LbStub()->CreateCluster(&ctx, req, &created);
  return s.ok() ? absl::OkStatus() : absl::InternalError(s.error_message());
}

absl::Status ControllerAbuseTest::AddEndpoint(const std::string& cluster, int i) {
  return V1Call(
      controller_->rest_port(), "POST", absl::StrCat("/v1/clusters/", cluster, "/endpoints"),
      absl::StrCat("{\"address\":\"10.200.", i / 256, ".", i % 256, "\",\"port\":80}"), 201);
}

}  // namespace lb::testing
