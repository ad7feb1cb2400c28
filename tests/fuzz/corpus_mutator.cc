#include "tests/fuzz/corpus_mutator.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace lb::fuzz {

std::string CorpusDir(absl::string_view subdir) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::string base = srcdir != nullptr ? absl::StrCat(srcdir, "/", workspace ? workspace : "lb")
                                       : std::string(".");
  return absl::StrCat(base, "/tests/fuzz/corpus/", subdir);
}

std::vector<CorpusFile> LoadCorpus(absl::string_view subdir) {
  std::vector<CorpusFile> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(CorpusDir(subdir), ec)) {
    std::string name = entry.path().filename().string();
    if (name == "BUILD" || name == "BUILD.bazel") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files.push_back({std::move(name), ss.str()});
  }
  // Directory order is not stable.
  std::sort(files.begin(), files.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.name < b.name; });
  return files;
}

std::string Mutate(std::string s, const std::vector<std::string>& dictionary,
                   const std::vector<CorpusFile>& corpus, std::mt19937& rng,
                   const MutationLimits& limits) {
  auto pick = [&](size_t n) {
    return n == 0 ? size_t{0} : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  // Reordering the picks below changes every test's mutation stream.
  auto insert_byte = [&] {
    const char byte = static_cast<char>(pick(256));
    s.insert(s.begin() + pick(s.size() + 1), byte);
  };
  const int rounds = 1 + static_cast<int>(pick(4));
  for (int i = 0; i < rounds; ++i) {
    int edit = static_cast<int>(pick(limits.mutate_digits ? 8 : 7));
    if ((edit == 3 || edit == 4) && dictionary.empty()) edit = 1;
    if (edit == 5 && corpus.empty()) edit = 1;
    switch (edit) {
      case 0:  // Flip a bit.
        if (!s.empty()) {
          const char bit = static_cast<char>(1 << pick(8));
          s[pick(s.size())] ^= bit;
        }
        break;
      case 1:  // Insert a random byte, or overwrite one (op kinds, masks, lengths).
        if (!limits.overwrite_byte) {
          insert_byte();
        } else if (!s.empty()) {
          const char byte = static_cast<char>(pick(256));
          s[pick(s.size())] = byte;
        }
        break;
      case 2:  // Delete a range.
        if (!s.empty()) {
          const size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min(limits.max_delete, s.size() - at)));
        }
        break;
      case 3: {  // Insert a dictionary token.
        const std::string& token = dictionary[pick(dictionary.size())];
        s.insert(pick(s.size() + 1), token);
        break;
      }
      case 4:  // Replace a range, or a separator, with a dictionary token.
        if (limits.replace_chars.empty()) {
          const std::string& token = dictionary[pick(dictionary.size())];
          const size_t at = pick(s.size() + 1);
          s.replace(at, std::min(s.size() - at, 1 + pick(limits.max_replace)), token);
        } else {
          const size_t at = s.find_first_of(limits.replace_chars, pick(s.size() + 1));
          if (at != std::string::npos) s.replace(at, 1, dictionary[pick(dictionary.size())]);
        }
        break;
      case 5: {  // Splice with a corpus file.
        const std::string& other = corpus[pick(corpus.size())].data;
        const size_t from = pick(other.size() + 1);
        s.resize(pick(s.size() + 1));
        s.append(other, from, std::string::npos);
        break;
      }
      case 6:  // Duplicate a chunk.
        if (!s.empty()) {
          const size_t at = pick(s.size());
          const std::string chunk = s.substr(at, 1 + pick(limits.max_duplicate));
          s.insert(limits.duplicate_in_place ? at : pick(s.size() + 1), chunk);
        }
        break;
      case 7:  // Change a digit: numbers are much of what parsers judge.
        for (size_t at = pick(s.size() + 1); at < s.size(); ++at) {
          if (s[at] >= '0' && s[at] <= '9') {
            s[at] = static_cast<char>('0' + pick(10));
            break;
          }
        }
        break;
    }
  }
  if (s.size() > limits.max_size) s.resize(limits.max_size);
  return s;
}

FuzzTarget LibFuzzerTarget(int (*entry)(const uint8_t* data, size_t size)) {
  return [entry](const std::string& input) {
    entry(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    return std::string();
  };
}

void RunCorpus(const std::vector<CorpusFile>& corpus, const FuzzTarget& target) {
  for (const CorpusFile& f : corpus) EXPECT_EQ(target(f.data), "") << f.name;
}

int RunMutations(const std::vector<CorpusFile>& seeds, const std::vector<std::string>& dictionary,
                 const MutationRun& run, const FuzzTarget& target) {
  if (seeds.empty()) {
    ADD_FAILURE() << "no seeds to mutate";
    return 1;
  }
  static const std::vector<CorpusFile> kNoSplices;
  const std::vector<CorpusFile>& splices = run.splice ? seeds : kNoSplices;
  std::mt19937 rng(run.seed);
  int failures = 0;
  for (int i = 0; i < run.count && failures < run.max_failures; ++i) {
    const CorpusFile& seed =
        run.random_pick ? seeds[std::uniform_int_distribution<size_t>(0, seeds.size() - 1)(rng)]
                        : seeds[static_cast<size_t>(i) % seeds.size()];
    const std::string input = Mutate(seed.data, dictionary, splices, rng, run.limits);
    const std::string problem = target(input);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << "mutation " << i << " of " << seed.name << ": " << problem << "\ninput: \""
                    << absl::CHexEscape(input) << "\"";
    }
  }
  return failures;
}

std::vector<std::string> JsonTokens() {
  return {"{", "}", "[", "]", ",", ":", "\"", "null", "true", "false", "0", "-1", "1.5"};
}

}  // namespace lb::fuzz
