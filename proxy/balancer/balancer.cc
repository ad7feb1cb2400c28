#include "proxy/balancer/balancer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <queue>
#include <utility>

namespace lb::proxy::balancer {
namespace {

// A retry walks at most this many further schedule / ring / table entries (or redraws this many
// times) before falling back to a scan of the candidate list, so a pick stays O(1) even when the
// tried hosts own long stretches of the structure.
constexpr size_t kMaxWalk = 64;
constexpr int kMaxRedraws = 8;
// Weighted round robin keeps one full cycle (sum of weights / gcd entries) up to this length;
// heavier weight sets are scaled down to fit, which makes proportions approximate.
constexpr uint64_t kMaxRoundRobinSchedule = uint64_t{1} << 18;
constexpr uint32_t kEmptySlot = UINT32_MAX;

// ---- XXH64 ---------------------------------------------------------------------------------
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kP5 = 0x27D4EB2F165667C5ULL;

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Little-endian loads regardless of the host's byte order (compiles to a plain load on x86).
inline uint64_t Load64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint32_t Load32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

inline uint64_t XxRound(uint64_t acc, uint64_t input) {
  acc += input * kP2;
  acc = Rotl(acc, 31);
  return acc * kP1;
}

inline uint64_t XxMerge(uint64_t acc, uint64_t val) {
  acc ^= XxRound(0, val);
  return acc * kP1 + kP4;
}

uint64_t Xxh64(absl::string_view data, uint64_t seed) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const unsigned char* const end = p + data.size();
  uint64_t h;
  if (data.size() >= 32) {
    uint64_t v1 = seed + kP1 + kP2, v2 = seed + kP2, v3 = seed, v4 = seed - kP1;
    const unsigned char* const limit = end - 32;
    do {
      v1 = XxRound(v1, Load64(p));
      v2 = XxRound(v2, Load64(p + 8));
      v3 = XxRound(v3, Load64(p + 16));
      v4 = XxRound(v4, Load64(p + 24));
      p += 32;
    } while (p <= limit);
    h = Rotl(v1, 1) + Rotl(v2, 7) + Rotl(v3, 12) + Rotl(v4, 18);
    h = XxMerge(h, v1);
    h = XxMerge(h, v2);
    h = XxMerge(h, v3);
    h = XxMerge(h, v4);
  } else {
    h = seed + kP5;
  }
  h += data.size();
  for (; p + 8 <= end; p += 8) {
    h ^= XxRound(0, Load64(p));
    h = Rotl(h, 27) * kP1 + kP4;
  }
  if (p + 4 <= end) {
    h ^= uint64_t{Load32(p)} * kP1;
    h = Rotl(h, 23) * kP2 + kP3;
    p += 4;
  }
  for (; p < end; ++p) {
    h ^= *p * kP5;
    h = Rotl(h, 11) * kP1;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

// ---- helpers -------------------------------------------------------------------------------

// Maps 32 random bits onto [0, n) without division (Lemire's multiply-shift; bias < n / 2^32).
inline size_t Range(uint64_t random, size_t n) {
  return static_cast<size_t>(((random >> 32) * static_cast<uint64_t>(n)) >> 32);
}

inline bool IsTried(const Picker::Input& in, uint32_t host) {
  for (size_t i = 0; i < in.tried_count; ++i) {
    if (in.tried[i] == host) return true;
  }
  return false;
}

inline uint64_t Active(const Picker::Input& in, uint32_t host) {
  return in.active_requests == nullptr ? 0 : in.active_requests(in.active_context, host);
}

// First ring point >= hash (branch-free binary search), or 0 when hash is past the last point.
inline size_t RingLowerBound(const std::vector<uint64_t>& ring, uint64_t hash) {
  const uint64_t* base = ring.data();
  size_t len = ring.size();
  while (len > 1) {
    const size_t half = len / 2;
    base = base[half] < hash ? base + half : base;
    len -= half;
  }
  size_t index = static_cast<size_t>(base - ring.data()) + (*base < hash ? 1 : 0);
  return index == ring.size() ? 0 : index;
}

bool IsPrime(uint64_t m) {
  if (m < 2) return false;
  for (uint64_t d = 2; d * d <= m; ++d) {
    if (m % d == 0) return false;
  }
  return true;
}

bool IsHashPolicy(LbPolicy policy) {
  return policy == LbPolicy::kRingHash || policy == LbPolicy::kMaglev;
}

}  // namespace

uint64_t HashKey(absl::string_view key) { return Xxh64(key, 0); }

// ---- WorkerState ---------------------------------------------------------------------------

Picker::WorkerState::WorkerState(uint64_t seed) : rr_cursor(0), rng(seed) {
  // Scramble so that consecutive seeds give unrelated streams and round-robin starting points.
  rng = NextRandom();
  rr_cursor = NextRandom();
}

uint64_t Picker::WorkerState::NextRandom() {  // SplitMix64: 2^64 period, a few cycles per call.
  uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// ---- Construction --------------------------------------------------------------------------

std::shared_ptr<const Picker> Picker::Create(LbPolicy policy, std::vector<Candidate> candidates,
                                             const std::vector<std::string>& host_keys,
                                             const PickerOptions& options) {
  std::shared_ptr<Picker> picker(new Picker(policy));

  // Canonical candidate set: by host index, duplicates merged, zero weights dropped.
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.host < b.host; });
  std::vector<Candidate> merged;
  merged.reserve(candidates.size());
  for (const Candidate& c : candidates) {
    if (!merged.empty() && merged.back().host == c.host) {
      uint64_t sum = uint64_t{merged.back().weight} + c.weight;
      merged.back().weight = static_cast<uint32_t>(std::min<uint64_t>(sum, UINT32_MAX));
    } else {
      merged.push_back(c);
    }
  }
  merged.erase(std::remove_if(merged.begin(), merged.end(),
                              [](const Candidate& c) { return c.weight == 0; }),
               merged.end());

