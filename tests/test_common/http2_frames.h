// HTTP/2 frames by hand, for tests that play a hostile or exact client: building frames and
// reading what a server wrote (it sends no preface of its own).
#ifndef LB_TESTS_TEST_COMMON_HTTP2_FRAMES_H_
#define LB_TESTS_TEST_COMMON_HTTP2_FRAMES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lb::testing {

inline constexpr absl::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// HPACK for "GET / on http, :authority a" (static-table entries, a literal authority).
inline const std::string& H2GetBlock() {
  static const std::string* const kBlock = new std::string(
      "\x82\x86\x84\x01\x01"
      "a",
      6);
  return *kBlock;
}

inline std::string H2Frame(uint8_t type, uint8_t flags, int32_t stream, absl::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  const uint8_t head[9] = {static_cast<uint8_t>(n >> 16),
                           static_cast<uint8_t>(n >> 8),
                           static_cast<uint8_t>(n),
                           type,
                           flags,
                           static_cast<uint8_t>((stream >> 24) & 0x7f),
                           static_cast<uint8_t>(stream >> 16),
                           static_cast<uint8_t>(stream >> 8),
                           static_cast<uint8_t>(stream)};
  f.append(reinterpret_cast<const char*>(head), 9);
  f.append(payload.data(), payload.size());
  return f;
}

// The preface and an empty SETTINGS frame.
inline std::string H2ClientStart() { return std::string(kH2Preface) + H2Frame(4, 0, 0, ""); }

struct H2RawFrame {
  uint8_t type = 0;
  uint8_t flags = 0;
  int32_t stream = 0;
  std::string payload;
};

// The whole frames in `bytes`.
inline std::vector<H2RawFrame> H2Frames(const std::string& bytes) {
  std::vector<H2RawFrame> out;
  size_t at = 0;
  while (at + 9 <= bytes.size()) {
    auto byte = [&](size_t i) { return static_cast<uint8_t>(bytes[at + i]); };
    const size_t len = (size_t{byte(0)} << 16) | (size_t{byte(1)} << 8) | byte(2);
    if (at + 9 + len > bytes.size()) break;
    H2RawFrame f;
    f.type = byte(3);
    f.flags = byte(4);
    f.stream = static_cast<int32_t>((uint32_t{byte(5)} & 0x7f) << 24 | uint32_t{byte(6)} << 16 |
                                    uint32_t{byte(7)} << 8 | byte(8));
    f.payload = bytes.substr(at + 9, len);
    out.push_back(std::move(f));
    at += 9 + len;
  }
  return out;
}

inline int H2Code(const std::string& payload, size_t at) {
  return static_cast<int>(uint32_t{static_cast<uint8_t>(payload[at])} << 24 |
                          uint32_t{static_cast<uint8_t>(payload[at + 1])} << 16 |
                          uint32_t{static_cast<uint8_t>(payload[at + 2])} << 8 |
                          static_cast<uint8_t>(payload[at + 3]));
}

// The error code of the first GOAWAY in `bytes`, or -1.
inline int H2GoawayCode(const std::string& bytes) {
  for (const H2RawFrame& f : H2Frames(bytes)) {
    if (f.type == 7 && f.payload.size() >= 8) return H2Code(f.payload, 4);
  }
  return -1;
}

// The error code of the RST_STREAM frame for `stream` in `bytes`, or -1.
inline int H2RstCode(const std::string& bytes, int32_t stream) {
  for (const H2RawFrame& f : H2Frames(bytes)) {
    if (f.type == 3 && f.stream == stream && f.payload.size() == 4) return H2Code(f.payload, 0);
  }
  return -1;
}

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_HTTP2_FRAMES_H_
