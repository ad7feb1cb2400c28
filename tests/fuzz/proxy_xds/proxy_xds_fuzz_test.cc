// Runs the proxy xDS fuzz target as an ordinary test: every file of the checked-in corpus (and
// the binary twin of every text seed), then deterministic random mutations of them (fixed seed),
// so `bazel test` checks the same invariants as a libFuzzer run (see proxy_xds_fuzz.cc).
#include "tests/fuzz/proxy_xds/proxy_xds_fuzz.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

namespace lb::fuzz {
namespace {

constexpr int kMutations = 50000;
constexpr uint32_t kSeed = 20250214;

constexpr char kCorpus[] = "proxy_xds";

bool IsText(const CorpusFile& f) { return absl::EndsWith(f.name, ".txtpb"); }

// The corpus plus the binary twin of each text seed, the inputs mutations start from.
std::vector<CorpusFile> Seeds() {
  std::vector<CorpusFile> seeds = LoadCorpus(kCorpus);
  const size_t n = seeds.size();
  for (size_t i = 0; i < n; ++i) {
    if (!IsText(seeds[i])) continue;
    if (std::optional<std::string> binary = TextInputToBinary(seeds[i].data)) {
      seeds.push_back({seeds[i].name + " (binary)", *binary});
    }
  }
  return seeds;
}

std::string RunInput(const std::string& input, std::set<std::string>* outcomes = nullptr) {
  return RunProxyXdsInput(reinterpret_cast<const uint8_t*>(input.data()), input.size(), outcomes);
}

// Tokens that steer mutations towards interesting text-format xDS.
const std::vector<std::string>& Dictionary() {
  static const auto* dict = new std::vector<std::string>{
      "\n---\n",
      "{",
      "}",
      " ",
      "\"",
      ":",
      "\\000",
      "\\xff",
      "0",
      "1",
      "-1",
      "10",
      "11",
      "65535",
      "65536",
      "4294967295",
      "315576000001",
      "999999999",
      "nan",
      "inf",
      "100.5",
      "version_info: \"v9\" ",
      "type_url: \"type.googleapis.com/envoy.config.cluster.v3.Cluster\" ",
      "type_url: \"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\" ",
      "type_url: \"type.googleapis.com/envoy.config.route.v3.RouteConfiguration\" ",
      "resources { type_url: \"x\" value: \"\\377\" } ",
      "resources { [type.googleapis.com/envoy.config.cluster.v3.Cluster] { name: \"b\" "
      "type: EDS eds_cluster_config { eds_config { ads {} } } } } ",
      "name: \"web\" ",
      "name: \"\" ",
      "name: \"default\" ",
      "cluster_name: \"web\" ",
      "cluster: \"web\" ",
      "cluster: \"nope\" ",
      "type: EDS ",
      "type: STATIC ",
      "lb_policy: MAGLEV ",
      "lb_policy: RING_HASH ",
      "lb_policy: 99 ",
      "connect_timeout { seconds: 0 } ",
      "connect_timeout { nanos: -1 } ",
      "health_checks { http_health_check { path: \"/h\" } } ",
      "interval { seconds: 1 } ",
      "timeout { seconds: 2 } ",
      "outlier_detection { } ",
      "max_ejection_percent { value: 101 } ",
      "healthy_panic_threshold { value: 101 } ",
      "lb_endpoints { endpoint { address { socket_address { address: \"10.0.0.9\" "
      "port_value: 80 } } } } ",
      "address: \"::1\" ",
      "address: \"0:0::1\" ",
      "address: \"1.2.3.999\" ",
      "address: \"localhost\" ",
      "port_value: 0 ",
      "named_port: \"http\" ",
      "load_balancing_weight { value: 0 } ",
      "load_balancing_weight { value: 4294967295 } ",
      "health_status: DRAINING ",
      "health_status: UNHEALTHY ",
      "health_status: 9 ",
      "priority: 1 ",
      "domains: \"*\" ",
      "domains: \"a.example.com:8080\" ",
      "domains: \"[::1]:80\" ",
      "domains: \"*.example.com\" ",
      "prefix: \"/\" ",
      "prefix: \"\" ",
      "prefix: \"api\" ",
      "path: \"/x\" ",
      "routes { match { prefix: \"/\" } route { cluster: \"web\" } } ",
      "retry_policy { num_retries { value: 11 } } ",
      "hash_policy { header { header_name: \"X-U\" } } ",
      "hash_policy { cookie { name: \"s\" } } ",
      "hash_policy { connection_properties { source_ip: true } } ",
      "weighted_clusters { } ",
  };
  return *dict;
}

// Longer deletions, replacements and copies than the default, copies go anywhere, and digits
// change: numbers are most of what the builder judges.
MutationLimits Limits() {
  MutationLimits limits;
  limits.max_delete = 16;
  limits.max_replace = 12;
  limits.max_duplicate = 64;
  limits.duplicate_in_place = false;
  limits.mutate_digits = true;
  return limits;
}

TEST(ProxyXdsFuzzTest, CorpusIsCheckedInAndParses) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  EXPECT_GE(corpus.size(), 15u) << "corpus dir: " << CorpusDir(kCorpus);
  int binary = 0;
  for (const CorpusFile& f : corpus) {
    // A seed with a typo would be skipped, testing nothing.
    if (IsText(f)) {
      EXPECT_GE(CountTextUpdates(f.data), 1) << f.name << " has an update that does not parse";
    } else {
      ASSERT_TRUE(absl::EndsWith(f.name, ".binpb")) << f.name;
      EXPECT_GE(CountBinaryUpdates(f.data), 1) << f.name << " has an update that does not parse";
      ++binary;
    }
  }
  EXPECT_GE(binary, 3);
}

TEST(ProxyXdsFuzzTest, EveryCorpusFile) {
  std::vector<CorpusFile> seeds = Seeds();
  ASSERT_FALSE(seeds.empty());
  std::set<std::string> outcomes;
  RunCorpus(seeds, [&outcomes](const std::string& input) { return RunInput(input, &outcomes); });
  // The corpus reaches every kind of outcome, and every field the builder can reject, so the
  // invariants are not checked vacuously.
  std::vector<std::string> expected = {
      "clusters ok",
      "clusters removed",
      "clusters rejected, config unchanged",
      "clusters rejected, config changed",  // Its valid clusters applied, or removals.
      "endpoints ok",
      "endpoints ignored: unknown cluster",
      "endpoints rejected, config unchanged",
      "endpoints rejected, config changed",
      "routes ok",
      "routes ignored: not \"default\"",
      "routes rejected, config unchanged",
      "routes rejected, config changed",
      "warning: unknown cluster",
      "warning: warming cluster",
      "unsupported type_url",
  };
  for (const char* kind : {"clusters", "endpoints", "routes"}) {
    for (const char* field : {"duplicate", "resources[]: undecodable"}) {
      expected.push_back(absl::StrCat(kind, " rejected: ", field));
    }
  }
  for (const char* field : {"resources[]: wrong type",
                            "name",
                            "type",
                            "eds_cluster_config.eds_config",
                            "eds_cluster_config.service_name",
                            "lb_policy",
                            "connect_timeout",
                            "health_checks",
                            "health_checks[]",
                            "health_checks[].http_health_check.path",
                            "health_checks[].interval",
                            "health_checks[].timeout",
                            "health_checks[].healthy_threshold",
                            "health_checks[].unhealthy_threshold",
                            "outlier_detection.enforcing_consecutive_5xx",
                            "outlier_detection.enforcing_consecutive_gateway_failure",
                            "outlier_detection.interval",
                            "outlier_detection.base_ejection_time",
                            "outlier_detection.max_ejection_percent",
                            "common_lb_config.healthy_panic_threshold.value"}) {
    expected.push_back(absl::StrCat("clusters rejected: ", field));
  }
  for (const char* field :
       {"cluster_name", "endpoints", "endpoints[].priority", "endpoints[].load_balancing_weight",
        "endpoints[].lb_endpoints[].endpoint",
        "endpoints[].lb_endpoints[].endpoint.address.socket_address",
        "endpoints[].lb_endpoints[].endpoint.address.socket_address.protocol",
        "endpoints[].lb_endpoints[].endpoint.address.socket_address.address",
        "endpoints[].lb_endpoints[].endpoint.address.socket_address.named_port",
        "endpoints[].lb_endpoints[].endpoint.address.socket_address.port_value",
        "endpoints[].lb_endpoints[].load_balancing_weight",
        "endpoints[].lb_endpoints[].health_status"}) {
    expected.push_back(absl::StrCat("endpoints rejected: ", field));
  }
  for (const char* field : {"resources[]: wrong type",
                            "virtual_hosts[].domains",
                            "virtual_hosts[].domains[]",
                            "virtual_hosts[].retry_policy.num_retries",
                            "virtual_hosts[].routes[]",
                            "virtual_hosts[].routes[].match",
                            "virtual_hosts[].routes[].match.prefix",
                            "virtual_hosts[].routes[].match.case_sensitive",
                            "virtual_hosts[].routes[].route",
                            "virtual_hosts[].routes[].route.cluster",
                            "virtual_hosts[].routes[].route.prefix_rewrite",
                            "virtual_hosts[].routes[].route.host_rewrite_literal",
                            "virtual_hosts[].routes[].route.auto_host_rewrite",
                            "virtual_hosts[].routes[].route.retry_policy.num_retries",
                            "virtual_hosts[].routes[].route.hash_policy",
                            "virtual_hosts[].routes[].route.hash_policy[]",
                            "virtual_hosts[].routes[].route.hash_policy[].header.header_name",
                            "virtual_hosts[].routes[].route.hash_policy[].cookie.name",
                            "virtual_hosts[].routes[].route.hash_policy[].cookie.ttl",
                            "virtual_hosts[].routes[].route.hash_policy[].cookie.path",
                            "virtual_hosts[].routes[].route.hash_policy[].cookie.attributes[]."
                            "name",
                            "virtual_hosts[].routes[].route.hash_policy[].cookie.attributes[]."
                            "value",
                            "virtual_hosts[].routes[].route.hash_policy[].connection_properties."
                            "source_ip"}) {
    expected.push_back(absl::StrCat("routes rejected: ", field));
  }
  EXPECT_THAT(outcomes, ::testing::IsSupersetOf(expected));
}

TEST(ProxyXdsFuzzTest, EdgeInputs) {
  EXPECT_EQ(RunInput(""), "");
  EXPECT_EQ(RunInput(std::string(1, '\0')), "");
  EXPECT_EQ(RunInput(std::string(5, '\xff')), "");  // An unterminated varint.
  EXPECT_EQ(RunInput("---\n---\n---"), "");
  std::string many;
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&many, "version_info: \"", i,
                    "\" type_url: \"type.googleapis.com/envoy.config.cluster.v3.Cluster\"\n---\n");
  }
  EXPECT_EQ(RunInput(many), "");  // Only the first 16 updates are read.
  // Any within Any, deeply nested (the builder never unpacks typed_per_filter_config).
  for (int depth : {30, 150}) {
    std::string deep =
        "type_url: \"type.googleapis.com/envoy.config.route.v3.RouteConfiguration\" "
        "resources { [type.googleapis.com/envoy.config.route.v3.RouteConfiguration] { "
        "name: \"default\" virtual_hosts { domains: \"*\" ";
    for (int i = 0; i < depth; ++i) {
      deep +=
          "typed_per_filter_config { key: \"k\" value { "
          "[type.googleapis.com/envoy.config.route.v3.VirtualHost] { ";
    }
    deep += std::string(depth * 3 + 3, '}');
    EXPECT_EQ(RunInput(deep), "") << depth;
  }
  EXPECT_EQ(RunInput(std::string(70000, '\x01')), "");
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  EXPECT_EQ(RunInput(all_bytes), "");
}

TEST(ProxyXdsFuzzTest, DeterministicMutations) {
  std::vector<CorpusFile> seeds = Seeds();
  ASSERT_FALSE(seeds.empty());
  MutationRun run(kMutations, kSeed);
  run.limits = Limits();
  std::set<std::string> outcomes;
  RunMutations(seeds, Dictionary(), run,
               [&outcomes](const std::string& input) { return RunInput(input, &outcomes); });
  // Mutations must mostly stay parsable to test anything: they reach the same variety.
  EXPECT_GE(outcomes.size(), 60u);
}

}  // namespace
}  // namespace lb::fuzz
