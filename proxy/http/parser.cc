#include "proxy/http/parser.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace lb::http {
namespace {

// 256-entry character classes, built at compile time.
struct CharTables {
  bool token[256];   // tchar (RFC 9110 5.6.2)
  bool value[256];   // field-vchar / SP / HTAB (obs-text allowed)
  bool target[256];  // request-target bytes: VCHAR except '#'
  bool host[256];    // uri-host / port bytes of a Host value or an authority
  int8_t hex[256];   // hex digit value or -1
  char lower[256];   // ASCII lowercase
};

constexpr bool IsAlpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool IsDigit(int c) { return c >= '0' && c <= '9'; }

constexpr CharTables MakeTables() {
  CharTables t{};
  for (int c = 0; c < 256; ++c) {
    const bool alnum = IsAlpha(c) || IsDigit(c);
    t.token[c] = alnum || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
                 c == '*' || c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' ||
                 c == '|' || c == '~';
    t.value[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
    t.target[c] = c >= 0x21 && c <= 0x7e && c != '#';
    t.host[c] = alnum || c == '-' || c == '.' || c == '_' || c == '~' || c == '!' || c == '$' ||
                c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' || c == ',' ||
                c == ';' || c == '=' || c == ':' || c == '[' || c == ']' || c == '%';
    t.hex[c] = IsDigit(c)               ? static_cast<int8_t>(c - '0')
               : (c >= 'a' && c <= 'f') ? static_cast<int8_t>(c - 'a' + 10)
               : (c >= 'A' && c <= 'F') ? static_cast<int8_t>(c - 'A' + 10)
                                        : static_cast<int8_t>(-1);
    t.lower[c] = static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
  }
  return t;
}

constexpr CharTables kChars = MakeTables();

inline uint8_t U(char c) { return static_cast<uint8_t>(c); }
inline bool IsToken(char c) { return kChars.token[U(c)]; }
inline bool IsOws(char c) { return c == ' ' || c == '\t'; }

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;
// Nonzero iff some byte of x is < n (n <= 128); bytes >= 0x80 never count.
constexpr uint64_t HasLess(uint64_t x, uint8_t n) { return (x - kOnes * n) & ~x & kHighs; }
constexpr uint64_t HasZero(uint64_t x) { return (x - kOnes) & ~x & kHighs; }

inline uint64_t Load8(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

// Skips field-value bytes; stops at the first byte that is not one (CR at the line's end).
inline const char* SkipValueChars(const char* p, const char* e) {
  // 8 bytes at a time while no byte is a control character (HTAB drops to the byte loop).
  while (e - p >= 8) {
    const uint64_t x = Load8(p);
    if (HasLess(x, 0x20) | HasZero(x ^ (kOnes * 0x7f))) break;
    p += 8;
  }
  while (p < e && kChars.value[U(*p)]) ++p;
  return p;
}

// Skips request-target bytes (VCHAR except '#').
inline const char* SkipTargetChars(const char* p, const char* e) {
  while (e - p >= 8) {
    const uint64_t x = Load8(p);
    if (HasLess(x, 0x21) | (x & kHighs) | HasZero(x ^ (kOnes * '#')) |
        HasZero(x ^ (kOnes * 0x7f))) {
      break;
    }
    p += 8;
  }
  while (p < e && kChars.target[U(*p)]) ++p;
  return p;
}

absl::string_view TrimOws(absl::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsOws(s[b])) ++b;
  while (e > b && IsOws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Calls f(element) for each non-empty element of a comma-separated list, OWS-trimmed. Stops
// and returns false as soon as f does.
template <typename F>
bool ForEachListElement(absl::string_view list, F f) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == absl::string_view::npos) comma = list.size();
    const absl::string_view element = TrimOws(list.substr(start, comma - start));
    if (!element.empty() && !f(element)) return false;
    start = comma + 1;
  }
  return true;
}

bool IsTokenString(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsToken(c)) return false;
  }
  return true;
}

// Compares a header name against a lowercase literal of the same length. Returns 0 (different),
// 1 (equal ignoring case) or 2 (equal only if '_' in the name is read as '-').
int MatchName(absl::string_view name, const char* literal) {
  int result = 1;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    // Names are tokens here: c | 0x20 equals a lowercase letter or '-' only for that letter in
    // either case or for '-' itself.
    if (static_cast<char>(c | 0x20) == literal[i]) continue;
    if (c == '_' && literal[i] == '-') {
      result = 2;
      continue;
    }
    return 0;
  }
  return result;
}

enum class HeaderId : uint8_t {
  kOther,
  kContentLength,
  kTransferEncoding,
  kConnection,
  kHost,
  kExpect,
  kUpgrade,
  kKeepAlive,
  kProxyConnection,
  kTe,
  kTrailer,
  kUnderscoreFraming,  // "Content_Length", "Transfer_Encoding" (any case)
};

