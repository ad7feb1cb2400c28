#include "common/logging/event_log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "common/time/clock.h"

namespace lb::logging {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static std::shared_ptr<spdlog::logger>* logger = [] {
    auto l = std::make_shared<spdlog::logger>("events",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::info);
    return new std::shared_ptr<spdlog::logger>(std::move(l));
  }();
  return *logger;
}

}  // namespace

std::string EventLine(absl::string_view event, const nlohmann::json& fields, absl::Time time) {
  // nlohmann's object keeps keys sorted; build the line so time and event lead.
  std::string line = "{\"time\":";
  line +=
      nlohmann::json(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone())).dump();
  line += ",\"event\":";
  line += nlohmann::json(std::string(event)).dump();
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      line += ",";
      line += nlohmann::json(it.key()).dump();
      line += ":";
      line += it.value().dump();
    }
  }
  line += "}";
  return line;
}

void LogEvent(absl::string_view event, const nlohmann::json& fields) {
  Logger()->info(EventLine(event, fields, Clock::Real()->Now()));
}

}  // namespace lb::logging
