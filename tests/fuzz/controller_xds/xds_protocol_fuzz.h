// The xDS protocol fuzz target (SotwProtocol / DeltaProtocol of controller/xds/protocol.h),
// shared by the libFuzzer entry point, xds_protocol_fuzz_test and the corpus generator.
//
// Input format (every read past the end yields zero bytes, so any byte string is an input):
//
//   input    := flags snapshot op*            (at most kMaxOps ops are run)
//   flags    := 1 byte; bit 0: 0 = SotW (StreamAggregatedResources), 1 = delta.
//   snapshot := 9 bytes: for CDS, EDS, LDS, RDS (push order) a presence mask and a revision
//               mask over XdsNamePool() (bit i = name i), then the presence mask of the gRPC
//               flavour's CDS (same revisions, different content than the Envoy flavour's).
//   op       := kind byte; kind & 3 selects:
//     0 request   varint length, then that many bytes: a serialized DiscoveryRequest (SotW) or
//                 DeltaDiscoveryRequest (delta). Bytes that do not parse are skipped.
//     1 answer    selector byte, varint length, bytes: a request as above whose response_nonce
//                 is replaced by the nonce of an earlier response (selector & 0x0f responses back
//                 from the latest of the request's type, or of any type if selector & 0x20); if
//                 selector & 0x10 (SotW) version_info becomes that response's version_info; if
//                 selector & 0x40 the nonce is echoed as a look-alike ("0" prepended: the same
//                 number, not the same nonce).
//     2 publish   9 snapshot bytes, then an extra-names mask: those names are listed as changed
//                 for every type in the ChangeSet even if they did not change; if kind & 4,
//                 every type is listed even if none of its names changed.
//     3 reconnect the stream ends; later ops go to a new stream (same snapshot).
//   A request that OnRequest rejects ends the stream as well (the server ends it).
#ifndef LB_TESTS_FUZZ_CONTROLLER_XDS_XDS_PROTOCOL_FUZZ_H_
#define LB_TESTS_FUZZ_CONTROLLER_XDS_XDS_PROTOCOL_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "google/protobuf/message_lite.h"

namespace lb::fuzz {

inline constexpr size_t kXdsMaxOps = 128;

// Names the snapshot masks refer to (8: one bit each).
const std::vector<std::string>& XdsNamePool();

// Index in push order (CDS, EDS, LDS, RDS), as in the snapshot bytes.
enum XdsType { kXdsCds = 0, kXdsEds = 1, kXdsLds = 2, kXdsRds = 3 };
const std::string& XdsTypeUrl(XdsType type);

struct XdsSnapshotSpec {
  uint8_t present[4] = {0, 0, 0, 0};
  uint8_t revision[4] = {0, 0, 0, 0};
  uint8_t grpc_cds_present = 0;
};

// The version the snapshot built from the spec gives name `name_index` of `type` (revision 0
// or 1; `grpc` only matters for CDS). For seeds carrying initial_resource_versions.
std::string XdsResourceVersion(XdsType type, int name_index, int revision, bool grpc);

// Builds inputs in the format above.
class XdsInputBuilder {
 public:
  XdsInputBuilder(bool delta, const XdsSnapshotSpec& snapshot);
  XdsInputBuilder& Request(const google::protobuf::MessageLite& request);
  XdsInputBuilder& Answer(uint8_t selector, const google::protobuf::MessageLite& request);
  XdsInputBuilder& Publish(const XdsSnapshotSpec& snapshot, uint8_t extra_names = 0,
                           bool every_type = false);
  XdsInputBuilder& Reconnect();
  // Appends raw bytes (e.g. a request op whose length prefix lies).
  XdsInputBuilder& Raw(const std::string& bytes);
  const std::string& bytes() const { return bytes_; }

 private:
  void Varint(uint64_t v);
  void Spec(const XdsSnapshotSpec& snapshot);
  std::string bytes_;
};

// Runs one input: a fresh stream of the chosen protocol against the snapshot it describes,
// checking the invariants listed in xds_protocol_fuzz.cc after every step. Returns "" if they
// all hold, else a description of the first violation. If `outcomes` is set, adds what
// happened (e.g. "sotw response", "delta nack", "sotw error InvalidArgument"), so tests can
// check that a corpus reaches every kind of behaviour.
std::string RunXdsProtocolInput(const uint8_t* data, size_t size,
                                std::set<std::string>* outcomes = nullptr);

}  // namespace lb::fuzz

// libFuzzer's entry point (defined in xds_protocol_fuzz.cc): aborts on a violated invariant.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // LB_TESTS_FUZZ_CONTROLLER_XDS_XDS_PROTOCOL_FUZZ_H_