HeaderId Classify(absl::string_view name) {
  switch (name.size()) {
    case 2:
      return MatchName(name, "te") == 1 ? HeaderId::kTe : HeaderId::kOther;
    case 4:
      return MatchName(name, "host") == 1 ? HeaderId::kHost : HeaderId::kOther;
    case 6:
      return MatchName(name, "expect") == 1 ? HeaderId::kExpect : HeaderId::kOther;
    case 7:
      if (MatchName(name, "upgrade") == 1) return HeaderId::kUpgrade;
      if (MatchName(name, "trailer") == 1) return HeaderId::kTrailer;
      return HeaderId::kOther;
    case 10:
      if (MatchName(name, "connection") == 1) return HeaderId::kConnection;
      if (MatchName(name, "keep-alive") == 1) return HeaderId::kKeepAlive;
      return HeaderId::kOther;
    case 14:
      switch (MatchName(name, "content-length")) {
        case 1:
          return HeaderId::kContentLength;
        case 2:
          return HeaderId::kUnderscoreFraming;
        default:
          return HeaderId::kOther;
      }
    case 16:
      return MatchName(name, "proxy-connection") == 1 ? HeaderId::kProxyConnection
                                                      : HeaderId::kOther;
    case 17:
      switch (MatchName(name, "transfer-encoding")) {
        case 1:
          return HeaderId::kTransferEncoding;
        case 2:
          return HeaderId::kUnderscoreFraming;
        default:
          return HeaderId::kOther;
      }
    default:
      return HeaderId::kOther;
  }
}

enum class ClStatus { kOk, kInvalid, kConflict };

// Content-Length = 1*DIGIT; a list of equal values is accepted (RFC 9110 8.6).
ClStatus ParseContentLength(absl::string_view value, uint64_t* out) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const char* p = value.data();
  const char* const e = p + value.size();
  bool first = true;
  uint64_t result = 0;
  while (true) {
    if (p == e || !IsDigit(*p)) return ClStatus::kInvalid;
    uint64_t v = 0;
    while (p < e && IsDigit(*p)) {
      const uint64_t d = static_cast<uint64_t>(*p - '0');
      if (v > (kMax - d) / 10) return ClStatus::kInvalid;
      v = v * 10 + d;
      ++p;
    }
    if (first) {
      result = v;
      first = false;
    } else if (v != result) {
      return ClStatus::kConflict;
    }
    while (p < e && IsOws(*p)) ++p;
    if (p == e) break;
    if (*p != ',') return ClStatus::kInvalid;
    ++p;
    while (p < e && IsOws(*p)) ++p;
  }
  *out = result;
  return ClStatus::kOk;
}

bool IsValidHost(absl::string_view host) {
  for (char c : host) {
    if (!kChars.host[U(c)]) return false;
  }
  return true;
}

// authority-form: uri-host ":" port, as CONNECT's target.
bool IsValidAuthorityForm(absl::string_view target) {
  const size_t colon = target.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  const absl::string_view port = target.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (!IsDigit(c)) return false;
  }
  return IsValidHost(target.substr(0, colon));
}

// absolute-form: scheme "://" authority [ path-abempty ] [ "?" query ]; no userinfo.
bool IsValidAbsoluteForm(absl::string_view target) {
  size_t i = 0;
  if (target.empty() || !IsAlpha(U(target[0]))) return false;
  while (i < target.size() && (IsAlpha(U(target[i])) || IsDigit(U(target[i])) || target[i] == '+' ||
                               target[i] == '-' || target[i] == '.')) {
    ++i;
  }
  if (target.substr(i, 3) != "://") return false;
  i += 3;
  const size_t authority_start = i;
  while (i < target.size() && target[i] != '/' && target[i] != '?') {
    if (!kChars.host[U(target[i])]) return false;  // '@' (userinfo) is not a host byte
    ++i;
  }
  return i > authority_start;
}

Method LookupMethod(absl::string_view m) {
  const char* s = m.data();
  switch (m.size()) {
    case 3:
      if (std::memcmp(s, "GET", 3) == 0) return Method::kGet;
      if (std::memcmp(s, "PUT", 3) == 0) return Method::kPut;
      break;
    case 4:
      if (std::memcmp(s, "POST", 4) == 0) return Method::kPost;
      if (std::memcmp(s, "HEAD", 4) == 0) return Method::kHead;
      break;
    case 5:
      if (std::memcmp(s, "PATCH", 5) == 0) return Method::kPatch;
      if (std::memcmp(s, "TRACE", 5) == 0) return Method::kTrace;
      break;
    case 6:
      if (std::memcmp(s, "DELETE", 6) == 0) return Method::kDelete;
      break;
    case 7:
      if (std::memcmp(s, "OPTIONS", 7) == 0) return Method::kOptions;
      if (std::memcmp(s, "CONNECT", 7) == 0) return Method::kConnect;
      break;
    default:
      break;
  }
  return Method::kOther;
}

