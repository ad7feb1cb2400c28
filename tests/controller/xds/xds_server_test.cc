// Tests of controller/xds/xds_server.cc as an observer of the model cache: what it publishes
// (without streams; tests/xds covers those end to end).
#include "controller/xds/xds_server.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/metrics/metrics.h"
#include "common/time/simulated_clock.h"
#include "common/xds/type_urls.h"
#include "controller/model/model_cache.h"
#include "controller/xds/resources.h"
#include "controller/xds/snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/model_changes.h"

namespace lb::xds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Hostname answers the test can change; thread-safe.
class FakeLookup {
 public:
  void Set(const std::string& host, std::vector<std::string> addresses) {
    absl::MutexLock lock(&mu_);
    answers_[host] = std::move(addresses);
  }
  HostLookup Function() {
    return [this](const std::string& host) {
      absl::MutexLock lock(&mu_);
      auto it = answers_.find(host);
      return it == answers_.end() ? std::vector<std::string>() : it->second;
    };
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::string>> answers_ ABSL_GUARDED_BY(mu_);
};

lb::v1::Cluster Cluster(const std::string& name, int64_t version, const std::string& address) {
  lb::v1::Cluster c;
  c.set_name(name);
  c.set_version(version);
  lb::v1::Endpoint* e = c.add_endpoints();
  e->set_address(address);
  e->set_port(80);
  e->set_weight(1);
  return c;
}

lb::v1::Change Upsert(const lb::v1::Cluster& c) {
  lb::v1::Change change;
  change.set_revision(c.version());
  *change.mutable_cluster() = c;
  return change;
}

using ::lb::testing::DeleteChange;

std::vector<std::string> Names(const ResourceMap& map) {
  std::vector<std::string> out;
  for (const auto& [name, r] : map) out.push_back(name);
  return out;
}

class XdsServerTest : public ::testing::Test {
 protected:
  XdsServerTest() : server_(lookup_.Function(), &metrics_, "cp-test", &clock_) {
    model_.AddObserver(&server_);
  }
  ~XdsServerTest() override { model_.RemoveObserver(&server_); }

  std::shared_ptr<const Snapshot> Published() {
    server_.Flush();
    return server_.Current();
  }

