// Protobuf messages written in text format, for tests.
#ifndef LB_TESTS_TEST_COMMON_TEXT_PROTO_H_
#define LB_TESTS_TEST_COMMON_TEXT_PROTO_H_

#include <string>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace lb::testing {

// `text` parsed as a T; a parse error fails the calling test (and yields what was parsed).
template <typename T>
T ParseTextProto(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_TEXT_PROTO_H_
