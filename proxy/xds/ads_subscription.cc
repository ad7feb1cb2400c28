#include "proxy/xds/ads_subscription.h"

#include <utility>

#include "common/xds/type_urls.h"

namespace lb::proxy::xds {
namespace {

using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
using ::lb::xds::kIngressTlsListenerName;
using ::lb::xds::kListenerType;
using ::lb::xds::kRouteType;
using ::lb::xds::kSecretType;

constexpr int kInvalidArgument = 3;  // google.rpc.Code.

}  // namespace

AdsSubscription::AdsSubscription(AdsNode node, bool tls_listener)
    : node_(std::move(node)), tls_listener_(tls_listener) {}

std::vector<std::string> AdsSubscription::NamesOf(const std::string& type) const {
  if (type == kRouteType) return {kRouteConfigName};
  if (type == kEndpointType) return eds_names_;
  if (type == kListenerType) return {kIngressTlsListenerName};
  if (type == kSecretType) return sds_names_;
  return {};  // CDS: wildcard.
}

AdsSubscription::Request AdsSubscription::MakeRequest(const std::string& type,
                                                      const std::vector<std::string>& names,
                                                      const std::string* error) {
  Request request;
  if (!node_sent_) {
    auto* node = request.mutable_node();
    node->set_id(node_.id);
    node->mutable_locality()->set_zone(node_.zone);
    node->set_user_agent_name(node_.user_agent);
    node->set_user_agent_version(node_.user_agent_version);
    node_sent_ = true;
  }
  request.set_type_url(type);
  auto version = versions_.find(type);
  if (version != versions_.end()) request.set_version_info(version->second);
  for (const std::string& name : names) request.add_resource_names(name);
  auto nonce = nonces_.find(type);
  if (nonce != nonces_.end()) request.set_response_nonce(nonce->second);
  if (error != nullptr) {
    request.mutable_error_detail()->set_code(kInvalidArgument);
    request.mutable_error_detail()->set_message(*error);
  }
  return request;
}

std::vector<AdsSubscription::Request> AdsSubscription::StartStream() {
  nonces_.clear();
  node_sent_ = false;
  std::vector<Request> out;
  out.push_back(MakeRequest(kClusterType, NamesOf(kClusterType), nullptr));
  out.push_back(MakeRequest(kRouteType, NamesOf(kRouteType), nullptr));
  eds_names_ = builder_.ClusterNames();
  if (!eds_names_.empty()) out.push_back(MakeRequest(kEndpointType, eds_names_, nullptr));
  if (tls_listener_) out.push_back(MakeRequest(kListenerType, NamesOf(kListenerType), nullptr));
  sds_names_ = builder_.SecretNames();
  if (!sds_names_.empty()) out.push_back(MakeRequest(kSecretType, sds_names_, nullptr));
  return out;
}

void AdsSubscription::UpdateSecrets(std::vector<Request>* out) {
  std::vector<std::string> names = builder_.SecretNames();
  if (names == sds_names_) return;
  sds_names_ = std::move(names);
  out->push_back(MakeRequest(kSecretType, sds_names_, nullptr));
}

AdsSubscription::Outcome AdsSubscription::OnResponse(const Response& response) {
  Outcome outcome;
  const std::string& type = response.type_url();
  if (type != kClusterType && type != kEndpointType && type != kRouteType && type != kSecretType &&
      (type != kListenerType || !tls_listener_)) {
    outcome.ignored = true;
    return outcome;
  }
  nonces_[type] = response.nonce();
  absl::Status applied = builder_.ApplyResponse(response);
  if (applied.ok()) {
    outcome.accepted = true;
    versions_[type] = response.version_info();
    nacks_.erase(type);
    outcome.requests.push_back(MakeRequest(type, NamesOf(type), nullptr));
  } else {
    outcome.error = std::string(applied.message());
    nacks_[type] = outcome.error;
    outcome.requests.push_back(MakeRequest(type, NamesOf(type), &outcome.error));
  }
  if (type == kClusterType) {
    std::vector<std::string> names = builder_.ClusterNames();
    if (names != eds_names_) {
      eds_names_ = std::move(names);
      outcome.requests.push_back(MakeRequest(kEndpointType, eds_names_, nullptr));
    }
  }
  if (type == kClusterType || type == kListenerType) UpdateSecrets(&outcome.requests);
  return outcome;
}

}  // namespace lb::proxy::xds
