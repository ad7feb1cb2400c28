#include "common/time/duration_text.h"

#include <string>

#include "gtest/gtest.h"

namespace lb {
namespace {

std::string Parsed(const std::string& text) {
  absl::StatusOr<absl::Duration> d = ParseDurationText(text);
  if (!d.ok()) return std::string(d.status().message());
  return FormatDurationText(*d);
}

TEST(DurationTextTest, AcceptsBothSyntaxes) {
  EXPECT_EQ(Parsed("500ms"), "0.500s");
  EXPECT_EQ(Parsed("2s"), "2s");
  EXPECT_EQ(Parsed("1m"), "60s");
  EXPECT_EQ(Parsed("1h"), "3600s");
  EXPECT_EQ(Parsed("1m30s"), "90s");
  EXPECT_EQ(Parsed("0.500s"), "0.500s");
  EXPECT_EQ(Parsed("1.5s"), "1.500s");
  EXPECT_EQ(Parsed("0s"), "0s");
  EXPECT_EQ(Parsed("0"), "0s");
  EXPECT_EQ(Parsed("-2s"), "-2s");
  EXPECT_EQ(Parsed("1us"), "0.000001s");
  EXPECT_EQ(Parsed("1ns"), "0.000000001s");
}

TEST(DurationTextTest, RefusesOtherText) {
  const std::string want =
      " is not a duration; want \"500ms\", \"2s\", \"1m\", \"1h\" or \"0.500s\"";
  EXPECT_EQ(Parsed("5"), "\"5\"" + want);
  EXPECT_EQ(Parsed("5x"), "\"5x\"" + want);
  EXPECT_EQ(Parsed(""), "\"\"" + want);
  EXPECT_EQ(Parsed("inf"), "\"inf\"" + want);
  EXPECT_EQ(Parsed("1 s"), "\"1 s\"" + want);
  EXPECT_EQ(Parsed("100001h"), "\"100001h\"" + want);
  EXPECT_EQ(ParseDurationText("a\nb").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parsed("a\nb"), "\"a\\nb\"" + want);
}

TEST(DurationTextTest, FormatsProtobufStyle) {
  EXPECT_EQ(FormatDurationText(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatDurationText(absl::Milliseconds(100)), "0.100s");
  EXPECT_EQ(FormatDurationText(absl::Microseconds(1500)), "0.001500s");
  EXPECT_EQ(FormatDurationText(-absl::Milliseconds(1500)), "-1.500s");
  EXPECT_EQ(FormatDurationText(absl::Hours(24 * 400)), "34560000s");
}

}  // namespace
}  // namespace lb
