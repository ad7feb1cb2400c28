// Runs the config_shim fuzz target as an ordinary test: every file of the checked-in corpus,
// then deterministic random mutations of it (fixed seed), so `bazel test` exercises the same
// invariants a real libFuzzer run checks (see config_shim_fuzz.cc).
#include "tests/fuzz/config_shim_fuzz.h"

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

namespace lb::fuzz {
namespace {

constexpr int kMutations = 3000;
constexpr uint32_t kSeed = 20240601;

constexpr char kCorpus[] = "config_shim";

std::string RunInput(const std::string& input) {
  return RunConfigShimInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

// Tokens that steer mutations towards interesting JSON.
const std::vector<std::string>& Dictionary() {
  static const auto* dict = [] {
    auto* d = new std::vector<std::string>(JsonTokens());
    d->insert(d->end(), {"1e309",
                         "65535",
                         "65536",
                         "18446744073709551615",
                         "9223372036854775808",
                         "\"action\"",
                         "\"add\"",
                         "\"del\"",
                         "\"ip\"",
                         "\"port\"",
                         "\"cluster\"",
                         "\"weight\"",
                         "\"web\"",
                         "\"backend\"",
                         "\"127.0.0.1\"",
                         "\"::1\"",
                         "\"::FFFF:1.2.3.4\"",
                         "\"localhost.\"",
                         "\"1.2.3.999\"",
                         "\"1111\"",
                         "\\u0000",
                         "\\ud800",
                         "\xff",
                         "\xc3\xa9",
                         "\"name\"",
                         "\"endpoints\"",
                         "\"address\"",
                         "\"lb_policy\"",
                         "\"MAGLEV\"",
                         "\"health_check\"",
                         "\"interval\"",
                         "\"18446744074s\"",
                         "\"0.001s\"",
                         "\"retries\"",
                         "\"circuit_breakers\"",
                         "\"max_requests\"",
                         "\"max_retries\"",
                         "\"labels\"",
                         "\"zone\"",
                         "\"admin_state\"",
                         "\"DRAINING\"",
                         "\"hash_policy\"",
                         "\"header\"",
                         "\"version\""});
    return d;
  }();
  return *dict;
}

TEST(ConfigShimFuzzTest, CorpusIsCheckedIn) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  EXPECT_GE(corpus.size(), 20u) << "corpus dir: " << CorpusDir(kCorpus);
}

TEST(ConfigShimFuzzTest, EveryCorpusFile) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  std::set<std::string> outcomes;
  RunCorpus(corpus, [&outcomes](const std::string& input) {
    return RunConfigShimInput(reinterpret_cast<const uint8_t*>(input.data()), input.size(),
                              &outcomes);
  });
  // The corpus reaches every kind of answer, so the invariants are not checked vacuously.
  EXPECT_THAT(outcomes, ::testing::IsSupersetOf({
                            "/config 200 ",
                            "/config 200 Upstream already exist",
                            "/config 200 Upstream not found",
                            "/config 200 Invalid action",
                            "/config 400",
                            "/config 404",
                            "/v1/clusters 201",
                            "/v1/clusters 400",
                            "/v1/clusters 409",
                            "/v1/endpoints 201",
                            "/v1/endpoints 400",
                            "/v1/endpoints 409",
                        }));
}

TEST(ConfigShimFuzzTest, EdgeInputs) {
  EXPECT_EQ(RunInput(""), "");
  EXPECT_EQ(RunInput(std::string(1, '\0')), "");
  EXPECT_EQ(RunInput(std::string(65536, '{')), "");
  EXPECT_EQ(RunInput(std::string(65537, ' ')), "");
  EXPECT_EQ(RunInput(std::string(20000, '[') + std::string(20000, ']')), "");
  EXPECT_EQ(
      RunInput("{\"action\":\"add\",\"ip\":\"127.0.0.1\",\"port\":1113}" + std::string(65536, ' ')),
      "");
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  EXPECT_EQ(RunInput(all_bytes), "");
}

TEST(ConfigShimFuzzTest, DeterministicMutations) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  MutationRun run(kMutations, kSeed);
  RunMutations(corpus, Dictionary(), run, [](const std::string& input) { return RunInput(input); });
}

}  // namespace
}  // namespace lb::fuzz
