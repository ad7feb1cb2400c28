// ns per Pick() for each policy with 3, 100 and 1000 hosts, equal and unequal weights, plus the
// cost of a retry pick, of HashKey and of building a Picker.
//   bazel run //tests/proxy/balancer:balancer_bench -- --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/balancer/balancer.h"
#include "proxy/config/config.h"

namespace lb::proxy::balancer {
namespace {

std::vector<std::string> Keys(size_t n) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i)
    keys.push_back(absl::StrCat("10.1.", i / 256, ".", i % 256, ":80"));
  return keys;
}

std::vector<Candidate> Candidates(size_t n, bool weighted) {
  std::vector<Candidate> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back({i, weighted ? 1 + i % 7 : 1});
  return out;
}

void BM_Pick(benchmark::State& state, LbPolicy policy, bool weighted, bool retry) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto picker = Picker::Create(policy, Candidates(n, weighted), Keys(n));
  std::unique_ptr<std::atomic<uint32_t>[]> active(new std::atomic<uint32_t>[n]);
  for (size_t i = 0; i < n; ++i) active[i].store(static_cast<uint32_t>((i * 7919) % 13));
  Picker::WorkerState worker(1);
  Picker::Input in;
  in.active_requests = [](const void* counts, uint32_t host) -> uint64_t {
    return static_cast<const std::atomic<uint32_t>*>(counts)[host].load(std::memory_order_relaxed);
  };
  in.active_context = active.get();
  uint32_t tried[1] = {0};
  if (retry) {
    in.tried = tried;
    in.tried_count = 1;
  }
  uint64_t hash = 0;
  for (auto _ : state) {
    in.hash = (hash += 0x9E3779B97F4A7C15ULL);  // Spread over the whole ring / table.
    benchmark::DoNotOptimize(picker->Pick(worker, in));
  }
  state.SetItemsProcessed(state.iterations());
}

#define LB_PICK_BENCH(name, policy)                                                              \
  BENCHMARK_CAPTURE(BM_Pick, name##_equal, policy, false, false)->Arg(3)->Arg(100)->Arg(1000);   \
  BENCHMARK_CAPTURE(BM_Pick, name##_weighted, policy, true, false)->Arg(3)->Arg(100)->Arg(1000); \
  BENCHMARK_CAPTURE(BM_Pick, name##_retry, policy, true, true)->Arg(3)->Arg(100)->Arg(1000)

LB_PICK_BENCH(random, LbPolicy::kRandom);
LB_PICK_BENCH(round_robin, LbPolicy::kRoundRobin);
LB_PICK_BENCH(least_request, LbPolicy::kLeastRequest);
LB_PICK_BENCH(ring_hash, LbPolicy::kRingHash);
LB_PICK_BENCH(maglev, LbPolicy::kMaglev);

void BM_HashKey(benchmark::State& state) {
  const std::string key = "203.0.113.195";
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.data());
    benchmark::DoNotOptimize(HashKey(key));
  }
}
BENCHMARK(BM_HashKey);

// Rebuild cost on the main thread (weighted, so RR builds its schedule).
void BM_Create(benchmark::State& state, LbPolicy policy) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto candidates = Candidates(n, true);
  const auto keys = Keys(n);
  for (auto _ : state) benchmark::DoNotOptimize(Picker::Create(policy, candidates, keys));
}
BENCHMARK_CAPTURE(BM_Create, random, LbPolicy::kRandom)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Create, round_robin, LbPolicy::kRoundRobin)
    ->Arg(1000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Create, ring_hash, LbPolicy::kRingHash)
    ->Arg(1000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Create, maglev, LbPolicy::kMaglev)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace lb::proxy::balancer

BENCHMARK_MAIN();
