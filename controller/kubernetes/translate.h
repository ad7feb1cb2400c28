// Translation of Kubernetes objects (Services, EndpointSlices, Ingresses, Secrets, Gateway API
// Gateways and HTTPRoutes) into the lb.v1 model: clusters with endpoints, routes and
// certificates, plus the status writes the objects need. docs/kubernetes.md has the mapping.
//
// PURE: no I/O, no threads, no clocks. The sync (controller/kubernetes/sync) lists and watches
// the objects, calls Translate on every change and applies the result.
#ifndef LB_CONTROLLER_KUBERNETES_TRANSLATE_H_
#define LB_CONTROLLER_KUBERNETES_TRANSLATE_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "proto/lb/v1/lb.pb.h"

namespace lb::kubernetes {

// The value of lb.v1 `owner` on everything Translate emits.
inline constexpr char kOwner[] = "kubernetes";

// The objects the sync has listed/watched, as the API server returned them (JSON), each map
// keyed by "NAMESPACE/NAME".
struct ObjectSnapshot {
  std::map<std::string, nlohmann::json> services, endpoint_slices, ingresses, secrets, gateways,
      http_routes;
  bool gateway_api_present = false;  // false when the Gateway API CRDs are absent (404 on list)
};

struct TranslateOptions {
  std::string ingress_class = "lb";                                   // --ingress_class
  std::string gateway_class = "lb";                                   // --gateway_class
  std::string gateway_controller_name = "lb.dev/gateway-controller";  // --gateway_controller_name
  std::vector<std::string> ingress_status_addresses;  // --ingress_status_address (IPs or hostnames)
  // RFC 3339 UTC time of this translation: the lastTransitionTime of status conditions that
  // change (unchanged ones keep theirs). Empty: "1970-01-01T00:00:00Z".
  std::string now;
};

// A status subresource write the sync must make (merge-patch body for .../status).
struct StatusWrite {
  std::string resource;  // "ingresses" or "httproutes"
  std::string ns, name;
  nlohmann::json patch;  // e.g. {"status":{"loadBalancer":{...}}}
};

struct DesiredState {
  std::vector<lb::v1::Cluster> clusters;  // name NAMESPACE.SERVICE.PORT, endpoints filled
  std::vector<lb::v1::Route> routes;      // names "k8s.<kind>.<ns>.<name>.<n>" (stable)
  std::vector<lb::v1::Certificate> certificates;
  std::vector<StatusWrite> status_writes;
  std::vector<std::string> warnings;  // human-readable, e.g. missing Service
};

// Deterministic: same snapshot + options -> identical output (sorted by name). Never fails:
// objects it cannot use are skipped with a warning (and a status write where the object has a
// status to say so).
DesiredState Translate(const ObjectSnapshot& objects, const TranslateOptions& options);

}  // namespace lb::kubernetes

#endif  // LB_CONTROLLER_KUBERNETES_TRANSLATE_H_
