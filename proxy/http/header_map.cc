#include "proxy/http/header_map.h"

#include <cassert>

namespace lb::http {

std::optional<HeaderMap::Field> HeaderMap::Find(absl::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.removed) continue;
    Field f = Get(e);
    if (EqualsIgnoreCase(f.name, name)) return f;
  }
  return std::nullopt;
}

void HeaderMap::Add(absl::string_view name, absl::string_view value) {
  Entry e;
  e.added = true;
  e.name = {static_cast<uint32_t>(added_.size()), static_cast<uint32_t>(name.size())};
  added_.append(name.data(), name.size());
  e.value = {static_cast<uint32_t>(added_.size()), static_cast<uint32_t>(value.size())};
  added_.append(value.data(), value.size());
  entries_.push_back(e);
  ++live_;
}

size_t HeaderMap::Remove(absl::string_view name) {
  size_t removed = 0;
  for (Entry& e : entries_) {
    if (!e.removed && EqualsIgnoreCase(Get(e).name, name)) {
      e.removed = true;
      ++removed;
    }
  }
  live_ -= removed;
  return removed;
}

void HeaderMap::AssignRaw(absl::string_view bytes) {
  raw_.assign(bytes.data(), bytes.size());
  added_.clear();
  raw_base_ = bytes.data();
  raw_size_ = bytes.size();
  entries_.clear();
  live_ = 0;
}

HeaderMap::Span HeaderMap::RawSpan(absl::string_view original) const {
  if (original.empty()) return {};
  assert(original.data() >= raw_base_ &&
         original.data() + original.size() <= raw_base_ + raw_size_);
  return {static_cast<uint32_t>(original.data() - raw_base_),
          static_cast<uint32_t>(original.size())};
}

void HeaderMap::AddRaw(absl::string_view name, absl::string_view value,
                       absl::string_view raw_line) {
  Entry e;
  e.name = RawSpan(name);
  e.value = RawSpan(value);
  e.line = RawSpan(raw_line);
  entries_.push_back(e);
  ++live_;
}

absl::string_view HeaderMap::Translate(absl::string_view original) const {
  if (original.empty()) return {};
  return View(raw_, RawSpan(original));
}

absl::string_view RequestHeaderMap::Path() const {
  absl::string_view t = target;
  if (!t.empty() && t[0] != '/') {
    size_t scheme = t.find("://");
    if (scheme != absl::string_view::npos) {
      size_t slash = t.find('/', scheme + 3);
      return slash == absl::string_view::npos ? absl::string_view("/") : t.substr(slash);
    }
  }
  return t;
}

}  // namespace lb::http
