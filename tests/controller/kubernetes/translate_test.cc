// Translate (controller/kubernetes/translate.h): realistic API server objects in, exact lb.v1
// protos, warnings and status patches out. docs/kubernetes.md is the mapping these check.
#include "controller/kubernetes/translate.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace lb::kubernetes {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

json J(const char* text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << text;
  return j;
}

template <typename T>
std::string Text(const std::vector<T>& messages) {
  std::string out;
  for (const T& m : messages) {
    std::string s;
    google::protobuf::TextFormat::PrintToString(m, &s);
    out += "{\n" + s + "}\n";
  }
  return out;
}

// The canonical text of messages given in text format, one per element.
template <typename T>
std::string Expected(const std::vector<std::string>& texts) {
  std::vector<T> messages;
  for (const std::string& t : texts) {
    T m;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(t, &m)) << t;
    messages.push_back(m);
  }
  return Text(messages);
}

json Service(const std::string& ns, const std::string& name, const json& ports,
             const json& annotations = json::object(), const json& labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"uid", "u-" + name},
            {"resourceVersion", "100"},
            {"annotations", annotations},
            {"labels", labels}}},
          {"spec", {{"type", "ClusterIP"}, {"clusterIP", "10.96.0.10"}, {"ports", ports}}}};
}

json Slice(const std::string& ns, const std::string& name, const std::string& service,
           const json& ports, const json& endpoints) {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels",
             {{"kubernetes.io/service-name", service},
              {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}}}}},
          {"addressType", "IPv4"},
          {"ports", ports},
          {"endpoints", endpoints}};
}

// One ready endpoint per address, zone z1.
json ReadyEndpoints(const std::vector<std::string>& addresses) {
  json eps = json::array();
  for (const std::string& a : addresses) {
    eps.push_back({{"addresses", {a}},
                   {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}},
                   {"zone", "z1"},
                   {"nodeName", "node-1"}});
  }
  return eps;
}

// Service NS/NAME with one port 80 "http" -> 8080, and one slice with `addresses`.
void AddWebService(ObjectSnapshot* s, const std::string& ns, const std::string& name,
                   const std::vector<std::string>& addresses,
                   const json& annotations = json::object()) {
  s->services[ns + "/" + name] =
      Service(ns, name, J(R"([{"name":"http","protocol":"TCP","port":80,"targetPort":8080}])"),
              annotations);
  s->endpoint_slices[ns + "/" + name + "-abcde"] =
      Slice(ns, name + "-abcde", name, J(R"([{"name":"http","protocol":"TCP","port":8080}])"),
            ReadyEndpoints(addresses));
}

json Ingress(const std::string& ns, const std::string& name, const std::string& created,
             const json& spec, const json& annotations = json::object()) {
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "Ingress"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"generation", 1},
            {"creationTimestamp", created},
            {"annotations", annotations}}},
          {"spec", spec},
          {"status", {{"loadBalancer", json::object()}}}};
}

json Gateway(const std::string& ns, const std::string& name, const std::string& cls,
             const json& listeners) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "Gateway"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"generation", 1}}},
          {"spec", {{"gatewayClassName", cls}, {"listeners", listeners}}}};
}

json HttpRoute(const std::string& ns, const std::string& name, const std::string& created,
               const json& spec, int generation = 3) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"generation", generation},
            {"creationTimestamp", created}}},
          {"spec", spec}};
}

// The Gateway "infra/gw" of class lb with one HTTP listener for *.example.com, taking routes
// from every namespace.
void AddGateway(ObjectSnapshot* s) {
  s->gateway_api_present = true;
  s->gateways["infra/gw"] = Gateway("infra", "gw", "lb", J(R"([{
      "name": "http", "protocol": "HTTP", "port": 80, "hostname": "*.example.com",
      "allowedRoutes": {"namespaces": {"from": "All"}}}])"));
}

TEST(TranslateTest, EmptySnapshotGivesNothing) {
  DesiredState d = Translate(ObjectSnapshot{}, TranslateOptions{});
  EXPECT_THAT(d.clusters, IsEmpty());
  EXPECT_THAT(d.routes, IsEmpty());
  EXPECT_THAT(d.certificates, IsEmpty());
  EXPECT_THAT(d.status_writes, IsEmpty());
  EXPECT_THAT(d.warnings, IsEmpty());
}

