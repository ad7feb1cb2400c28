// The controller following a Kubernetes cluster, end to end: the stand-in API server
// (tests/k8s/fake_apiserver.py, real list/watch protocol over HTTPS with a bearer token) →
// the controller (--kubernetes --kubeconfig) → a proxy (xDS) → test backends, under load.
//
//  - a rolling update of a 5-pod Deployment's EndpointSlices (new pods become ready, old ones
//    serving+terminating, then gone) with zero failed requests;
//  - an HTTPRoute moving 10 % → 50 % → 100 % to a canary, the measured split within ±3 points;
//  - an Ingress with two hosts routing each to its Service, and its status written back;
//  - a watch cut with 410 (compaction, then an injected 410) that relists without dropping
//    endpoints, and picks up the changes made meanwhile.
//
// Each "pod" is one EndpointSlice with one endpoint on 127.0.0.1 and its own port (the slices
// of a Service whose named targetPort resolves to different numbers, as the EndpointSlice
// controller makes them).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/k8s/fake_apiserver_process.h"
#include "tests/test_common/backend.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/load_generator.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

using nlohmann::json;

constexpr char kStatusAddress[] = "192.0.2.10";

json IngressClass() {
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "IngressClass"},
          {"metadata", {{"name", "lb"}}},
          {"spec", {{"controller", "lb.dev/ingress-controller"}}}};
}

json IngressRule(const std::string& host, const std::string& service) {
  json rule = {
      {"http",
       {{"paths",
         {{{"path", "/"},
           {"pathType", "Prefix"},
           {"backend", {{"service", {{"name", service}, {"port", {{"number", 80}}}}}}}}}}}}};
  if (!host.empty()) rule["host"] = host;
  return rule;
}

json Ingress(const std::string& name, const json& rules) {
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "Ingress"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"ingressClassName", "lb"}, {"rules", rules}}}};
}

json GatewayObjects() {
  json objects = json::array();
  objects.push_back({{"apiVersion", "gateway.networking.k8s.io/v1"},
                     {"kind", "GatewayClass"},
                     {"metadata", {{"name", "lb"}}},
                     {"spec", {{"controllerName", "lb.dev/gateway-controller"}}}});
  objects.push_back({{"apiVersion", "gateway.networking.k8s.io/v1"},
                     {"kind", "Gateway"},
                     {"metadata", {{"name", "gw"}, {"namespace", "default"}}},
                     {"spec",
                      {{"gatewayClassName", "lb"},
                       {"listeners", {{{"name", "http"}, {"port", 80}, {"protocol", "HTTP"}}}}}}});
  return objects;
}

json HttpRoute(int stable_weight, int canary_weight) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata", {{"name", "shop"}, {"namespace", "default"}}},
          {"spec",
           {{"parentRefs", {{{"name", "gw"}}}},
            {"hostnames", {"shop.test"}},
            {"rules",
             {{{"matches", {{{"path", {{"type", "PathPrefix"}, {"value", "/"}}}}}},
               {"backendRefs",
                {{{"name", "stable"}, {"port", 80}, {"weight", stable_weight}},
                 {{"name", "canary"}, {"port", 80}, {"weight", canary_weight}}}}}}}}}};
}

// One pod: one endpoint in its own slice.
json PodSlice(const std::string& service, const std::string& pod, int port, bool ready,
              bool serving, bool terminating) {
  SliceEndpoint e;
  e.ready = ready;
  e.serving = serving;
  e.terminating = terminating;
  return K8sEndpointSlice("default", service + "-" + pod, service, port, {e});
}

class KubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status s = fake_.Start();
    ASSERT_TRUE(s.ok()) << s;
    absl::StatusOr<std::string> kubeconfig = fake_.Kubeconfig();
    ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.status();
    controller_ = std::make_unique<ControllerProcess>(
        std::vector<std::string>{"--kubernetes", "--kubeconfig=" + *kubeconfig,
                                 absl::StrCat("--ingress_status_address=", kStatusAddress)});
    s = controller_->Start();
    ASSERT_TRUE(s.ok()) << s;
    // The seed's catch-all route would clash with an Ingress rule without a host.
    s = V1Call(controller_->rest_port(), "DELETE", "/v1/routes/default", "", 204);
    ASSERT_TRUE(s.ok()) << s;
    s = proxy_.Start(controller_->grpc_target());
    ASSERT_TRUE(s.ok()) << s;
    s = proxy_.WaitReady();
    ASSERT_TRUE(s.ok()) << s;
  }

  void TearDown() override {
    if (!HasFailure()) return;
    std::string model;
    if (controller_ != nullptr) {
      for (const char* path : {"/v1/routes", "/v1/clusters"}) {
        absl::StatusOr<HttpResponse> r = HttpGet(controller_->rest_port(), path);
        if (r.ok()) absl::StrAppend(&model, path, ": ", r->body.substr(0, 3000), "\n");
      }
    }
    absl::StatusOr<json> ingresses = fake_.Get("/apis/networking.k8s.io/v1/ingresses");
    ADD_FAILURE() << "controller log:\n"
                  << (controller_ ? controller_->LogTail(6000) : "") << "\nmodel:\n"
                  << model << "ingresses at the API server: "
                  << (ingresses.ok() ? ingresses->dump() : ingresses.status().ToString())
                  << "\nfake log:\n"
                  << fake_.LogTail(3000);
  }

  void Apply(const json& objects) {
    absl::Status s = fake_.Apply(objects);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::unique_ptr<TestBackend> StartBackend(const std::string& name) {
    auto b = std::make_unique<TestBackend>(name);
    absl::Status s = b->Start();
    EXPECT_TRUE(s.ok()) << s;
    return b;
  }

  // Service `web` behind an Ingress without a host (every request), with `n` ready pods
  // PREFIX-0.. (backends answering "Hello from PREFIX-i", slices web-PREFIX-i); waits until the
  // proxy has them all.
  void DeployWeb(const std::string& prefix, int n, std::vector<std::unique_ptr<TestBackend>>* pods,
                 std::vector<std::string>* addresses) {
    json objects = {IngressClass(), K8sService("default", "web"),
                    Ingress("web", json::array({IngressRule("", "web")}))};
    for (int i = 0; i < n; ++i) {
      const std::string pod = absl::StrCat(prefix, "-", i);
      pods->push_back(StartBackend(pod));
      addresses->push_back(pods->back()->address());
      objects.push_back(PodSlice("web", pod, pods->back()->port(), true, true, false));
    }
    Apply({{"items", objects}});
    ASSERT_TRUE(WaitEndpoints("default.web.80", *addresses, *addresses));
  }

  // Waits until the proxy's `cluster` has exactly `all` endpoints, of which exactly
  // `eligible` are eligible (both sorted inside).
  ::testing::AssertionResult WaitEndpoints(const std::string& cluster, std::vector<std::string> all,
                                           std::vector<std::string> eligible,
                                           absl::Duration timeout = absl::Seconds(30)) {
    std::sort(all.begin(), all.end());
    std::sort(eligible.begin(), eligible.end());
    std::vector<std::string> last_all, last_eligible;
    bool ok = WaitUntil(
        [&] {
          absl::StatusOr<json> dump = ConfigDump(proxy_.admin_port());
          if (!dump.ok()) return false;
          last_all = DumpEndpoints(*dump, cluster, false);
          last_eligible = DumpEndpoints(*dump, cluster, true);
          return last_all == all && last_eligible == eligible;
        },
        timeout);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << cluster << ": want all [" << absl::StrJoin(all, ",") << "] eligible ["
           << absl::StrJoin(eligible, ",") << "], last seen all [" << absl::StrJoin(last_all, ",")
           << "] eligible [" << absl::StrJoin(last_eligible, ",") << "]";
  }

  // `n` GETs of "/" with Host `host` on one keep-alive connection (reopened on failure):
  // answer body (or "status N" for a non-200) → count.
  std::map<std::string, int> Sample(const std::string& host, int n) {
    std::map<std::string, int> counts;
    std::unique_ptr<Connection> conn;
    for (int i = 0; i < n; ++i) {
      if (conn == nullptr || conn->eof()) {
        absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(proxy_.port());
        if (!c.ok()) {
          ++counts["connect failed"];
          continue;
        }
        conn = std::move(*c);
      }
      // Connection::Get sends its own Host; this request carries `host` instead.
      absl::Status sent = conn->Send(absl::StrCat("GET / HTTP/1.1\r\nHost: ", host, "\r\n\r\n"));
      absl::StatusOr<HttpResponse> r = sent.ok() ? conn->Read() : sent;
      if (!r.ok()) {
        ++counts["error"];
        conn.reset();
        continue;
      }
      ++counts[r->status == 200 ? r->body : absl::StrCat("status ", r->status)];
      if (r->Header("Connection") == "close") conn.reset();
    }
    return counts;
  }

  // The share (0-100) of `body` among `counts`.
  static double Percent(const std::map<std::string, int>& counts, const std::string& body) {
    int total = 0;
    for (const auto& [k, v] : counts) total += v;
    auto it = counts.find(body);
    return total == 0 || it == counts.end() ? 0 : 100.0 * it->second / total;
  }

  static std::string Describe(const std::map<std::string, int>& counts) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : counts) parts.push_back(absl::StrCat("'", k, "': ", v));
    return absl::StrJoin(parts, ", ");
  }

  int64_t Counter(const std::string& name) {
    absl::StatusOr<json> state = fake_.State();
    if (!state.ok()) return -1;
    return (*state)["counters"].value(name, int64_t{0});
  }

  FakeApiServerProcess fake_{{"--verbose"}};
  std::unique_ptr<ControllerProcess> controller_;
  ProxyProcess proxy_{"k8s-proxy"};
};

