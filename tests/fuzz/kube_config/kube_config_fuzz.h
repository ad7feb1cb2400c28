// The kubeconfig parser fuzz target (ParseKubeConfig), shared by the libFuzzer entry point and
// kube_config_fuzz_test.
#ifndef LB_TESTS_FUZZ_KUBE_CONFIG_KUBE_CONFIG_FUZZ_H_
#define LB_TESTS_FUZZ_KUBE_CONFIG_KUBE_CONFIG_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace lb::fuzz {

// Parses `data` as a kubeconfig twice. Invariants: no crash; the same result both times; an
// accepted config has a context, a cluster and an http(s) server without a trailing slash; a
// refused one has kInvalidArgument with a message. Returns "" when they hold, else the first
// violation. Sets *accepted when the input parsed.
std::string RunKubeConfigInput(const uint8_t* data, size_t size, bool* accepted = nullptr);

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // LB_TESTS_FUZZ_KUBE_CONFIG_KUBE_CONFIG_FUZZ_H_
