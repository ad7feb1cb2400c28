// Runs the kubeconfig fuzz target as an ordinary test: the checked-in corpus, then
// deterministic mutations of it (fixed seed).
#include "tests/fuzz/kube_config/kube_config_fuzz.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

namespace lb::fuzz {
namespace {

constexpr char kCorpus[] = "kube_config";

std::string RunInput(const std::string& input, bool* accepted = nullptr) {
  return RunKubeConfigInput(reinterpret_cast<const uint8_t*>(input.data()), input.size(), accepted);
}

TEST(KubeConfigFuzzTest, EveryCorpusFile) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 4u) << CorpusDir(kCorpus);
  int accepted = 0;
  for (const CorpusFile& f : corpus) {
    bool ok = false;
    EXPECT_EQ(RunInput(f.data, &ok), "") << f.name;
    accepted += ok;
  }
  EXPECT_GE(accepted, 3);  // The invariants of accepted configs are checked, not vacuous.
}

TEST(KubeConfigFuzzTest, EdgeInputs) {
  EXPECT_EQ(RunInput(""), "");
  EXPECT_EQ(RunInput(std::string(1, '\0')), "");
  EXPECT_EQ(RunInput(std::string(200, '[')), "");
  EXPECT_EQ(RunInput(std::string(200, '{')), "");
  EXPECT_EQ(RunInput("&a [*a]"), "");
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  EXPECT_EQ(RunInput(all_bytes), "");
}

TEST(KubeConfigFuzzTest, DeterministicMutations) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  const std::vector<std::string> dictionary = {":",
                                               "- ",
                                               "\n  ",
                                               "[",
                                               "]",
                                               "{",
                                               "}",
                                               "&a ",
                                               "*a",
                                               "!!binary ",
                                               "\"",
                                               "'",
                                               "current-context",
                                               "server",
                                               "https://",
                                               "token",
                                               "tokenFile",
                                               "exec",
                                               "name: ",
                                               "insecure-skip-tls-verify: true",
                                               "---\n",
                                               "? ",
                                               "\t",
                                               "%YAML 1.1\n"};
  std::mt19937 rng(20261204);
  MutationLimits limits;
  limits.max_size = 8192;
  int failures = 0;
  for (int i = 0; i < 3000 && failures < 5; ++i) {
    const std::string& seed = corpus[i % corpus.size()].data;
    std::string input = Mutate(seed, dictionary, corpus, rng, limits);
    std::string problem = RunInput(input);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << "mutation " << i << ": " << problem << "\ninput: \""
                    << absl::CHexEscape(input) << "\"";
    }
  }
}

}  // namespace
}  // namespace lb::fuzz