// (a) A Deployment of 5 pods rolls to 5 new ones, one at a time (maxSurge 1, maxUnavailable
// 0), while 4 clients send requests without pause: none may fail.
TEST_F(KubernetesTest, RollingUpdateOfFivePodsHasZeroFailedRequests) {
  constexpr int kPods = 5;
  const std::string cluster = "default.web.80";
  std::vector<std::unique_ptr<TestBackend>> old_pods, new_pods;
  std::vector<std::string> old_addresses, new_addresses;
  ASSERT_NO_FATAL_FAILURE(DeployWeb("old", kPods, &old_pods, &old_addresses));
  for (int i = 0; i < kPods; ++i) {
    new_pods.push_back(StartBackend(absl::StrCat("new-", i)));
    new_addresses.push_back(new_pods.back()->address());
  }

  LoadGenerator load(proxy_.port(), 4);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();

  std::vector<std::string> all = old_addresses, eligible = old_addresses;
  for (int i = 0; i < kPods; ++i) {
    const std::string old_pod = absl::StrCat("old-", i), new_pod = absl::StrCat("new-", i);
    // The new pod is scheduled but not ready: not serving, so not an endpoint yet.
    Apply(PodSlice("web", new_pod, new_pods[i]->port(), false, false, false));
    // Then ready: it takes traffic.
    Apply(PodSlice("web", new_pod, new_pods[i]->port(), true, true, false));
    all.push_back(new_addresses[i]);
    eligible.push_back(new_addresses[i]);
    ASSERT_TRUE(WaitEndpoints(cluster, all, eligible));
    ASSERT_TRUE(load.WaitForMore(100, absl::Seconds(30))) << load.Summary();
    // The old pod terminates: still serving in-flight work, no new requests (DRAINING).
    Apply(PodSlice("web", old_pod, old_pods[i]->port(), false, true, true));
    eligible.erase(std::find(eligible.begin(), eligible.end(), old_addresses[i]));
    ASSERT_TRUE(WaitEndpoints(cluster, all, eligible));
    ASSERT_TRUE(load.WaitForMore(100, absl::Seconds(30))) << load.Summary();
    // Gone from the slice: removed from the proxy, then the process exits.
    absl::Status s = fake_.Delete("endpointslices", "default", "web-" + old_pod);
    ASSERT_TRUE(s.ok()) << s;
    all.erase(std::find(all.begin(), all.end(), old_addresses[i]));
    ASSERT_TRUE(WaitEndpoints(cluster, all, eligible));
    old_pods[i]->Stop();
    ASSERT_TRUE(load.WaitForMore(100, absl::Seconds(30))) << load.Summary();
  }
  ASSERT_TRUE(WaitEndpoints(cluster, new_addresses, new_addresses));
  ASSERT_TRUE(load.WaitForMore(300, absl::Seconds(30))) << load.Summary();
  load.Stop();
  EXPECT_EQ(load.failures(), 0u) << load.Summary();
  EXPECT_GT(load.ok(), 2000u) << load.Summary();

  // Only the new pods answer now, every one of them.
  std::map<std::string, int> after = Sample("127.0.0.1", 500);
  for (int i = 0; i < kPods; ++i) {
    EXPECT_GT(after[absl::StrCat("Hello from new-", i, "\n")], 0) << Describe(after);
  }
  int total_new = 0;
  for (int i = 0; i < kPods; ++i) total_new += after[absl::StrCat("Hello from new-", i, "\n")];
  EXPECT_EQ(total_new, 500) << Describe(after);
}