  std::vector<std::string> keys;
  if (IsHashPolicy(policy)) {
    // Hash policies order candidates by key so that the result does not depend on host
    // indices or on the order the caller listed them in.
    keys.reserve(merged.size());
    for (const Candidate& c : merged) {
      keys.push_back(c.host < host_keys.size() ? host_keys[c.host] : "#" + std::to_string(c.host));
    }
    std::vector<size_t> order(merged.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return keys[a] != keys[b] ? keys[a] < keys[b] : merged[a].host < merged[b].host;
    });
    std::vector<Candidate> sorted_candidates;
    std::vector<std::string> sorted_keys;
    sorted_candidates.reserve(order.size());
    sorted_keys.reserve(order.size());
    for (size_t i : order) {
      sorted_candidates.push_back(merged[i]);
      sorted_keys.push_back(std::move(keys[i]));
    }
    merged = std::move(sorted_candidates);
    keys = std::move(sorted_keys);
  }

  picker->hosts_.reserve(merged.size());
  picker->weights_.reserve(merged.size());
  for (const Candidate& c : merged) {
    picker->hosts_.push_back(c.host);
    picker->weights_.push_back(c.weight);
    picker->weighted_ |= c.weight != merged.front().weight;
  }
  if (picker->hosts_.size() < 2) return picker;  // Pick() needs no tables.

  switch (policy) {
    case LbPolicy::kRandom:
    case LbPolicy::kLeastRequest:
      if (picker->weighted_) picker->BuildAlias();
      break;
    case LbPolicy::kRoundRobin:
      if (picker->weighted_) picker->BuildRoundRobin();
      break;
    case LbPolicy::kRingHash:
      picker->BuildRing(keys, options);
      break;
    case LbPolicy::kMaglev:
      picker->BuildMaglev(keys, options);
      break;
  }
  return picker;
}

size_t Picker::table_size() const {
  switch (policy_) {
    case LbPolicy::kRoundRobin:
      return rr_schedule_.size();
    case LbPolicy::kRingHash:
      return ring_hashes_.size();
    case LbPolicy::kMaglev:
      return maglev_.size();
    default:
      return 0;
  }
}

// Vose's alias method: one random number picks a bucket and a coin decides bucket or alias.
void Picker::BuildAlias() {
  const size_t n = hosts_.size();
  const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  std::vector<double> scaled(n);
  std::vector<uint32_t> small, large;
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = weights_[i] * static_cast<double>(n) / total;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
  }
  alias_.resize(n);
  while (!small.empty() && !large.empty()) {
    uint32_t s = small.back(), l = large.back();
    small.pop_back();
    large.pop_back();
    const double threshold = std::clamp(scaled[s] * 4294967296.0, 0.0, 4294967295.0);
    alias_[s] = {static_cast<uint32_t>(threshold), l};
    scaled[l] -= 1.0 - scaled[s];
    (scaled[l] < 1.0 ? small : large).push_back(l);
  }
  // Leftovers are full buckets (up to rounding).
  for (uint32_t i : small) alias_[i] = {UINT32_MAX, i};
  for (uint32_t i : large) alias_[i] = {UINT32_MAX, i};
}

