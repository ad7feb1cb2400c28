#include "controller/dns/hostname_cache.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "controller/model/validation.h"

namespace lb::dns {
namespace {

class SystemResolver : public Resolver {
 public:
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& host) override {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
    if (rc != 0) {
      std::string msg = absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc));
      return rc == EAI_NONAME ? absl::NotFoundError(msg) : absl::UnavailableError(msg);
    }
    std::vector<std::string> out;
    for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
      char text[INET6_ADDRSTRLEN];
      const void* addr =
          ai->ai_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
      if (inet_ntop(ai->ai_family, addr, text, sizeof(text)) != nullptr) out.emplace_back(text);
    }
    freeaddrinfo(result);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
};

}  // namespace

std::unique_ptr<Resolver> NewSystemResolver() { return std::make_unique<SystemResolver>(); }

HostnameCache::HostnameCache(Resolver* resolver, absl::Duration refresh_interval, Clock* clock)
    : resolver_(resolver), interval_(refresh_interval), clock_(clock) {}

HostnameCache::~HostnameCache() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void HostnameCache::Start() {
  thread_ = std::thread([this] {
    absl::Time next_full = clock_->Now() + interval_;
    while (true) {
      std::vector<std::string> names;
      {
        absl::MutexLock lock(&mu_);
        auto wake = [this]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !pending_.empty(); };
        clock_->AwaitWithDeadline(&mu_, absl::Condition(&wake), next_full);
        if (stop_) return;
        if (absl::Time now = clock_->Now(); now >= next_full) {
          names.assign(names_.begin(), names_.end());
          next_full = now + interval_;
        } else {
          names.assign(pending_.begin(), pending_.end());
        }
        pending_.clear();
      }
      if (Refresh(names)) {
        std::function<void()> cb;
        {
          absl::MutexLock lock(&mu_);
          cb = on_change_;
        }
        if (cb) cb();
      }
    }
  });
}

void HostnameCache::SetHostnames(absl::flat_hash_set<std::string> hostnames) {
  absl::MutexLock lock(&mu_);
  for (const auto& h : hostnames) {
    if (!names_.contains(h)) pending_.insert(h);
  }
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    if (!hostnames.contains(it->first)) {
      addresses_.erase(it++);
    } else {
      ++it;
    }
  }
  names_ = std::move(hostnames);
}

void HostnameCache::OnModelChange(const lb::v1::Change& change,
                                  const std::shared_ptr<const model::ModelState>& state) {
  if (change.kind_case() == lb::v1::Change::kRouteTable) return;
  absl::flat_hash_set<std::string> hosts;
  for (const auto& [name, cluster] : state->clusters) {
    for (const auto& e : cluster->endpoints()) {
      if (!model::IsIpLiteral(e.address())) hosts.insert(e.address());
    }
  }
  SetHostnames(std::move(hosts));
}

void HostnameCache::SetOnChange(std::function<void()> on_change) {
  absl::MutexLock lock(&mu_);
  on_change_ = std::move(on_change);
}

std::vector<std::string> HostnameCache::Lookup(const std::string& host) const {
  absl::MutexLock lock(&mu_);
  auto it = addresses_.find(host);
  return it == addresses_.end() ? std::vector<std::string>() : it->second;
}

void HostnameCache::RefreshNow() {
  std::vector<std::string> names;
  {
    absl::MutexLock lock(&mu_);
    names.assign(names_.begin(), names_.end());
    pending_.clear();
  }
  Refresh(names);
}

bool HostnameCache::Refresh(const std::vector<std::string>& names) {
  bool changed = false;
  for (const auto& name : names) {
    absl::StatusOr<std::vector<std::string>> addrs = resolver_->Resolve(name);
    if (!addrs.ok()) {
      spdlog::warn("dns: {} (keeping the last good addresses)",
                   std::string(addrs.status().message()));
      continue;
    }
    absl::MutexLock lock(&mu_);
    if (!names_.contains(name)) continue;
    auto& slot = addresses_[name];
    if (slot != *addrs) {
      slot = std::move(*addrs);
      changed = true;
    }
  }
  return changed;
}

}  // namespace lb::dns
