// Encoding of ADS responses straight into gRPC byte buffers, sharing each resource's bytes.
//
// A response is one grpc::ByteBuffer made of slices: a small one for the fields before the
// resources, one per resource that references the Resource's own serialized entry (a new
// reference to its refcounted slice, no copy), and a small one for the fields after. The
// result is byte-for-byte what protobuf's deterministic serialization of ToProto(response)
// gives, so any client parses it as usual.
#ifndef LB_CONTROLLER_XDS_WIRE_H_
#define LB_CONTROLLER_XDS_WIRE_H_

#include <grpcpp/support/byte_buffer.h>

#include "controller/xds/protocol.h"

namespace lb::xds {

grpc::ByteBuffer Encode(const SotwResponse& response);
grpc::ByteBuffer Encode(const DeltaResponse& response);

// The size of Encode(response), without encoding it.
size_t EncodedSize(const SotwResponse& response);
size_t EncodedSize(const DeltaResponse& response);

}  // namespace lb::xds

#endif  // LB_CONTROLLER_XDS_WIRE_H_
