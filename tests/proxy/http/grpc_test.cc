// gRPC detection and the gRPC form of local replies: the mapping as one table.
#include "proxy/http/grpc.h"

#include <optional>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace lb::http {
namespace {

TEST(GrpcTest, LocalReplyStatusTable) {
  const struct {
    int http;
    GrpcCode grpc;
  } kTable[] = {
      {404, GrpcCode::kUnimplemented},      // No route.
      {501, GrpcCode::kUnimplemented},      //
      {503, GrpcCode::kUnavailable},        // No healthy endpoint, overflow, no config.
      {502, GrpcCode::kUnavailable},        // Connect failure, reset.
      {504, GrpcCode::kDeadlineExceeded},   // Upstream timeout.
      {408, GrpcCode::kDeadlineExceeded},   // Stream idle timeout.
      {413, GrpcCode::kResourceExhausted},  // Body limit.
      {431, GrpcCode::kResourceExhausted},  // Header limit.
      {400, GrpcCode::kInternal},           //
      {401, GrpcCode::kUnauthenticated},    //
      {403, GrpcCode::kPermissionDenied},   //
      {429, GrpcCode::kUnavailable},        //
      {500, GrpcCode::kUnknown},            //
      {418, GrpcCode::kUnknown},            //
  };
  for (const auto& row : kTable) {
    EXPECT_EQ(GrpcStatusForLocalReply(row.http), row.grpc) << row.http;
  }
}

TEST(GrpcTest, ContentTypes) {
  EXPECT_TRUE(IsGrpcContentType("application/grpc"));
  EXPECT_TRUE(IsGrpcContentType("application/grpc+proto"));
  EXPECT_TRUE(IsGrpcContentType("Application/GRPC+json"));
  EXPECT_TRUE(IsGrpcContentType("application/grpc; charset=utf-8"));
  EXPECT_FALSE(IsGrpcContentType("application/grpc-web"));
  EXPECT_FALSE(IsGrpcContentType("application/grpc-web+proto"));
  EXPECT_FALSE(IsGrpcContentType("application/json"));
  EXPECT_FALSE(IsGrpcContentType(""));
  RequestHeaderMap h;
  EXPECT_FALSE(IsGrpcRequest(h));
  h.Add("Content-Type", "application/grpc");
  EXPECT_TRUE(IsGrpcRequest(h));
}

TEST(GrpcTest, MessageIsPercentEncoded) {
  EXPECT_EQ(PercentEncodeGrpcMessage("no healthy upstream"), "no healthy upstream");
  EXPECT_EQ(PercentEncodeGrpcMessage("100% \"web\"\n\xc3\xa9"), "100%25 \"web\"%0A%C3%A9");
}

TEST(GrpcTest, TrailersOnlyReply) {
  ResponseHeaderMap h;
  MakeGrpcLocalReply(503, "no healthy upstream", h);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.content_length, std::optional<uint64_t>(0));
  EXPECT_EQ(h.Find("content-type")->value, "application/grpc");
  EXPECT_EQ(h.Find("grpc-status")->value, "14");
  EXPECT_EQ(h.Find("grpc-message")->value, "no healthy upstream");
}

TEST(GrpcTest, GrpcTimeoutParses) {
  EXPECT_EQ(ParseGrpcTimeout("1H"), absl::Hours(1));
  EXPECT_EQ(ParseGrpcTimeout("2M"), absl::Minutes(2));
  EXPECT_EQ(ParseGrpcTimeout("30S"), absl::Seconds(30));
  EXPECT_EQ(ParseGrpcTimeout("200m"), absl::Milliseconds(200));
  EXPECT_EQ(ParseGrpcTimeout("1500u"), absl::Microseconds(1500));
  EXPECT_EQ(ParseGrpcTimeout("7n"), absl::Nanoseconds(7));
  EXPECT_EQ(ParseGrpcTimeout("0m"), absl::ZeroDuration());
  EXPECT_EQ(ParseGrpcTimeout("99999999H"), absl::Hours(99999999));  // 8 digits: the most.
}

TEST(GrpcTest, MalformedGrpcTimeoutIsNullopt) {
  for (const char* bad : {"", "m", "5", "123456789S", "1x", "1s", "-1S", "+1S", " 1S", "1S ",
                          "1.5S", "1SS", "0x1S"}) {
    EXPECT_EQ(ParseGrpcTimeout(bad), std::nullopt) << bad;
  }
}

TEST(GrpcTest, GrpcTimeoutIsFormattedInTheFinestUnitThatFits) {
  EXPECT_EQ(FormatGrpcTimeout(absl::Nanoseconds(7)), "7n");
  EXPECT_EQ(FormatGrpcTimeout(absl::Milliseconds(50)), "50000000n");
  EXPECT_EQ(FormatGrpcTimeout(absl::Milliseconds(200)), "200000u");
  EXPECT_EQ(FormatGrpcTimeout(absl::Seconds(2)), "2000000u");
  EXPECT_EQ(FormatGrpcTimeout(absl::Seconds(100)), "100000m");
  EXPECT_EQ(FormatGrpcTimeout(absl::Hours(30)), "108000S");
  EXPECT_EQ(FormatGrpcTimeout(absl::Hours(100000)), "6000000M");
  // Rounded up, never shorter than asked.
  EXPECT_EQ(FormatGrpcTimeout(absl::Seconds(100) + absl::Nanoseconds(1)), "100001m");
  EXPECT_EQ(FormatGrpcTimeout(absl::ZeroDuration()), "1n");
  // The largest value; a quotient beyond int64 in the fine units does not wrap.
  EXPECT_EQ(FormatGrpcTimeout(absl::Hours(99999999)), "99999999H");
  // Round trip.
  for (absl::Duration d : {absl::Milliseconds(1), absl::Seconds(3), absl::Minutes(90)}) {
    EXPECT_EQ(ParseGrpcTimeout(FormatGrpcTimeout(d)), d);
  }
}

}  // namespace
}  // namespace lb::http