// (b) An HTTPRoute's backendRefs move a canary from 10 % to 50 % to 100 %.
TEST_F(KubernetesTest, HttpRouteCanaryMovesTenFiftyHundredPercent) {
  std::unique_ptr<TestBackend> stable = StartBackend("stable");
  std::unique_ptr<TestBackend> canary = StartBackend("canary");
  json objects = GatewayObjects();
  objects.push_back(K8sService("default", "stable"));
  objects.push_back(K8sService("default", "canary"));
  objects.push_back(PodSlice("stable", "pod", stable->port(), true, true, false));
  objects.push_back(PodSlice("canary", "pod", canary->port(), true, true, false));
  objects.push_back(HttpRoute(90, 10));
  Apply({{"items", objects}});
  ASSERT_TRUE(WaitEndpoints("default.stable.80", {stable->address()}, {stable->address()}));
  ASSERT_TRUE(WaitEndpoints("default.canary.80", {canary->address()}, {canary->address()}));
  const std::string kStable = "Hello from stable\n", kCanary = "Hello from canary\n";
  // The route is there once shop.test gets answers from both.
  std::map<std::string, int> probe;
  ASSERT_TRUE(WaitUntil(
      [&] {
        probe = Sample("shop.test", 100);
        return probe[kStable] + probe[kCanary] == 100 && probe[kCanary] > 0;
      },
      absl::Seconds(30)))
      << Describe(probe);

  // 4,000 requests per step: the standard deviation of a 50 % share is 0.8 points, so ±3
  // points is 3.8 standard deviations.
  constexpr int kRequests = 4000;
  std::map<std::string, int> counts = Sample("shop.test", kRequests);
  EXPECT_NEAR(Percent(counts, kCanary), 10.0, 3.0) << Describe(counts);
  EXPECT_EQ(counts[kStable] + counts[kCanary], kRequests) << Describe(counts);

  Apply(HttpRoute(50, 50));
  // Converged once a window of 400 is clearly past 10 % (30 % is 13 standard deviations above
  // it, 8 below 50 %).
  ASSERT_TRUE(WaitUntil(
      [&] {
        probe = Sample("shop.test", 400);
        return Percent(probe, kCanary) > 30;
      },
      absl::Seconds(30)))
      << Describe(probe);
  counts = Sample("shop.test", kRequests);
  EXPECT_NEAR(Percent(counts, kCanary), 50.0, 3.0) << Describe(counts);
  EXPECT_EQ(counts[kStable] + counts[kCanary], kRequests) << Describe(counts);

  Apply(HttpRoute(0, 100));
  ASSERT_TRUE(WaitUntil(
      [&] {
        probe = Sample("shop.test", 200);
        return probe[kCanary] == 200;
      },
      absl::Seconds(30)))
      << Describe(probe);
  counts = Sample("shop.test", kRequests);
  EXPECT_EQ(counts[kCanary], kRequests) << Describe(counts);

  // The route's status: accepted by our controller for Gateway gw.
  json route;
  bool accepted = WaitUntil(
      [&] {
        absl::StatusOr<json> r =
            fake_.Get("/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/shop");
        if (!r.ok()) return false;
        route = *r;
        for (const json& parent : route.value("status", json::object()).value("parents", json())) {
          if (parent.value("controllerName", "") != "lb.dev/gateway-controller") continue;
          for (const json& c : parent.value("conditions", json::array())) {
            if (c.value("type", "") == "Accepted" && c.value("status", "") == "True") return true;
          }
        }
        return false;
      },
      absl::Seconds(30));
  EXPECT_TRUE(accepted) << route.dump();
}

// (c) One Ingress, two hosts, two Services.
TEST_F(KubernetesTest, IngressWithTwoHostsRoutesEachToItsService) {
  std::unique_ptr<TestBackend> alpha = StartBackend("alpha");
  std::unique_ptr<TestBackend> beta = StartBackend("beta");
  Apply({{"items",
          {IngressClass(), K8sService("default", "alpha"), K8sService("default", "beta"),
           PodSlice("alpha", "pod", alpha->port(), true, true, false),
           PodSlice("beta", "pod", beta->port(), true, true, false),
           Ingress("site", json::array({IngressRule("a.test", "alpha"),
                                        IngressRule("b.test", "beta")}))}}});
  ASSERT_TRUE(WaitEndpoints("default.alpha.80", {alpha->address()}, {alpha->address()}));
  ASSERT_TRUE(WaitEndpoints("default.beta.80", {beta->address()}, {beta->address()}));
  std::map<std::string, int> a, b;
  ASSERT_TRUE(WaitUntil(
      [&] {
        a = Sample("a.test", 1);
        b = Sample("b.test", 1);
        return a["Hello from alpha\n"] == 1 && b["Hello from beta\n"] == 1;
      },
      absl::Seconds(30)))
      << Describe(a) << " / " << Describe(b);
  a = Sample("a.test", 200);
  b = Sample("b.test", 200);
  EXPECT_EQ(a["Hello from alpha\n"], 200) << Describe(a);
  EXPECT_EQ(b["Hello from beta\n"], 200) << Describe(b);
  // The Host header's port does not matter; another host has no route.
  EXPECT_EQ(Sample("a.test:8080", 10)["Hello from alpha\n"], 10);
  std::map<std::string, int> other = Sample("c.test", 10);
  EXPECT_EQ(other["status 404"], 10) << Describe(other);

  // status.loadBalancer written back with --ingress_status_address.
  json ingress;
  bool written = WaitUntil(
      [&] {
        absl::StatusOr<json> r =
            fake_.Get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/site");
        if (!r.ok()) return false;
        ingress = *r;
        json lb = ingress.value("status", json::object()).value("loadBalancer", json::object());
        return lb.value("ingress", json::array()) == json::array({{{"ip", kStatusAddress}}});
      },
      absl::Seconds(30));
  EXPECT_TRUE(written) << ingress.dump();
}

