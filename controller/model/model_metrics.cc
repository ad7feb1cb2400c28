#include "controller/model/model_metrics.h"

namespace lb::model {

ModelMetrics::ModelMetrics(metrics::Registry* metrics)
    : clusters_(metrics->GetGauge("lb_controller_clusters", "Clusters in the model.")),
      endpoints_(
          metrics->GetGauge("lb_controller_endpoints", "Endpoints in the model, all clusters.")),
      revision_(metrics->GetGauge("lb_controller_store_revision", "Latest store revision seen.")) {}

void ModelMetrics::OnModelChange(const lb::v1::Change&,
                                 const std::shared_ptr<const ModelState>& state) {
  clusters_->Set(static_cast<int64_t>(state->clusters.size()));
  endpoints_->Set(state->endpoints);
  revision_->Set(state->revision);
}

}  // namespace lb::model
