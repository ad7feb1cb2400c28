#include "tests/fuzz/corpus_mutator.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace lb::fuzz {
namespace {

const std::vector<std::string>& Dictionary() {
  static const auto* dict = new std::vector<std::string>{"{", "}", "\"name\"", "0", "\r\n"};
  return *dict;
}

std::vector<CorpusFile> SmallCorpus() {
  return {{"a", "{\"name\": \"web\", \"port\": 8080}"}, {"b", ""}, {"c", "GET / HTTP/1.1\r\n\r\n"}};
}

// Every combination of knobs the fuzz tests use.
std::vector<MutationLimits> AllLimits() {
  std::vector<MutationLimits> all(4);
  all[1].max_delete = 16;
  all[1].max_replace = 12;
  all[1].max_duplicate = 64;
  all[1].duplicate_in_place = false;
  all[1].mutate_digits = true;
  all[2].overwrite_byte = true;
  all[2].max_duplicate = 48;
  all[3].replace_chars = "\r\n:, ";
  all[3].max_size = 1 << 20;
  return all;
}

TEST(CorpusMutatorTest, MutateIsDeterministicForEqualSeeds) {
  const std::vector<CorpusFile> corpus = SmallCorpus();
  for (const MutationLimits& limits : AllLimits()) {
    std::mt19937 a(42), b(42), c(43);
    int differs_from_other_seed = 0;
    for (int i = 0; i < 200; ++i) {
      const std::string& seed = corpus[i % corpus.size()].data;
      const std::string out = Mutate(seed, Dictionary(), corpus, a, limits);
      EXPECT_EQ(out, Mutate(seed, Dictionary(), corpus, b, limits)) << i;
      differs_from_other_seed += out != Mutate(seed, Dictionary(), corpus, c, limits);
    }
    EXPECT_TRUE(a == b);
    EXPECT_GT(differs_from_other_seed, 100);
  }
}

TEST(CorpusMutatorTest, MutateRespectsMaxSize) {
  std::vector<CorpusFile> corpus = SmallCorpus();
  corpus.push_back({"big", std::string(5000, 'x')});
  for (MutationLimits limits : AllLimits()) {
    limits.max_size = 64;
    std::mt19937 rng(7);
    int at_max = 0;
    for (int i = 0; i < 200; ++i) {
      const std::string& seed = corpus[i % corpus.size()].data;
      const std::string out = Mutate(seed, Dictionary(), corpus, rng, limits);
      ASSERT_LE(out.size(), 64u) << i;
      at_max += out.size() == 64;
    }
    EXPECT_GT(at_max, 20);  // The big seed and splices with it are cut, not dropped.
  }
}

TEST(CorpusMutatorTest, MutateWithEmptyDictionaryAndCorpus) {
  const std::string input = "GET /a HTTP/1.1\r\nHost: b:80\r\n\r\n";
  for (const MutationLimits& limits : AllLimits()) {
    std::mt19937 rng(1);
    int changed = 0;
    for (int i = 0; i < 200; ++i) {
      changed += Mutate(input, {}, {}, rng, limits) != input;
      Mutate("", {}, {}, rng, limits);
      Mutate("7", {}, {}, rng, limits);
    }
    EXPECT_GE(changed, 180);
  }
}

TEST(CorpusMutatorTest, MutateChangesMostInputs) {
  const std::vector<CorpusFile> corpus = SmallCorpus();
  for (const MutationLimits& limits : AllLimits()) {
    std::mt19937 rng(3);
    int changed = 0;
    for (int i = 0; i < 200; ++i) {
      const std::string& seed = corpus[0].data;
      changed += Mutate(seed, Dictionary(), corpus, rng, limits) != seed;
    }
    EXPECT_GE(changed, 180);
  }
}

TEST(CorpusMutatorTest, LoadCorpusReadsCheckedInFilesSorted) {
  const std::vector<CorpusFile> corpus = LoadCorpus("config_shim");
  ASSERT_GE(corpus.size(), 20u) << CorpusDir("config_shim");
  EXPECT_TRUE(
      std::is_sorted(corpus.begin(), corpus.end(),
                     [](const CorpusFile& a, const CorpusFile& b) { return a.name < b.name; }));
  for (size_t i = 1; i < corpus.size(); ++i) EXPECT_NE(corpus[i - 1].name, corpus[i].name);
  for (const CorpusFile& f : corpus) {
    EXPECT_EQ(f.name.find('/'), std::string::npos) << f.name;
    EXPECT_NE(f.name, "BUILD");
  }
  auto find = [&](const std::string& name) -> std::optional<std::string> {
    for (const CorpusFile& f : corpus) {
      if (f.name == name) return f.data;
    }
    return std::nullopt;
  };
  EXPECT_EQ(find("null.json"), "null");
  EXPECT_EQ(find("empty.json"), "");
  EXPECT_EQ(LoadCorpus("no_such_corpus").size(), 0u);
}

// Points TEST_SRCDIR/TEST_WORKSPACE at a directory of the test's own for its lifetime.
class FakeRunfiles {
 public:
  FakeRunfiles() : srcdir_(Get("TEST_SRCDIR")), workspace_(Get("TEST_WORKSPACE")) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    root_ = std::filesystem::path(tmp != nullptr ? tmp : "/tmp") / "fake_runfiles";
    setenv("TEST_SRCDIR", root_.c_str(), 1);
    setenv("TEST_WORKSPACE", "ws", 1);
  }
  ~FakeRunfiles() {
    Restore("TEST_SRCDIR", srcdir_);
    Restore("TEST_WORKSPACE", workspace_);
    std::filesystem::remove_all(root_);
  }

  void Write(const std::string& subdir, const std::string& name, const std::string& data) {
    const std::filesystem::path dir = root_ / "ws/tests/fuzz/corpus" / subdir;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary) << data;
  }

 private:
  static std::optional<std::string> Get(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
  }
  static void Restore(const char* name, const std::optional<std::string>& value) {
    value ? setenv(name, value->c_str(), 1) : unsetenv(name);
  }

  std::optional<std::string> srcdir_;
  std::optional<std::string> workspace_;
  std::filesystem::path root_;
};

TEST(CorpusMutatorTest, LoadCorpusSkipsBuildFiles) {
  FakeRunfiles runfiles;
  for (const char* name : {"b", "BUILD", "c", "BUILD.bazel", "a", "BUILD.txt"}) {
    runfiles.Write("fake", name, std::string("data of ") + name);
  }
  EXPECT_EQ(CorpusDir("fake"),
            std::string(std::getenv("TEST_SRCDIR")) + "/ws/tests/fuzz/corpus/fake");
  const std::vector<CorpusFile> corpus = LoadCorpus("fake");
  std::vector<std::string> names;
  for (const CorpusFile& f : corpus) {
    names.push_back(f.name);
    EXPECT_EQ(f.data, "data of " + f.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"BUILD.txt", "a", "b", "c"}));
}

}  // namespace
}  // namespace lb::fuzz
