// Runs the config_shim fuzz target as an ordinary test: every file of the checked-in corpus,
// then deterministic random mutations of it (fixed seed), so `bazel test` exercises the same
// invariants a real libFuzzer run checks (see config_shim_fuzz.cc).
#include "tests/fuzz/config_shim_fuzz.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lb::fuzz {
namespace {

constexpr int kMutations = 3000;
constexpr uint32_t kSeed = 20240601;

struct CorpusFile {
  std::string name;
  std::string data;
};

std::string CorpusDir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::string base = srcdir != nullptr ? absl::StrCat(srcdir, "/", workspace ? workspace : "lb")
                                       : std::string(".");
  return base + "/tests/fuzz/corpus/config_shim";
}

std::vector<CorpusFile> LoadCorpus() {
  std::vector<CorpusFile> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(CorpusDir(), ec)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files.push_back({entry.path().filename().string(), ss.str()});
  }
  std::sort(files.begin(), files.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.name < b.name; });
  return files;
}

std::string RunInput(const std::string& input) {
  return RunConfigShimInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

// Tokens that steer mutations towards interesting JSON.
const std::vector<std::string>& Dictionary() {
  static const auto* dict = new std::vector<std::string>{"{",
                                                         "}",
                                                         "[",
                                                         "]",
                                                         ",",
                                                         ":",
                                                         "\"",
                                                         "null",
                                                         "true",
                                                         "false",
                                                         "0",
                                                         "-1",
                                                         "1.5",
                                                         "1e309",
                                                         "65535",
                                                         "65536",
                                                         "18446744073709551615",
                                                         "9223372036854775808",
                                                         "\"action\"",
                                                         "\"add\"",
                                                         "\"del\"",
                                                         "\"ip\"",
                                                         "\"port\"",
                                                         "\"cluster\"",
                                                         "\"weight\"",
                                                         "\"web\"",
                                                         "\"backend\"",
                                                         "\"127.0.0.1\"",
                                                         "\"::1\"",
                                                         "\"::FFFF:1.2.3.4\"",
                                                         "\"localhost.\"",
                                                         "\"1.2.3.999\"",
                                                         "\"1111\"",
                                                         "\\u0000",
                                                         "\\ud800",
                                                         "\xff",
                                                         "\xc3\xa9",
                                                         "\"name\"",
                                                         "\"endpoints\"",
                                                         "\"address\"",
                                                         "\"lb_policy\"",
                                                         "\"MAGLEV\"",
                                                         "\"health_check\"",
                                                         "\"interval\"",
                                                         "\"18446744074s\"",
                                                         "\"0.001s\"",
                                                         "\"retries\"",
                                                         "\"labels\"",
                                                         "\"zone\"",
                                                         "\"admin_state\"",
                                                         "\"DRAINING\"",
                                                         "\"hash_policy\"",
                                                         "\"header\"",
                                                         "\"version\""};
  return *dict;
}

std::string Mutate(std::string s, const std::vector<CorpusFile>& corpus, std::mt19937& rng) {
  auto pick = [&](size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  int rounds = 1 + static_cast<int>(pick(4));
  for (int i = 0; i < rounds; ++i) {
    switch (pick(7)) {
      case 0:  // Flip a bit.
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 << pick(8));
        break;
      case 1:  // Insert a random byte.
        s.insert(s.begin() + pick(s.size() + 1), static_cast<char>(pick(256)));
        break;
      case 2:  // Delete a range.
        if (!s.empty()) {
          size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min<size_t>(8, s.size() - at)));
        }
        break;
      case 3: {  // Insert a dictionary token.
        const std::string& token = Dictionary()[pick(Dictionary().size())];
        s.insert(pick(s.size() + 1), token);
        break;
      }
      case 4: {  // Replace a range with a dictionary token.
        const std::string& token = Dictionary()[pick(Dictionary().size())];
        size_t at = pick(s.size() + 1);
        s.replace(at, std::min<size_t>(s.size() - at, 1 + pick(6)), token);
        break;
      }
      case 5: {  // Splice with another corpus file.
        const std::string& other = corpus[pick(corpus.size())].data;
        s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size() + 1));
        break;
      }
      case 6:  // Duplicate a chunk.
        if (!s.empty()) {
          size_t at = pick(s.size());
          s.insert(at, s.substr(at, 1 + pick(16)));
        }
        break;
    }
  }
  if (s.size() > 70000) s.resize(70000);
  return s;
}

TEST(ConfigShimFuzzTest, CorpusIsCheckedIn) {
  std::vector<CorpusFile> corpus = LoadCorpus();
  EXPECT_GE(corpus.size(), 20u) << "corpus dir: " << CorpusDir();
}

TEST(ConfigShimFuzzTest, EveryCorpusFile) {
  std::vector<CorpusFile> corpus = LoadCorpus();
  ASSERT_FALSE(corpus.empty());
  std::set<std::string> outcomes;
  for (const CorpusFile& f : corpus) {
    EXPECT_EQ(RunConfigShimInput(reinterpret_cast<const uint8_t*>(f.data.data()), f.data.size(),
                                 &outcomes),
              "")
        << f.name;
  }
  // The corpus reaches every kind of answer, so the invariants are not checked vacuously.
  EXPECT_THAT(outcomes, ::testing::IsSupersetOf({
                            "/config 200 ",
                            "/config 200 Upstream already exist",
                            "/config 200 Upstream not found",
                            "/config 200 Invalid action",
                            "/config 400",
                            "/config 404",
                            "/v1/clusters 201",
                            "/v1/clusters 400",
                            "/v1/clusters 409",
                            "/v1/endpoints 201",
                            "/v1/endpoints 400",
                            "/v1/endpoints 409",
                        }));
}

TEST(ConfigShimFuzzTest, EdgeInputs) {
  EXPECT_EQ(RunInput(""), "");
  EXPECT_EQ(RunInput(std::string(1, '\0')), "");
  EXPECT_EQ(RunInput(std::string(65536, '{')), "");
  EXPECT_EQ(RunInput(std::string(65537, ' ')), "");
  EXPECT_EQ(RunInput(std::string(20000, '[') + std::string(20000, ']')), "");
  EXPECT_EQ(
      RunInput("{\"action\":\"add\",\"ip\":\"127.0.0.1\",\"port\":1113}" + std::string(65536, ' ')),
      "");
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  EXPECT_EQ(RunInput(all_bytes), "");
}

TEST(ConfigShimFuzzTest, DeterministicMutations) {
  std::vector<CorpusFile> corpus = LoadCorpus();
  ASSERT_FALSE(corpus.empty());
  std::mt19937 rng(kSeed);
  int failures = 0;
  for (int i = 0; i < kMutations && failures < 5; ++i) {
    const std::string& seed = corpus[i % corpus.size()].data;
    std::string input = Mutate(seed, corpus, rng);
    std::string problem = RunInput(input);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << "mutation " << i << " of " << corpus[i % corpus.size()].name << ": "
                    << problem << "\ninput: \"" << absl::CHexEscape(input) << "\"";
    }
  }
}

}  // namespace
}  // namespace lb::fuzz
