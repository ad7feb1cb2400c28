#include "tests/test_common/ads_fixture.h"

#include "absl/strings/str_cat.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb::testing::xds {

namespace hcm_v3 = envoy::extensions::filters::network::http_connection_manager::v3;

void InProcessControllerTest::SetUp() {
  controller::ControllerOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.rest_listen = "127.0.0.1:0";
  options.data_dir = MakeTempDir();
  ASSERT_FALSE(options.data_dir.empty());
  absl::StatusOr<std::unique_ptr<controller::Controller>> c =
      controller::Controller::Start(options);
  ASSERT_TRUE(c.ok()) << c.status();
  controller_ = std::move(*c);
  api_ = std::make_unique<LbApi>(target());
  // Wait until the REST loop answers. Besides readiness, this keeps TearDown from shutting
  // down a controller whose REST thread has not entered its loop yet, which hangs (see
  // ControllerLifecycleTest.ShutdownRightAfterStartReturns in ads_restart_test.cc).
  HttpRequest healthz;
  healthz.target = "/healthz";
  absl::StatusOr<HttpResponse> health = absl::UnknownError("not asked");
  WaitUntil(
      [&] {
        health = HttpCall(rest_port(), healthz, absl::Seconds(2));
        return health.ok() && health->status == 200;
      },
      absl::Seconds(10), absl::Milliseconds(10));
  ASSERT_TRUE(health.ok()) << health.status();
  ASSERT_EQ(health->status, 200) << health->body;
}

void InProcessControllerTest::TearDown() {
  if (controller_ != nullptr) controller_->Shutdown();
}

std::string InProcessControllerTest::target() const {
  return absl::StrCat("127.0.0.1:", controller_->grpc_port());
}

std::unique_ptr<AnyAdsClient> AdsTestBase::Connect(AdsVariant variant, ConnectOptions options) {
  absl::StatusOr<std::unique_ptr<AnyAdsClient>> c =
      AnyAdsClient::Connect(variant, target(), std::move(options));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

std::unique_ptr<AnyAdsClient> AdsTestBase::Connect(AdsVariant variant, const std::string& node_id,
                                                   const std::string& user_agent) {
  ConnectOptions options;
  options.node_id = node_id;
  options.user_agent = user_agent;
  return Connect(variant, std::move(options));
}

std::unique_ptr<AnyAdsClient> AdsTestBase::ConnectAll(AdsVariant variant, ConnectOptions options,
                                                      const std::vector<std::string>& eds_names) {
  std::unique_ptr<AnyAdsClient> c = Connect(variant, std::move(options));
  if (c == nullptr) return nullptr;
  const std::vector<std::pair<std::string, std::vector<std::string>>> subscriptions = {
      {kClusterType, {"*"}},
      {kEndpointType, eds_names},
      {kListenerType, {"*"}},
      {kRouteType, {"default"}},
  };
  for (const auto& [type_url, names] : subscriptions) {
    absl::Status s = c->Subscribe(type_url, names);
    if (!s.ok()) {
      ADD_FAILURE() << "subscribing to " << ShortType(type_url) << ": " << s;
      return nullptr;
    }
  }
  absl::Status s = c->WaitFor(
      [&](const ResourceState& st) {
        for (const auto& n : eds_names) {
          if (st.Endpoints(n) == nullptr) return false;
        }
        return st.Cluster("backend") != nullptr && st.Listener("backend") != nullptr &&
               st.Route("default") != nullptr;
      },
      kInitialStateWait);
  if (!s.ok()) {
    ADD_FAILURE() << s;
    return nullptr;
  }
  return c;
}

std::unique_ptr<AnyAdsClient> AdsTestBase::ConnectAll(AdsVariant variant,
                                                      const std::string& node_id,
                                                      const std::vector<std::string>& eds_names) {
  ConnectOptions options;
  options.node_id = node_id;
  return ConnectAll(variant, std::move(options), eds_names);
}

std::string VariantTestName(const ::testing::TestParamInfo<AdsVariant>& info) {
  return info.param == AdsVariant::kSotw ? "Sotw" : "Delta";
}

std::set<std::string> EndpointSet(const envoy::config::endpoint::v3::ClusterLoadAssignment& cla) {
  std::set<std::string> out;
  for (const auto& locality : cla.endpoints()) {
    for (const auto& e : locality.lb_endpoints()) {
      const auto& sa = e.endpoint().address().socket_address();
      out.insert(absl::StrCat(sa.address(), ":", sa.port_value(),
                              " w=", e.load_balancing_weight().value(),
                              " zone=", locality.locality().zone(), " ",
                              envoy::config::core::v3::HealthStatus_Name(e.health_status())));
    }
  }
  return out;
}

std::set<std::string> EndpointSetOf(const ResourceState& state, const std::string& name) {
  const auto* cla = state.Endpoints(name);
  return cla == nullptr ? std::set<std::string>() : EndpointSet(*cla);
}

std::string CheckApiListener(const envoy::config::listener::v3::Listener& listener,
                             const std::string& cluster) {
  if (!listener.has_api_listener()) return "no api_listener";
  hcm_v3::HttpConnectionManager hcm;
  if (!listener.api_listener().api_listener().UnpackTo(&hcm)) {
    return absl::StrCat("api_listener is not an HttpConnectionManager but ",
                        listener.api_listener().api_listener().type_url());
  }
  if (hcm.http_filters().empty()) return "no http_filters";
  const auto& last = hcm.http_filters(hcm.http_filters_size() - 1);
  if (!last.typed_config().Is<envoy::extensions::filters::http::router::v3::Router>()) {
    return absl::StrCat("last http filter is ", last.typed_config().type_url(), ", not the router");
  }
  if (!hcm.has_route_config()) return "no inline route_config";
  const auto& rc = hcm.route_config();
  if (rc.virtual_hosts_size() != 1) return absl::StrCat(rc.virtual_hosts_size(), " virtual hosts");
  const auto& vh = rc.virtual_hosts(0);
  if (vh.domains_size() != 1 || vh.domains(0) != "*") return "virtual host domains are not [*]";
  if (vh.routes_size() != 1) return absl::StrCat(vh.routes_size(), " routes");
  const auto& route = vh.routes(0);
  if (!route.match().prefix().empty()) {
    return absl::StrCat("route prefix \"", route.match().prefix(), "\", want \"\"");
  }
  if (route.route().cluster() != cluster) {
    return absl::StrCat("route goes to \"", route.route().cluster(), "\", want \"", cluster, "\"");
  }
  return "";
}

}  // namespace lb::testing::xds
