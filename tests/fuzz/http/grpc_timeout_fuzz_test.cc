// Runs the grpc-timeout fuzz target as an ordinary test: the checked-in corpus, then
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
constexpr char kCorpus[] = "grpc_timeout";

void RunInput(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(GrpcTimeoutFuzzTest, Corpus) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 10u) << lb::fuzz::CorpusDir(kCorpus);
  for (const lb::fuzz::CorpusFile& f : corpus) RunInput(f.data);
}

TEST(GrpcTimeoutFuzzTest, DeterministicMutations) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  const std::vector<std::string> dictionary = {
      "H", "M", "S", "m", "u", "n", "0", "9", "99999999", " ", "-", std::string(1, '\0')};
  lb::fuzz::MutationLimits limits;
  limits.replace_chars = "0123456789HMSmun";
  std::mt19937 rng(kSeed);
  for (int i = 0; i < kMutations; ++i) {
    const std::string& seed =
        corpus[std::uniform_int_distribution<size_t>(0, corpus.size() - 1)(rng)].data;
    RunInput(lb::fuzz::Mutate(seed, dictionary, corpus, rng, limits));
  }
}

}  // namespace
