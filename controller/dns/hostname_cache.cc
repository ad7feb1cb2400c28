#include "controller/dns/hostname_cache.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <deque>
#include <memory>

#include "absl/strings/str_cat.h"
#include "controller/limits/limit_metrics.h"
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

// Runs Resolve calls on a fixed number of threads. A round (ResolveAll) queues its names and
// waits for their answers until its deadline; whatever is unanswered then is given up: queued
// names are dropped, running calls finish in the background and their answers are discarded.
// A name whose call is still running is not queued again, so a resolver that hangs ties up at
// most one thread per name, never more than `parallelism` in all.
class HostnameCache::Pool {
 public:
  using Answer = absl::StatusOr<std::vector<std::string>>;

  Pool(Resolver* resolver, int parallelism) : resolver_(resolver) {
    for (int i = 0; i < std::max(parallelism, 1); ++i) {
      threads_.emplace_back([this] { Run(); });
    }
  }
  // Waits for the calls in progress.
  ~Pool() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }

  // One answer per name (names unique): the resolver's, or kDeadlineExceeded if none came by
  // `deadline` on `clock`, or kUnavailable if an earlier call for it is still running.
  std::vector<Answer> ResolveAll(const std::vector<std::string>& names, Clock* clock,
                                 absl::Time deadline) {
    auto round = std::make_shared<Round>();
    absl::MutexLock lock(&mu_);
    round->answers.reserve(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      if (running_.contains(names[i])) {
        round->answers.push_back(absl::UnavailableError(
            absl::StrCat("cannot resolve \"", names[i], "\": an earlier lookup still runs")));
        continue;
      }
      // Replaced by the answer, if it comes in time.
      round->answers.push_back(absl::DeadlineExceededError(
          absl::StrCat("cannot resolve \"", names[i], "\": no answer in time")));
      queue_.push_back(Item{round, i, names[i]});
      ++round->pending;
    }
    auto answered = [&round]() { return round->pending == 0; };
    clock->AwaitWithDeadline(&mu_, absl::Condition(&answered), deadline);
    round->abandoned = true;
    std::deque<Item> kept;
    for (Item& item : queue_) {
      if (item.round != round) kept.push_back(std::move(item));
    }
    queue_.swap(kept);
    return std::move(round->answers);
  }

 private:
  // Guarded by the pool's mu_ (a round lives on in running items after ResolveAll returns).
  struct Round {
    std::vector<Answer> answers;
    size_t pending = 0;
    bool abandoned = false;
  };
  struct Item {
    std::shared_ptr<Round> round;
    size_t index;
    std::string name;
  };

  void Run() {
    while (true) {
      Item item;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
        mu_.Await(absl::Condition(&ready));
        if (stop_) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        running_.insert(item.name);
      }
      Answer answer = resolver_->Resolve(item.name);
      absl::MutexLock lock(&mu_);
      running_.erase(item.name);
      if (item.round->abandoned) continue;
      item.round->answers[item.index] = std::move(answer);
      --item.round->pending;
    }
  }

  Resolver* const resolver_;
  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> running_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

HostnameCache::HostnameCache(Resolver* resolver, absl::Duration refresh_interval, Clock* clock,
                             Limits limits, metrics::Registry* metrics)
    : interval_(refresh_interval),
      clock_(clock),
      limits_(limits),
      timeouts_(metrics ? limits::ExceededCounter(metrics, "dns_timeout") : nullptr),
      truncated_(metrics ? limits::ExceededCounter(metrics, "dns_max_addresses_per_host")
                         : nullptr),
      pool_(std::make_unique<Pool>(resolver, limits.parallelism)) {}

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

absl::flat_hash_set<std::string> HostnamesOf(const model::ModelState& state) {
  absl::flat_hash_set<std::string> hosts;
  for (const auto& [name, cluster] : state.clusters) {
    for (const auto& e : cluster->endpoints()) {
      if (!model::IsIpLiteral(e.address())) hosts.insert(e.address());
    }
  }
  return hosts;
}

bool MayChangeHostnames(const lb::v1::Change& change) {
  switch (change.kind_case()) {
    case lb::v1::Change::kRouteTable:
    case lb::v1::Change::kCertificate:
    case lb::v1::Change::kCertificateDeleted:
    case lb::v1::Change::kSessionTicketKeys:
      return false;  // No endpoints in them.
    default:
      return true;
  }
}

void HostnameCache::OnModelChange(const lb::v1::Change& change,
                                  const std::shared_ptr<const model::ModelState>& state) {
  if (MayChangeHostnames(change)) SetHostnames(HostnamesOf(*state));
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
  if (names.empty()) return false;
  std::vector<Pool::Answer> answers =
      // Real time, whatever clock_ is: the timeout bounds real blocking calls (getaddrinfo), which
      // simulated time does not make any faster.
      pool_->ResolveAll(names, Clock::Real(), Clock::Real()->Now() + limits_.timeout);
  bool changed = false;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    Pool::Answer& addrs = answers[i];
    if (!addrs.ok()) {
      if (addrs.status().code() == absl::StatusCode::kDeadlineExceeded && timeouts_ != nullptr) {
        timeouts_->Increment();
      }
      spdlog::warn("dns: {} (keeping the last good addresses)",
                   std::string(addrs.status().message()));
      continue;
    }
    if (addrs->size() > limits_.max_addresses_per_host) {
      spdlog::warn("dns: \"{}\" has {} addresses; keeping the first {}", name, addrs->size(),
                   limits_.max_addresses_per_host);
      addrs->resize(limits_.max_addresses_per_host);
      if (truncated_ != nullptr) truncated_->Increment();
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
