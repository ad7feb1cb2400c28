// Message heads independent of the wire protocol: what codecs produce and consume, and what the
// router and the header rewriter work on.
//
// A map owns its bytes, so it outlives the buffer it was parsed from (an upstream connect or a
// retry resends it later). Fields that came off the wire keep their raw line ("B:  two \t\r\n")
// so an HTTP/1 encoder forwards them byte for byte; fields added later are written as
// "name: value". Connection-specific fields (Connection, Keep-Alive, Transfer-Encoding, Upgrade,
// TE, ...) and Content-Length never appear in a map: codecs strip them and carry their meaning
// in the typed fields below.
//
// Not thread-safe; a map belongs to one stream.
#ifndef LB_PROXY_HTTP_HEADER_MAP_H_
#define LB_PROXY_HTTP_HEADER_MAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proxy/http/parser.h"

namespace lb::http {

class HeaderMap {
 public:
  struct Field {
    absl::string_view name;
    absl::string_view value;
    absl::string_view raw_line;  // The wire line with its CRLF; empty for added fields.
  };

  HeaderMap() = default;
  HeaderMap(const HeaderMap&) = delete;
  HeaderMap& operator=(const HeaderMap&) = delete;

  // Live fields in order. `fn(const Field&)`.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const Entry& e : entries_) {
      if (!e.removed) fn(Get(e));
    }
  }
  size_t size() const { return live_; }
  // First live field named `name` (ASCII case-insensitive), or nullopt.
  std::optional<Field> Find(absl::string_view name) const;
  // Appends a field (both strings are copied).
  void Add(absl::string_view name, absl::string_view value);
  // Removes every field named `name`; returns how many.
  size_t Remove(absl::string_view name);
  // Removes the fields for which `pred(const Field&)` is true, in one pass in order.
  template <typename Pred>
  void RemoveIf(Pred pred) {
    for (Entry& e : entries_) {
      if (!e.removed && pred(Get(e))) {
        e.removed = true;
        --live_;
      }
    }
  }

  // For codecs: keep a copy of `bytes`, then add fields whose views point into the original
  // bytes (each name, value and line must lie inside them).
  void AssignRaw(absl::string_view bytes);
  void AddRaw(absl::string_view name, absl::string_view value, absl::string_view raw_line);

  // Moves a view into the original bytes given to AssignRaw() over to the map's own copy.
  absl::string_view Translate(absl::string_view original) const;

  // Appends the live fields in HTTP/1 form: wire lines byte for byte (a run of adjacent ones
  // in one append), added ones as "name: value\r\n".
  void AppendHttp1(std::string* out) const;

 protected:
  // Back to empty, keeping the storage's capacity (for recycling).
  void ClearFields();

 private:
  struct Span {
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  struct Entry {
    Span name;
    Span value;
    Span line;           // The whole line with its CRLF, in raw_ or added_.
    bool added = false;  // Added by Add(): everything lives in added_ instead of raw_.
    bool removed = false;
  };

  static absl::string_view View(const std::string& s, Span span) {
    return absl::string_view(s.data() + span.offset, span.size);
  }
  Field Get(const Entry& e) const {
    const std::string& s = e.added ? added_ : raw_;
    return {View(s, e.name), View(s, e.value), e.added ? absl::string_view() : View(raw_, e.line)};
  }
  Span RawSpan(absl::string_view original) const;

  // raw_ never changes after AssignRaw(), so views into it (the typed fields of the derived
  // maps) stay valid; added fields go to added_, which may grow.
  std::string raw_;
  std::string added_;
  const char* raw_base_ = nullptr;  // Start of the original bytes of AssignRaw().
  size_t raw_size_ = 0;
  std::vector<Entry> entries_;
  size_t live_ = 0;
};

// A request head. Views stay valid while the map lives.
class RequestHeaderMap : public HeaderMap {
 public:
  // Back to a new map's state, keeping the storage's capacity.
  void Reset();

  Method method = Method::kGet;
  absl::string_view method_token;  // The method as sent (kOther included).
  absl::string_view target;        // As in the request line: origin-, absolute-, ... form.
  // Storage for a target the proxy rewrote (see request_target.h); `target` may view it.
  std::string owned_target;
  absl::string_view host;  // The Host field's value; "" if there was none.
  bool has_host = false;
  Version version = Version::kHttp11;
  // Body size when known up front; nullopt for a body of unknown length (chunked).
  std::optional<uint64_t> content_length;
  bool expect_100_continue = false;
  // The protocol an Upgrade request asks for ("websocket"); empty when not an upgrade.
  absl::string_view upgrade;

  // The path of the target (absolute-form included): "/a?b".
  absl::string_view Path() const;
};

// A response head.
class ResponseHeaderMap : public HeaderMap {
 public:
  // Back to a new map's state, keeping the storage's capacity.
  void Reset();

  int status = 200;
  absl::string_view reason;  // "" for the codec's default phrase.
  // The Content-Length the response carries (for HEAD and 304 also when no body follows).
  std::optional<uint64_t> content_length;
  // The protocol switched to on a 101 answer; empty otherwise.
  absl::string_view upgrade;
};

// --- Trailer sections ---------------------------------------------------------------------------

// Fields that do not travel as trailers: framing (Content-Length, Transfer-Encoding), routing
// (Host), request modifiers, authentication, response control data and content processing
// (RFC 9110 6.5.1), connection-specific fields (Connection, Keep-Alive, TE, Trailer, Upgrade,
// ...) and pseudo-header names. Codecs drop them from trailer sections in both directions.
// Name compared ASCII case-insensitively.
bool IsForbiddenTrailerField(absl::string_view name);

// Fills `map` from a chunked body's trailer section as ChunkedDecoder::trailer_section() gives
// it (syntax already checked: "name:OWS value OWS\r\n" lines), leaving out forbidden fields.
// False, with `map` unspecified, if the section has more than `max_fields` lines.
bool ParseTrailerSection(absl::string_view section, size_t max_fields, HeaderMap& map);

// Appends the fields of `trailers` that may travel as trailers, in HTTP/1 form (wire lines byte
// for byte, added ones as "name: value\r\n").
void AppendHttp1Trailers(const HeaderMap& trailers, std::string* out);

// Maps are recycled per thread: a deleted map keeps its storage for the next one made on the
// same thread, so the request path does not allocate for heads in the steady state.
struct HeaderMapRecycler {
  void operator()(RequestHeaderMap* map) const;
  void operator()(ResponseHeaderMap* map) const;
};
using RequestHeaderMapPtr = std::unique_ptr<RequestHeaderMap, HeaderMapRecycler>;
using ResponseHeaderMapPtr = std::unique_ptr<ResponseHeaderMap, HeaderMapRecycler>;
RequestHeaderMapPtr NewRequestHeaderMap();
ResponseHeaderMapPtr NewResponseHeaderMap();

}  // namespace lb::http

#endif  // LB_PROXY_HTTP_HEADER_MAP_H_
