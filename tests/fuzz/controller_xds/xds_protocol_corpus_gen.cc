// Writes the seed corpus of the xDS protocol fuzz target (xds_protocol_seeds.cc) into a
// directory. After changing the seeds or the input format, from the repository root:
//   dir="$PWD/tests/fuzz/corpus/xds_protocol"
//   bazel run //tests/fuzz/controller_xds:xds_protocol_corpus_gen -- "$dir"
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/fuzz/controller_xds/xds_protocol_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
    return 2;
  }
  for (const auto& [name, bytes] : lb::fuzz::XdsProtocolSeeds()) {
    const std::string path = std::string(argv[1]) + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
