// gRPC detection and the gRPC form of local replies: the mapping as one table.
#include "proxy/http/grpc.h"

#include <optional>

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

}  // namespace
}  // namespace lb::http
