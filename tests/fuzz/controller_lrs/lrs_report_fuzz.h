// The load report fuzz target shared by the libFuzzer entry point and lrs_report_fuzz_test:
// bytes as a LoadStatsRequest into the controller's LoadAggregator (docs/lrs.md).
#ifndef LB_TESTS_FUZZ_CONTROLLER_LRS_LRS_REPORT_FUZZ_H_
#define LB_TESTS_FUZZ_CONTROLLER_LRS_LRS_REPORT_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace lb::fuzz {

// Parses `data` as a LoadStatsRequest (unparsable input is fine: nothing happens), adds each
// ClusterStats twice (a second later, by two reporters) to a fresh LoadAggregator with small
// limits, and checks the invariants of every reported endpoint's status and of /metrics.
// Returns "" if they hold, else the first violation. `accepted`, if set, counts the
// ClusterStats the aggregator took.
std::string RunLrsReportInput(const uint8_t* data, size_t size, int* accepted = nullptr);

}  // namespace lb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // LB_TESTS_FUZZ_CONTROLLER_LRS_LRS_REPORT_FUZZ_H_