// Two ports (one unnamed in the slices' sense: matched by name), several slices per Service,
// an address in two slices, every condition combination.
TEST(TranslateTest, LabelledServiceBecomesOneClusterPerPortWithEndpointsFromEverySlice) {
  ObjectSnapshot s;
  s.services["shop/cart"] = Service("shop", "cart", J(R"([
        {"name":"http","protocol":"TCP","port":80,"targetPort":"web"},
        {"name":"metrics","protocol":"TCP","port":9090,"targetPort":9091},
        {"name":"dns","protocol":"UDP","port":53,"targetPort":53}])"),
                                    json::object(), J(R"({"lb/sync":"true","app":"cart"})"));
  s.endpoint_slices["shop/cart-aaaaa"] =
      Slice("shop", "cart-aaaaa", "cart", J(R"([{"name":"http","protocol":"TCP","port":8080},
            {"name":"metrics","protocol":"TCP","port":9091}])"),
            J(R"([
        {"addresses":["10.0.0.1"],"conditions":{"ready":true,"serving":true,"terminating":false},
         "zone":"us-east-1a","targetRef":{"kind":"Pod","name":"cart-1"}},
        {"addresses":["10.0.0.2"],"conditions":{"ready":false,"serving":true,"terminating":true},
         "zone":"us-east-1b"},
        {"addresses":["10.0.0.3"],"conditions":{"ready":false,"serving":false,"terminating":true}},
        {"addresses":["10.0.0.4"],"conditions":{}},
        {"addresses":["10.0.0.6"],"conditions":{"ready":false}}])"));
  s.endpoint_slices["shop/cart-bbbbb"] =
      Slice("shop", "cart-bbbbb", "cart", J(R"([{"name":"http","protocol":"TCP","port":8080},
            {"name":"metrics","protocol":"TCP","port":9091}])"),
            J(R"([
        {"addresses":["10.0.0.1"],"conditions":{"ready":true},"zone":"us-east-1a"},
        {"addresses":["10.0.0.5","10.0.0.55"],"conditions":{"ready":true},"zone":"us-east-1c"}])"));
  // A slice of another Service and one without the label are not this Service's.
  s.endpoint_slices["shop/other-ccccc"] =
      Slice("shop", "other-ccccc", "other", J(R"([{"name":"http","port":8080}])"),
            ReadyEndpoints({"10.9.9.9"}));
  s.endpoint_slices["default/cart-ddddd"] =
      Slice("default", "cart-ddddd", "cart", J(R"([{"name":"http","port":8080}])"),
            ReadyEndpoints({"10.8.8.8"}));

  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(
      Text(d.clusters),
      Expected<lb::v1::Cluster>(
          {R"pb(
             name: "shop.cart.80"
             owner: "kubernetes"
             endpoints { address: "10.0.0.1" port: 8080 zone: "us-east-1a" admin_state: ACTIVE }
             endpoints { address: "10.0.0.2" port: 8080 zone: "us-east-1b" admin_state: DRAINING }
             endpoints { address: "10.0.0.4" port: 8080 admin_state: ACTIVE }
             endpoints { address: "10.0.0.5" port: 8080 zone: "us-east-1c" admin_state: ACTIVE }
           )pb",
           R"pb(
             name: "shop.cart.9090"
             owner: "kubernetes"
             endpoints { address: "10.0.0.1" port: 9091 zone: "us-east-1a" admin_state: ACTIVE }
             endpoints { address: "10.0.0.2" port: 9091 zone: "us-east-1b" admin_state: DRAINING }
             endpoints { address: "10.0.0.4" port: 9091 admin_state: ACTIVE }
             endpoints { address: "10.0.0.5" port: 9091 zone: "us-east-1c" admin_state: ACTIVE }
           )pb"}));
  EXPECT_THAT(d.warnings, IsEmpty());
  EXPECT_THAT(d.routes, IsEmpty());
}

TEST(TranslateTest, EndpointReadyInOneSliceAndTerminatingInAnotherIsActive) {
  ObjectSnapshot s;
  s.services["a/web"] = Service("a", "web", J(R"([{"port":80,"targetPort":8080}])"), json::object(),
                                J(R"({"lb/sync":"true"})"));
  s.endpoint_slices["a/web-1"] = Slice(
      "a", "web-1", "web", J(R"([{"port":8080}])"),
      J(R"([{"addresses":["fd00::0A"],"conditions":{"ready":false,"serving":true,"terminating":true}}])"));
  s.endpoint_slices["a/web-2"] =
      Slice("a", "web-2", "web", J(R"([{"port":8080,"protocol":"TCP"}])"),
            J(R"([{"addresses":["fd00::a"],"conditions":{"ready":true}}])"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.clusters), Expected<lb::v1::Cluster>(
                                  {R"pb(
                                     name: "a.web.80"
                                     owner: "kubernetes"
                                     endpoints { address: "fd00::a" port: 8080 admin_state: ACTIVE }
                                   )pb"}));
}

TEST(TranslateTest, ServiceAnnotationsSetTheClusterSettings) {
  ObjectSnapshot s;
  json labels = J(R"({"lb/sync":"true"})");
  s.services["a/rr"] = Service("a", "rr", J(R"([{"name":"grpc","port":50051,
                                                 "appProtocol":"kubernetes.io/h2c"}])"),
                               J(R"({"lb/lb-policy":"round_robin","lb/slow-start":"30s",
                                     "lb/endpoint-weight":"5"})"),
                               labels);
  s.endpoint_slices["a/rr-1"] = Slice("a", "rr-1", "rr", J(R"([{"name":"grpc","port":50051}])"),
                                      ReadyEndpoints({"10.1.0.1"}));
  s.services["a/sticky"] =
      Service("a", "sticky", J(R"([{"port":80}])"),
              J(R"({"lb/hash-cookie":"lb-affinity","lb/protocol":"HTTP2"})"), labels);
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(
      Text(d.clusters),
      Expected<lb::v1::Cluster>(
          {R"pb(
             name: "a.rr.50051"
             owner: "kubernetes"
             lb_policy: ROUND_ROBIN
             protocol: HTTP2
             slow_start_window { seconds: 30 }
             endpoints { address: "10.1.0.1" port: 50051 weight: 5 zone: "z1" admin_state: ACTIVE }
           )pb",
           R"pb(
             name: "a.sticky.80"
             owner: "kubernetes"
             lb_policy: RING_HASH
             protocol: HTTP2
             hash_policy { cookie: "lb-affinity" }
           )pb"}));
  EXPECT_THAT(d.warnings, IsEmpty());
}

