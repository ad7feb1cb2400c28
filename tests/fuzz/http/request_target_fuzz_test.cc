// Runs the request-target fuzz target as an ordinary test: the checked-in corpus, then
// deterministic mutations of it (fixed seed). A violated invariant aborts the test.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutations = 20000;
constexpr uint32_t kSeed = 20261203;
constexpr char kCorpus[] = "request_target";

TEST(RequestTargetFuzzTest, Corpus) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 10u) << lb::fuzz::CorpusDir(kCorpus);
  lb::fuzz::RunCorpus(corpus, lb::fuzz::LibFuzzerTarget(LLVMFuzzerTestOneInput));
}

TEST(RequestTargetFuzzTest, DeterministicMutations) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  const std::vector<std::string> dictionary = {
      "/",       "//",       ".", "..", "%2e", "%2E", "%2",   "?",
      "http://", "https://", "@", ":",  "\n",  "/./", "/../", std::string(1, '\0')};
  lb::fuzz::MutationRun run(kMutations, kSeed);
  run.random_pick = true;
  run.limits.replace_chars = "/.?%";
  lb::fuzz::RunMutations(corpus, dictionary, run,
                         lb::fuzz::LibFuzzerTarget(LLVMFuzzerTestOneInput));
}

}  // namespace
