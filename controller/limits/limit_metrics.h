// Every limit of the controller is a flag, and every time one is hit it is counted in one family,
// labelled by that flag's name: lb_controller_limit_exceeded_total{limit="xds_max_streams"}. The
// configured values are exported too: lb_controller_limit{limit="xds_max_streams"}.
#ifndef LB_CONTROLLER_LIMITS_LIMIT_METRICS_H_
#define LB_CONTROLLER_LIMITS_LIMIT_METRICS_H_

#include <string>

#include "common/metrics/metrics.h"

namespace lb::limits {

inline constexpr char kExceededName[] = "lb_controller_limit_exceeded_total";
inline constexpr char kExceededHelp[] = "Times a limit was hit, by the flag that sets it.";

inline metrics::Counter* ExceededCounter(metrics::Registry* registry, const std::string& limit) {
  return registry->GetCounter(kExceededName, kExceededHelp, {{"limit", limit}});
}

inline void ExportLimit(metrics::Registry* registry, const std::string& limit, int64_t value) {
  registry
      ->GetGauge("lb_controller_limit", "Configured limits, by the flag that sets them.",
                 {{"limit", limit}})
      ->Set(value);
}

}  // namespace lb::limits

#endif  // LB_CONTROLLER_LIMITS_LIMIT_METRICS_H_
