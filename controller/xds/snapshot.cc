#include "controller/xds/snapshot.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace lb::xds {

namespace {

// FNV-1a, 64 bit: stable across processes (absl::Hash is seeded per process).
uint64_t StableHash(absl::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

ResourcePtr MakeResource(const std::string& name, const google::protobuf::Message& message) {
  auto r = std::make_shared<Resource>();
  r->name = name;
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  r->version = absl::StrFormat("%016x", StableHash(bytes));
  r->any.set_type_url(absl::StrCat("type.googleapis.com/", message.GetDescriptor()->full_name()));
  r->any.set_value(std::move(bytes));
  return r;
}

Snapshot::Snapshot() {
  auto empty = std::make_shared<const ResourceMap>();
  for (auto& m : maps_) m = empty;
}

int Snapshot::Index(absl::string_view type_url, ClientFlavor flavor) {
  int t = type_url == kListenerType  ? 0
          : type_url == kRouteType   ? 1
          : type_url == kClusterType ? 2
                                     : 3;
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
