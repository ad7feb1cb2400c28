// Abuse suite, ADS (issue 12, table row 5): a delta stream flooding subscriptions of unknown
// names, oversized requests, more streams than the cap, and a stream that stops reading. Each
// is refused or cut off with RESOURCE_EXHAUSTED and counted, the controller's memory stays
// bounded, and a normal ADS client and the REST API are served throughout.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/controller/abuse/abuse_fixture.h"
#include "tests/test_common/ads_client.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

using envoy::service::discovery::v3::AggregatedDiscoveryService;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using xds::DeltaAdsClient;
using xds::kClusterType;
using xds::kEndpointType;

constexpr uint64_t kMiB = 1 << 20;
// Stated bound on the controller's peak RSS through every attack here (it started near 25 MB;
// the same flood took it past 1 GB before the limits).
constexpr uint64_t kMaxPeakRss = 200 * kMiB;

// A delta stream driven by hand: requests are written as given and nothing is read until
// FinalStatus().
class RawDeltaStream {
 public:
  explicit RawDeltaStream(std::shared_ptr<grpc::Channel> channel)
      : stub_(AggregatedDiscoveryService::NewStub(std::move(channel))) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    stream_ = stub_->DeltaAggregatedResources(&ctx_);
  }
  bool Write(const DeltaDiscoveryRequest& request) { return stream_->Write(request); }
  // Reads whatever is left, then the status.
  grpc::Status FinalStatus() {
    DeltaDiscoveryResponse ignored;
    while (stream_->Read(&ignored)) {
    }
    return stream_->Finish();
  }

 private:
  std::unique_ptr<AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<DeltaDiscoveryRequest, DeltaDiscoveryResponse>> stream_;
};

// A subscription to `count` names nobody has, `name_bytes` long each, tagged `tag`.
DeltaDiscoveryRequest UnknownNames(const std::string& tag, int count, size_t name_bytes) {
  DeltaDiscoveryRequest r;
  r.mutable_node()->set_id("attacker");
  r.set_type_url(kEndpointType);
  for (int i = 0; i < count; ++i) {
    std::string name = absl::StrCat(tag, "-", i, "-");
    name.resize(name_bytes, 'x');
    r.add_resource_names_subscribe(std::move(name));
  }
  return r;
}

class AdsAbuseTest : public ControllerAbuseTest {
 protected:
  // A normal delta client: every Cluster, and the endpoints of `eds`.
  std::unique_ptr<DeltaAdsClient> NormalClient(const std::string& node_id,
                                               const std::string& eds = "backend") {
    absl::StatusOr<std::unique_ptr<DeltaAdsClient>> c =
        DeltaAdsClient::Connect(controller_->grpc_target(), node_id, "lb-abuse-test");
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    EXPECT_TRUE((*c)->SubscribeDelta(kClusterType, {"*"}).ok());
    EXPECT_TRUE((*c)->SubscribeDelta(kEndpointType, {eds}).ok());
    absl::Status s = (*c)->WaitFor(
        [&](const xds::ResourceState& st) {
          return st.Cluster(eds) != nullptr && st.Endpoints(eds) != nullptr;
        },
        absl::Seconds(10));
    EXPECT_TRUE(s.ok()) << s;
    return std::move(*c);
  }

  // Adds 127.0.0.1:`port` to cluster backend over REST and waits until `client` has it.
  void ExpectServed(DeltaAdsClient* client, int port) {
    ASSERT_TRUE(SeedConfig(controller_->rest_port(), "add", port).ok());
    absl::Status s = client->WaitFor(
        [port](const xds::ResourceState& st) {
          const auto* cla = st.Endpoints("backend");
          if (cla == nullptr) return false;
          for (const auto& loc : cla->endpoints()) {
            for (const auto& e : loc.lb_endpoints()) {
              if (e.endpoint().address().socket_address().port_value() ==
                  static_cast<uint32_t>(port)) {
                return true;
              }
            }
          }
          return false;
        },
        absl::Seconds(10));
    EXPECT_TRUE(s.ok()) << s;
  }
};

TEST_F(AdsAbuseTest, FloodOfUnknownNamesIsCutOffWhileMemoryStaysBounded) {
  StartController();
  std::unique_ptr<DeltaAdsClient> normal = NormalClient("normal-proxy");
  ASSERT_NE(normal, nullptr);

  // The reported attack: a delta stream sending 14 MiB subscription requests. gRPC refuses
  // them now, before any of it is parsed.
  {
    RawDeltaStream stream(NewChannel());
    stream.Write(UnknownNames("huge", 14 * 32768, 32));
    grpc::Status s = stream.FinalStatus();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "larger than max")) << s.error_message();
  }
  // Just under the message limit (3.6 MiB, 110,000 names): the stream subscribes to 10,000 and
  // is ended at the next one, three requests in a row and on ten streams.
  for (int round = 0; round < 10; ++round) {
    RawDeltaStream stream(NewChannel());
    for (int i = 0; i < 3; ++i) {
      if (!stream.Write(UnknownNames(absl::StrCat("r", round, "w", i), 110000, 32))) break;
    }
    grpc::Status s = stream.FinalStatus();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(s.error_message(),
              "ADS stream subscribes to 10001 resource names; the limit is 10000 per stream");
  }
  EXPECT_EQ(Exceeded("xds_max_names_per_stream"), 10u);
  // Long names hit the byte limit instead (1 MiB: 1,000 names of 1,100 bytes).
  {
    RawDeltaStream stream(NewChannel());
    stream.Write(UnknownNames("long", 1000, 1100));
    grpc::Status s = stream.FinalStatus();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_TRUE(absl::StrContains(s.error_message(), "the limit is 1048576 per stream"))
        << s.error_message();
  }
  EXPECT_EQ(Exceeded("xds_max_name_bytes_per_stream"), 1u);

  ProcStats after = Stats();
  std::cerr << "controller peak RSS " << after.peak_rss_bytes / kMiB << " MiB, " << after.threads
            << " threads\n";
  EXPECT_LT(after.peak_rss_bytes, kMaxPeakRss);
  // Still served: the normal ADS client sees a change made over REST, and REST answers.
  ExpectServed(normal.get(), 1111);
  absl::StatusOr<std::vector<std::string>> listed = SeedList(controller_->rest_port());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, std::vector<std::string>{"127.0.0.1:1111"});
  // The server counts a stream closed once its handler returns, which can be a moment after the
  // client has read the final status.
  EXPECT_TRUE(WaitUntil([&] { return Metric("lb_xds_connected_streams{protocol=\"delta\"}") == 1; },
                        absl::Seconds(10)))
      << Metric("lb_xds_connected_streams{protocol=\"delta\"}");
}

