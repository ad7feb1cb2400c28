// Leader election, shared DNS and readiness with two controllers on a 3-member etcd
// (docs/etcd.md): exactly one leader; kill -9 of the leader hands over within the lease TTL; a
// hostname endpoint is resolved by the leader and served the same by both; without quorum
// /readyz is 503, writes are refused at once with a reason, reads still answer, and all comes
// back with quorum.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/store/etcd_store.h"
#include "gtest/gtest.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/etcd_cluster.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

constexpr char kPrefix[] = "/lb-leader-test/";
constexpr absl::Duration kWait = absl::Seconds(30);

// GET /v1/leader as JSON, or an empty object if it did not answer 200 with JSON.
nlohmann::json Leader(int rest_port) {
  absl::StatusOr<HttpResponse> r = HttpGet(rest_port, "/v1/leader");
  if (!r.ok() || r->status != 200) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

int Status(int rest_port, const std::string& target) {
  absl::StatusOr<HttpResponse> r = HttpGet(rest_port, target);
  return r.ok() ? r->status : -1;
}

class LeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start(3);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    for (int i = 0; i < 2; ++i) {
      controllers_.push_back(std::make_unique<ControllerProcess>(std::vector<std::string>{
          "--store=etcd", absl::StrCat("--etcd_endpoints=", absl::StrJoin(etcd_->endpoints(), ",")),
          absl::StrCat("--etcd_prefix=", kPrefix), "--etcd_request_timeout=1s",
          "--leader_lease_ttl=2s", "--ready_check_interval=200ms", "--ready_max_lag=2s",
          "--fleet_publish_interval=500ms"}));
      absl::Status s = controllers_.back()->Start();
      ASSERT_TRUE(s.ok()) << s << controllers_.back()->LogTail();
    }
  }

  // Index of the one controller saying it leads, once both agree on it; -1 if they never do.
  int AgreedLeader() {
    int leader = -1;
    WaitUntil(
        [&] {
          nlohmann::json a = Leader(controllers_[0]->rest_port());
          nlohmann::json b = Leader(controllers_[1]->rest_port());
          if (!a.contains("is_leader") || !b.contains("is_leader")) return false;
          if (a["is_leader"].get<bool>() == b["is_leader"].get<bool>()) return false;
          if (a["leader"] != b["leader"] || !a["leader"].is_string()) return false;
          leader = a["is_leader"].get<bool>() ? 0 : 1;
          return a["leader"] == (leader == 0 ? a["id"] : b["id"]);
        },
        kWait, absl::Milliseconds(100));
    return leader;
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<ControllerProcess>> controllers_;
};

TEST_F(LeaderTest, ExactlyOneLeaderAndAKilledLeaderIsReplaced) {
  const int leader = AgreedLeader();
  ASSERT_GE(leader, 0) << controllers_[0]->LogTail() << controllers_[1]->LogTail();
  const int follower = 1 - leader;
  nlohmann::json view = Leader(controllers_[leader]->rest_port());
  EXPECT_EQ(view["lease_ttl_seconds"], 2);
  EXPECT_TRUE(view["since"].is_string());
  EXPECT_EQ(PrometheusValue(controllers_[leader]->rest_port(), "/metrics", "lb_controller_leader")
                .value_or(9),
            1u);
  EXPECT_EQ(PrometheusValue(controllers_[follower]->rest_port(), "/metrics", "lb_controller_leader")
                .value_or(9),
            0u);
  EXPECT_EQ(PrometheusValue(controllers_[leader]->rest_port(), "/metrics",
                            "lb_controller_elections_won_total")
                .value_or(9),
            1u);

  controllers_[leader]->Kill();
  // The lease (2 s) runs out; the follower's watch sees the key go and it campaigns.
  const std::string follower_id = Leader(controllers_[follower]->rest_port())["id"];
  ASSERT_TRUE(WaitUntil(
      [&] {
        nlohmann::json v = Leader(controllers_[follower]->rest_port());
        return v.value("is_leader", false) && v["leader"] == follower_id;
      },
      kWait, absl::Milliseconds(100)))
      << controllers_[follower]->LogTail();
  EXPECT_EQ(PrometheusValue(controllers_[follower]->rest_port(), "/metrics",
                            "lb_controller_elections_won_total")
                .value_or(9),
            1u);
}

