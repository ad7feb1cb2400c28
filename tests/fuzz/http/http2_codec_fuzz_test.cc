// Runs the HTTP/2 server codec fuzz target as an ordinary test: the checked-in corpus, then
// deterministic mutations of it (fixed seed). A violated invariant aborts the test.
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutations = 3000;
constexpr uint32_t kSeed = 20261204;
constexpr char kCorpus[] = "http2_codec";

void RunInput(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(Http2CodecFuzzTest, Corpus) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 10u) << lb::fuzz::CorpusDir(kCorpus);
  for (const lb::fuzz::CorpusFile& f : corpus) RunInput(f.data);
}

TEST(Http2CodecFuzzTest, DeterministicMutations) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  // Frame headers (length 0..255, each type, END_STREAM/END_HEADERS/ACK), HPACK bytes.
  const std::vector<std::string> dictionary = {std::string("\0\0\0\x01\x05\0\0\0\x01", 9),
                                               std::string("\0\0\0\0\x01\0\0\0\x01", 9),
                                               std::string("\0\0\x04\x03\0\0\0\0\x01", 9),
                                               std::string("\0\0\x08\x06\0\0\0\0\0", 9),
                                               std::string("\0\0\0\x04\0\0\0\0\0", 9),
                                               std::string("\0\0\x04\x08\0\0\0\0\x01", 9),
                                               std::string("\0\0\0\x09\x04\0\0\0\x01", 9),
                                               std::string("\x82\x86\x84\x01\x01"
                                                           "a",
                                                           6),
                                               std::string("\x40\x01x\x01y", 5),
                                               "\xbe",
                                               "\x3f\xe1\x1f",
                                               std::string(1, '\0')};
  lb::fuzz::MutationLimits limits;
  std::mt19937 rng(kSeed);
  for (int i = 0; i < kMutations; ++i) {
    const std::string& seed =
        corpus[std::uniform_int_distribution<size_t>(0, corpus.size() - 1)(rng)].data;
    RunInput(lb::fuzz::Mutate(seed, dictionary, corpus, rng, limits));
  }
}

}  // namespace
