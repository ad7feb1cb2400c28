#include "controller/model/model_cache.h"

#include <algorithm>
#include <utility>

namespace lb::model {

const lb::v1::Cluster* ModelState::FindCluster(const std::string& name) const {
  auto it = clusters.find(name);
  return it == clusters.end() ? nullptr : it->second.get();
}

std::shared_ptr<const ModelState> ModelState::Empty() {
  auto empty = std::make_shared<ModelState>();
  empty->routes = std::make_shared<const lb::v1::RouteTable>();
  return empty;
}

ModelCache::ModelCache() : state_(ModelState::Empty()) {}

void ModelCache::AddObserver(Observer* observer) {
  absl::MutexLock lock(&apply_mu_);
  observers_.push_back(observer);
}

void ModelCache::RemoveObserver(Observer* observer) {
  absl::MutexLock lock(&apply_mu_);
  observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
}

void ModelCache::Apply(const lb::v1::Change& change) {
  absl::MutexLock apply_lock(&apply_mu_);
  auto next = std::make_shared<ModelState>(*Current());
  auto remove = [&next](const std::string& name) {
    auto it = next->clusters.find(name);
    if (it == next->clusters.end()) return;
    next->endpoints -= it->second->endpoints_size();
    next->clusters.erase(it);
  };
  switch (change.kind_case()) {
    case lb::v1::Change::kCluster:
      remove(change.cluster().name());
      next->endpoints += change.cluster().endpoints_size();
      next->clusters[change.cluster().name()] =
          std::make_shared<const lb::v1::Cluster>(change.cluster());
      break;
    case lb::v1::Change::kClusterDeleted:
      remove(change.cluster_deleted());
      break;
    case lb::v1::Change::kRouteTable:
      next->routes = std::make_shared<const lb::v1::RouteTable>(change.route_table());
      break;
    case lb::v1::Change::kCertificate:
      next->certificates[change.certificate().name()] =
          std::make_shared<const lb::v1::Certificate>(change.certificate());
      break;
    case lb::v1::Change::kCertificateDeleted:
      next->certificates.erase(change.certificate_deleted());
      break;
    case lb::v1::Change::kSessionTicketKeys:
      next->ticket_keys =
          std::make_shared<const lb::v1::SessionTicketKeys>(change.session_ticket_keys());
      break;
    case lb::v1::Change::kInitialStateEnd:
      break;  // Its revision is the store's, past every key's if the latest commit deleted one.
    default:
      return;
  }
  next->revision = std::max(next->revision, change.revision());
  std::shared_ptr<const ModelState> published = std::move(next);
  {
    absl::MutexLock lock(&mu_);
    state_ = published;
  }
  for (Observer* o : observers_) o->OnModelChange(change, published);
}

std::shared_ptr<const ModelState> ModelCache::Current() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

}  // namespace lb::model