// (d) The controller's watches are cut, and resuming them gets 410 Gone (first from a
// compaction past their resourceVersion, then injected): it relists, keeps every endpoint in
// the proxy meanwhile, and picks up what changed while it was not watching.
TEST_F(KubernetesTest, WatchCutWith410RelistsWithoutDroppingEndpoints) {
  const std::string cluster = "default.web.80";
  std::vector<std::unique_ptr<TestBackend>> pods;
  std::vector<std::string> addresses;
  ASSERT_NO_FATAL_FAILURE(DeployWeb("pod", 3, &pods, &addresses));

  LoadGenerator load(proxy_.port(), 3);
  load.Start();
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();

  // Watches the proxy's endpoints of `cluster` throughout: the fewest eligible ones seen.
  std::atomic<bool> stop{false};
  std::atomic<int> fewest{1000};
  std::thread watcher([&] {
    for (int i = 0; i < 100000 && !stop.load(); ++i) {
      absl::StatusOr<json> dump = ConfigDump(proxy_.admin_port());
      if (dump.ok()) {
        int n = static_cast<int>(DumpEndpoints(*dump, cluster, true).size());
        if (n < fewest.load()) fewest.store(n);
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  });

  const int64_t lists_before = Counter("lists");
  const int64_t expired_before = Counter("expired_watches");
  // Move the revision past the controller's, forget the history, cut every watch: each
  // resumed watch gets ERROR 410 Expired.
  Apply({{"apiVersion", "v1"},
         {"kind", "Secret"},
         {"metadata", {{"name", "unrelated"}, {"namespace", "other"}}},
         {"type", "Opaque"}});
  ASSERT_TRUE(fake_.Compact().ok());
  ASSERT_TRUE(fake_.CutWatches().ok());
  // A change while the controller relists.
  pods.push_back(StartBackend("pod-3"));
  addresses.push_back(pods.back()->address());
  Apply(PodSlice("web", "pod-3", pods.back()->port(), true, true, false));
  ASSERT_TRUE(WaitEndpoints(cluster, addresses, addresses));
  ASSERT_TRUE(
      WaitUntil([&] { return Counter("expired_watches") > expired_before; }, absl::Seconds(30)));
  ASSERT_TRUE(WaitUntil([&] { return Counter("lists") > lists_before; }, absl::Seconds(30)));
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();

  // Again with an injected 410 on the next watches (the revision is still valid).
  const int64_t injected_before = Counter("injected_410");
  ASSERT_TRUE(fake_.Inject410(6).ok());  // About one per watched kind.
  ASSERT_TRUE(fake_.CutWatches().ok());
  ASSERT_TRUE(
      WaitUntil([&] { return Counter("injected_410") > injected_before; }, absl::Seconds(30)));
  // pod-0 leaves meanwhile (deleted: removed at once).
  ASSERT_TRUE(fake_.Delete("endpointslices", "default", "web-pod-0").ok());
  addresses.erase(addresses.begin());
  ASSERT_TRUE(WaitEndpoints(cluster, addresses, addresses));
  ASSERT_TRUE(load.WaitForMore(200, absl::Seconds(30))) << load.Summary();

  stop.store(true);
  watcher.join();
  load.Stop();
  // Never fewer than the 3 pods that were there all along (pod-0 went last, after pod-3 came).
  EXPECT_GE(fewest.load(), 3);
  EXPECT_EQ(load.failures(), 0u) << load.Summary();
}

}  // namespace
}  // namespace lb::testing