// One full cycle of weighted round robin, precomputed so a pick is one array read. The order is
// earliest-deadline-first where host i's k-th turn (k = 1..w_i) is due at (k - phase_i) / w_i:
// every host appears exactly w_i times per cycle, evenly spread, and the per-host phases keep
// hosts of equal weight from being scheduled back to back (so the cycle also wraps smoothly).
void Picker::BuildRoundRobin() {
  const size_t n = hosts_.size();
  std::vector<uint64_t> w(weights_.begin(), weights_.end());
  uint64_t g = 0;
  for (uint64_t x : w) g = std::gcd(g, x);
  uint64_t total = 0;
  for (uint64_t& x : w) total += (x /= g);
  if (total > kMaxRoundRobinSchedule) {
    uint64_t scaled_total = 0;
    for (uint64_t& x : w)
      scaled_total += (x = std::max<uint64_t>(1, x * kMaxRoundRobinSchedule / total));
    total = scaled_total;
  }

  struct Turn {
    double deadline;
    uint32_t index;  // Candidate index.
    uint32_t k;      // 1-based turn number.
  };
  auto later = [](const Turn& a, const Turn& b) {
    return a.deadline != b.deadline ? a.deadline > b.deadline : a.index > b.index;
  };
  auto deadline = [&](uint32_t i, uint32_t k) {
    const double phase = (i + 0.5) / static_cast<double>(n);
    return (k - phase) / static_cast<double>(w[i]);
  };
  std::vector<Turn> heap;
  heap.reserve(n);
  for (uint32_t i = 0; i < n; ++i) heap.push_back({deadline(i, 1), i, 1});
  std::make_heap(heap.begin(), heap.end(), later);
  rr_schedule_.reserve(total);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Turn& t = heap.back();
    rr_schedule_.push_back(hosts_[t.index]);
    if (t.k < w[t.index]) {
      ++t.k;
      t.deadline = deadline(t.index, t.k);
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      heap.pop_back();
    }
  }
}

// Ring hash as in Envoy (points are XXH64 of "<key>_<replica>"), except that every host gets
// weight * 2^e points for one power of two 2^e chosen so the ring has at least min_ring_size
// points. Envoy instead scales to hit the minimum exactly, which changes every host's point count
// whenever any host comes or goes and so remaps far more than the departed host's share; with a
// power of two the count only changes when the total weight crosses a factor of two.
void Picker::BuildRing(const std::vector<std::string>& keys, const PickerOptions& options) {
  const size_t n = hosts_.size();
  const uint64_t min_ring = std::max<size_t>(1, options.min_ring_size);
  const uint64_t max_ring = std::max<uint64_t>(min_ring, options.max_ring_size);
  uint64_t total = 0;
  for (uint32_t w : weights_) total += w;
  uint64_t multiplier = 1;
  int shift = 0;
  while (total * multiplier < min_ring && total * multiplier * 2 <= max_ring) multiplier *= 2;
  while ((total >> shift) > max_ring) ++shift;

  struct Point {
    uint64_t hash;
    uint32_t index;  // Candidate index; breaks (unlikely) hash ties by key order.
  };
  std::vector<Point> points;
  std::vector<uint64_t> replicas(n);
  uint64_t ring_size = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t w = weights_[i];
    replicas[i] = shift == 0 ? w * multiplier
                             : std::max<uint64_t>(1, (w + (uint64_t{1} << (shift - 1))) >> shift);
    ring_size += replicas[i];
  }
  points.reserve(ring_size);
  std::string buffer;
  for (size_t i = 0; i < n; ++i) {
    buffer.assign(keys[i]);
    buffer.push_back('_');
    const size_t prefix = buffer.size();
    for (uint64_t r = 0; r < replicas[i]; ++r) {
      buffer.resize(prefix);
      buffer.append(std::to_string(r));
      points.push_back({Xxh64(buffer, 0), static_cast<uint32_t>(i)});
    }
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.index < b.index;
  });
  ring_hashes_.reserve(points.size());
  ring_hosts_.reserve(points.size());
  for (const Point& p : points) {
    ring_hashes_.push_back(p.hash);
    ring_hosts_.push_back(hosts_[p.index]);
  }
}

