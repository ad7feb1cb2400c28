// Runs the HTTP/2 server codec fuzz target as an ordinary test: the checked-in corpus, then
// deterministic mutations of it (fixed seed). A violated invariant aborts the test.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutations = 3000;
constexpr uint32_t kSeed = 20261204;
constexpr char kCorpus[] = "http2_codec";

TEST(Http2CodecFuzzTest, Corpus) {
  const std::vector<lb::fuzz::CorpusFile> corpus = lb::fuzz::LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 10u) << lb::fuzz::CorpusDir(kCorpus);
  lb::fuzz::RunCorpus(corpus, lb::fuzz::LibFuzzerTarget(LLVMFuzzerTestOneInput));
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
  lb::fuzz::MutationRun run(kMutations, kSeed);
  run.random_pick = true;
  lb::fuzz::RunMutations(corpus, dictionary, run,
                         lb::fuzz::LibFuzzerTarget(LLVMFuzzerTestOneInput));
}

}  // namespace