TEST(TranslateTest, InvalidAnnotationsWarnAndFallBackToDefaults) {
  ObjectSnapshot s;
  s.services["a/bad"] = Service("a", "bad", J(R"([{"port":80}])"),
                                J(R"({"lb/lb-policy":"FASTEST","lb/slow-start":"soon",
                                      "lb/endpoint-weight":"0","lb/protocol":"HTTP3",
                                      "lb/hash-cookie":"no;cookie"})"),
                                J(R"({"lb/sync":"true"})"));
  s.endpoint_slices["a/bad-1"] =
      Slice("a", "bad-1", "bad", J(R"([{"port":80}])"), ReadyEndpoints({"10.1.0.2"}));
  // Slow start and a hash policy do not go together.
  s.services["a/mixed"] =
      Service("a", "mixed", J(R"([{"port":80}])"), J(R"({"lb/hash-cookie":"c","lb/slow-start":"2h",
                                        "lb/lb-policy":"LEAST_REQUEST"})"),
              J(R"({"lb/sync":"true"})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.clusters),
            Expected<lb::v1::Cluster>(
                {R"pb(
                   name: "a.bad.80"
                   owner: "kubernetes"
                   endpoints { address: "10.1.0.2" port: 80 zone: "z1" admin_state: ACTIVE }
                 )pb",
                 R"pb(
                   name: "a.mixed.80"
                   owner: "kubernetes"
                   lb_policy: RING_HASH
                   hash_policy { cookie: "c" }
                 )pb"}));
  EXPECT_THAT(
      d.warnings,
      ElementsAre(
          HasSubstr("service a/bad: annotation lb/lb-policy \"FASTEST\" is not RANDOM"),
          HasSubstr("service a/bad: annotation lb/hash-cookie \"no;cookie\" is not a cookie name"),
          HasSubstr("service a/bad: annotation lb/slow-start \"soon\" is not a duration"),
          HasSubstr("service a/bad: annotation lb/protocol \"HTTP3\" is not HTTP1 or HTTP2"),
          HasSubstr("service a/bad: annotation lb/endpoint-weight \"0\" is not from 1 to 10000"),
          HasSubstr("service a/mixed: annotation lb/hash-cookie needs a hash policy; using "
                    "RING_HASH instead of LEAST_REQUEST"),
          HasSubstr("service a/mixed: annotation lb/slow-start \"2h\" is not a duration from 1s "
                    "to 1h")));
}

