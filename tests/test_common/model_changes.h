// Test helpers: lb.v1.Change messages as Registry::Watch delivers them, for tests of the model
// cache and its observers.
#ifndef LB_TESTS_TEST_COMMON_MODEL_CHANGES_H_
#define LB_TESTS_TEST_COMMON_MODEL_CHANGES_H_

#include <cstdint>
#include <string>

#include "lb/v1/lb.pb.h"

namespace lb::testing {

// Cluster `name` at version `revision` with `endpoints` endpoints (10.0.0.<i % 250>:1000+i).
inline lb::v1::Change ClusterChange(const std::string& name, int64_t revision, int endpoints = 0) {
  lb::v1::Change c;
  c.set_revision(revision);
  c.mutable_cluster()->set_name(name);
  c.mutable_cluster()->set_version(revision);
  for (int i = 0; i < endpoints; ++i) {
    lb::v1::Endpoint* e = c.mutable_cluster()->add_endpoints();
    e->set_address("10.0.0." + std::to_string(i % 250));
    e->set_port(1000 + i);
  }
  return c;
}

inline lb::v1::Change DeleteChange(const std::string& name, int64_t revision) {
  lb::v1::Change c;
  c.set_revision(revision);
  c.set_cluster_deleted(name);
  return c;
}

// An empty route table at version `revision`.
inline lb::v1::Change RoutesChange(int64_t revision) {
  lb::v1::Change c;
  c.set_revision(revision);
  c.mutable_route_table()->set_version(revision);
  return c;
}

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_MODEL_CHANGES_H_
