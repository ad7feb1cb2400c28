// Tests of controller/model/model_metrics.cc as an observer of a ModelCache.
#include "controller/model/model_metrics.h"

#include <string>

#include "common/metrics/metrics.h"
#include "controller/model/model_cache.h"
#include "gtest/gtest.h"

namespace lb::model {
namespace {

lb::v1::Change ClusterChange(const std::string& name, int64_t revision, int endpoints) {
  lb::v1::Change c;
  c.set_revision(revision);
  c.mutable_cluster()->set_name(name);
  for (int i = 0; i < endpoints; ++i) c.mutable_cluster()->add_endpoints()->set_port(1 + i);
  return c;
}

std::string Gauges(int clusters, int endpoints, int revision) {
  return "# HELP lb_controller_clusters Clusters in the model.\n"
         "# TYPE lb_controller_clusters gauge\n"
         "lb_controller_clusters " +
         std::to_string(clusters) +
         "\n"
         "# HELP lb_controller_endpoints Endpoints in the model, all clusters.\n"
         "# TYPE lb_controller_endpoints gauge\n"
         "lb_controller_endpoints " +
         std::to_string(endpoints) +
         "\n"
         "# HELP lb_controller_store_revision Latest store revision seen.\n"
         "# TYPE lb_controller_store_revision gauge\n"
         "lb_controller_store_revision " +
         std::to_string(revision) + "\n";
}

TEST(ModelMetricsTest, GaugesFollowTheModel) {
  metrics::Registry registry;
  ModelMetrics model_metrics(&registry);
  EXPECT_EQ(registry.Render(), Gauges(0, 0, 0));
  ModelCache cache;
  cache.AddObserver(&model_metrics);
  cache.Apply(ClusterChange("a", 2, 3));
  cache.Apply(ClusterChange("b", 3, 1));
  EXPECT_EQ(registry.Render(), Gauges(2, 4, 3));
  lb::v1::Change routes;
  routes.set_revision(4);
  routes.mutable_route_table()->add_routes()->set_name("r");
  cache.Apply(routes);
  EXPECT_EQ(registry.Render(), Gauges(2, 4, 4));
  lb::v1::Change deleted;
  deleted.set_revision(5);
  deleted.set_cluster_deleted("a");
  cache.Apply(deleted);
  EXPECT_EQ(registry.Render(), Gauges(1, 1, 5));
}

}  // namespace
}  // namespace lb::model
