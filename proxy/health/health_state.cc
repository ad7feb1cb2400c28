#include "proxy/health/health_state.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace lb::proxy::health {

// ---------------------------------------------------------------------------------------------
// ActiveHealthState

ActiveHealthState::ActiveHealthState(uint32_t healthy_threshold, uint32_t unhealthy_threshold) {
  SetThresholds(healthy_threshold, unhealthy_threshold);
}

void ActiveHealthState::SetThresholds(uint32_t healthy_threshold, uint32_t unhealthy_threshold) {
  healthy_threshold_ = std::max<uint32_t>(1, healthy_threshold);
  unhealthy_threshold_ = std::max<uint32_t>(1, unhealthy_threshold);
}

bool ActiveHealthState::Record(bool success) {
  const bool was_healthy = healthy();
  if (success) {
    failures_ = 0;
    ++successes_;
    if (status_ == ActiveStatus::kUnknown ||
        (status_ == ActiveStatus::kUnhealthy && successes_ >= healthy_threshold_)) {
      status_ = ActiveStatus::kHealthy;
    }
  } else {
    successes_ = 0;
    ++failures_;
    // An unknown host has never proven itself: its first failure takes it out (see header).
    if (status_ == ActiveStatus::kUnknown ||
        (status_ == ActiveStatus::kHealthy && failures_ >= unhealthy_threshold_)) {
      status_ = ActiveStatus::kUnhealthy;
    }
  }
  return healthy() != was_healthy;
}

// ---------------------------------------------------------------------------------------------
// OutlierDetector

OutlierDetector::OutlierDetector(const OutlierConfig& config,
                                 const std::vector<std::string>& host_keys, Options options)
    : config_(config), options_(options) {
  Update(host_keys);
}

void OutlierDetector::SetConfig(const OutlierConfig& config) { config_ = config; }

void OutlierDetector::Update(const std::vector<std::string>& host_keys) {
  absl::flat_hash_set<absl::string_view> wanted(host_keys.begin(), host_keys.end());
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second.info.ejected) --ejected_;
    hosts_.erase(it++);
  }
  for (const std::string& key : host_keys) hosts_.try_emplace(key);
}

absl::Duration OutlierDetector::MaxEjectionTime() const {
  return std::max(options_.max_ejection_time, config_.base_ejection_time);
}

bool OutlierDetector::Report(absl::string_view host_key, Result result, absl::Time now) {
  auto it = hosts_.find(host_key);
  if (it == hosts_.end()) return false;
  Host& host = it->second;
  HostInfo& info = host.info;
  if (info.ejected) return false;

  Trigger trip = Trigger::kNone;
  switch (result) {
    case Result::kSuccess:
      info.consecutive_5xx = 0;
      info.consecutive_gateway_failure = 0;
      return false;
    case Result::k5xx:
      info.consecutive_gateway_failure = 0;
      break;
    case Result::kGatewayFailure:
      ++info.consecutive_gateway_failure;
      if (config_.consecutive_gateway_failure != 0 &&
          info.consecutive_gateway_failure >= config_.consecutive_gateway_failure) {
        info.consecutive_gateway_failure = 0;
        trip = Trigger::kConsecutiveGatewayFailure;
      }
      break;
  }
  // Every 5xx-class result (gateway failures included) counts towards consecutive_5xx.
  ++info.consecutive_5xx;
  if (config_.consecutive_5xx != 0 && info.consecutive_5xx >= config_.consecutive_5xx) {
    info.consecutive_5xx = 0;
    if (trip == Trigger::kNone) trip = Trigger::kConsecutive5xx;
  }
  if (trip == Trigger::kNone || !MaybeEject(host, now)) return false;
  info.last_trigger = trip;
  return true;
}

bool OutlierDetector::MaybeEject(Host& host, absl::Time now) {
  const uint64_t max_percent = std::min<uint32_t>(100, config_.max_ejection_percent);
  // Envoy: eject only if the ejected share after this ejection stays within the maximum.
  if ((ejected_ + 1) * 100 > max_percent * hosts_.size()) {
    ++overflow_;
    return false;
  }
  HostInfo& info = host.info;
  const absl::Duration base = config_.base_ejection_time;
  const absl::Duration max = MaxEjectionTime();
  // Grow the multiplier only while it still lengthens the ejection, so that it decays back
  // from the cap in a bounded number of intervals.
  if (info.multiplier == 0 || base * info.multiplier < max) ++info.multiplier;
  info.ejected = true;
  info.ejected_until = now + std::min(base * info.multiplier, max);
  info.consecutive_5xx = 0;
  info.consecutive_gateway_failure = 0;
  ++ejected_;
  ++total_ejections_;
  return true;
}

std::vector<std::string> OutlierDetector::Tick(absl::Time now) {
  std::vector<std::string> unejected;
  for (auto& [key, host] : hosts_) {
    HostInfo& info = host.info;
    if (info.ejected) {
      if (now < info.ejected_until) continue;
      info.ejected = false;
      --ejected_;
      // The host's healthy period, which decays its multiplier, starts now.
      host.decay_since = now;
      unejected.push_back(key);
      continue;
    }
    if (info.multiplier == 0) continue;
    if (config_.interval <= absl::ZeroDuration()) {
      info.multiplier = 0;
      continue;
    }
    absl::Duration rem;  // This Abseil's IDivDuration requires it.
    const int64_t periods = absl::IDivDuration(now - host.decay_since, config_.interval, &rem);
    if (periods <= 0) continue;
    if (periods >= info.multiplier) {
      info.multiplier = 0;
    } else {
      info.multiplier -= static_cast<uint32_t>(periods);
      host.decay_since += config_.interval * periods;
    }
  }
  return unejected;
}

bool OutlierDetector::IsEjected(absl::string_view host_key) const {
  auto it = hosts_.find(host_key);
  return it != hosts_.end() && it->second.info.ejected;
}

const OutlierDetector::HostInfo* OutlierDetector::Info(absl::string_view host_key) const {
  auto it = hosts_.find(host_key);
  return it == hosts_.end() ? nullptr : &it->second.info;
}

// ---------------------------------------------------------------------------------------------
// EligibleHosts

Eligibility EligibleHosts(const std::vector<HostHealth>& hosts, uint32_t healthy_panic_threshold) {
  Eligibility out;
  uint64_t total_weight = 0;
  uint64_t healthy_weight = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    const HostHealth& h = hosts[i];
    if (h.draining || h.weight == 0) continue;
    total_weight += h.weight;
    if (h.active_healthy && !h.ejected) {
      healthy_weight += h.weight;
      out.hosts.push_back(i);
    }
  }
  const uint64_t threshold = std::min<uint32_t>(100, healthy_panic_threshold);
  // healthy/total < threshold%, in integers.
  if (total_weight > 0 && healthy_weight * 100 < threshold * total_weight) {
    out.panic = true;
    out.hosts.clear();
    for (size_t i = 0; i < hosts.size(); ++i) {
      if (!hosts[i].draining && hosts[i].weight > 0) out.hosts.push_back(i);
    }
  }
  return out;
}

}  // namespace lb::proxy::health
