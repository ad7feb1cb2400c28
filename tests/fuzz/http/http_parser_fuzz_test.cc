// Runs the HTTP parser fuzz target as an ordinary test: every file of the checked-in corpus,
// then deterministic mutations of it (fixed seed), so `bazel test` checks the same invariants
// as a libFuzzer run (see http_parser_fuzz.cc). A violated invariant aborts the test.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutations = 5000;
constexpr uint32_t kSeed = 20241124;

std::string CorpusDir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  const std::string base = srcdir != nullptr
                               ? std::string(srcdir) + "/" + (workspace ? workspace : "lb")
                               : std::string(".");
  return base + "/tests/fuzz/corpus/http_parser";
}

std::vector<std::string> LoadCorpus() {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : std::filesystem::directory_iterator(CorpusDir())) {
    const std::string name = entry.path().filename().string();
    if (name == "BUILD" || name == "BUILD.bazel") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream data;
    data << in.rdbuf();
    files.emplace_back(name, data.str());
  }
  std::sort(files.begin(), files.end());  // directory order is not stable
  std::vector<std::string> inputs;
  for (auto& f : files) inputs.push_back(std::move(f.second));
  return inputs;
}

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

TEST(HttpParserFuzzTest, CorpusHasSmugglingShapes) {
  const std::vector<std::string> corpus = LoadCorpus();
  EXPECT_GE(corpus.size(), 30u);
  auto has = [&](const std::string& needle) {
    return std::any_of(corpus.begin(), corpus.end(),
                       [&](const std::string& s) { return s.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(has("Transfer-Encoding: xchunked"));
  EXPECT_TRUE(has("Transfer-Encoding : chunked"));
  EXPECT_TRUE(has("Transfer-Encoding:\tchunked"));
  EXPECT_TRUE(has("Content-Length: 5\r\nContent-Length: 6"));
  EXPECT_TRUE(has("Content-Length: 13\r\nTransfer-Encoding: chunked"));
  EXPECT_TRUE(has("Transfer-Encoding: chunked\r\nContent-Length: 3"));
}

TEST(HttpParserFuzzTest, Corpus) {
  const std::vector<std::string> corpus = LoadCorpus();
  ASSERT_FALSE(corpus.empty()) << CorpusDir();
  for (const std::string& input : corpus) RunInput(input);
}

TEST(HttpParserFuzzTest, DeterministicMutations) {
  const std::vector<std::string> corpus = LoadCorpus();
  ASSERT_FALSE(corpus.empty());
  std::mt19937 rng(kSeed);
  auto pick = [&](size_t n) {
    return n == 0 ? size_t{0} : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  for (int i = 0; i < kMutations; ++i) {
    std::string s = corpus[pick(corpus.size())];
    const int ops = 1 + static_cast<int>(pick(4));
    for (int op = 0; op < ops; ++op) {
      switch (pick(7)) {
        case 0:  // flip a bit
          if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 << pick(8));
          break;
        case 1:  // insert a random byte
          s.insert(s.begin() + pick(s.size() + 1), static_cast<char>(pick(256)));
          break;
        case 2:  // erase a few bytes
          if (!s.empty()) {
            const size_t at = pick(s.size());
            s.erase(at, 1 + pick(std::min<size_t>(8, s.size() - at)));
          }
          break;
        case 3:  // insert a token
          s.insert(pick(s.size() + 1), Dictionary()[pick(Dictionary().size())]);
          break;
        case 4:  // replace a line ending or separator with a token
          for (size_t at = s.find_first_of("\r\n:, ", pick(s.size() + 1));
               at != std::string::npos;) {
            s.replace(at, 1, Dictionary()[pick(Dictionary().size())]);
            break;
          }
          break;
        case 5: {  // splice with another corpus input
          const std::string& other = corpus[pick(corpus.size())];
          s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size() + 1));
          break;
        }
        case 6:  // duplicate a range
          if (!s.empty()) {
            const size_t at = pick(s.size());
            s.insert(pick(s.size() + 1), s.substr(at, 1 + pick(32)));
          }
          break;
      }
    }
    RunInput(s);
  }
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
