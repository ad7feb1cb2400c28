#include "controller/xds/snapshot.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/xds/type_urls.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace lb::xds {

namespace {

// FNV-1a, 64 bit: stable across processes (absl::Hash is seeded per process).
uint64_t StableHash(absl::string_view data, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// splitmix64's finalizer: spreads FNV's weak low bits over the whole word, so sums of these
// behave like sums of random values.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

uint64_t ViewHashOf(absl::string_view name, absl::string_view version) {
  uint64_t h = StableHash(name);
  h ^= 0;
  h *= 1099511628211ull;  // A separator, so ("ab","c") and ("a","bc") differ.
  return Mix(StableHash(version, h));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Size of a length-delimited field with a one-byte tag, without the tag.
size_t LenField(size_t len) { return VarintSize(len) + len; }

struct Writer {
  uint8_t* p;
  void Byte(uint8_t b) { *p++ = b; }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<uint8_t>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<uint8_t>(v);
  }
  void Bytes(absl::string_view s) {
    if (!s.empty()) memcpy(p, s.data(), s.size());
    p += s.size();
  }
  // A string/bytes/message field with a one-byte tag; proto3 leaves empty strings out.
  void Str(uint8_t tag, absl::string_view s) {
    if (s.empty()) return;
    Byte(tag);
    Varint(s.size());
    Bytes(s);
  }
};

}  // namespace

Resource::Resource(std::string name_in, absl::string_view type_url_in, absl::string_view value)
    : name(std::move(name_in)),
      version(absl::StrFormat("%016x", StableHash(value))),
      type_url(type_url_in),
      view_hash(ViewHashOf(name, version)) {
  auto str_field = [](absl::string_view s) { return s.empty() ? 0 : 1 + LenField(s.size()); };
  const size_t any_size = str_field(type_url) + str_field(value);
  const size_t body_size = str_field(version) + 1 + LenField(any_size) + str_field(name);
  delta_end_ = 1 + LenField(body_size);
  wire_ = grpc_slice_malloc(delta_end_);
  uint8_t* base = GRPC_SLICE_START_PTR(wire_);
  Writer w{base};
  w.Byte(0x12);  // DeltaDiscoveryResponse.resources = 2
  w.Varint(body_size);
  w.Str(0x0a, version);  // Resource.version = 1
  sotw_begin_ = w.p - base;
  w.Byte(0x12);  // Resource.resource = 2 (and DiscoveryResponse.resources = 2)
  w.Varint(any_size);
  any_begin_ = w.p - base;
  w.Str(0x0a, type_url);  // Any.type_url = 1
  if (!value.empty()) {
    w.Byte(0x12);  // Any.value = 2
    w.Varint(value.size());
  }
  value_begin_ = w.p - base;
  w.Bytes(value);
  any_end_ = w.p - base;
  w.Str(0x1a, name);                                           // Resource.name = 3
  if (static_cast<size_t>(w.p - base) != delta_end_) abort();  // Sizes computed above.
}

Resource::~Resource() { grpc_slice_unref(wire_); }

absl::string_view Resource::Range(size_t begin, size_t end) const {
  return absl::string_view(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(wire_)) + begin,
                           end - begin);
}

google::protobuf::Any Resource::ToAny() const {
  google::protobuf::Any any;
  any.set_type_url(type_url);
  any.set_value(std::string(value()));
  return any;
}

grpc_slice Resource::SotwEntry() const { return grpc_slice_sub(wire_, sotw_begin_, any_end_); }

grpc_slice Resource::DeltaEntry() const { return grpc_slice_sub(wire_, 0, delta_end_); }

ResourcePtr MakeResource(const std::string& name, const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return std::make_shared<const Resource>(
      name, absl::StrCat(lb::xds::kTypeUrlPrefix, message.GetDescriptor()->full_name()), bytes);
}

Snapshot::Snapshot() {
  auto empty = std::make_shared<const ResourceMap>();
  for (auto& m : maps_) m = empty;
}

int Snapshot::Index(absl::string_view type_url, ClientFlavor flavor) {
  int t = type_url == kListenerType   ? 0
          : type_url == kRouteType    ? 1
          : type_url == kClusterType  ? 2
          : type_url == kEndpointType ? 3
                                      : 4;
  return t * 2 + (flavor == ClientFlavor::kGrpc ? 1 : 0);
}

const ResourceMap& Snapshot::Get(absl::string_view type_url, ClientFlavor flavor) const {
  return *maps_[Index(type_url, flavor)];
}

std::shared_ptr<const Snapshot> Snapshot::With(absl::string_view type_url, ClientFlavor flavor,
                                               ResourceMap map) const {
  auto next = std::make_shared<Snapshot>(*this);
  next->generation_ = generation_ + 1;
  next->maps_[Index(type_url, flavor)] = std::make_shared<const ResourceMap>(std::move(map));
  return next;
}

std::shared_ptr<const Snapshot> Snapshot::WithBoth(absl::string_view type_url,
                                                   ResourceMap map) const {
  auto next = std::make_shared<Snapshot>(*this);
  next->generation_ = generation_ + 1;
  auto shared = std::make_shared<const ResourceMap>(std::move(map));
  next->maps_[Index(type_url, ClientFlavor::kEnvoy)] = shared;
  next->maps_[Index(type_url, ClientFlavor::kGrpc)] = shared;
  return next;
}

}  // namespace lb::xds