TEST_F(AdsAbuseTest, SotwStreamOverTheNameLimitEnds) {
  StartController({"--xds_max_names_per_stream=100"});
  absl::StatusOr<std::unique_ptr<xds::SotwAdsClient>> client =
      xds::SotwAdsClient::Connect(controller_->grpc_target(), "sotw-greedy", "lb-abuse-test");
  ASSERT_TRUE(client.ok()) << client.status();
  std::vector<std::string> names;
  for (int i = 0; i < 101; ++i) names.push_back(absl::StrCat("unknown-", i));
  ASSERT_TRUE((*client)->Subscribe(kEndpointType, names).ok());
  absl::StatusOr<xds::SotwAdsClient::Response> r = (*client)->Next(absl::Seconds(10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "stream ended: gRPC status 8: ADS stream subscribes to 101 resource names; the "
            "limit is 100 per stream");
  EXPECT_EQ(Exceeded("xds_max_names_per_stream"), 1u);
}

TEST_F(AdsAbuseTest, StreamsOverTheCapAreRefusedUntilOneCloses) {
  StartController({"--xds_max_streams=3"});
  std::vector<std::unique_ptr<DeltaAdsClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(NormalClient(absl::StrCat("proxy-", i)));
    ASSERT_NE(clients.back(), nullptr);
  }
  absl::StatusOr<std::unique_ptr<DeltaAdsClient>> extra =
      DeltaAdsClient::Connect(controller_->grpc_target(), "proxy-extra", "lb-abuse-test");
  ASSERT_TRUE(extra.ok()) << extra.status();
  (*extra)->SubscribeDelta(kClusterType, {"*"}).IgnoreError();
  absl::StatusOr<DeltaAdsClient::Response> r = (*extra)->Next(absl::Seconds(10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "stream ended: gRPC status 8: too many ADS streams: this controller serves at most "
            "3; try another controller or later");
  EXPECT_EQ(Exceeded("xds_max_streams"), 1u);
  EXPECT_EQ(Metric("lb_controller_limit{limit=\"xds_max_streams\"}"), 3u);

  clients.pop_back();
  ASSERT_TRUE(WaitUntil([&] { return Metric("lb_xds_connected_streams{protocol=\"delta\"}") == 2; },
                        absl::Seconds(10)));
  std::unique_ptr<DeltaAdsClient> again = NormalClient("proxy-again");
  ASSERT_NE(again, nullptr);
  ExpectServed(again.get(), 2222);
}

TEST_F(AdsAbuseTest, AStreamThatStopsReadingIsCutOffAtItsQueuedBytesLimit) {
  StartController({"--xds_max_queued_bytes_per_stream=1048576"});
  ASSERT_TRUE(CreateBigCluster("big", 2000).ok());
  std::unique_ptr<DeltaAdsClient> normal = NormalClient("normal-proxy", "big");
  ASSERT_NE(normal, nullptr);
  RawDeltaStream stuck(NewChannel());
  DeltaDiscoveryRequest subscribe;
  subscribe.mutable_node()->set_id("never-reads");
  subscribe.set_type_url(kEndpointType);
  subscribe.add_resource_names_subscribe("big");
  ASSERT_TRUE(stuck.Write(subscribe));

  // Each add is a new ~60 KB assignment of "big" for both streams; the stuck one takes its
  // 64 KiB window, then its queue grows past 1 MiB.
  const absl::Time start = absl::Now();
  int added = 0;
  for (; added < 200 && Exceeded("xds_max_queued_bytes_per_stream") == 0; ++added) {
    ASSERT_TRUE(AddEndpoint("big", added).ok());
  }
  EXPECT_EQ(Exceeded("xds_max_queued_bytes_per_stream"), 1u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  std::cerr << "cut off after " << added << " adds\n";
  grpc::Status s = stuck.FinalStatus();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(s.error_message(), "client is not reading its responses; reconnect");
  // The reader saw every add.
  absl::Status w = normal->WaitFor(
      [&](const xds::ResourceState& st) {
        const auto* cla = st.Endpoints("big");
        int n = 0;
        if (cla != nullptr) {
          for (const auto& loc : cla->endpoints()) n += loc.lb_endpoints_size();
        }
        return n == 2000 + added;
      },
      absl::Seconds(10));
  EXPECT_TRUE(w.ok()) << w;
  EXPECT_LT(Stats().peak_rss_bytes, kMaxPeakRss);
}

}  // namespace
}  // namespace lb::testing