TEST_F(LeaderTest, ACleanStopHandsOverAtOnce) {
  const int leader = AgreedLeader();
  ASSERT_GE(leader, 0);
  absl::StatusOr<int> code = controllers_[leader]->Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  ASSERT_TRUE(WaitUntil(
      [&] { return Leader(controllers_[1 - leader]->rest_port()).value("is_leader", false); },
      kWait, absl::Milliseconds(50)));
}

TEST_F(LeaderTest, AHostnameIsResolvedByTheLeaderAndServedByBoth) {
  ASSERT_GE(AgreedLeader(), 0);
  absl::Status s = V1Call(controllers_[0]->rest_port(), "POST", "/v1/clusters/backend/endpoints",
                          R"({"address":"localhost","port":8080})", 201);
  ASSERT_TRUE(s.ok()) << s;
  // The leader wrote what it resolved to the store.
  store::EtcdStore::Options o;
  o.endpoints = etcd_->endpoints();
  o.prefix = kPrefix;
  absl::StatusOr<std::unique_ptr<store::EtcdStore>> etcd = store::EtcdStore::Connect(o);
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  std::string stored;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<std::optional<store::KeyValue>> kv = (*etcd)->Get("dns/localhost");
        if (!kv.ok() || !kv->has_value()) return false;
        stored = (*kv)->value;
        return true;
      },
      kWait, absl::Milliseconds(100)));
  EXPECT_TRUE(absl::StrContains(stored, "127.0.0.1")) << stored;
  // Both controllers serve exactly the stored addresses.
  const std::vector<std::string> want = absl::StrSplit(stored, ',');
  for (auto& c : controllers_) {
    std::vector<std::string> got;
    ASSERT_TRUE(WaitUntil(
        [&] {
          absl::StatusOr<HttpResponse> r = HttpGet(c->rest_port(), "/v1/clusters/backend");
          if (!r.ok() || r->status != 200) return false;
          nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
          if (j.is_discarded()) return false;
          got.clear();
          for (const auto& e : j["endpoints"]) {
            if (e.value("address", "") != "localhost") continue;
            for (const auto& a : e["resolved_addresses"]) got.push_back(a.get<std::string>());
          }
          return got == want;
        },
        kWait, absl::Milliseconds(100)))
        << absl::StrJoin(got, ",") << " vs " << stored;
  }
}

TEST_F(LeaderTest, WithoutQuorumNotReadyWritesFailFastReadsAnswer) {
  ASSERT_GE(AgreedLeader(), 0);
  const int rest = controllers_[0]->rest_port();
  ASSERT_EQ(Status(rest, "/readyz"), 200);
  etcd_->Kill(1);
  etcd_->Kill(2);
  std::string body;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<HttpResponse> r = HttpGet(rest, "/readyz");
        if (!r.ok() || r->status != 503) return false;
        body = r->body;
        return true;
      },
      kWait, absl::Milliseconds(100)));
  EXPECT_TRUE(absl::StartsWith(body, "not ready: the store is unreachable (")) << body;
  EXPECT_EQ(PrometheusValue(rest, "/metrics", "lb_controller_ready").value_or(9), 0u);
  // A write is refused by the gate, with the reason.
  absl::StatusOr<HttpResponse> w =
      HttpPost(rest, "/v1/clusters/backend/endpoints", R"({"address":"127.0.0.1","port":9999})");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->status, 503) << w->body;
  EXPECT_TRUE(absl::StrContains(w->body, "controller not ready (the store is unreachable"))
      << w->body;
  EXPECT_TRUE(absl::StrContains(w->body, "write refused")) << w->body;
  // Reads answer from the last state.
  EXPECT_EQ(Status(rest, "/v1/clusters/backend"), 200);
  EXPECT_EQ(Status(rest, "/v1/leader"), 200);
  EXPECT_EQ(Status(rest, "/v1/proxies"), 200);

  ASSERT_TRUE(etcd_->Restart(1).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return Status(rest, "/readyz") == 200; }, kWait, absl::Milliseconds(100)));
  absl::Status s;
  ASSERT_TRUE(WaitUntil(
      [&] {
        s = V1Call(rest, "POST", "/v1/clusters/backend/endpoints",
                   R"({"address":"127.0.0.1","port":9999})", 201);
        return s.ok();
      },
      kWait, absl::Milliseconds(200)))
      << s;
  EXPECT_GE(PrometheusValue(rest, "/metrics", "lb_controller_ready_transitions_total").value_or(0),
            2u);
  // And a leader again.
  EXPECT_GE(AgreedLeader(), 0);
}

}  // namespace
}  // namespace lb::testing
