#include "proxy/accesslog/access_log.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/wait.h"

namespace lb::proxy::accesslog {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ResponseFlagsTest, EnvoyLettersInOrder) {
  EXPECT_EQ(ResponseFlagsString(0), "-");
  EXPECT_EQ(ResponseFlagsString(kUpstreamRetryLimitExceeded | kUpstreamConnectionFailure),
            "UF,URX");
  EXPECT_EQ(ResponseFlagsString(kNoConfig | kOverloadManager | kUpstreamOverflow), "UO,OM,NCF");
  EXPECT_EQ(ResponseFlagsString(kDownstreamConnectionTermination | kStreamIdleTimeout |
                                kUpstreamMaxStreamDurationReached | kNoRoute | kNoClusterFound),
            "NR,DC,SI,NC,UMSDR");
}

TEST(AppendLogLineTest, AnsweredRequest) {
  StreamInfo info;
  info.start_time = absl::FromUnixMillis(1796313912345);  // 2026-12-03T16:05:12.345Z
  info.start = absl::Seconds(100);
  info.status = 200;
  info.bytes_received = 7;
  info.bytes_sent = 64;
  const std::string host = "10.0.0.1:8080";
  info.upstream_host = &host;
  info.attempts = 2;
  info.upstream_start = absl::Seconds(100) + absl::Microseconds(300);
  info.upstream_head = absl::Seconds(100) + absl::Microseconds(1504);
  info.response_flags = 0;
  std::string out;
  AppendLogLine({"10.0.0.9", "GET", "shop.example", "/cart?x=1"}, info,
                absl::Seconds(100) + absl::Microseconds(1530), &out);
  EXPECT_EQ(out,
            "{\"time\":\"2026-12-03T16:05:12.345Z\",\"client\":\"10.0.0.9\",\"method\":\"GET\","
            "\"authority\":\"shop.example\",\"path\":\"/cart?x=1\",\"status\":200,"
            "\"bytes_received\":7,\"bytes_sent\":64,\"upstream_host\":\"10.0.0.1:8080\","
            "\"upstream_ms\":1.204,\"duration_ms\":1.530,\"attempts\":2,\"flags\":\"-\","
            "\"details\":\"\"}\n");
}

TEST(AppendLogLineTest, LocalReplyWithoutUpstreamAndHostileBytes) {
  StreamInfo info;
  info.start_time = absl::FromUnixMillis(0);
  info.status = 404;
  info.response_flags = kNoRoute;
  info.details = "no route";
  std::string out;
  // Quotes, backslashes, controls and bytes outside ASCII: escaped, so the line stays JSON.
  AppendLogLine({"::1", "GET", "a\"b\\c", std::string("/\x01\x7f\xc3\xa9\xff", 6)}, info,
                absl::Milliseconds(2), &out);
  EXPECT_EQ(out,
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"client\":\"::1\",\"method\":\"GET\","
            "\"authority\":\"a\\\"b\\\\c\",\"path\":\"/\\u0001\\u007f\\u00c3\\u00a9\\u00ff\","
            "\"status\":404,\"bytes_received\":0,\"bytes_sent\":0,\"upstream_host\":null,"
            "\"upstream_ms\":null,\"duration_ms\":2.000,\"attempts\":0,\"flags\":\"NR\","
            "\"details\":\"no route\"}\n");
}

TEST(AccessLogTest, WritesLinesAndReopensAfterRotation) {
  const std::string dir = testing::MakeTempDir();
  const std::string path = dir + "/access.log";
  absl::StatusOr<std::unique_ptr<AccessLog>> log = AccessLog::Open({path, 1 << 20});
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Write("one\n");
  (*log)->Write("two\n");
  ASSERT_TRUE(testing::WaitUntil([&] { return ReadFile(path) == "one\ntwo\n"; },
                                 absl::Seconds(10)));
  // logrotate: the file is moved, then the proxy told (SIGUSR1) to open it again.
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  (*log)->Write("three\n");
  ASSERT_TRUE(testing::WaitUntil([&] { return ReadFile(path + ".1") == "one\ntwo\nthree\n"; },
                                 absl::Seconds(10)));
  (*log)->Reopen();
  (*log)->Write("four\n");
  log->reset();  // Flushes.
  EXPECT_EQ(ReadFile(path), "four\n");
  EXPECT_EQ(ReadFile(path + ".1"), "one\ntwo\nthree\n");
}

TEST(AccessLogTest, FullBufferDropsAndCounts) {
  const std::string path = testing::MakeTempDir() + "/access.log";
  absl::StatusOr<std::unique_ptr<AccessLog>> log = AccessLog::Open({path, 8});
  ASSERT_TRUE(log.ok());
  (*log)->Write("0123456789\n");  // Longer than the whole buffer: dropped.
  EXPECT_EQ((*log)->dropped(), 1u);
  EXPECT_EQ((*log)->lines(), 0u);
  (*log)->Write("short\n");
  EXPECT_EQ((*log)->lines(), 1u);
  log->reset();
  EXPECT_EQ(ReadFile(path), "short\n");
}

TEST(AccessLogTest, UnwritablePathIsAnError) {
  absl::StatusOr<std::unique_ptr<AccessLog>> log =
      AccessLog::Open({"/nonexistent-dir/x/access.log", 1024});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(log.status().message().find("/nonexistent-dir/x/access.log"), std::string::npos);
}

}  // namespace
}  // namespace lb::proxy::accesslog