  FakeLookup lookup_;
  metrics::Registry metrics_;
  SimulatedClock clock_;
  XdsServer server_;
  model::ModelCache model_;
};

TEST_F(XdsServerTest, PublishesTheResourcesOfEveryClusterAndTheRouteTable) {
  lb::v1::Cluster web = Cluster("web", 2, "10.0.0.1");
  model_.Apply(Upsert(web));
  lb::v1::Change routes;
  routes.set_revision(3);
  lb::v1::Route* r = routes.mutable_route_table()->add_routes();
  r->set_name("all");
  r->set_host("*");
  r->set_path_prefix("/");
  r->set_cluster("web");
  model_.Apply(routes);
  std::shared_ptr<const Snapshot> s = Published();
  EXPECT_THAT(Names(s->Get(kClusterType, ClientFlavor::kEnvoy)), ElementsAre("web"));
  EXPECT_THAT(Names(s->Get(kClusterType, ClientFlavor::kGrpc)), ElementsAre("web"));
  EXPECT_THAT(Names(s->Get(kEndpointType, ClientFlavor::kEnvoy)), ElementsAre("web"));
  EXPECT_THAT(Names(s->Get(kListenerType, ClientFlavor::kEnvoy)), ElementsAre("web"));
  EXPECT_THAT(Names(s->Get(kRouteType, ClientFlavor::kEnvoy)), ElementsAre(kIngressRouteConfig));

  // Exactly the bytes resources.h builds from the model.
  EXPECT_EQ(s->Get(kClusterType, ClientFlavor::kEnvoy).at("web")->version,
            MakeResource("web", BuildCluster(web, ClientFlavor::kEnvoy))->version);
  EXPECT_EQ(s->Get(kClusterType, ClientFlavor::kGrpc).at("web")->version,
            MakeResource("web", BuildCluster(web, ClientFlavor::kGrpc))->version);
  EXPECT_EQ(s->Get(kEndpointType, ClientFlavor::kEnvoy).at("web")->version,
            MakeResource("web", BuildLoadAssignment(web, lookup_.Function()))->version);
  EXPECT_EQ(s->Get(kListenerType, ClientFlavor::kEnvoy).at("web")->version,
            MakeResource("web", BuildApiListener(web))->version);
  absl::flat_hash_map<std::string, lb::v1::Cluster> by_name = {{"web", web}};
  EXPECT_EQ(s->Get(kRouteType, ClientFlavor::kEnvoy).at(kIngressRouteConfig)->version,
            MakeResource(kIngressRouteConfig, BuildIngressRoutes(routes.route_table(), by_name))
                ->version);
}

TEST_F(XdsServerTest, UnchangedContentIsNotRepublished) {
  model_.Apply(Upsert(Cluster("web", 2, "10.0.0.1")));
  std::shared_ptr<const Snapshot> first = Published();
  model_.Apply(Upsert(Cluster("web", 2, "10.0.0.1")));  // Delivered twice by the registry.
  EXPECT_EQ(Published(), first);
}

TEST_F(XdsServerTest, DeletedClusterLosesItsResources) {
  model_.Apply(Upsert(Cluster("web", 2, "10.0.0.1")));
  model_.Apply(Upsert(Cluster("api", 3, "10.0.0.2")));
  EXPECT_THAT(Names(Published()->Get(kClusterType, ClientFlavor::kEnvoy)),
              ElementsAre("api", "web"));
  model_.Apply(DeleteChange("web", 4));
  std::shared_ptr<const Snapshot> s = Published();
  EXPECT_THAT(Names(s->Get(kClusterType, ClientFlavor::kEnvoy)), ElementsAre("api"));
  EXPECT_THAT(Names(s->Get(kClusterType, ClientFlavor::kGrpc)), ElementsAre("api"));
  EXPECT_THAT(Names(s->Get(kEndpointType, ClientFlavor::kEnvoy)), ElementsAre("api"));
  EXPECT_THAT(Names(s->Get(kListenerType, ClientFlavor::kEnvoy)), ElementsAre("api"));
}

TEST_F(XdsServerTest, ABurstIsPublishedAsItsFinalState) {
  model_.Apply(Upsert(Cluster("web", 2, "10.0.0.1")));
  model_.Apply(DeleteChange("web", 3));
  model_.Apply(Upsert(Cluster("api", 4, "10.0.0.2")));
  model_.Apply(DeleteChange("api", 5));
  model_.Apply(Upsert(Cluster("api", 6, "10.0.0.3")));
  std::shared_ptr<const Snapshot> s = Published();
  EXPECT_THAT(Names(s->Get(kClusterType, ClientFlavor::kEnvoy)), ElementsAre("api"));
  EXPECT_EQ(
      s->Get(kEndpointType, ClientFlavor::kEnvoy).at("api")->version,
      MakeResource("api", BuildLoadAssignment(Cluster("api", 6, "10.0.0.3"), lookup_.Function()))
          ->version);
}

TEST_F(XdsServerTest, DnsChangeRepublishesHostnameClustersOnly) {
  lb::v1::Cluster named = Cluster("named", 2, "a.example");
  model_.Apply(Upsert(named));
  model_.Apply(Upsert(Cluster("ip", 3, "10.0.0.1")));
  std::shared_ptr<const Snapshot> before = Published();
  ResourcePtr ip_before = before->Get(kEndpointType, ClientFlavor::kEnvoy).at("ip");
  EXPECT_EQ(before->Get(kEndpointType, ClientFlavor::kEnvoy).at("named")->version,
            MakeResource("named", BuildLoadAssignment(named, lookup_.Function()))->version);

  lookup_.Set("a.example", {"10.0.0.7", "10.0.0.8"});
  server_.OnDnsChange();
  std::shared_ptr<const Snapshot> after = Published();
  EXPECT_NE(after, before);
  EXPECT_EQ(after->Get(kEndpointType, ClientFlavor::kEnvoy).at("named")->version,
            MakeResource("named", BuildLoadAssignment(named, lookup_.Function()))->version);
  EXPECT_NE(after->Get(kEndpointType, ClientFlavor::kEnvoy).at("named")->version,
            before->Get(kEndpointType, ClientFlavor::kEnvoy).at("named")->version);
  EXPECT_EQ(after->Get(kEndpointType, ClientFlavor::kEnvoy).at("ip"), ip_before);  // Untouched.
}

TEST_F(XdsServerTest, NoStreamsNoProxies) {
  EXPECT_THAT(server_.ListProxies().proxies(), IsEmpty());
}

}  // namespace
}  // namespace lb::xds