// Every path type, hosts and no host, a port by name, the default backend, precedence.
TEST(TranslateTest, IngressRulesBecomeRoutes) {
  ObjectSnapshot s;
  AddWebService(&s, "shop", "web", {"10.0.1.1"});
  AddWebService(&s, "shop", "api", {"10.0.1.2"});
  AddWebService(&s, "shop", "fallback", {"10.0.1.3"});
  s.ingresses["shop/main"] = Ingress("shop", "main", "2024-05-01T10:00:00Z", J(R"({
    "ingressClassName": "lb",
    "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
    "rules": [
      {"host": "Shop.Example.com", "http": {"paths": [
        {"path": "/api/", "pathType": "Prefix",
         "backend": {"service": {"name": "api", "port": {"name": "http"}}}},
        {"path": "/login", "pathType": "Exact",
         "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "/static", "pathType": "ImplementationSpecific",
         "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}},
      {"http": {"paths": [
        {"path": "/", "pathType": "Prefix",
         "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  // Other classes, and Ingresses without one, are not ours.
  s.ingresses["shop/nginx"] = Ingress("shop", "nginx", "2024-05-01T09:00:00Z", J(R"({
    "ingressClassName": "nginx",
    "rules": [{"http": {"paths": [{"path": "/n", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  s.ingresses["shop/none"] = Ingress("shop", "none", "2024-05-01T09:00:00Z", J(R"({
    "rules": [{"http": {"paths": [{"path": "/x", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.routes), Expected<lb::v1::Route>({
                                R"pb(name: "k8s.ingress.shop.main.0"
                                     hosts: "shop.example.com"
                                     path_exact: "/api"
                                     cluster: "shop.api.80"
                                     priority: 0
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.ingress.shop.main.1"
                                     hosts: "shop.example.com"
                                     path_prefix: "/api/"
                                     cluster: "shop.api.80"
                                     priority: 1
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.ingress.shop.main.2"
                                     hosts: "shop.example.com"
                                     path_exact: "/login"
                                     cluster: "shop.web.80"
                                     priority: 2
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.ingress.shop.main.3"
                                     hosts: "shop.example.com"
                                     path_prefix: "/static"
                                     cluster: "shop.web.80"
                                     priority: 3
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.ingress.shop.main.4"
                                     hosts: "*"
                                     path_prefix: "/"
                                     cluster: "shop.web.80"
                                     priority: 4
                                     owner: "kubernetes")pb",
                            }));
  // The default backend's catch-all has the same match as the rule "/" of any host: the rule
  // wins, the default backend is left out with a warning.
  EXPECT_THAT(d.warnings,
              ElementsAre(HasSubstr("ingress shop/main: host \"*\" with the same match is already "
                                    "routed by route \"k8s.ingress.shop.main.4\"")));
  std::vector<std::string> clusters;
  for (const auto& c : d.clusters) clusters.push_back(c.name());
  EXPECT_THAT(clusters, ElementsAre("shop.api.80", "shop.fallback.80", "shop.web.80"));
}

TEST(TranslateTest, IngressDefaultBackendIsTheLowestPrecedenceCatchAll) {
  ObjectSnapshot s;
  AddWebService(&s, "a", "web", {"10.0.1.1"});
  AddWebService(&s, "a", "fallback", {"10.0.1.3"});
  // Older, with only a default backend; a newer Ingress's rule "/" of any host still wins it.
  s.ingresses["a/default"] = Ingress("a", "default", "2024-01-01T00:00:00Z", J(R"({
    "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}}})"),
                                     J(R"({"kubernetes.io/ingress.class":"lb"})"));
  s.ingresses["a/site"] = Ingress("a", "site", "2024-02-01T00:00:00Z", J(R"({
    "ingressClassName": "lb",
    "rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.routes), Expected<lb::v1::Route>({
                                R"pb(name: "k8s.ingress.a.default.0"
                                     hosts: "*"
                                     path_prefix: "/"
                                     cluster: "a.fallback.80"
                                     priority: 1
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.ingress.a.site.0"
                                     hosts: "a.example.com"
                                     path_prefix: "/"
                                     cluster: "a.web.80"
                                     priority: 0
                                     owner: "kubernetes")pb",
                            }));
  EXPECT_THAT(d.warnings, IsEmpty());
}

TEST(TranslateTest, IngressMissingServiceOrPortWarnsAndSkipsThePath) {
  ObjectSnapshot s;
  AddWebService(&s, "a", "web", {"10.0.1.1"});
  s.ingresses["a/i"] = Ingress("a", "i", "2024-01-01T00:00:00Z", J(R"({
    "ingressClassName": "lb",
    "rules": [{"http": {"paths": [
      {"path": "/gone", "pathType": "Exact",
       "backend": {"service": {"name": "gone", "port": {"number": 80}}}},
      {"path": "/port", "pathType": "Exact",
       "backend": {"service": {"name": "web", "port": {"name": "grpc"}}}},
      {"path": "/res", "pathType": "Exact",
       "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}}},
      {"path": "/ok", "pathType": "Exact",
       "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.routes), Expected<lb::v1::Route>({
                                R"pb(name: "k8s.ingress.a.i.3"
                                     hosts: "*"
                                     path_exact: "/ok"
                                     cluster: "a.web.80"
                                     owner: "kubernetes")pb",
                            }));
  EXPECT_THAT(d.warnings,
              ElementsAre("ingress a/i: service \"a/gone\" not found; path skipped",
                          "ingress a/i: service \"a/web\" has no port \"grpc\"; path skipped",
                          "ingress a/i: only service backends are supported; path skipped"));
}

TEST(TranslateTest, IngressTlsSectionsBecomeCertificates) {
  ObjectSnapshot s;
  AddWebService(&s, "a", "web", {"10.0.1.1"});
  s.secrets["a/site-tls"] = J(R"({"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls",
    "metadata":{"name":"site-tls","namespace":"a"},
    "data":{"tls.crt":"LS0tLS1CRUdJTiBDRVJU","tls.key":"LS0tLS1CRUdJTiBLRVk="}})");
  s.secrets["a/opaque"] = J(R"({"apiVersion":"v1","kind":"Secret","type":"Opaque",
    "metadata":{"name":"opaque","namespace":"a"},"data":{"password":"eA=="}})");
  s.ingresses["a/i"] = Ingress("a", "i", "2024-01-01T00:00:00Z", J(R"({
    "ingressClassName": "lb",
    "tls": [{"hosts": ["A.example.com", "*.b.example.com"], "secretName": "site-tls"},
            {"hosts": ["c.example.com"], "secretName": "missing"},
            {"hosts": ["d.example.com"], "secretName": "opaque"}],
    "rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  // A newer Ingress with the same Secret and another host adds an SNI name; one claiming an
  // SNI name of the first with another Secret does not get it.
  s.secrets["a/other-tls"] = s.secrets["a/site-tls"];
  s.ingresses["a/j"] = Ingress("a", "j", "2024-03-01T00:00:00Z", J(R"({
    "ingressClassName": "lb",
    "tls": [{"secretName": "site-tls"},
            {"hosts": ["a.example.com"], "secretName": "other-tls"}],
    "rules": [{"host": "e.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.certificates), Expected<lb::v1::Certificate>({R"pb(
                                                                   name: "k8s.secret.a.site-tls"
                                                                   cert_chain: "-----BEGIN CERT"
                                                                   private_key: "-----BEGIN KEY"
                                                                   sni: "*.b.example.com"
                                                                   sni: "a.example.com"
                                                                   sni: "e.example.com"
                                                                   owner: "kubernetes"
                                                                 )pb"}));
  EXPECT_THAT(d.warnings,
              ElementsAre("ingress a/i: secret \"a/missing\" not found; TLS section skipped",
                          "ingress a/i: secret \"a/opaque\" is not of type kubernetes.io/tls; "
                          "TLS section skipped",
                          "ingress a/j: TLS host \"a.example.com\" is already served by secret "
                          "\"a/site-tls\" (older Ingress); skipped",
                          "secret a/other-tls: no TLS host left to serve it for; not used"));
  // No https redirect unless asked for.
  ASSERT_EQ(d.routes.size(), 2u);
  EXPECT_EQ(d.routes[0].https_redirect(), 0u);
}

TEST(TranslateTest, IngressHttpsRedirectAnnotation) {
  ObjectSnapshot s;
  AddWebService(&s, "a", "web", {"10.0.1.1"});
  const json spec = J(R"({"ingressClassName": "lb",
    "rules": [{"host": "HOST", "http": {"paths": [{"path": "/", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})");
  json spec_a = spec, spec_b = spec;
  spec_a["rules"][0]["host"] = "a.example.com";
  spec_b["rules"][0]["host"] = "b.example.com";
  s.ingresses["a/yes"] =
      Ingress("a", "yes", "2024-01-01T00:00:00Z", spec_a, J(R"({"lb/https-redirect":"true"})"));
  s.ingresses["a/bad"] =
      Ingress("a", "bad", "2024-01-01T00:00:00Z", spec_b, J(R"({"lb/https-redirect":"always"})"));
  DesiredState d = Translate(s, TranslateOptions{});
  ASSERT_EQ(d.routes.size(), 2u);
  EXPECT_EQ(d.routes[0].name(), "k8s.ingress.a.bad.0");
  EXPECT_EQ(d.routes[0].https_redirect(), 0u);
  EXPECT_EQ(d.routes[1].https_redirect(), 308u);
  EXPECT_THAT(d.warnings, ElementsAre(HasSubstr("lb/https-redirect \"always\" is not true")));
}

TEST(TranslateTest, IngressStatusIsWrittenOnlyWhenItDiffers) {
  ObjectSnapshot s;
  AddWebService(&s, "a", "web", {"10.0.1.1"});
  const json spec = J(R"({"ingressClassName": "lb",
    "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})");
  s.ingresses["a/new"] = Ingress("a", "new", "2024-01-01T00:00:00Z", spec);
  s.ingresses["a/done"] = Ingress("a", "done", "2023-01-01T00:00:00Z", spec);
  s.ingresses["a/done"]["status"] =
      J(R"({"loadBalancer":{"ingress":[{"ip":"203.0.113.7"},{"hostname":"lb.example.com"}]}})");
  TranslateOptions o;
  DesiredState none = Translate(s, o);
  EXPECT_THAT(none.status_writes, IsEmpty());  // No addresses configured: nothing to say.
  o.ingress_status_addresses = {"203.0.113.7", "lb.example.com"};
  DesiredState d = Translate(s, o);
  ASSERT_EQ(d.status_writes.size(), 1u);
  EXPECT_EQ(d.status_writes[0].resource, "ingresses");
  EXPECT_EQ(d.status_writes[0].ns, "a");
  EXPECT_EQ(d.status_writes[0].name, "new");
  EXPECT_EQ(d.status_writes[0].patch,
            J(R"({"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7"},
                                                       {"hostname":"lb.example.com"}]}}})"));
}

// A canary split with affinity: the stable Service hashes on a cookie, so the split hashes too
// (docs/routes.md); a weight-0 backend is left out; header modifiers; hostnames intersected
// with the listener's.
TEST(TranslateTest, HttpRouteCanaryWithAffinityHeadersAndStatus) {
  ObjectSnapshot s;
  AddGateway(&s);
  AddWebService(&s, "shop", "web", {"10.0.2.1"}, J(R"({"lb/hash-cookie":"lb-canary"})"));
  AddWebService(&s, "shop", "web-v2", {"10.0.2.2"}, J(R"({"lb/hash-cookie":"lb-canary"})"));
  AddWebService(&s, "shop", "web-v3", {"10.0.2.3"});
  s.http_routes["shop/canary"] = HttpRoute("shop", "canary", "2024-06-01T00:00:00Z", J(R"({
    "parentRefs": [{"name": "gw", "namespace": "infra"}],
    "hostnames": ["app.example.com", "other.org"],
    "rules": [{
      "matches": [{"path": {"type": "PathPrefix", "value": "/shop"},
                   "headers": [{"name": "X-Beta", "value": "1"}], "method": "GET"},
                  {"path": {"type": "Exact", "value": "/"}}],
      "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
        "set": [{"name": "X-Env", "value": "prod"}],
        "add": [{"name": "X-Trace", "value": "on"}],
        "remove": ["X-Debug"]}}],
      "backendRefs": [{"name": "web", "port": 80, "weight": 90},
                      {"name": "web-v2", "port": 80, "weight": 10},
                      {"name": "web-v3", "port": 80, "weight": 0}]}]})"));
  TranslateOptions o;
  o.now = "2024-06-02T00:00:00Z";
  DesiredState d = Translate(s, o);
  const char kSplit[] = R"pb(
    weighted_clusters { cluster: "shop.web.80" weight: 90 }
    weighted_clusters { cluster: "shop.web-v2.80" weight: 10 }
    request_headers_to_add { name: "x-env" value: "prod" }
    request_headers_to_add { name: "x-trace" value: "on" append: true }
    request_headers_to_remove: "x-debug"
    owner: "kubernetes")pb";
  EXPECT_EQ(Text(d.routes), Expected<lb::v1::Route>({
                                std::string(R"pb(name: "k8s.httproute.shop.canary.0"
                                                 hosts: "app.example.com"
                                                 path_exact: "/shop"
                                                 method: "GET"
                                                 headers { name: "x-beta" exact: "1" }
                                                 priority: 0)pb") +
                                    kSplit,
                                std::string(R"pb(name: "k8s.httproute.shop.canary.1"
                                                 hosts: "app.example.com"
                                                 path_prefix: "/shop/"
                                                 method: "GET"
                                                 headers { name: "x-beta" exact: "1" }
                                                 priority: 1)pb") +
                                    kSplit,
                                std::string(R"pb(name: "k8s.httproute.shop.canary.2"
                                                 hosts: "app.example.com"
                                                 path_exact: "/"
                                                 priority: 2)pb") +
                                    kSplit,
                            }));
  std::vector<std::string> clusters;
  for (const auto& c : d.clusters) {
    clusters.push_back(c.name() + " " + lb::v1::LbPolicy_Name(c.lb_policy()) + " " +
                       c.hash_policy().cookie());
  }
  EXPECT_THAT(clusters, ElementsAre("shop.web-v2.80 RING_HASH lb-canary",
                                    "shop.web-v3.80 LB_POLICY_UNSPECIFIED ",
                                    "shop.web.80 RING_HASH lb-canary"));
  EXPECT_THAT(d.warnings, IsEmpty());
  ASSERT_EQ(d.status_writes.size(), 1u);
  EXPECT_EQ(d.status_writes[0].resource, "httproutes");
  EXPECT_EQ(d.status_writes[0].ns, "shop");
  EXPECT_EQ(d.status_writes[0].name, "canary");
  EXPECT_EQ(d.status_writes[0].patch, J(R"({"status":{"parents":[{
    "parentRef": {"name": "gw", "namespace": "infra"},
    "controllerName": "lb.dev/gateway-controller",
    "conditions": [
      {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "Accepted",
       "observedGeneration": 3, "lastTransitionTime": "2024-06-02T00:00:00Z"},
      {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs", "message": "Resolved",
       "observedGeneration": 3, "lastTransitionTime": "2024-06-02T00:00:00Z"}]}]}})"));

  // Written back, the same status needs no write; a new generation does, keeping the times.
  s.http_routes["shop/canary"]["status"] = d.status_writes[0].patch["status"];
  o.now = "2024-06-03T00:00:00Z";
  EXPECT_THAT(Translate(s, o).status_writes, IsEmpty());
  s.http_routes["shop/canary"]["metadata"]["generation"] = 4;
  DesiredState d2 = Translate(s, o);
  ASSERT_EQ(d2.status_writes.size(), 1u);
  const json& cond = d2.status_writes[0].patch["status"]["parents"][0]["conditions"][0];
  EXPECT_EQ(cond["observedGeneration"], 4);
  EXPECT_EQ(cond["lastTransitionTime"], "2024-06-02T00:00:00Z");
}

TEST(TranslateTest, HttpRouteMissingBackendResolvesFalseAndRoutesToTheRest) {
  ObjectSnapshot s;
  AddGateway(&s);
  AddWebService(&s, "shop", "web", {"10.0.2.1"});
  s.http_routes["shop/r"] = HttpRoute("shop", "r", "2024-06-01T00:00:00Z", J(R"({
    "parentRefs": [{"name": "gw", "namespace": "infra", "sectionName": "http"}],
    "hostnames": ["app.example.com"],
    "rules": [{"backendRefs": [{"name": "web", "port": 80, "weight": 50},
                               {"name": "gone", "port": 80, "weight": 50}]},
              {"matches": [{"path": {"type": "Exact", "value": "/zero"}}],
               "backendRefs": [{"name": "web", "port": 80, "weight": 0}]},
              {"matches": [{"path": {"type": "Exact", "value": "/x"}}],
               "backendRefs": [{"name": "web", "namespace": "other", "port": 80}]}]})"));
  s.http_routes["shop/r"]["status"] = J(R"({"parents": [{
    "parentRef": {"name": "other-gw"}, "controllerName": "example.net/other",
    "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                    "lastTransitionTime": "2020-01-01T00:00:00Z"}]}]})");
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.routes), Expected<lb::v1::Route>({
                                R"pb(name: "k8s.httproute.shop.r.0"
                                     hosts: "app.example.com"
                                     path_prefix: "/"
                                     cluster: "shop.web.80"
                                     owner: "kubernetes")pb",
                            }));
  EXPECT_THAT(d.warnings,
              ElementsAre("httproute shop/r rule 0: service \"shop/gone\" not found",
                          "httproute shop/r rule 1: every weight is 0 (Gateway API answers 500); "
                          "rule skipped",
                          "httproute shop/r rule 2: backendRef to namespace \"other\" "
                          "(ReferenceGrants are not supported)",
                          "httproute shop/r rule 2: no backend resolved; rule skipped"));
  ASSERT_EQ(d.status_writes.size(), 1u);
  // The other controller's entry is kept (a merge patch replaces the whole list).
  EXPECT_EQ(d.status_writes[0].patch, J(R"({"status":{"parents":[{
    "parentRef": {"name": "other-gw"}, "controllerName": "example.net/other",
    "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                    "lastTransitionTime": "2020-01-01T00:00:00Z"}]}, {
    "parentRef": {"name": "gw", "namespace": "infra", "sectionName": "http"},
    "controllerName": "lb.dev/gateway-controller",
    "conditions": [
      {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "Accepted",
       "observedGeneration": 3, "lastTransitionTime": "1970-01-01T00:00:00Z"},
      {"type": "ResolvedRefs", "status": "False", "reason": "BackendNotFound",
       "message": "service \"shop/gone\" not found",
       "observedGeneration": 3, "lastTransitionTime": "1970-01-01T00:00:00Z"}]}]}})"));
}

TEST(TranslateTest, HttpRouteParentsThatDoNotAcceptIt) {
  ObjectSnapshot s;
  AddGateway(&s);
  s.gateways["shop/private"] = Gateway("shop", "private", "lb", J(R"([
    {"name": "web", "protocol": "HTTP", "port": 8080}])"));
  s.gateways["shop/theirs"] = Gateway("shop", "theirs", "nginx", J(R"([
    {"name": "web", "protocol": "HTTP", "port": 80}])"));
  AddWebService(&s, "other", "web", {"10.0.2.1"});
  s.http_routes["other/r"] = HttpRoute("other", "r", "2024-06-01T00:00:00Z", J(R"({
    "parentRefs": [{"name": "gw", "namespace": "infra"},
                   {"name": "gw", "namespace": "infra", "sectionName": "https"},
                   {"name": "private", "namespace": "shop"},
                   {"name": "theirs", "namespace": "shop"}],
    "hostnames": ["example.com"],
    "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_THAT(d.routes, IsEmpty());
  EXPECT_THAT(d.clusters, IsEmpty());  // Not attached: its Services are not synced.
  ASSERT_EQ(d.status_writes.size(), 1u);
  const json& parents = d.status_writes[0].patch["status"]["parents"];
  ASSERT_EQ(parents.size(), 3u);  // Not the parent of another class.
  auto accepted = [&](int i) {
    const json& c = parents[i]["conditions"][0];
    return c["status"].get<std::string>() + " " + c["reason"].get<std::string>();
  };
  EXPECT_EQ(accepted(0), "False NoMatchingListenerHostname");  // *.example.com vs example.com
  EXPECT_EQ(accepted(1), "False NoMatchingParent");            // no listener "https"
  EXPECT_EQ(accepted(2), "False NotAllowedByListeners");       // Same namespace only
}

TEST(TranslateTest, HttpRouteHostnamesIntersectTheListeners) {
  ObjectSnapshot s;
  s.gateway_api_present = true;
  s.gateways["infra/gw"] = Gateway("infra", "gw", "lb", J(R"([
    {"name": "a", "protocol": "HTTP", "port": 80, "hostname": "*.example.com",
     "allowedRoutes": {"namespaces": {"from": "All"}}},
    {"name": "b", "protocol": "HTTPS", "port": 443, "hostname": "api.example.org",
     "allowedRoutes": {"namespaces": {"from": "All"}}},
    {"name": "c", "protocol": "TCP", "port": 5432,
     "allowedRoutes": {"namespaces": {"from": "All"}}}])"));
  AddWebService(&s, "x", "web", {"10.0.2.1"});
  s.http_routes["x/wild"] = HttpRoute("x", "wild", "2024-06-01T00:00:00Z", J(R"({
    "parentRefs": [{"name": "gw", "namespace": "infra"}],
    "hostnames": ["*.org", "a.b.example.com", "example.com"],
    "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]})"));
  s.http_routes["x/any"] = HttpRoute("x", "any", "2024-06-02T00:00:00Z", J(R"({
    "parentRefs": [{"name": "gw", "namespace": "infra", "port": 80}],
    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/any"}}],
               "backendRefs": [{"name": "web", "port": 80}]}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.routes), Expected<lb::v1::Route>({
                                R"pb(name: "k8s.httproute.x.any.0"
                                     hosts: "*.example.com"
                                     path_exact: "/any"
                                     cluster: "x.web.80"
                                     priority: 1
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.httproute.x.any.1"
                                     hosts: "*.example.com"
                                     path_prefix: "/any/"
                                     cluster: "x.web.80"
                                     priority: 2
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.httproute.x.wild.0"
                                     hosts: "a.b.example.com"
                                     hosts: "api.example.org"
                                     path_prefix: "/"
                                     cluster: "x.web.80"
                                     owner: "kubernetes")pb",
                            }));
  EXPECT_THAT(d.warnings, IsEmpty());
}

// Gateway API precedence: the older route keeps a host + match both claim; equal ages go by
// namespace/name; priorities follow that order.
TEST(TranslateTest, ConflictingRoutesTheOlderWins) {
  ObjectSnapshot s;
  AddGateway(&s);
  AddWebService(&s, "a", "one", {"10.0.3.1"});
  AddWebService(&s, "a", "two", {"10.0.3.2"});
  const char* spec = R"({"parentRefs": [{"name": "gw", "namespace": "infra"}],
    "hostnames": ["x.example.com", "y.example.com"],
    "rules": [{"matches": [{"path": {"type": "Exact", "value": "/p"}}],
               "backendRefs": [{"name": "BACKEND", "port": 80}]}]})";
  json newer = J(spec), older = J(spec);
  newer["rules"][0]["backendRefs"][0]["name"] = "two";
  newer["hostnames"] = {"x.example.com"};
  older["rules"][0]["backendRefs"][0]["name"] = "one";
  s.http_routes["a/aaa-newer"] = HttpRoute("a", "aaa-newer", "2024-06-02T00:00:00Z", newer);
  s.http_routes["a/zzz-older"] = HttpRoute("a", "zzz-older", "2024-06-01T00:00:00Z", older);
  // An Ingress of the same age as the older route comes first (kind, then name).
  AddWebService(&s, "a", "ing", {"10.0.3.3"});
  s.ingresses["a/ing"] = Ingress("a", "ing", "2024-06-01T00:00:00Z", J(R"({
    "ingressClassName": "lb",
    "rules": [{"host": "y.example.com", "http": {"paths": [{"path": "/p", "pathType": "Exact",
      "backend": {"service": {"name": "ing", "port": {"number": 80}}}}]}}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.routes), Expected<lb::v1::Route>({
                                R"pb(name: "k8s.httproute.a.zzz-older.0"
                                     hosts: "x.example.com"
                                     path_exact: "/p"
                                     cluster: "a.one.80"
                                     priority: 1
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.ingress.a.ing.0"
                                     hosts: "y.example.com"
                                     path_exact: "/p"
                                     cluster: "a.ing.80"
                                     priority: 0
                                     owner: "kubernetes")pb",
                            }));
  EXPECT_THAT(
      d.warnings,
      ElementsAre(
          "httproute a/zzz-older: host \"y.example.com\" with the same match is "
          "already routed by route \"k8s.ingress.a.ing.0\", which takes precedence; left out",
          "httproute a/aaa-newer: host \"x.example.com\" with the same match is "
          "already routed by route \"k8s.httproute.a.zzz-older.0\", which takes "
          "precedence; left out"));
}

// An Exact match of a path wins the host over the exact half of another route's PathPrefix,
// however old that route is, and without a warning.
TEST(TranslateTest, ExactMatchBeatsThePrefixExpansion) {
  ObjectSnapshot s;
  AddWebService(&s, "a", "one", {"10.0.3.1"});
  AddWebService(&s, "a", "two", {"10.0.3.2"});
  s.ingresses["a/old"] = Ingress("a", "old", "2020-01-01T00:00:00Z", J(R"({
    "ingressClassName": "lb",
    "rules": [{"http": {"paths": [{"path": "/foo", "pathType": "Prefix",
      "backend": {"service": {"name": "one", "port": {"number": 80}}}}]}}]})"));
  s.ingresses["a/new"] = Ingress("a", "new", "2024-01-01T00:00:00Z", J(R"({
    "ingressClassName": "lb",
    "rules": [{"http": {"paths": [{"path": "/foo", "pathType": "Exact",
      "backend": {"service": {"name": "two", "port": {"number": 80}}}}]}}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_EQ(Text(d.routes), Expected<lb::v1::Route>({
                                R"pb(name: "k8s.ingress.a.new.0"
                                     hosts: "*"
                                     path_exact: "/foo"
                                     cluster: "a.two.80"
                                     priority: 2
                                     owner: "kubernetes")pb",
                                R"pb(name: "k8s.ingress.a.old.1"
                                     hosts: "*"
                                     path_prefix: "/foo/"
                                     cluster: "a.one.80"
                                     priority: 1
                                     owner: "kubernetes")pb",
                            }));
  EXPECT_THAT(d.warnings, IsEmpty());
}

TEST(TranslateTest, WithoutGatewayApiIngressStillWorks) {
  ObjectSnapshot s;
  AddGateway(&s);
  s.gateway_api_present = false;  // The CRDs are absent: whatever is listed is ignored.
  AddWebService(&s, "a", "web", {"10.0.1.1"});
  AddWebService(&s, "a", "gw-only", {"10.0.1.2"});
  s.http_routes["a/r"] = HttpRoute("a", "r", "2024-06-01T00:00:00Z", J(R"({
    "parentRefs": [{"name": "gw", "namespace": "infra"}],
    "rules": [{"backendRefs": [{"name": "gw-only", "port": 80}]}]})"));
  s.ingresses["a/i"] = Ingress("a", "i", "2024-01-01T00:00:00Z", J(R"({
    "ingressClassName": "lb",
    "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  DesiredState d = Translate(s, TranslateOptions{});
  ASSERT_EQ(d.clusters.size(), 1u);
  EXPECT_EQ(d.clusters[0].name(), "a.web.80");
  ASSERT_EQ(d.routes.size(), 1u);
  EXPECT_EQ(d.routes[0].cluster(), "a.web.80");
  EXPECT_THAT(d.status_writes, IsEmpty());
  EXPECT_THAT(d.warnings, IsEmpty());
}

TEST(TranslateTest, OptionsChooseTheClasses) {
  ObjectSnapshot s;
  AddGateway(&s);
  AddWebService(&s, "a", "web", {"10.0.1.1"});
  s.ingresses["a/i"] = Ingress("a", "i", "2024-01-01T00:00:00Z", J(R"({
    "ingressClassName": "edge",
    "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]})"));
  s.http_routes["a/r"] = HttpRoute("a", "r", "2024-06-01T00:00:00Z", J(R"({
    "parentRefs": [{"name": "gw", "namespace": "infra"}], "hostnames": ["a.example.com"],
    "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]})"));
  TranslateOptions o;
  o.ingress_class = "edge";
  o.gateway_class = "other";
  DesiredState d = Translate(s, o);
  ASSERT_EQ(d.routes.size(), 1u);
  EXPECT_EQ(d.routes[0].name(), "k8s.ingress.a.i.0");
  EXPECT_THAT(d.status_writes, IsEmpty());
}

TEST(TranslateTest, LongNamesAreShortenedStably) {
  ObjectSnapshot s;
  const std::string ns(63, 'n'), name(63, 's');
  s.services[ns + "/" + name] =
      Service(ns, name, J(R"([{"port":8080}])"), json::object(), J(R"({"lb/sync":"true"})"));
  DesiredState d = Translate(s, TranslateOptions{});
  ASSERT_EQ(d.clusters.size(), 1u);
  const std::string& got = d.clusters[0].name();
  EXPECT_EQ(got.size(), 128u);
  EXPECT_EQ(got.substr(0, 64), ns + ".");
  EXPECT_EQ(Translate(s, TranslateOptions{}).clusters[0].name(), got);
}

TEST(TranslateTest, MalformedObjectsNeverCrash) {
  ObjectSnapshot s;
  s.gateway_api_present = true;
  s.services["a/x"] = J(R"({"metadata":{"labels":{"lb/sync":"true"}},"spec":{"ports":[
    {"port":"80"},{"port":-1},{"port":70000},{"port":80.5},{},{"port":18446744073709551615},
    null,7,{"port":80}]}})");
  s.services["no-slash"] = J(R"({"metadata":{"labels":{"lb/sync":"true"}}})");
  s.services["a/y"] = J(R"([1,2,3])");
  s.endpoint_slices["a/x-1"] = J(R"({"metadata":{"labels":{"kubernetes.io/service-name":"x"}},
    "ports":[{"port":80}],"endpoints":[{"addresses":[]},{"addresses":[7]},
    {"addresses":["not an ip"]},{"addresses":["10.0.0.1"],"conditions":{"ready":"yes"}},
    {"addresses":["10.0.0.2"],"zone":17}]})");
  s.ingresses["a/i"] = J(R"({"spec":{"ingressClassName":"lb","rules":[{"host":7,"http":{
    "paths":[{"path":"no slash","pathType":"Prefix","backend":{"service":{"name":"x",
    "port":{"number":80}}}}, {"path":"/ok","backend":{"service":{"name":"x","port":{}}}}]}},
    null],"tls":[{"hosts":["bad host!"],"secretName":"s"}],"defaultBackend":7}})");
  s.secrets["a/s"] = J(R"({"type":"kubernetes.io/tls","data":{"tls.crt":"!!","tls.key":5}})");
  s.gateways["a/g"] = J(R"({"spec":{"gatewayClassName":"lb","listeners":[7,{"port":"x"}]}})");
  s.http_routes["a/r"] = J(R"({"metadata":{"generation":"x"},"spec":{"parentRefs":[
    {"name":"g"},7],"rules":[{"matches":[7,{"path":{"type":"Exact","value":"x y"}}],
    "backendRefs":[{"name":"x","port":80,"weight":-5},{"name":"x","port":"80"}]},7]},
    "status":{"parents":"nope"}})");
  DesiredState d = Translate(s, TranslateOptions{});
  EXPECT_THAT(d.routes, IsEmpty());
  // The JSON types the fields should have were not there; the valid remains are used.
  ASSERT_EQ(d.clusters.size(), 1u);
  EXPECT_EQ(d.clusters[0].name(), "a.x.80");
}

TEST(TranslateTest, Deterministic) {
  ObjectSnapshot s;
  AddGateway(&s);
  for (int i = 0; i < 20; ++i) {
    const std::string n = "svc" + std::to_string(i);
    AddWebService(&s, "ns" + std::to_string(i % 3), n,
                  {"10.4.0." + std::to_string(i + 1), "10.4.1." + std::to_string(i + 1)});
    s.http_routes["ns" + std::to_string(i % 3) + "/r" + std::to_string(i)] =
        HttpRoute("ns" + std::to_string(i % 3), "r" + std::to_string(i), "2024-06-01T00:00:00Z",
                  {{"parentRefs", J(R"([{"name":"gw","namespace":"infra"}])")},
                   {"hostnames", {"h" + std::to_string(i % 4) + ".example.com"}},
                   {"rules", {{{"backendRefs", {{{"name", n}, {"port", 80}}}}}}}});
  }
  DesiredState a = Translate(s, TranslateOptions{});
  DesiredState b = Translate(s, TranslateOptions{});
  EXPECT_EQ(a.clusters.size(), 20u);
  EXPECT_EQ(a.routes.size(), 4u);  // One per host: the oldest (then first by name) wins.
  EXPECT_EQ(a.warnings.size(), 16u);
  EXPECT_EQ(Text(a.clusters), Text(b.clusters));
  EXPECT_EQ(Text(a.routes), Text(b.routes));
  EXPECT_EQ(a.warnings, b.warnings);
  ASSERT_EQ(a.status_writes.size(), b.status_writes.size());
  for (size_t i = 0; i < a.status_writes.size(); ++i) {
    EXPECT_EQ(a.status_writes[i].name, b.status_writes[i].name);
    EXPECT_EQ(a.status_writes[i].patch, b.status_writes[i].patch);
  }
}

}  // namespace
}  // namespace lb::kubernetes
