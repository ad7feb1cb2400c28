#include "controller/xds/wire.h"

#include <grpcpp/support/slice.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lb::xds {
namespace {

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// A length-delimited field with a one-byte tag; empty strings are left out, as in proto3.
void PutString(uint8_t tag, absl::string_view s, std::string* out) {
  if (s.empty()) return;
  out->push_back(static_cast<char>(tag));
  PutVarint(s.size(), out);
  out->append(s.data(), s.size());
}

// config.core.v3.ControlPlane{identifier = 1}, always present (possibly empty).
void PutControlPlane(uint8_t tag, absl::string_view identifier, std::string* out) {
  out->push_back(static_cast<char>(tag));
  std::string body;
  PutString(0x0a, identifier, &body);
  PutVarint(body.size(), out);
  out->append(body);
}

grpc::Slice SliceOf(const std::string& s) { return grpc::Slice(s.data(), s.size()); }

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// What PutString writes.
size_t StringSize(absl::string_view s) {
  return s.empty() ? 0 : 1 + VarintSize(s.size()) + s.size();
}

// What PutControlPlane writes.
size_t ControlPlaneSize(absl::string_view identifier) {
  const size_t body = StringSize(identifier);
  return 1 + VarintSize(body) + body;
}

}  // namespace

// DiscoveryResponse: version_info 1, resources 2, (canary 3), type_url 4, nonce 5,
// control_plane 6.
grpc::ByteBuffer Encode(const SotwResponse& response) {
  std::vector<grpc::Slice> slices;
  slices.reserve(response.resources.size() + 2);
  std::string head;
  PutString(0x0a, response.version_info, &head);
  if (!head.empty()) slices.push_back(SliceOf(head));
  for (const auto& r : response.resources) {
    slices.emplace_back(r->SotwEntry(), grpc::Slice::STEAL_REF);
  }
  std::string tail;
  PutString(0x22, response.type_url, &tail);
  PutString(0x2a, response.nonce, &tail);
  PutControlPlane(0x32, response.control_plane_id, &tail);
  slices.push_back(SliceOf(tail));
  return grpc::ByteBuffer(slices.data(), slices.size());
}

// DeltaDiscoveryResponse: system_version_info 1, resources 2, type_url 4, nonce 5,
// removed_resources 6, control_plane 7.
grpc::ByteBuffer Encode(const DeltaResponse& response) {
  std::vector<grpc::Slice> slices;
  slices.reserve(response.resources.size() + 2);
  std::string head;
  PutString(0x0a, response.system_version_info, &head);
  if (!head.empty()) slices.push_back(SliceOf(head));
  for (const auto& r : response.resources) {
    slices.emplace_back(r->DeltaEntry(), grpc::Slice::STEAL_REF);
  }
  std::string tail;
  PutString(0x22, response.type_url, &tail);
  PutString(0x2a, response.nonce, &tail);
  for (const auto& n : response.removed_resources) {
    // Repeated string: every element is written, even an empty one.
    tail.push_back(static_cast<char>(0x32));
    PutVarint(n.size(), &tail);
    tail.append(n);
  }
  PutControlPlane(0x3a, response.control_plane_id, &tail);
  slices.push_back(SliceOf(tail));
  return grpc::ByteBuffer(slices.data(), slices.size());
}

size_t EncodedSize(const SotwResponse& response) {
  size_t n = StringSize(response.version_info) + StringSize(response.type_url) +
             StringSize(response.nonce) + ControlPlaneSize(response.control_plane_id);
  for (const auto& r : response.resources) n += r->sotw_entry_size();
  return n;
}

size_t EncodedSize(const DeltaResponse& response) {
  size_t n = StringSize(response.system_version_info) + StringSize(response.type_url) +
             StringSize(response.nonce) + ControlPlaneSize(response.control_plane_id);
  for (const auto& r : response.resources) n += r->delta_entry_size();
  for (const auto& name : response.removed_resources)
    n += 1 + VarintSize(name.size()) + name.size();
  return n;
}

}  // namespace lb::xds
