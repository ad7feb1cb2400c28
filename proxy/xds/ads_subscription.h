// The proxy's side of the ADS protocol (state of the world), with no gRPC, no threads and no
// clock: it decides which DiscoveryRequests go out for each stream start and each response,
// and feeds accepted resources to a ConfigBuilder.
//
//  - Subscriptions: CDS as a wildcard (empty name list), EDS for every accepted cluster (sent
//    again whenever that set changes), RDS "default"; with a TLS listener, LDS
//    kIngressTlsListenerName; SDS for every Secret the listener and clusters reference (sent
//    again whenever that set changes, like EDS). The node goes on the first request of a
//    stream only.
//  - A valid response is ACKed with its version_info and nonce. An invalid one is NACKed:
//    version_info is the last accepted version of that type, response_nonce the response's,
//    error_detail {code: INVALID_ARGUMENT, message: the builder's complete error text}. The
//    valid resources of a NACKed response still take effect (gRFC A46).
//  - A new stream re-sends every subscription with the versions held; the built config is kept,
//    so a controller outage never empties it. Nonces are per stream.
//  - Responses of types never subscribed to are ignored (no ACK, no NACK).
//
// Not thread-safe: one owner (the ADS client's thread).
#ifndef LB_PROXY_XDS_ADS_SUBSCRIPTION_H_
#define LB_PROXY_XDS_ADS_SUBSCRIPTION_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "proxy/config/config.h"
#include "proxy/xds/config_builder.h"

namespace lb::proxy::xds {

struct AdsNode {
  std::string id;
  std::string zone;
  std::string user_agent = "lb-proxy";
  std::string user_agent_version = "1";
};

class AdsSubscription {
 public:
  using Request = envoy::service::discovery::v3::DiscoveryRequest;
  using Response = envoy::service::discovery::v3::DiscoveryResponse;

  // `tls_listener`: subscribe to the TLS listener (the proxy has --tls_listen).
  explicit AdsSubscription(AdsNode node, bool tls_listener = false);

  // A new stream begins: the subscriptions to send first, in order (CDS, RDS, then EDS if any
  // cluster is known).
  std::vector<Request> StartStream();

  struct Outcome {
    bool ignored = false;           // Not a subscribed type: nothing to send.
    bool accepted = false;          // ACK (else NACK, unless ignored).
    std::string error;              // The NACK's error text.
    std::vector<Request> requests;  // To send, in order: the ACK/NACK, then any EDS change.
  };
  Outcome OnResponse(const Response& response);

  // The configuration of everything accepted so far. Same pointer while unchanged.
  std::shared_ptr<const ProxyConfig> Build() { return builder_.Build(); }
  // Type URL -> last accepted version_info.
  const std::map<std::string, std::string>& versions() const { return versions_; }
  // Type URL -> error of its last response, for types whose last response was NACKed.
  const std::map<std::string, std::string>& nacks() const { return nacks_; }
  std::vector<std::string> WarmingClusters() const { return builder_.WarmingClusters(); }
  std::vector<std::string> Warnings() const { return builder_.Warnings(); }

 private:
  Request MakeRequest(const std::string& type, const std::vector<std::string>& names,
                      const std::string* error);
  std::vector<std::string> NamesOf(const std::string& type) const;

  // Sends the SDS subscription if its names changed.
  void UpdateSecrets(std::vector<Request>* out);

  const AdsNode node_;
  const bool tls_listener_;
  std::vector<std::string> sds_names_;  // The SDS subscription last sent.
  ConfigBuilder builder_;
  std::map<std::string, std::string> versions_;
  std::map<std::string, std::string> nacks_;
  std::vector<std::string> eds_names_;         // The EDS subscription last sent.
  std::map<std::string, std::string> nonces_;  // Of the current stream.
  bool node_sent_ = false;                     // On the current stream.
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_ADS_SUBSCRIPTION_H_
