// Runs the grpc-timeout fuzz target as an ordinary test: the checked-in corpus, then
// deterministic mutations of it (fixed seed). A violated invariant aborts the test.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutations = 20000;
constexpr uint32_t kSeed = 20261203;
constexpr char kCorpus[] = "grpc_timeout";

TEST(GrpcTimeoutFuzzTest, Corpus) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 10u) << lb::fuzz::CorpusDir(kCorpus);
  lb::fuzz::RunCorpus(corpus, lb::fuzz::LibFuzzerTarget(LLVMFuzzerTestOneInput));
}

TEST(GrpcTimeoutFuzzTest, DeterministicMutations) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  const std::vector<std::string> dictionary = {
      "H", "M", "S", "m", "u", "n", "0", "9", "99999999", " ", "-", std::string(1, '\0')};
  lb::fuzz::MutationRun run(kMutations, kSeed);
  run.random_pick = true;
  run.limits.replace_chars = "0123456789HMSmun";
  lb::fuzz::RunMutations(corpus, dictionary, run,
                         lb::fuzz::LibFuzzerTarget(LLVMFuzzerTestOneInput));
}

}  // namespace
