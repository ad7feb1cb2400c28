#include "common/logging/event_log.h"

#include "gtest/gtest.h"

namespace lb::logging {
namespace {

TEST(EventLogTest, TimeAndEventLeadThenTheFields) {
  absl::Time t = absl::FromUnixMillis(1'764'777'912'345);
  EXPECT_EQ(EventLine("endpoint_health",
                      {{"cluster", "web"}, {"endpoint", "[::1]:80"}, {"healthy", false}}, t),
            "{\"time\":\"2025-12-03T16:05:12.345Z\",\"event\":\"endpoint_health\","
            "\"cluster\":\"web\",\"endpoint\":\"[::1]:80\",\"healthy\":false}");
}

TEST(EventLogTest, ValuesAreEscapedAsJson) {
  std::string line = EventLine("config_rejected", {{"error", "bad \"x\"\n"}}, absl::UnixEpoch());
  EXPECT_EQ(line,
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"event\":\"config_rejected\","
            "\"error\":\"bad \\\"x\\\"\\n\"}");
}

}  // namespace
}  // namespace lb::logging
