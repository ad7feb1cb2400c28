// Helpers shared by the fuzz-corpus tests (tests/fuzz/...): loading a checked-in corpus from the
// test's runfiles, a small deterministic byte-level mutator, and the loops that run the corpus
// and seeded mutations of it through a fuzz target, so `bazel test` does without libFuzzer.
#ifndef LB_TESTS_FUZZ_CORPUS_MUTATOR_H_
#define LB_TESTS_FUZZ_CORPUS_MUTATOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lb::fuzz {

struct CorpusFile {
  std::string name;  // File name, without the directory.
  std::string data;
};

// The directory tests/fuzz/corpus/<subdir> in the test's runfiles (for failure messages).
std::string CorpusDir(absl::string_view subdir);

// The files of tests/fuzz/corpus/<subdir> in the test's runfiles, sorted by name; BUILD files
// are skipped. Empty if the directory is missing.
std::vector<CorpusFile> LoadCorpus(absl::string_view subdir);

// What differs between the fuzz tests' mutations. The defaults are config_shim_fuzz_test's.
struct MutationLimits {
  // A deleted range has 1..max_delete bytes.
  size_t max_delete = 8;
  // A range replaced by a dictionary token has 1..max_replace bytes.
  size_t max_replace = 6;
  // If not empty, a dictionary token replaces one of these characters (the first at or after a
  // random position) rather than a range: e.g. "\r\n:, " to edit the structure of HTTP.
  std::string replace_chars;
  // A duplicated chunk has 1..max_duplicate bytes.
  size_t max_duplicate = 16;
  // Whether the copy of a chunk goes right before it (repeating it) or anywhere.
  bool duplicate_in_place = true;
  // Whether the random-byte edit overwrites a byte instead of inserting one (keeps the offsets
  // of a structured input).
  bool overwrite_byte = false;
  // Whether a digit may be changed to another (an extra kind of edit).
  bool mutate_digits = false;
  // The result is truncated to max_size bytes.
  size_t max_size = 70000;
};

// Applies 1 to 4 random edits to s: flip a bit, insert (or overwrite) a random byte, delete a
// range, insert a dictionary token, replace a range with a token, splice with a corpus file,
// duplicate a chunk and, if limits.mutate_digits, change a digit. With an empty dictionary or
// corpus, the edits that need it become the random-byte edit. Deterministic for a given rng
// state.
std::string Mutate(std::string s, const std::vector<std::string>& dictionary,
                   const std::vector<CorpusFile>& corpus, std::mt19937& rng,
                   const MutationLimits& limits = {});

// What a fuzz target says of one input: "" if every invariant held, else what broke. A target
// whose violations abort (an LLVMFuzzerTestOneInput) always returns "".
using FuzzTarget = std::function<std::string(const std::string& input)>;

// `entry` (an LLVMFuzzerTestOneInput) as a FuzzTarget.
FuzzTarget LibFuzzerTarget(int (*entry)(const uint8_t* data, size_t size));

// Runs every file of `corpus` through `target`; each problem is a test failure naming the file.
void RunCorpus(const std::vector<CorpusFile>& corpus, const FuzzTarget& target);

// How RunMutations picks and edits its inputs. Changing any of it changes the mutation stream.
struct MutationRun {
  MutationRun(int mutations, uint32_t rng_seed) : count(mutations), seed(rng_seed) {}

  int count;      // Mutations to run.
  uint32_t seed;  // Of the std::mt19937 that drives the run.
  // Which seed the i-th mutation starts from: seeds[i % seeds.size()], or one drawn from the rng
  // before each mutation.
  bool random_pick = false;
  // Whether mutations may splice in other seeds.
  bool splice = true;
  // The run stops after this many failing inputs.
  int max_failures = 5;
  MutationLimits limits;
};

// Runs run.count mutations of `seeds` (not empty) through `target`. Each problem is a test
// failure naming the mutation, its seed and the input (C-escaped). Returns the failure count.
int RunMutations(const std::vector<CorpusFile>& seeds, const std::vector<std::string>& dictionary,
                 const MutationRun& run, const FuzzTarget& target);

// JSON's structural characters and literals: the start of every JSON fuzzer's dictionary.
std::vector<std::string> JsonTokens();

}  // namespace lb::fuzz

#endif  // LB_TESTS_FUZZ_CORPUS_MUTATOR_H_
