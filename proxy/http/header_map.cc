#include "proxy/http/header_map.h"

#include <cassert>
#include <cstring>
#include <vector>

namespace lb::http {

bool IsForbiddenTrailerField(absl::string_view name) {
  if (name.empty() || name[0] == ':') return true;
  static constexpr absl::string_view kForbidden[] = {
      // Framing and routing.
      "content-length", "transfer-encoding", "host",
      // Connection-specific.
      "connection", "keep-alive", "proxy-connection", "upgrade", "te", "trailer",
      // Request modifiers.
      "expect", "max-forwards", "range", "if-match", "if-none-match", "if-modified-since",
      "if-unmodified-since", "if-range", "cache-control", "pragma",
      // Authentication and cookies.
      "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate", "cookie",
      "set-cookie",
      // Response control data.
      "age", "expires", "date", "location", "retry-after", "vary", "warning",
      // Content processing.
      "content-encoding", "content-type", "content-range"};
  for (absl::string_view f : kForbidden) {
    if (name.size() == f.size() && EqualsIgnoreCase(name, f)) return true;
  }
  return false;
}

bool ParseTrailerSection(absl::string_view section, size_t max_fields, HeaderMap& map) {
  map.AssignRaw(section);
  size_t fields = 0;
  while (!section.empty()) {
    const size_t eol = section.find("\r\n");
    if (eol == absl::string_view::npos) break;  // Not from ChunkedDecoder; ignore the rest.
    const absl::string_view line = section.substr(0, eol + 2);
    section.remove_prefix(eol + 2);
    if (++fields > max_fields) return false;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) continue;
    const absl::string_view name = line.substr(0, colon);
    absl::string_view value = line.substr(colon + 1, eol - colon - 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (IsForbiddenTrailerField(name)) continue;
    map.AddRaw(name, value, line);
  }
  return true;
}

void AppendHttp1Trailers(const HeaderMap& trailers, std::string* out) {
  trailers.ForEach([out](const HeaderMap::Field& f) {
    if (IsForbiddenTrailerField(f.name)) return;
    if (!f.raw_line.empty()) {
      out->append(f.raw_line.data(), f.raw_line.size());
      return;
    }
    out->append(f.name.data(), f.name.size());
    out->append(": ");
    out->append(f.value.data(), f.value.size());
    out->append("\r\n");
  });
}

std::optional<HeaderMap::Field> HeaderMap::Find(absl::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.removed) continue;
    Field f = Get(e);
    if (EqualsIgnoreCase(f.name, name)) return f;
  }
  return std::nullopt;
}

void HeaderMap::Add(absl::string_view name, absl::string_view value) {
  if (entries_.capacity() == 0) entries_.reserve(16);
  // Stored as the whole line, so that consecutive added fields are written in one append.
  Entry e;
  e.added = true;
  const uint32_t start = static_cast<uint32_t>(added_.size());
  e.name = {start, static_cast<uint32_t>(name.size())};
  e.value = {start + e.name.size + 2, static_cast<uint32_t>(value.size())};
  e.line = {start, e.name.size + 2 + e.value.size + 2};
  added_.resize(start + e.line.size);
  char* p = &added_[start];
  memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  memcpy(p, value.data(), value.size());
  p += value.size();
  *p++ = '\r';
  *p = '\n';
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
  ClearFields();
  raw_.assign(bytes.data(), bytes.size());
  raw_base_ = bytes.data();
  raw_size_ = bytes.size();
}

void HeaderMap::ClearFields() {
  raw_.clear();
  added_.clear();
  raw_base_ = nullptr;
  raw_size_ = 0;
  entries_.clear();
  live_ = 0;
}

void RequestHeaderMap::Reset() {
  ClearFields();
  method = Method::kGet;
  method_token = {};
  target = {};
  owned_target.clear();
  host = {};
  has_host = false;
  version = Version::kHttp11;
  content_length.reset();
  expect_100_continue = false;
  upgrade = {};
}

void ResponseHeaderMap::Reset() {
  ClearFields();
  status = 200;
  reason = {};
  content_length.reset();
  upgrade = {};
}

namespace {

// Spare maps of this thread. Bounded: a burst of many live maps does not stay allocated.
constexpr size_t kMaxSpare = 64;

template <typename Map>
std::vector<std::unique_ptr<Map>>& Spares() {
  thread_local std::vector<std::unique_ptr<Map>> spares;
  return spares;
}

template <typename Map>
Map* Take() {
  std::vector<std::unique_ptr<Map>>& spares = Spares<Map>();
  if (spares.empty()) return new Map();
  Map* map = spares.back().release();
  spares.pop_back();
  return map;
}

template <typename Map>
void Give(Map* map) {
  std::vector<std::unique_ptr<Map>>& spares = Spares<Map>();
  if (spares.size() >= kMaxSpare) {
    delete map;
    return;
  }
  map->Reset();
  spares.emplace_back(map);
}

}  // namespace

void HeaderMapRecycler::operator()(RequestHeaderMap* map) const { Give(map); }
void HeaderMapRecycler::operator()(ResponseHeaderMap* map) const { Give(map); }

RequestHeaderMapPtr NewRequestHeaderMap() { return RequestHeaderMapPtr(Take<RequestHeaderMap>()); }
ResponseHeaderMapPtr NewResponseHeaderMap() {
  return ResponseHeaderMapPtr(Take<ResponseHeaderMap>());
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
  if (entries_.capacity() == 0) entries_.reserve(16);
  Entry e;
  e.name = RawSpan(name);
  e.value = RawSpan(value);
  e.line = RawSpan(raw_line);
  entries_.push_back(e);
  ++live_;
}

void HeaderMap::AppendHttp1(std::string* out) const {
  // Every entry has its whole line in raw_ or added_: a run of adjacent lines of one storage
  // goes out in one append.
  const std::string* run_storage = nullptr;
  uint32_t run_begin = 0;
  uint32_t run_end = 0;
  for (const Entry& e : entries_) {
    if (e.removed) continue;
    const std::string* storage = e.added ? &added_ : &raw_;
    if (storage == run_storage && e.line.offset == run_end) {
      run_end += e.line.size;
      continue;
    }
    if (run_storage != nullptr) out->append(*run_storage, run_begin, run_end - run_begin);
    run_storage = storage;
    run_begin = e.line.offset;
    run_end = e.line.offset + e.line.size;
  }
  if (run_storage != nullptr) out->append(*run_storage, run_begin, run_end - run_begin);
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
