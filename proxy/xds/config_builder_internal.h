// Shared by the files of ConfigBuilder (config_builder*.cc), one per resource type: helpers for
// error texts and the equality of the config types. Not for use outside proxy/xds.
#ifndef LB_PROXY_XDS_CONFIG_BUILDER_INTERNAL_H_
#define LB_PROXY_XDS_CONFIG_BUILDER_INTERNAL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/validation/validation_errors.h"
#include "envoy/config/core/v3/base.pb.h"
#include "proxy/config/config.h"

namespace lb::proxy::xds::internal {

// `s` in double quotes, C-escaped: "\"a\\x01\"".
std::string Quote(absl::string_view s);

// `Cluster "web"`, or `Cluster at resources[3]` for one without a name: how an error names the
// resource at `index` of a response.
std::string Label(absl::string_view kind, absl::string_view name, int index);

// 0, 1, ..., n-1: the response indexes of resources given directly (not in a response).
std::vector<int> Iota(size_t n);

// True if `s` has no space, control character or DEL (a path as the proxy forwards it).
bool IsCleanPath(absl::string_view s);

// Cluster.transport_socket -> upstream TLS (`errors` at the transport_socket's path). A client
// certificate is only named (client_certificate->name; PEM fields empty).
std::shared_ptr<const UpstreamTlsConfig> MapUpstreamTls(
    const envoy::config::core::v3::TransportSocket& socket, ValidationErrors* errors);

// Equality of the config types (config.h defines no operators).
bool Same(const EndpointConfig& a, const EndpointConfig& b);
bool Same(const HeaderMatcherConfig& a, const HeaderMatcherConfig& b);
bool Same(const WeightedClusterConfig& a, const WeightedClusterConfig& b);
bool Same(const HeaderChangeConfig& a, const HeaderChangeConfig& b);
bool Same(const RouteConfig& a, const RouteConfig& b);
bool Same(const VirtualHostConfig& a, const VirtualHostConfig& b);
bool Same(const ClusterConfig& a, const ClusterConfig& b);
bool Same(const ProxyConfig& a, const ProxyConfig& b);
bool Same(const TlsCertificateConfig& a, const TlsCertificateConfig& b);
bool Same(const std::shared_ptr<const UpstreamTlsConfig>& a,
          const std::shared_ptr<const UpstreamTlsConfig>& b);
bool Same(const std::shared_ptr<const TlsListenerConfig>& a,
          const std::shared_ptr<const TlsListenerConfig>& b);
// Settings only: versions and endpoints are not compared.
bool SameSettings(const ClusterConfig& a, const ClusterConfig& b);

template <typename T>
bool SameList(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!Same(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace lb::proxy::xds::internal

#endif  // LB_PROXY_XDS_CONFIG_BUILDER_INTERNAL_H_
