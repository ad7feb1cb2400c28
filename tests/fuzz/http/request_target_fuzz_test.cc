// Runs the request-target fuzz target as an ordinary test: the checked-in corpus, then
// deterministic mutations of it (fixed seed). A violated invariant aborts the test.
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutations = 20000;
constexpr uint32_t kSeed = 20261203;
constexpr char kCorpus[] = "request_target";

void RunInput(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(RequestTargetFuzzTest, Corpus) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 10u) << lb::fuzz::CorpusDir(kCorpus);
  for (const lb::fuzz::CorpusFile& f : corpus) RunInput(f.data);
}

TEST(RequestTargetFuzzTest, DeterministicMutations) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  const std::vector<std::string> dictionary = {
      "/",       "//",       ".", "..", "%2e", "%2E", "%2",   "?",
      "http://", "https://", "@", ":",  "\n",  "/./", "/../", std::string(1, '\0')};
  lb::fuzz::MutationLimits limits;
  limits.replace_chars = "/.?%";
  std::mt19937 rng(kSeed);
  for (int i = 0; i < kMutations; ++i) {
    const std::string& seed =
        corpus[std::uniform_int_distribution<size_t>(0, corpus.size() - 1)(rng)].data;
    RunInput(lb::fuzz::Mutate(seed, dictionary, corpus, rng, limits));
  }
}

}  // namespace