// Parses "HTTP/d.d" (exactly 8 bytes). Returns 0 when malformed, else 10 * major + minor.
int ParseVersion(const char* v, size_t n) {
  if (n != 8 || std::memcmp(v, "HTTP/", 5) != 0 || !IsDigit(v[5]) || v[6] != '.' ||
      !IsDigit(v[7])) {
    return 0;
  }
  return (v[5] - '0') * 10 + (v[7] - '0');
}

}  // namespace

absl::string_view MethodName(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kConnect:
      return "CONNECT";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kTrace:
      return "TRACE";
    case Method::kPatch:
      return "PATCH";
    case Method::kOther:
      break;
  }
  return "";
}

bool EqualsIgnoreCase(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (kChars.lower[U(a[i])] != kChars.lower[U(b[i])]) return false;
  }
  return true;
}

const Header* FindHeader(absl::Span<const Header> headers, absl::string_view name) {
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

bool ListHasToken(absl::string_view list, absl::string_view token) {
  return !ForEachListElement(list,
                             [token](absl::string_view e) { return !EqualsIgnoreCase(e, token); });
}

namespace internal {

HeadParserBase::HeadParserBase(const HeadLimits& limits) : limits_(limits) {
  limits_.max_headers = std::min<uint32_t>(limits_.max_headers, 65535);  // uint16_t indexes
  Reserve();
}

void HeadParserBase::ResetBase() {
  state_ = State::kStartLine;
  version_ = Version::kHttp11;
  framing_ = BodyFraming::kNone;
  keep_alive_ = false;
  has_content_length_ = false;
  te_present_ = false;
  te_last_chunked_ = false;
  te_other_coding_ = false;
  te_chunked_count_ = 0;
  conn_close_ = false;
  conn_keep_alive_ = false;
  conn_upgrade_ = false;
  conn_other_ = false;
  expect_continue_ = false;
  upgrade_header_ = false;
  host_count_ = 0;
  content_length_ = 0;
  host_ = absl::string_view();
  base_ = nullptr;
  pos_ = 0;
  scan_ = 0;
  result_ = ParseResult();
  headers_.clear();
  hop_by_hop_.clear();
}

const Header* HeadParserBase::FindHeader(absl::string_view name) const {
  return http::FindHeader(headers_, name);
}

bool HeadParserBase::IsHopByHop(size_t index) const {
  return std::binary_search(hop_by_hop_.begin(), hop_by_hop_.end(), index);
}

void HeadParserBase::Shift(absl::string_view* view, uintptr_t delta) {
  if (view->data() == nullptr) return;
  *view = absl::string_view(
      reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(view->data()) + delta),
      view->size());
}

uintptr_t HeadParserBase::Rebase(const char* data) {
  if (data == base_) return 0;
  const uintptr_t delta = reinterpret_cast<uintptr_t>(data) - reinterpret_cast<uintptr_t>(base_);
  const bool had_base = base_ != nullptr;
  base_ = data;
  if (!had_base) return 0;
  for (Header& h : headers_) {
    Shift(&h.name, delta);
    Shift(&h.value, delta);
  }
  Shift(&host_, delta);
  return delta;
}

void HeadParserBase::Fail(int status, const char* reason) {
  state_ = State::kError;
  result_.status = ParseStatus::kError;
  result_.consumed = 0;
  result_.error_status = status;
  result_.error_reason = reason;
}

void HeadParserBase::SetDone(size_t consumed) {
  state_ = State::kDone;
  result_.status = ParseStatus::kDone;
  result_.consumed = consumed;
}

HeadParserBase::Line HeadParserBase::Incomplete(size_t end) {
  scan_ = static_cast<uint32_t>(end);
  return Line::kIncomplete;
}

HeadParserBase::Line HeadParserBase::LineError(const char* data, size_t at, size_t end, int status,
                                               const char* reason) {
  if (at >= end || std::memchr(data + at, '\n', end - at) == nullptr) return Incomplete(end);
  Fail(status, reason);
  return Line::kError;
}

const ParseResult& HeadParserBase::IncompleteResult(size_t len) {
  if (len >= limits_.max_header_bytes) {
    Fail(431, "header section too large");
  } else {
    result_.status = ParseStatus::kIncomplete;
  }
  return result_;
}

bool HeadParserBase::Resume(const char* data, size_t len, size_t end) {
  if (scan_ <= pos_) return true;
  if (scan_ < end && std::memchr(data + scan_, '\n', end - scan_) != nullptr) {
    scan_ = pos_;
    return true;
  }
  scan_ = std::max<uint32_t>(scan_, static_cast<uint32_t>(end));
  IncompleteResult(len);
  return false;
}

HeadParserBase::Line HeadParserBase::ParseHeaderLines(const char* data, size_t end) {
  while (true) {
    const Line line = ParseHeaderLine(data, end);
    if (line != Line::kOk) return line;
  }
}

HeadParserBase::Line HeadParserBase::ParseHeaderLine(const char* data, size_t end) {
  const size_t start = pos_;
  const char* p = data + start;
  const char* const e = data + end;
  if (p == e) return Incomplete(end);
  const char first = *p;
  if (first == '\r') {
    if (p + 1 == e) return Incomplete(end);
    if (p[1] != '\n') return LineError(data, start + 1, end, 400, "CR not followed by LF");
    pos_ = static_cast<uint32_t>(start + 2);
    return Line::kEndOfHead;
  }
  if (first == '\n') return LineError(data, start, end, 400, "bare LF line ending");
  if (IsOws(first)) {
    return LineError(data, start, end, 400,
                     headers_.empty() ? "whitespace before the first header" : "obs-fold");
  }
  const char* const name = p;
  while (p < e && IsToken(*p)) ++p;
  if (p == e) return Incomplete(end);
  if (*p != ':' || p == name) {
    const char* reason = p == name                  ? "empty header name"
                         : IsOws(*p)                ? "whitespace between header name and colon"
                         : *p == '\r' || *p == '\n' ? "header line without colon"
                                                    : "invalid character in header name";
    return LineError(data, p - data, end, 400, reason);
  }
  const size_t name_len = p - name;
  ++p;
  while (p < e && IsOws(*p)) ++p;
  const char* const value = p;
  p = SkipValueChars(p, e);
  if (p == e) return Incomplete(end);
  if (*p != '\r') {
    return LineError(data, p - data, end, 400,
                     *p == '\n' ? "bare LF line ending" : "invalid character in header value");
  }
  if (p + 1 == e) return Incomplete(end);
  if (p[1] != '\n') return LineError(data, p + 1 - data, end, 400, "CR not followed by LF");
  const char* value_end = p;
  while (value_end > value && IsOws(value_end[-1])) --value_end;
  if (headers_.size() >= limits_.max_headers) {
    Fail(431, "too many headers");
    return Line::kError;
  }
  headers_.push_back(Header{absl::string_view(name, name_len),
                            absl::string_view(value, static_cast<size_t>(value_end - value))});
  pos_ = static_cast<uint32_t>(p + 2 - data);
  return OnHeader() ? Line::kOk : Line::kError;
}

bool HeadParserBase::OnHeader() {
  const Header& h = headers_.back();
  const uint16_t index = static_cast<uint16_t>(headers_.size() - 1);
  switch (Classify(h.name)) {
    case HeaderId::kOther:
      return true;
    case HeaderId::kContentLength: {
      uint64_t v = 0;
      switch (ParseContentLength(h.value, &v)) {
        case ClStatus::kInvalid:
          Fail(400, "invalid Content-Length");
          return false;
        case ClStatus::kConflict:
          Fail(400, "conflicting Content-Length values");
          return false;
        case ClStatus::kOk:
          break;
      }
      if (has_content_length_ && v != content_length_) {
        Fail(400, "conflicting Content-Length values");
        return false;
      }
      has_content_length_ = true;
      content_length_ = v;
      return true;
    }
    case HeaderId::kTransferEncoding: {
      hop_by_hop_.push_back(index);
      te_present_ = true;
      bool any = false;
      bool ok = true;
      const char* p = h.value.data();
      const char* const e = p + h.value.size();
      while (ok) {
        while (p < e && (IsOws(*p) || *p == ',')) ++p;
        if (p == e) break;
        const char* const coding = p;
        while (p < e && IsToken(*p)) ++p;
        if (p == coding) {
          ok = false;
          break;
        }
        const absl::string_view name(coding, static_cast<size_t>(p - coding));
        while (p < e && IsOws(*p)) ++p;
        bool params = false;
        if (p < e && *p == ';') {
          params = true;
          while (p < e && *p != ',') ++p;
        }
        if (p < e && *p != ',') {
          ok = false;
          break;
        }
        any = true;
        if (name.size() == 7 && MatchName(name, "chunked") == 1) {
          if (params) ok = false;
          if (te_chunked_count_ < 2) ++te_chunked_count_;
          te_last_chunked_ = true;
        } else {
          te_other_coding_ = true;
          te_last_chunked_ = false;
        }
      }
      if (!ok || !any) {
        Fail(400, "invalid Transfer-Encoding");
        return false;
      }
      return true;
    }
    case HeaderId::kConnection: {
      hop_by_hop_.push_back(index);
      const bool ok = ForEachListElement(h.value, [this](absl::string_view option) {
        if (!IsTokenString(option)) return false;
        if (EqualsIgnoreCase(option, "close")) {
          conn_close_ = true;
        } else if (EqualsIgnoreCase(option, "keep-alive")) {
          conn_keep_alive_ = true;
        } else if (EqualsIgnoreCase(option, "upgrade")) {
          conn_upgrade_ = true;
        } else {
          conn_other_ = true;
        }
        return true;
      });
      if (!ok) {
        Fail(400, "invalid Connection header");
        return false;
      }
      return true;
    }
    case HeaderId::kHost:
      if (!request_) return true;
      if (++host_count_ > 1) {
        Fail(400, "multiple Host headers");
        return false;
      }
      if (!IsValidHost(h.value)) {
        Fail(400, "invalid Host header");
        return false;
      }
      host_ = h.value;
      return true;
    case HeaderId::kExpect:
      if (request_ && EqualsIgnoreCase(h.value, "100-continue")) expect_continue_ = true;
      return true;
    case HeaderId::kUpgrade:
      hop_by_hop_.push_back(index);
      if (!h.value.empty()) upgrade_header_ = true;
      return true;
    case HeaderId::kKeepAlive:
    case HeaderId::kProxyConnection:
    case HeaderId::kTe:
    case HeaderId::kTrailer:
      hop_by_hop_.push_back(index);
      return true;
    case HeaderId::kUnderscoreFraming:
      Fail(400, "'_' in a Content-Length or Transfer-Encoding header name");
      return false;
  }
  return true;
}

bool HeadParserBase::AddConnectionNominated() {
  constexpr int kMaxOptions = 32;
  absl::string_view options[kMaxOptions];
  int n = 0;
  for (const Header& h : headers_) {
    if (h.name.size() != 10 || MatchName(h.name, "connection") != 1) continue;
    const bool ok = ForEachListElement(h.value, [&](absl::string_view option) {
      if (EqualsIgnoreCase(option, "close") || EqualsIgnoreCase(option, "keep-alive") ||
          EqualsIgnoreCase(option, "upgrade")) {
        return true;
      }
      for (int i = 0; i < n; ++i) {
        if (EqualsIgnoreCase(options[i], option)) return true;
      }
      if (n == kMaxOptions) return false;
      options[n++] = option;
      return true;
    });
    if (!ok) {
      Fail(400, "too many Connection options");
      return false;
    }
  }
  const size_t before = hop_by_hop_.size();
  for (size_t i = 0; i < headers_.size(); ++i) {
    const absl::string_view name = headers_[i].name;
    const HeaderId id = Classify(name);
    if (id == HeaderId::kHost || id == HeaderId::kContentLength) continue;
    for (int j = 0; j < n; ++j) {
      if (EqualsIgnoreCase(name, options[j])) {
        hop_by_hop_.push_back(static_cast<uint16_t>(i));
        break;
      }
    }
  }
  if (hop_by_hop_.size() != before) {
    std::sort(hop_by_hop_.begin(), hop_by_hop_.end());
    hop_by_hop_.erase(std::unique(hop_by_hop_.begin(), hop_by_hop_.end()), hop_by_hop_.end());
  }
  return true;
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// RequestParser

RequestParser::RequestParser(const HeadLimits& limits) : HeadParserBase(limits) { request_ = true; }

void RequestParser::Reset() {
  ResetBase();
  method_ = Method::kOther;
  expect_100_continue_ = false;
  upgrade_ = false;
  method_token_ = absl::string_view();
  target_ = absl::string_view();
}

ParseResult RequestParser::Parse(const char* data, size_t len) {
  Reserve();
  const uintptr_t delta = Rebase(data);
  if (delta != 0) {
    Shift(&method_token_, delta);
    Shift(&target_, delta);
  }
  if (state_ == State::kDone || state_ == State::kError) return result_;
  const size_t end = std::min<size_t>(len, limits_.max_header_bytes);
  if (!Resume(data, len, end)) return result_;
  if (state_ == State::kStartLine) {
    const Line line = ParseRequestLine(data, end);
    if (line == Line::kIncomplete) return IncompleteResult(len);
    if (line == Line::kError) return result_;
    state_ = State::kHeaders;
  }
  const Line line = ParseHeaderLines(data, end);
  if (line == Line::kIncomplete) return IncompleteResult(len);
  if (line == Line::kError) return result_;
  if (!Finish()) return result_;
  SetDone(pos_);
  return result_;
}

RequestParser::Line RequestParser::ParseRequestLine(const char* data, size_t end) {
  // RFC 9112 2.2: ignore empty lines before the request line.
  size_t pos = pos_;
  while (true) {
    if (pos == end) return Incomplete(end);
    if (data[pos] == '\r') {
      if (pos + 1 == end) return Incomplete(end);
      if (data[pos + 1] != '\n') return LineError(data, pos + 1, end, 400, "CR not followed by LF");
      pos += 2;
      pos_ = static_cast<uint32_t>(pos);
      continue;
    }
    if (data[pos] == '\n') return LineError(data, pos, end, 400, "bare LF line ending");
    break;
  }
  const char* const e = data + end;
  const char* p = data + pos;
  const char* const method = p;
  while (p < e && IsToken(*p)) ++p;
  if (p == e) return Incomplete(end);
  if (*p != ' ' || p == method) return LineError(data, p - data, end, 400, "invalid method");
  const char* const target = ++p;
  p = SkipTargetChars(p, e);
  if (p == e) return Incomplete(end);
  if (*p != ' ' || p == target) {
    const char* reason = *p == '#'     ? "fragment in request-target"
                         : p == target ? "empty request-target"
                                       : "invalid character in request-target";
    return LineError(data, p - data, end, 400, reason);
  }
  const char* const version = ++p;
  int v = 0;
  if (e - p >= 10 && p[8] == '\r' && p[9] == '\n' && (v = ParseVersion(p, 8)) != 0) {
    p += 8;  // Fast path: a well-formed version token right before CRLF.
  } else {
    while (p < e && *p != '\r' && *p != '\n') ++p;
    if (p == e) return Incomplete(end);
    if (*p == '\n') return LineError(data, p - data, end, 400, "bare LF line ending");
    if (p + 1 == e) return Incomplete(end);
    if (p[1] != '\n') return LineError(data, p + 1 - data, end, 400, "CR not followed by LF");
    v = ParseVersion(version, static_cast<size_t>(p - version));
  }
  if (v == 0) {
    Fail(400, "malformed HTTP version");
    return Line::kError;
  }
  if (v != 10 && v != 11) {
    Fail(505, "HTTP version not supported");
    return Line::kError;
  }
  version_ = v == 11 ? Version::kHttp11 : Version::kHttp10;
  method_token_ = absl::string_view(method, static_cast<size_t>(target - 1 - method));
  method_ = LookupMethod(method_token_);
  target_ = absl::string_view(target, static_cast<size_t>(version - 1 - target));
  bool target_ok;
  if (target_[0] == '/') {
    target_ok = method_ != Method::kConnect;
  } else if (method_ == Method::kConnect) {
    target_ok = IsValidAuthorityForm(target_);
  } else if (target_.size() == 1 && target_[0] == '*') {
    target_ok = method_ == Method::kOptions;
  } else {
    target_ok = IsValidAbsoluteForm(target_);
  }
  if (!target_ok) {
    Fail(400, "invalid request-target");
    return Line::kError;
  }
  pos_ = static_cast<uint32_t>(p + 2 - data);
  return Line::kOk;
}

bool RequestParser::Finish() {
  const bool http11 = version_ == Version::kHttp11;
  if (http11 && host_count_ == 0) {
    Fail(400, "missing Host header");
    return false;
  }
  if (te_present_) {
    if (!http11) {
      Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    if (has_content_length_) {
      Fail(400, "both Content-Length and Transfer-Encoding");
      return false;
    }
    if (!te_last_chunked_) {
      Fail(400, "final transfer coding is not chunked");
      return false;
    }
    if (te_chunked_count_ > 1) {
      Fail(400, "chunked applied more than once");
      return false;
    }
    if (te_other_coding_) {
      Fail(501, "unsupported transfer coding");
      return false;
    }
    framing_ = BodyFraming::kChunked;
  } else if (has_content_length_) {
    framing_ = BodyFraming::kContentLength;
  } else {
    framing_ = BodyFraming::kNone;
  }
  keep_alive_ = !conn_close_ && (http11 || conn_keep_alive_);
  expect_100_continue_ = http11 && expect_continue_;
  upgrade_ = http11 && conn_upgrade_ && upgrade_header_;
  return !conn_other_ || AddConnectionNominated();
}

// ---------------------------------------------------------------------------------------------
// ResponseParser

ResponseParser::ResponseParser(const HeadLimits& limits) : HeadParserBase(limits) {}

void ResponseParser::Reset(Method request_method) {
  ResetBase();
  request_method_ = request_method;
  status_code_ = 0;
  reason_ = absl::string_view();
}

ParseResult ResponseParser::Parse(const char* data, size_t len) {
  const uintptr_t delta = Rebase(data);
  if (delta != 0) Shift(&reason_, delta);
  if (state_ == State::kDone || state_ == State::kError) return result_;
  const size_t end = std::min<size_t>(len, limits_.max_header_bytes);
  if (Resume(data, len, end)) {
    Line line = Line::kOk;
    if (state_ == State::kStartLine) {
      line = ParseStatusLine(data, end);
      if (line == Line::kOk) state_ = State::kHeaders;
    }
    if (line == Line::kOk) line = ParseHeaderLines(data, end);
    if (line == Line::kIncomplete) {
      IncompleteResult(len);
    } else if (line == Line::kEndOfHead && Finish()) {
      SetDone(pos_);
    }
  }
  // Whatever the upstream did wrong, the client gets a 502.
  if (result_.status == ParseStatus::kError) result_.error_status = 502;
  return result_;
}

ResponseParser::Line ResponseParser::ParseStatusLine(const char* data, size_t end) {
  const char* const p = data + pos_;
  const char* const lf = static_cast<const char*>(std::memchr(p, '\n', end - pos_));
  if (lf == nullptr) return Incomplete(end);
  if (lf == p || lf[-1] != '\r') {
    Fail(502, "bare LF line ending");
    return Line::kError;
  }
  const char* const cr = lf - 1;
  // HTTP-version SP 3DIGIT [ SP reason-phrase ]
  if (cr - p < 12 || p[8] != ' ' || !IsDigit(p[9]) || !IsDigit(p[10]) || !IsDigit(p[11]) ||
      p[9] == '0' || (cr - p > 12 && p[12] != ' ')) {
    Fail(502, "malformed status line");
    return Line::kError;
  }
  const int v = ParseVersion(p, 8);
  if (v != 10 && v != 11) {
    Fail(502, v == 0 ? "malformed status line" : "unsupported HTTP version");
    return Line::kError;
  }
  const char* const reason = cr - p > 12 ? p + 13 : cr;
  for (const char* r = reason; r < cr; ++r) {
    if (!kChars.value[U(*r)]) {
      Fail(502, "invalid character in reason phrase");
      return Line::kError;
    }
  }
  version_ = v == 11 ? Version::kHttp11 : Version::kHttp10;
  status_code_ = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  reason_ = absl::string_view(reason, static_cast<size_t>(cr - reason));
  pos_ = static_cast<uint32_t>(lf + 1 - data);
  return Line::kOk;
}

bool ResponseParser::Finish() {
  const bool http11 = version_ == Version::kHttp11;
  keep_alive_ = !conn_close_ && (http11 || conn_keep_alive_);
  if (status_code_ < 200) {
    // Interim responses have no body; 101 hands the connection over to another protocol.
    if (status_code_ == 101) {
      framing_ = BodyFraming::kTunnel;
      keep_alive_ = false;
    } else {
      framing_ = BodyFraming::kNone;
    }
  } else {
    if (te_present_) {
      if (!http11) {
        Fail(502, "Transfer-Encoding in an HTTP/1.0 response");
        return false;
      }
      if (te_other_coding_ || !te_last_chunked_ || te_chunked_count_ > 1) {
        Fail(502, "unsupported Transfer-Encoding in response");
        return false;
      }
      // Content-Length with Transfer-Encoding: chunked wins, and the connection is not reused.
      if (has_content_length_) keep_alive_ = false;
    }
    if (request_method_ == Method::kHead || status_code_ == 204 || status_code_ == 304) {
      framing_ = BodyFraming::kNone;
    } else if (request_method_ == Method::kConnect && status_code_ < 300) {
      framing_ = BodyFraming::kTunnel;
      keep_alive_ = false;
    } else if (te_present_) {
      framing_ = BodyFraming::kChunked;
    } else if (has_content_length_) {
      framing_ = BodyFraming::kContentLength;
    } else {
      framing_ = BodyFraming::kCloseDelimited;
      keep_alive_ = false;
    }
  }
  return !conn_other_ || AddConnectionNominated();
}

// ---------------------------------------------------------------------------------------------
// ChunkedDecoder

void ChunkedDecoder::Reset() {
  state_ = State::kSizeStart;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
  size_ = 0;
  remaining_ = 0;
  payload_bytes_ = 0;
  chunks_ = 0;
  error_status_ = 0;
  error_reason_ = absl::string_view();
  trailers_.clear();
}

ChunkedDecoder::Result ChunkedDecoder::Fail(size_t at, int status, const char* reason) {
  state_ = State::kError;
  error_status_ = status;
  error_reason_ = reason;
  Result r;
  r.status = Status::kError;
  r.consumed = at;
  return r;
}

ChunkedDecoder::Result ChunkedDecoder::Decode(const char* data, size_t len) {
  Result r;
  if (state_ == State::kDone) {
    r.status = Status::kDone;
    return r;
  }
  if (state_ == State::kError) {
    r.status = Status::kError;
    return r;
  }
  const char* p = data;
  const char* const e = data + len;
  // Start of the trailer bytes of this call not yet copied to trailers_ (nullptr: none).
  // Every trailer byte is counted against max_trailer_bytes before it is passed, so the copy
  // stays within the limit.
  const char* trailer_from = InTrailers() ? p : nullptr;
  constexpr uint64_t kMaxSizeBeforeShift = static_cast<uint64_t>(1) << 59;  // keeps < 2^63
  while (p < e) {
    switch (state_) {
      case State::kData: {
        const uint64_t avail = static_cast<uint64_t>(e - p);
        const size_t n = static_cast<size_t>(remaining_ < avail ? remaining_ : avail);
        remaining_ -= n;
        payload_bytes_ += n;
        if (remaining_ == 0) state_ = State::kDataCr;
        r.status = Status::kData;
        r.payload = absl::string_view(p, n);
        r.consumed = static_cast<size_t>(p + n - data);
        return r;
      }
      case State::kSizeStart: {
        const int d = kChars.hex[U(*p)];
        if (d < 0) {
          return Fail(p - data, 400, *p == '\n' ? "bare LF in chunked body" : "invalid chunk size");
        }
        size_ = static_cast<uint64_t>(d);
        line_bytes_ = 1;
        state_ = State::kSize;
        ++p;
        break;
      }
      case State::kSize: {
        const char c = *p;
        const int d = kChars.hex[U(c)];
        if (d >= 0) {
          if (size_ >= kMaxSizeBeforeShift) return Fail(p - data, 400, "chunk size overflow");
          size_ = size_ * 16 + static_cast<uint64_t>(d);
        } else if (c == ';') {
          state_ = State::kExtension;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          return Fail(p - data, 400,
                      c == '\n' ? "bare LF in chunk-size line" : "invalid chunk size");
        }
        if (++line_bytes_ > limits_.max_chunk_line) {
          return Fail(p - data, 400, "chunk-size line too long");
        }
        ++p;
        break;
      }
      case State::kExtension: {
        const char* q = p;
        while (q < e && kChars.value[U(*q)]) ++q;
        const size_t n = static_cast<size_t>(q - p);
        if (n > limits_.max_chunk_line - std::min(line_bytes_, limits_.max_chunk_line)) {
          return Fail(p - data + (limits_.max_chunk_line - line_bytes_), 400,
                      "chunk-size line too long");
        }
        line_bytes_ += static_cast<uint32_t>(n);
        p = q;
        if (p == e) break;
        if (*p != '\r') {
          return Fail(p - data, 400,
                      *p == '\n' ? "bare LF in chunk-size line" : "invalid chunk extension");
        }
        if (++line_bytes_ > limits_.max_chunk_line) {
          return Fail(p - data, 400, "chunk-size line too long");
        }
        state_ = State::kSizeLf;
        ++p;
        break;
      }
      case State::kSizeLf:
        if (*p != '\n') return Fail(p - data, 400, "CR not followed by LF in chunked body");
        ++p;
        if (size_ == 0) {
          state_ = State::kTrailerStart;
          trailer_from = p;
        } else {
          ++chunks_;
          remaining_ = size_;
          state_ = State::kData;
        }
        break;
      case State::kDataCr:
        if (*p != '\r') return Fail(p - data, 400, "chunk data not followed by CRLF");
        state_ = State::kDataLf;
        ++p;
        break;
      case State::kDataLf:
        if (*p != '\n') return Fail(p - data, 400, "CR not followed by LF in chunked body");
        state_ = State::kSizeStart;
        ++p;
        break;
      case State::kTrailerStart:
        if (*p == '\r') {
          if (trailer_from != nullptr) trailers_.append(trailer_from, p);
          trailer_from = nullptr;
          state_ = State::kFinalLf;
          ++p;
          break;
        }
        if (IsToken(*p)) {
          state_ = State::kTrailerName;
        } else {
          return Fail(p - data, 400,
                      *p == '\n'  ? "bare LF in chunked body"
                      : IsOws(*p) ? "obs-fold in trailer section"
                                  : "invalid trailer field");
        }
        if (++trailer_bytes_ > limits_.max_trailer_bytes) {
          return Fail(p - data, 431, "trailer section too large");
        }
        ++p;
        break;
      case State::kTrailerName:
      case State::kTrailerValue: {
        const char* q = p;
        if (state_ == State::kTrailerName) {
          while (q < e && IsToken(*q)) ++q;
        } else {
          while (q < e && kChars.value[U(*q)]) ++q;
        }
        const size_t n = static_cast<size_t>(q - p);
        if (n > limits_.max_trailer_bytes - trailer_bytes_) {
          return Fail(p - data + (limits_.max_trailer_bytes - trailer_bytes_), 431,
                      "trailer section too large");
        }
        trailer_bytes_ += static_cast<uint32_t>(n);
        p = q;
        if (p == e) break;
        if (state_ == State::kTrailerName) {
          if (*p != ':') {
            return Fail(p - data, 400,
                        IsOws(*p) ? "whitespace between trailer name and colon"
                                  : "invalid character in trailer name");
          }
          state_ = State::kTrailerValue;
        } else {
          if (*p != '\r') {
            return Fail(
                p - data, 400,
                *p == '\n' ? "bare LF in chunked body" : "invalid character in trailer value");
          }
          state_ = State::kTrailerLf;
        }
        if (++trailer_bytes_ > limits_.max_trailer_bytes) {
          return Fail(p - data, 431, "trailer section too large");
        }
        ++p;
        break;
      }
      case State::kTrailerLf:
        if (*p != '\n') return Fail(p - data, 400, "CR not followed by LF in chunked body");
        if (++trailer_bytes_ > limits_.max_trailer_bytes) {
          return Fail(p - data, 431, "trailer section too large");
        }
        state_ = State::kTrailerStart;
        ++p;
        break;
      case State::kFinalLf:
        if (*p != '\n') return Fail(p - data, 400, "CR not followed by LF in chunked body");
        ++p;
        state_ = State::kDone;
        r.status = Status::kDone;
        r.consumed = static_cast<size_t>(p - data);
        return r;
      case State::kDone:
      case State::kError:
        // Unreachable: handled before the loop.
        break;
    }
  }
  if (trailer_from != nullptr && InTrailers()) trailers_.append(trailer_from, e);
  r.status = Status::kNeedMore;
  r.consumed = len;
  return r;
}

}  // namespace lb::http
