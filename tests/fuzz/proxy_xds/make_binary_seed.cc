// Reads a text-format seed (updates separated by "---" lines) on stdin and writes the same
// updates in the binary framing to stdout; exits 1 if an update does not parse.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include "tests/fuzz/proxy_xds/proxy_xds_fuzz.h"

int main() {
  std::string text(std::istreambuf_iterator<char>(std::cin), {});
  std::optional<std::string> binary = lb::fuzz::TextInputToBinary(text);
  if (!binary) {
    std::fprintf(stderr, "an update does not parse\n");
    return 1;
  }
  std::fwrite(binary->data(), 1, binary->size(), stdout);
  return 0;
}