// Maglev (Eisenbud et al., NSDI 2016) with Envoy's weighted population: host i has permutation
// offset = h0(key) % M, skip = h1(key) % (M - 1) + 1 and claims its next free preferred slot on
// every iteration t with t * w_i >= claims_i * max_w, i.e. in proportion to its weight. Hosts
// are visited in key order, so the table depends only on the (key, weight) set.
void Picker::BuildMaglev(const std::vector<std::string>& keys, const PickerOptions& options) {
  const size_t n = hosts_.size();
  // A composite size would leave some permutations unable to reach every slot (and the fill
  // loop spinning), so anything but a prime falls back to the default.
  const uint64_t m = IsPrime(options.maglev_table_size) ? options.maglev_table_size : 65537;
  const uint64_t max_weight = *std::max_element(weights_.begin(), weights_.end());
  struct Entry {
    uint64_t next;  // Current slot in this host's permutation.
    uint64_t skip;
    uint64_t claims = 0;
  };
  std::vector<Entry> entries(n);
  for (size_t i = 0; i < n; ++i) {
    entries[i].next = Xxh64(keys[i], 0) % m;
    entries[i].skip = Xxh64(keys[i], 1) % (m - 1) + 1;
  }
  // Envoy loops over iterations x hosts; a heap of (next iteration, host) visits the same turns
  // in the same order without O(n) work per iteration when weights are very uneven.
  using Turn = std::pair<uint64_t, uint32_t>;  // (iteration, candidate index)
  std::priority_queue<Turn, std::vector<Turn>, std::greater<Turn>> turns;
  for (uint32_t i = 0; i < n; ++i) turns.push({0, i});
  maglev_.assign(m, kEmptySlot);
  for (uint64_t filled = 0; filled < m; ++filled) {
    const uint32_t i = turns.top().second;
    turns.pop();
    Entry& e = entries[i];
    while (maglev_[e.next] != kEmptySlot) {
      e.next += e.skip;
      if (e.next >= m) e.next -= m;
    }
    maglev_[e.next] = hosts_[i];
    e.next += e.skip;
    if (e.next >= m) e.next -= m;
    ++e.claims;
    // Smallest t with t * w >= claims * max_w.
    const uint64_t w = weights_[i];
    turns.push({(e.claims * max_weight + w - 1) / w, i});
  }
}

// ---- Picking -------------------------------------------------------------------------------

int64_t Picker::Pick(WorkerState& state, const Input& in) const {
  const size_t n = hosts_.size();
  if (n == 0) return -1;
  if (n == 1) return in.tried_count != 0 && IsTried(in, hosts_[0]) ? -1 : int64_t{hosts_[0]};
  switch (policy_) {
    case LbPolicy::kRandom:
      return PickRandom(state, in);
    case LbPolicy::kRoundRobin:
      return PickRoundRobin(state, in);
    case LbPolicy::kLeastRequest:
      return PickLeastRequest(state, in);
    case LbPolicy::kRingHash:
      return PickRing(in);
    case LbPolicy::kMaglev:
      return PickMaglev(in);
  }
  return -1;
}

size_t Picker::Draw(uint64_t random) const {
  const size_t bucket = Range(random, hosts_.size());
  if (!weighted_) return bucket;
  const AliasEntry& e = alias_[bucket];
  return static_cast<uint32_t>(random) < e.threshold ? bucket : e.alias;
}

int64_t Picker::FirstUntried(const Input& in, size_t start) const {
  // At most tried_count hosts are excluded and candidates are distinct, so one of the first
  // tried_count + 1 positions is free unless every candidate was tried.
  const size_t n = hosts_.size();
  const size_t limit = std::min(n, in.tried_count + 1);
  for (size_t k = 0; k < limit; ++k) {
    size_t i = start + k;
    if (i >= n) i -= n;
    if (!IsTried(in, hosts_[i])) return hosts_[i];
  }
  return -1;
}

int64_t Picker::PickRandom(WorkerState& state, const Input& in) const {
  for (int attempt = 0; attempt < kMaxRedraws; ++attempt) {
    const uint32_t host = hosts_[Draw(state.NextRandom())];
    if (in.tried_count == 0 || !IsTried(in, host)) return host;
  }
  return FirstUntried(in, Range(state.NextRandom(), hosts_.size()));
}

int64_t Picker::PickRoundRobin(WorkerState& state, const Input& in) const {
  const size_t n = hosts_.size();
  if (!weighted_) {
    const size_t i = state.rr_cursor++ % n;
    if (in.tried_count == 0 || !IsTried(in, hosts_[i])) return hosts_[i];
    return FirstUntried(in, i + 1 == n ? 0 : i + 1);
  }
  const size_t len = rr_schedule_.size();
  const size_t walk = std::min(len, kMaxWalk);
  for (size_t k = 0; k < walk; ++k) {
    const uint32_t host = rr_schedule_[state.rr_cursor++ % len];
    if (in.tried_count == 0 || !IsTried(in, host)) return host;
  }
  return FirstUntried(in, Range(state.NextRandom(), n));
}

