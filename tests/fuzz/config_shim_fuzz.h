// The REST-body fuzz target shared by the libFuzzer entry point and config_shim_fuzz_test.
#ifndef LB_TESTS_FUZZ_CONFIG_SHIM_FUZZ_H_
#define LB_TESTS_FUZZ_CONFIG_SHIM_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

namespace lb::fuzz {

// Feeds `data` as the body of POST /config, POST /v1/clusters and
// POST /v1/clusters/backend/endpoints into a RestHandler over a fresh in-memory SqliteStore and
// checks the invariants. Returns "" if they all hold, else a description of the first violation.
// If `outcomes` is set, adds what each request answered (e.g. "/config 200 Invalid action",
// "/v1/clusters 201"), so tests can check that a corpus reaches every kind of answer.
std::string RunConfigShimInput(const uint8_t* data, size_t size,
                               std::set<std::string>* outcomes = nullptr);

}  // namespace lb::fuzz

// libFuzzer's entry point (defined in config_shim_fuzz.cc): aborts on a violated invariant.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // LB_TESTS_FUZZ_CONFIG_SHIM_FUZZ_H_
