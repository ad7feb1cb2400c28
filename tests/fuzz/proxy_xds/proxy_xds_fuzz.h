// The xDS config translation fuzz target (proxy/xds/config_builder.h), shared by the libFuzzer
// entry point and proxy_xds_fuzz_test.
#ifndef LB_TESTS_FUZZ_PROXY_XDS_PROXY_XDS_FUZZ_H_
#define LB_TESTS_FUZZ_PROXY_XDS_PROXY_XDS_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace lb::fuzz {

// Reads `data` as a sequence of DiscoveryResponses twice, as text and as binary (format in
// proxy_xds_fuzz.cc), applies each reading to a fresh ConfigBuilder and checks every update
// against the builder's contracts. Returns "" if they all hold, else a description of the first
// violation. If `outcomes` is set, adds what each update did ("clusters ok",
// "routes rejected: virtual_hosts[].domains[]", "clusters removed", ...), so tests can check
// that a corpus reaches every kind of outcome.
std::string RunProxyXdsInput(const uint8_t* data, size_t size,
                             std::set<std::string>* outcomes = nullptr);

// Corpus upkeep. The updates of a text input in the binary framing, or nullopt if one of them
// does not parse (make_binary_seed writes the .binpb seeds with it).
std::optional<std::string> TextInputToBinary(const std::string& text);
// How many updates the text / binary reading of `data` has, or -1 if one of them does not parse
// (or, for binary, runs past the end): a seed with a typo would silently test nothing.
int CountTextUpdates(const std::string& data);
int CountBinaryUpdates(const std::string& data);

}  // namespace lb::fuzz

// libFuzzer's entry point (defined in proxy_xds_fuzz.cc): aborts on a violated invariant.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // LB_TESTS_FUZZ_PROXY_XDS_PROXY_XDS_FUZZ_H_
