// The seed corpus of the xDS protocol fuzz target, as code: tests/fuzz/corpus/xds_protocol/
// holds exactly these inputs (seed_*, and regress_* for bugs found; written by
// xds_protocol_corpus_gen, and xds_protocol_fuzz_test checks that they are checked in
// unchanged) plus any crash inputs copied there by hand as regressions.
#ifndef LB_TESTS_FUZZ_CONTROLLER_XDS_XDS_PROTOCOL_SEEDS_H_
#define LB_TESTS_FUZZ_CONTROLLER_XDS_XDS_PROTOCOL_SEEDS_H_

#include <string>
#include <utility>
#include <vector>

namespace lb::fuzz {

// (file name, input bytes), in a stable order.
std::vector<std::pair<std::string, std::string>> XdsProtocolSeeds();

}  // namespace lb::fuzz

#endif  // LB_TESTS_FUZZ_CONTROLLER_XDS_XDS_PROTOCOL_SEEDS_H_
