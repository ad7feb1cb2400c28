// Runs the Kubernetes translation fuzz target as an ordinary test: the checked-in corpus of
// JSON snapshots, then deterministic mutations of it (fixed seed).
#include "tests/fuzz/kubernetes/translate_fuzz.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

namespace lb::fuzz {
namespace {

constexpr char kCorpus[] = "kubernetes_translate";
constexpr int kMutations = 3000;
constexpr uint32_t kSeed = 20261204;

std::string RunInput(const std::string& input, TranslateCounts* counts = nullptr) {
  return RunTranslateInput(reinterpret_cast<const uint8_t*>(input.data()), input.size(), counts);
}

// Tokens that steer mutations towards the fields Translate reads.
const std::vector<std::string>& Dictionary() {
  static const auto* dict = [] {
    auto* d = new std::vector<std::string>(JsonTokens());
    d->insert(d->end(), {"65536",
                         "18446744073709551615",
                         "\"/\"",
                         "\"/a/\"",
                         "\"\"",
                         "\"*.example.com\"",
                         "\"Exact\"",
                         "\"Prefix\"",
                         "\"PathPrefix\"",
                         "\"ImplementationSpecific\"",
                         "\"RegularExpression\"",
                         "\"ready\"",
                         "\"serving\"",
                         "\"terminating\"",
                         "\"addresses\"",
                         "\"port\"",
                         "\"name\"",
                         "\"weight\"",
                         "\"hostnames\"",
                         "\"hostname\"",
                         "\"sectionName\"",
                         "\"parentRefs\"",
                         "\"backendRefs\"",
                         "\"matches\"",
                         "\"headers\"",
                         "\"method\"",
                         "\"filters\"",
                         "\"RequestHeaderModifier\"",
                         "\"set\"",
                         "\"add\"",
                         "\"remove\"",
                         "\"lb/hash-cookie\"",
                         "\"lb/slow-start\"",
                         "\"lb/lb-policy\"",
                         "\"RING_HASH\"",
                         "\"lb/endpoint-weight\"",
                         "\"lb/sync\"",
                         "\"kubernetes.io/service-name\"",
                         "\"defaultBackend\"",
                         "\"tls\"",
                         "\"secretName\"",
                         "\"status\"",
                         "\"parents\"",
                         "\"controllerName\"",
                         "\"All\"",
                         "\"::1\"",
                         "\"10.0.0.1\"",
                         "\"host\"",
                         "\"connection\"",
                         "\\u0000",
                         "\xff"});
    return d;
  }();
  return *dict;
}

TEST(TranslateFuzzTest, EveryCorpusFile) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 8u) << CorpusDir(kCorpus);
  TranslateCounts counts;
  for (const CorpusFile& f : corpus) EXPECT_EQ(RunInput(f.data, &counts), "") << f.name;
  // The corpus reaches every part of the translation, so the invariants are not vacuous.
  EXPECT_GT(counts.clusters, 0);
  EXPECT_GT(counts.endpoints, 0);
  EXPECT_GT(counts.routes, 0);
  EXPECT_GT(counts.splits, 0);
  EXPECT_GT(counts.certificates, 0);
  EXPECT_GT(counts.status_writes, 0);
  EXPECT_GT(counts.warnings, 0);
}

TEST(TranslateFuzzTest, EdgeInputs) {
  EXPECT_EQ(RunInput(""), "");
  EXPECT_EQ(RunInput("{}"), "");
  EXPECT_EQ(RunInput(std::string(1, '\0')), "");
  EXPECT_EQ(RunInput(std::string(20000, '[') + std::string(20000, ']')), "");
  EXPECT_EQ(RunInput("{\"services\":" + std::string(5000, '[') + std::string(5000, ']') + "}"), "");
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  EXPECT_EQ(RunInput(all_bytes), "");
}

TEST(TranslateFuzzTest, DeterministicMutations) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  std::mt19937 rng(kSeed);
  MutationLimits limits;
  limits.mutate_digits = true;
  int failures = 0;
  for (int i = 0; i < kMutations && failures < 5; ++i) {
    const CorpusFile& seed = corpus[i % corpus.size()];
    std::string input = Mutate(seed.data, Dictionary(), corpus, rng, limits);
    std::string problem = RunInput(input);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << "mutation " << i << " of " << seed.name << ": " << problem << "\ninput: \""
                    << absl::CHexEscape(input) << "\"";
    }
  }
}

}  // namespace
}  // namespace lb::fuzz