// Power of two choices: draw two candidates (by weight) and keep the one with fewer active
// requests per unit of weight; ties are broken at random. With equal weights the two are
// distinct; with unequal weights they are independent draws, so an idle cluster is balanced
// exactly in proportion to weight.
int64_t Picker::PickLeastRequest(WorkerState& state, const Input& in) const {
  const size_t n = hosts_.size();
  size_t first = n;
  for (int attempt = 0; attempt < kMaxRedraws; ++attempt) {
    const size_t c = Draw(state.NextRandom());
    if (in.tried_count == 0 || !IsTried(in, hosts_[c])) {
      first = c;
      break;
    }
  }
  if (first == n) return FirstUntried(in, Range(state.NextRandom(), n));

  size_t second = n;
  for (int attempt = 0; attempt < kMaxRedraws; ++attempt) {
    const uint64_t r = state.NextRandom();
    size_t c = weighted_ ? Draw(r) : first + 1 + Range(r, n - 1);
    if (c >= n) c -= n;
    if (in.tried_count == 0 || !IsTried(in, hosts_[c])) {
      second = c;
      break;
    }
  }
  if (second == n || second == first) return hosts_[first];

  const uint64_t a1 = Active(in, hosts_[first]), a2 = Active(in, hosts_[second]);
  // a1 / w1 vs a2 / w2 without division; both products fit in 64 bits.
  const uint64_t l1 = a1 * weights_[second], l2 = a2 * weights_[first];
  if (l1 != l2) return l1 < l2 ? hosts_[first] : hosts_[second];
  return (state.NextRandom() & 1) ? hosts_[first] : hosts_[second];
}

int64_t Picker::PickRing(const Input& in) const {
  size_t i = RingLowerBound(ring_hashes_, in.hash);
  if (in.tried_count == 0) return ring_hosts_[i];
  // Retries walk clockwise to the next untried host, like Envoy.
  const size_t len = ring_hashes_.size();
  const size_t walk = std::min(len, kMaxWalk);
  for (size_t k = 0; k < walk; ++k) {
    if (!IsTried(in, ring_hosts_[i])) return ring_hosts_[i];
    if (++i == len) i = 0;
  }
  return FirstUntried(in, in.hash % hosts_.size());
}

int64_t Picker::PickMaglev(const Input& in) const {
  const size_t m = maglev_.size();
  size_t slot = in.hash % m;
  if (in.tried_count == 0) return maglev_[slot];
  // Retries take the following slots: deterministic per hash and spread like the table itself.
  const size_t walk = std::min(m, kMaxWalk);
  for (size_t k = 0; k < walk; ++k) {
    if (!IsTried(in, maglev_[slot])) return maglev_[slot];
    if (++slot == m) slot = 0;
  }
  return FirstUntried(in, in.hash % hosts_.size());
}

uint32_t SlowStartWeight(uint32_t weight, absl::Duration elapsed, const SlowStart& slow) {
  const double full = static_cast<double>(weight) * kSlowStartScale;
  if (slow.window <= absl::ZeroDuration() || elapsed >= slow.window) {
    return static_cast<uint32_t>(std::min(full, 4294967295.0));
  }
  const double t = std::max(0.0, absl::FDivDuration(elapsed, slow.window));
  const double factor = std::max(slow.min_weight, std::pow(t, 1.0 / slow.aggression));
  return static_cast<uint32_t>(std::clamp(full * factor, 1.0, 4294967295.0));
}

void SlowStartTracker::Begin(absl::Duration now) {
  now_ = now;
  ramping_ = false;
  previous_ = std::move(current_);
  current_.clear();
}

uint32_t SlowStartTracker::Report(const std::string& id, bool eligible, uint32_t weight,
                                  const SlowStart& slow) {
  State state;
  state.eligible = eligible;
  auto prev = previous_.find(id);
  state.since = prev != previous_.end() && prev->second.eligible ? prev->second.since : now_;
  current_[id] = state;
  if (!eligible) return 0;
  const absl::Duration elapsed = now_ - state.since;
  if (elapsed < slow.window) ramping_ = true;
  return SlowStartWeight(weight, elapsed, slow);
}

}  // namespace lb::proxy::balancer
