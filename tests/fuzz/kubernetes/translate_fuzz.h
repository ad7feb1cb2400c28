// The Kubernetes translation fuzz target shared by the libFuzzer entry point and
// translate_fuzz_test: a JSON snapshot of API objects into lb::kubernetes::Translate
// (controller/kubernetes/translate.h).
#ifndef LB_TESTS_FUZZ_KUBERNETES_TRANSLATE_FUZZ_H_
#define LB_TESTS_FUZZ_KUBERNETES_TRANSLATE_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace lb::fuzz {

// What one input produced, for tests that check the corpus reaches every part of Translate.
struct TranslateCounts {
  int clusters = 0, endpoints = 0, routes = 0, splits = 0, certificates = 0, status_writes = 0,
      warnings = 0;
};

// Parses `data` as a JSON snapshot (anything else is fine: nothing happens):
//   {"options": {"ingress_class", "gateway_class", "gateway_controller_name",
//                "ingress_status_addresses": [...], "now"},
//    "gateway_api_present": bool,
//    "services" | "endpoint_slices" | "ingresses" | "secrets" | "gateways" | "http_routes":
//        {"NAMESPACE/NAME": object, ...}}
// translates it twice and checks the invariants: the same output both times; every cluster and
// route valid (lb::model::Normalize*), owned by "kubernetes", sorted and unique by name; every
// cluster a route uses emitted; no two routes with a host and the same match; SNI names unique;
// status writes for objects of the snapshot, and none left after they are applied (a fixpoint,
// so the sync cannot loop on its own writes). Returns "" if they hold, else the first violation.
// `counts`, if set, accumulates what the translation emitted.
std::string RunTranslateInput(const uint8_t* data, size_t size, TranslateCounts* counts = nullptr);

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // LB_TESTS_FUZZ_KUBERNETES_TRANSLATE_FUZZ_H_
