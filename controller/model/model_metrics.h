// The model's size as Prometheus gauges, kept up to date as an observer of the model cache:
//   lb_controller_clusters, lb_controller_endpoints, lb_controller_store_revision.
#ifndef LB_CONTROLLER_MODEL_MODEL_METRICS_H_
#define LB_CONTROLLER_MODEL_MODEL_METRICS_H_

#include <memory>

#include "common/metrics/metrics.h"
#include "controller/model/model_cache.h"

namespace lb::model {

class ModelMetrics final : public ModelCache::Observer {
 public:
  // `metrics` must outlive this.
  explicit ModelMetrics(metrics::Registry* metrics);

  void OnModelChange(const lb::v1::Change& change,
                     const std::shared_ptr<const ModelState>& state) override;

 private:
  metrics::Gauge* const clusters_;
  metrics::Gauge* const endpoints_;
  metrics::Gauge* const revision_;
};

}  // namespace lb::model

#endif  // LB_CONTROLLER_MODEL_MODEL_METRICS_H_
