// Runs the load report fuzz target as an ordinary test: the checked-in corpus, then
// deterministic mutations of it (fixed seed).
#include "tests/fuzz/controller_lrs/lrs_report_fuzz.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/corpus_mutator.h"

namespace lb::fuzz {
namespace {

constexpr char kCorpus[] = "lrs_report";

std::string RunInput(const std::string& input, int* accepted = nullptr) {
  return RunLrsReportInput(reinterpret_cast<const uint8_t*>(input.data()), input.size(), accepted);
}

TEST(LrsReportFuzzTest, EveryCorpusFile) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_GE(corpus.size(), 4u) << CorpusDir(kCorpus);
  int accepted = 0;
  RunCorpus(corpus, [&accepted](const std::string& input) { return RunInput(input, &accepted); });
  // The corpus reaches the aggregator, so the invariants are not checked vacuously.
  EXPECT_GE(accepted, 4);
}

TEST(LrsReportFuzzTest, EdgeInputs) {
  EXPECT_EQ(RunInput(""), "");
  EXPECT_EQ(RunInput(std::string(1, '\0')), "");
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  EXPECT_EQ(RunInput(all_bytes), "");
}

TEST(LrsReportFuzzTest, DeterministicMutations) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  const std::vector<std::string> dictionary = {"\x0a",
                                               "\x12",
                                               "\x22",
                                               "\x3a",
                                               "\x10\xff\xff\xff\xff\x0f",
                                               "\x20\x01",
                                               "health.HEALTHY",
                                               "latency_ms_bucket.le_inf",
                                               "latency_ms_bucket.le_5",
                                               "latency_ms_bucket.le_-1"};
  MutationRun run(2000, 20261204);
  RunMutations(corpus, dictionary, run, [](const std::string& input) { return RunInput(input); });
}

}  // namespace
}  // namespace lb::fuzz
