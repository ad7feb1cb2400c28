// Configuration accepted and refused, as the real proxy binary reports it: each ADS response is
// an event line naming its type and version ("config_accepted" / "config_rejected" with the
// error), and /config_dump shows an error only while it holds. A static ADS server (FakeAds)
// sends what the controller never would: a Cluster the proxy must NACK.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "gtest/gtest.h"
#include "tests/e2e/proxy/fake_ads.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/text_proto.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

namespace cluster_v3 = envoy::config::cluster::v3;
namespace endpoint_v3 = envoy::config::endpoint::v3;
namespace route_v3 = envoy::config::route::v3;

// The event line of `proxy`'s log with every one of `parts`, or "" (polled for up to 15 s).
std::string EventLine(const ProxyProcess& proxy, const std::vector<std::string>& parts) {
  std::string found;
  WaitUntil(
      [&] {
        for (absl::string_view line : absl::StrSplit(proxy.LogTail(1 << 20), '\n')) {
          if (!absl::StartsWith(line, "{\"time\":")) continue;
          bool all = true;
          for (const std::string& p : parts) all = all && absl::StrContains(line, p);
          if (all) {
            found = std::string(line);
            return true;
          }
        }
        return false;
      },
      absl::Seconds(15));
  return found;
}

// The proxy's /config_dump "source" (its link to the controller), or null.
nlohmann::json Source(const ProxyProcess& proxy) {
  absl::StatusOr<nlohmann::json> dump = ConfigDump(proxy.admin_port());
  return dump.ok() && dump->contains("source") ? (*dump)["source"] : nlohmann::json();
}

TEST(ConfigEventsTest, AcceptedAndRejectedConfigIsLoggedWithVersionsAndErrorsClear) {
  TestBackend backend("web");
  ASSERT_TRUE(backend.Start().ok());
  FakeAds ads;
  const std::string cluster_text =
      "name: 'web' type: EDS eds_cluster_config { eds_config { ads {} } } "
      "connect_timeout { seconds: 1 }";
  cluster_v3::Cluster good = ParseTextProto<cluster_v3::Cluster>(cluster_text);
  endpoint_v3::ClusterLoadAssignment endpoints = ParseTextProto<endpoint_v3::ClusterLoadAssignment>(
      absl::StrCat("cluster_name: 'web' endpoints { lb_endpoints { endpoint { address { "
                   "socket_address { address: '127.0.0.1' port_value: ",
                   backend.port(), " } } } } }"));
  route_v3::RouteConfiguration routes = ParseTextProto<route_v3::RouteConfiguration>(
      "name: 'default' virtual_hosts { name: 'all' domains: '*' routes { match { prefix: '/' } "
      "route { cluster: 'web' } } }");
  ads.Set(::lb::xds::kClusterType, {{"web", &good}});  // Cluster version 1.
  ads.Set(::lb::xds::kEndpointType, {{"web", &endpoints}});
  ads.Set(::lb::xds::kRouteType, {{"default", &routes}});
  ProxyProcess proxy("config-events");
  ASSERT_TRUE(proxy.Start(ads.target()).ok());
  ASSERT_TRUE(proxy.WaitReady().ok()) << proxy.LogTail();
  EXPECT_NE(EventLine(proxy, {"\"event\":\"config_accepted\"",
                              absl::StrCat("\"type\":\"", ::lb::xds::kClusterType, "\""),
                              "\"version\":\"1\""}),
            "")
      << proxy.LogTail();
  EXPECT_EQ(Source(proxy).value("last_error", "?"), "");

  // Version 2 has a policy the proxy does not know: NACKed, logged with its version and error,
  // and the proxy keeps serving version 1.
  cluster_v3::Cluster bad = good;
  bad.set_lb_policy(static_cast<cluster_v3::Cluster::LbPolicy>(6));
  ads.Set(::lb::xds::kClusterType, {{"web", &bad}});
  const std::string rejected = EventLine(
      proxy, {"\"event\":\"config_rejected\"",
              absl::StrCat("\"type\":\"", ::lb::xds::kClusterType, "\""), "\"version\":\"2\""});
  ASSERT_NE(rejected, "") << proxy.LogTail();
  EXPECT_TRUE(absl::StrContains(rejected,
                                "\"error\":\"Cluster \\\"web\\\": lb_policy: unsupported value 6"))
      << rejected;
  // The line is written before /config_dump's status is updated: poll.
  nlohmann::json source;
  EXPECT_TRUE(WaitUntil(
      [&] {
        source = Source(proxy);
        return source.is_object() &&
               source.value("last_error", "") == "Cluster \"web\": lb_policy: unsupported value 6";
      },
      absl::Seconds(15)))
      << source.dump();
  absl::StatusOr<HttpResponse> r = HttpGet(proxy.port(), "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);

  // Version 3 is good again: accepted, and the error no longer shows.
  ads.Set(::lb::xds::kClusterType, {{"web", &good}});
  EXPECT_NE(EventLine(proxy, {"\"event\":\"config_accepted\"",
                              absl::StrCat("\"type\":\"", ::lb::xds::kClusterType, "\""),
                              "\"version\":\"3\""}),
            "")
      << proxy.LogTail();
  EXPECT_TRUE(WaitUntil(
      [&] {
        source = Source(proxy);
        return source.is_object() && source.value("last_error", "?").empty();
      },
      absl::Seconds(15)))
      << source.dump();
  EXPECT_EQ(source.value("nacks", 0), 1) << source.dump();
}

}  // namespace
}  // namespace lb::testing
