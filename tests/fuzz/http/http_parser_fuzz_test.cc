// Runs the HTTP parser fuzz target as an ordinary test: every file of the checked-in corpus,
// then deterministic mutations of it (fixed seed), so `bazel test` checks the same invariants
// as a libFuzzer run (see http_parser_fuzz.cc). A violated invariant aborts the test.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutations = 5000;
constexpr uint32_t kSeed = 20241124;

using lb::fuzz::CorpusDir;
using lb::fuzz::CorpusFile;
using lb::fuzz::LibFuzzerTarget;
using lb::fuzz::LoadCorpus;
using lb::fuzz::MutationLimits;
using lb::fuzz::MutationRun;
using lb::fuzz::RunCorpus;
using lb::fuzz::RunMutations;

constexpr char kCorpus[] = "http_parser";

void RunInput(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

const std::vector<std::string>& Dictionary() {
  static const auto* const kTokens = new std::vector<std::string>{
      "\r\n",
      "\n",
      "\r",
      " ",
      "\t",
      ":",
      ",",
      ";",
      "\"",
      std::string(1, '\0'),
      "\x0b",
      "\x7f",
      "\xff",
      "chunked",
      "xchunked",
      "identity",
      "gzip",
      "Transfer-Encoding: chunked\r\n",
      "Transfer-Encoding : chunked\r\n",
      "Transfer_Encoding: chunked\r\n",
      "Content-Length: 5\r\n",
      "Content-Length: 0\r\n",
      "Content-Length: 18446744073709551616\r\n",
      "Connection: close\r\n",
      "Connection: keep-alive, x-a\r\n",
      "Upgrade: websocket\r\n",
      "Expect: 100-continue\r\n",
      "Host: a\r\n",
      "0\r\n\r\n",
      "5\r\nhello\r\n",
      "ffffffffffffffff",
      ";ext=\"v\"",
      "HTTP/1.1",
      "HTTP/1.0",
      "HTTP/2.0",
      "GET / HTTP/1.1\r\n",
      "HTTP/1.1 200 OK\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 204 No Content\r\n",
  };
  return *kTokens;
}

// Separators and line endings (rather than ranges) are replaced by tokens, copies are longer
// than the default and go anywhere, and the size is not capped.
MutationLimits Limits() {
  MutationLimits limits;
  limits.replace_chars = "\r\n:, ";
  limits.max_duplicate = 32;
  limits.duplicate_in_place = false;
  limits.max_size = std::numeric_limits<size_t>::max();
  return limits;
}

TEST(HttpParserFuzzTest, CorpusHasSmugglingShapes) {
  const std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  EXPECT_GE(corpus.size(), 30u) << CorpusDir(kCorpus);
  auto has = [&](const std::string& needle) {
    return std::any_of(corpus.begin(), corpus.end(), [&](const CorpusFile& f) {
      return f.data.find(needle) != std::string::npos;
    });
  };
  EXPECT_TRUE(has("Transfer-Encoding: xchunked"));
  EXPECT_TRUE(has("Transfer-Encoding : chunked"));
  EXPECT_TRUE(has("Transfer-Encoding:\tchunked"));
  EXPECT_TRUE(has("Content-Length: 5\r\nContent-Length: 6"));
  EXPECT_TRUE(has("Content-Length: 13\r\nTransfer-Encoding: chunked"));
  EXPECT_TRUE(has("Transfer-Encoding: chunked\r\nContent-Length: 3"));
}

TEST(HttpParserFuzzTest, Corpus) {
  const std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty()) << CorpusDir(kCorpus);
  RunCorpus(corpus, LibFuzzerTarget(LLVMFuzzerTestOneInput));
}

TEST(HttpParserFuzzTest, DeterministicMutations) {
  const std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  MutationRun run(kMutations, kSeed);
  run.random_pick = true;
  run.limits = Limits();
  RunMutations(corpus, Dictionary(), run, LibFuzzerTarget(LLVMFuzzerTestOneInput));
}

TEST(HttpParserFuzzTest, LargeInputs) {
  // Long header values, long chunk-size lines and many headers take the slow paths.
  RunInput("GET / HTTP/1.1\r\nHost: a\r\nCookie: " + std::string(70000, 'c') + "\r\n\r\n");
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 150; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  RunInput(many + "\r\n");
  RunInput("5;" + std::string(6000, 'e') + "\r\nhello\r\n0\r\n\r\n");
  RunInput(std::string(5000, '0') + "\r\n\r\n");
  RunInput("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
           std::string(9000, 'f'));
}

}  // namespace
