#include "proxy/balancer/balancer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/config/config.h"

namespace lb::proxy::balancer {
namespace {

using Input = Picker::Input;
using WorkerState = Picker::WorkerState;

// Input::active_requests over an array of counts (the context).
uint64_t ReadActive(const void* context, uint32_t host) {
  return static_cast<const std::atomic<uint32_t>*>(context)[host].load();
}

void SetActive(Input& in, const std::atomic<uint32_t>* active) {
  in.active_requests = active == nullptr ? nullptr : ReadActive;
  in.active_context = active;
}

constexpr LbPolicy kAllPolicies[] = {LbPolicy::kRandom, LbPolicy::kRoundRobin,
                                     LbPolicy::kLeastRequest, LbPolicy::kRingHash,
                                     LbPolicy::kMaglev};

std::string Key(uint32_t i) {
  return absl::StrCat("10.", i / 65536, ".", (i / 256) % 256, ".", i % 256, ":8080");
}

std::vector<std::string> Keys(uint32_t n) {
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < n; ++i) keys.push_back(Key(i));
  return keys;
}

std::vector<Candidate> WithWeights(const std::vector<uint32_t>& weights) {
  std::vector<Candidate> out;
  for (uint32_t i = 0; i < weights.size(); ++i) out.push_back({i, weights[i]});
  return out;
}

std::vector<Candidate> Equal(uint32_t n) { return WithWeights(std::vector<uint32_t>(n, 1)); }

std::shared_ptr<const Picker> Make(LbPolicy policy, const std::vector<Candidate>& candidates,
                                   uint32_t key_count = 0) {
  uint32_t n = key_count;
  for (const Candidate& c : candidates) n = std::max(n, c.host + 1);
  return Picker::Create(policy, candidates, Keys(n));
}

// Share of `picks` picks per host index. Hash policies get uniformly random request hashes.
std::vector<double> Shares(const Picker& picker, size_t hosts, int picks, uint64_t seed,
                           const std::atomic<uint32_t>* active = nullptr) {
  std::vector<double> shares(hosts, 0.0);
  WorkerState state(seed);
  std::mt19937_64 gen(seed);
  Input in;
  SetActive(in, active);
  for (int i = 0; i < picks; ++i) {
    in.hash = gen();
    int64_t h = picker.Pick(state, in);
    EXPECT_GE(h, 0);
    EXPECT_LT(h, static_cast<int64_t>(hosts));
    if (h >= 0 && h < static_cast<int64_t>(hosts)) shares[h] += 1.0 / picks;
  }
  return shares;
}

void ExpectShares(const std::vector<double>& shares, const std::vector<uint32_t>& weights,
                  double tolerance) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  ASSERT_EQ(shares.size(), weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_NEAR(shares[i], weights[i] / total, tolerance) << "host " << i;
  }
}

// ---- HashKey -------------------------------------------------------------------------------

TEST(HashKeyTest, MatchesXxh64ReferenceVectors) {
  EXPECT_EQ(HashKey(""), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(HashKey("a"), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(HashKey("abc"), 0x44BC2CF5AD770999ULL);
  // >= 32 bytes exercises the 4-lane loop.
  EXPECT_EQ(HashKey("Nobody inspects the spammish repetition"), 0xFBCEA83C8A378BF1ULL);
}

// ---- Degenerate sets -----------------------------------------------------------------------

TEST(PickerTest, EmptyCandidatesGiveMinusOne) {
  for (LbPolicy policy : kAllPolicies) {
    auto picker = Picker::Create(policy, {}, {});
    WorkerState state(1);
    EXPECT_EQ(picker->size(), 0u);
    EXPECT_EQ(picker->Pick(state, Input{}), -1);
    // Zero weights are "no traffic": such candidates are dropped.
    auto zero = Make(policy, WithWeights({0, 0}));
    EXPECT_EQ(zero->size(), 0u);
    EXPECT_EQ(zero->Pick(state, Input{}), -1);
  }
}

TEST(PickerTest, SingleHost) {
  for (LbPolicy policy : kAllPolicies) {
    auto picker = Picker::Create(policy, {{7, 3}}, Keys(8));
    WorkerState state(2);
    Input in;
    for (int i = 0; i < 100; ++i) {
      in.hash = i * 0x9E3779B97F4A7C15ULL;
      EXPECT_EQ(picker->Pick(state, in), 7);
    }
    uint32_t tried[] = {7};
    in.tried = tried;
    in.tried_count = 1;
    EXPECT_EQ(picker->Pick(state, in), -1);
  }
}

TEST(PickerTest, DuplicatesMergedAndZeroWeightsDropped) {
  auto picker = Make(LbPolicy::kRoundRobin, {{0, 1}, {1, 0}, {2, 1}, {0, 1}});
  EXPECT_EQ(picker->size(), 2u);
  EXPECT_EQ(picker->table_size(), 3u);  // Weights 2:1 after merging host 0.
  WorkerState state(3);
  std::map<int64_t, int> counts;
  for (int i = 0; i < 300; ++i) counts[picker->Pick(state, Input{})]++;
  EXPECT_EQ(counts[0], 200);
  EXPECT_EQ(counts[2], 100);
  EXPECT_EQ(counts.count(1), 0u);
}

// ---- Random --------------------------------------------------------------------------------

TEST(RandomTest, UniformWithEqualWeights) {
  auto picker = Make(LbPolicy::kRandom, Equal(3));
  ExpectShares(Shares(*picker, 3, 60000, 11), {1, 1, 1}, 0.02);
  auto many = Make(LbPolicy::kRandom, Equal(100));
  auto shares = Shares(*many, 100, 200000, 12);
  for (double s : shares) EXPECT_NEAR(s, 0.01, 0.003);
}

TEST(RandomTest, WeightedProportions) {
  auto picker = Make(LbPolicy::kRandom, WithWeights({1, 2, 3}));
  ExpectShares(Shares(*picker, 3, 60000, 13), {1, 2, 3}, 0.02);
  auto skewed = Make(LbPolicy::kRandom, WithWeights({1, 100, 10, 1000}));
  ExpectShares(Shares(*skewed, 4, 100000, 14), {1, 100, 10, 1000}, 0.01);
}

TEST(RandomTest, WorkersDrawDifferentStreams) {
  auto picker = Make(LbPolicy::kRandom, Equal(1000));
  WorkerState a(0), b(1);
  int same = 0;
  for (int i = 0; i < 1000; ++i) same += picker->Pick(a, Input{}) == picker->Pick(b, Input{});
  EXPECT_LT(same, 20);
}

// ---- Round robin ---------------------------------------------------------------------------

TEST(RoundRobinTest, PlainRoundRobinIsExactAndNeverRepeats) {
  auto picker = Make(LbPolicy::kRoundRobin, Equal(3));
  WorkerState state(4);
  std::vector<int> counts(3, 0);
  int64_t previous = -1;
  for (int i = 0; i < 3000; ++i) {
    int64_t h = picker->Pick(state, Input{});
    ASSERT_GE(h, 0);
    EXPECT_NE(h, previous);
    counts[h]++;
    if (i % 3 == 2) {  // Exact after every full cycle.
      EXPECT_EQ(counts[0], counts[1]);
      EXPECT_EQ(counts[1], counts[2]);
    }
    previous = h;
  }
}

TEST(RoundRobinTest, WorkersStartAtDifferentOffsets) {
  auto picker = Make(LbPolicy::kRoundRobin, Equal(10));
  std::map<int64_t, int> first;
  for (uint64_t worker = 0; worker < 8; ++worker) {
    WorkerState state(worker);
    first[picker->Pick(state, Input{})]++;
  }
  EXPECT_GE(first.size(), 4u);  // Not everybody hits the same host first.
}

TEST(RoundRobinTest, WeightedIsExactOverEveryCycle) {
  auto picker = Make(LbPolicy::kRoundRobin, WithWeights({1, 2, 3}));
  ASSERT_EQ(picker->table_size(), 6u);
  WorkerState state(5);
  for (int cycle = 0; cycle < 100; ++cycle) {
    std::vector<int> counts(3, 0);
    for (int i = 0; i < 6; ++i) counts[picker->Pick(state, Input{})]++;
    EXPECT_EQ(counts, (std::vector<int>{1, 2, 3}));
  }
  // A common factor does not lengthen the cycle.
  EXPECT_EQ(Make(LbPolicy::kRoundRobin, WithWeights({20, 40, 60}))->table_size(), 6u);
}

TEST(RoundRobinTest, WeightedExactForManyHosts) {
  std::vector<uint32_t> weights;
  for (uint32_t i = 0; i < 100; ++i) weights.push_back(1 + (i * 37) % 50);
  const uint64_t total = std::accumulate(weights.begin(), weights.end(), uint64_t{0});
  auto picker = Make(LbPolicy::kRoundRobin, WithWeights(weights));
  ASSERT_EQ(picker->table_size(), total);
  WorkerState state(6);
  std::vector<uint32_t> counts(100, 0);
  std::vector<int64_t> last(100, -1);
  int64_t worst_gap_excess = 0;
  for (uint64_t i = 0; i < 3 * total; ++i) {
    int64_t h = picker->Pick(state, Input{});
    if (i < total) counts[h]++;
    // Evenly spread: a host's turns are never much further apart than total / weight.
    if (last[h] >= 0) {
      int64_t gap = static_cast<int64_t>(i) - last[h];
      worst_gap_excess = std::max<int64_t>(worst_gap_excess, gap - total / weights[h]);
    }
    last[h] = i;
  }
  EXPECT_EQ(counts, weights);
  EXPECT_LE(worst_gap_excess, 100);  // At most one turn of every other host.
}

// Longest run of one host over two full cycles (so the wrap-around counts too).
int LongestRun(const Picker& picker) {
  WorkerState state(7);
  int best = 0, run = 0;
  int64_t previous = -1;
  for (size_t i = 0; i < 2 * std::max(picker.table_size(), picker.size()); ++i) {
    int64_t h = picker.Pick(state, Input{});
    run = h == previous ? run + 1 : 1;
    best = std::max(best, run);
    previous = h;
  }
  return best;
}

TEST(RoundRobinTest, WeightedIsSmooth) {
  EXPECT_EQ(LongestRun(*Make(LbPolicy::kRoundRobin, WithWeights({1, 1, 1, 1}))), 1);
  EXPECT_LE(LongestRun(*Make(LbPolicy::kRoundRobin, WithWeights({1, 2, 3}))), 2);
  EXPECT_EQ(LongestRun(*Make(LbPolicy::kRoundRobin, WithWeights({1, 1, 2}))), 1);
  EXPECT_EQ(LongestRun(*Make(LbPolicy::kRoundRobin, WithWeights({2, 2, 3}))), 1);
  EXPECT_EQ(LongestRun(*Make(LbPolicy::kRoundRobin, WithWeights({7, 5, 3, 1}))), 2);
  // 5 of 7 turns go to host 0: runs of 2-3 are the best possible.
  EXPECT_LE(LongestRun(*Make(LbPolicy::kRoundRobin, WithWeights({5, 1, 1}))), 3);
  // 10 of 12: the two light hosts split host 0's turns into runs of about 5.
  EXPECT_LE(LongestRun(*Make(LbPolicy::kRoundRobin, WithWeights({10, 1, 1}))), 6);
}

TEST(RoundRobinTest, HugeWeightSumsAreScaledToABoundedSchedule) {
  auto picker = Make(LbPolicy::kRoundRobin, WithWeights({1000003, 2000003, 3000017}));
  EXPECT_LE(picker->table_size(), (size_t{1} << 18) + 3);
  ExpectShares(Shares(*picker, 3, 60000, 8), {1, 2, 3}, 0.001);
}

// ---- Least request -------------------------------------------------------------------------

TEST(LeastRequestTest, IdleClusterFollowsWeights) {
  auto equal = Make(LbPolicy::kLeastRequest, Equal(3));
  ExpectShares(Shares(*equal, 3, 60000, 21), {1, 1, 1}, 0.02);
  auto weighted = Make(LbPolicy::kLeastRequest, WithWeights({1, 2, 3}));
  ExpectShares(Shares(*weighted, 3, 60000, 22), {1, 2, 3}, 0.02);
  std::atomic<uint32_t> same[3] = {5, 5, 5};  // Equal load: ties are random.
  ExpectShares(Shares(*equal, 3, 60000, 23, same), {1, 1, 1}, 0.02);
}

TEST(LeastRequestTest, PrefersTheLessLoaded) {
  auto picker = Make(LbPolicy::kLeastRequest, Equal(3));
  std::atomic<uint32_t> active[3] = {10, 0, 10};
  auto shares = Shares(*picker, 3, 60000, 24, active);
  EXPECT_NEAR(shares[1], 2.0 / 3, 0.02);  // Host 1 wins every pair it is in.

  std::atomic<uint32_t> one_busy[4] = {100, 0, 0, 0};
  auto four = Make(LbPolicy::kLeastRequest, Equal(4));
  EXPECT_EQ(Shares(*four, 4, 10000, 25, one_busy)[0], 0.0);  // Always paired with an idle host.

  std::atomic<uint32_t> graded[4] = {0, 1, 2, 3};
  auto g = Shares(*four, 4, 60000, 26, graded);
  EXPECT_GT(g[0], g[1]);
  EXPECT_GT(g[1], g[2]);
  EXPECT_GT(g[2], g[3]);
  EXPECT_EQ(g[3], 0.0);
}

TEST(LeastRequestTest, WeightedComparesActivePerWeight) {
  // Host 1 has 3 active for weight 4 (0.75 per unit), host 0 has 1 for weight 1: host 1 wins
  // whenever both are drawn; host 0 only when drawn twice (1/25).
  auto picker = Make(LbPolicy::kLeastRequest, WithWeights({1, 4}));
  std::atomic<uint32_t> active[2] = {1, 3};
  auto shares = Shares(*picker, 2, 60000, 27, active);
  EXPECT_NEAR(shares[0], 1.0 / 25, 0.01);
}

// ---- Ring hash -----------------------------------------------------------------------------

// Host picked for each of `count` pseudo-random request hashes, as a key (stable identity).
std::vector<std::string> MapKeys(const Picker& picker, const std::vector<std::string>& keys,
                                 int count, uint64_t worker_seed = 1) {
  WorkerState state(worker_seed);
  std::mt19937_64 gen(99);
  std::vector<std::string> out;
  Input in;
  for (int i = 0; i < count; ++i) {
    in.hash = gen();
    int64_t h = picker.Pick(state, in);
    out.push_back(h < 0 ? "" : keys[h]);
  }
  return out;
}

class HashPolicyTest : public ::testing::TestWithParam<LbPolicy> {};

TEST_P(HashPolicyTest, SameHashSameHostAcrossWorkersAndRebuilds) {
  const std::vector<std::string> keys = Keys(10);
  auto picker = Picker::Create(GetParam(), Equal(10), keys);
  auto baseline = MapKeys(*picker, keys, 20000, 1);
  EXPECT_EQ(MapKeys(*picker, keys, 20000, 2), baseline);  // Another worker.

  // Rebuilt with the hosts listed in another order and renumbered in the host table.
  std::vector<std::string> shuffled_keys = keys;
  std::mt19937 gen(5);
  std::shuffle(shuffled_keys.begin(), shuffled_keys.end(), gen);
  std::vector<Candidate> candidates = Equal(10);
  std::shuffle(candidates.begin(), candidates.end(), gen);
  auto rebuilt = Picker::Create(GetParam(), candidates, shuffled_keys);
  EXPECT_EQ(MapKeys(*rebuilt, shuffled_keys, 20000, 3), baseline);
}

TEST_P(HashPolicyTest, RemovingOneOfTenHostsRemapsAboutItsShare) {
  const std::vector<std::string> keys = Keys(10);
  auto all = Picker::Create(GetParam(), Equal(10), keys);
  std::vector<Candidate> nine = Equal(10);
  nine.erase(nine.begin() + 4);
  auto without = Picker::Create(GetParam(), nine, keys);
  auto before = MapKeys(*all, keys, 100000);
  auto after = MapKeys(*without, keys, 100000);
  int moved = 0, moved_elsewhere = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_NE(after[i], keys[4]);
    if (before[i] != after[i]) {
      ++moved;
      if (before[i] != keys[4]) ++moved_elsewhere;
    }
  }
  EXPECT_LE(moved, 15000);
  EXPECT_GE(moved, 5000);  // Host 4's share had to move.
  if (GetParam() == LbPolicy::kRingHash) {
    EXPECT_EQ(moved_elsewhere, 0);  // Only host 4's arcs change owner.
  } else {
    EXPECT_LE(moved_elsewhere, 3000);  // Maglev: small extra disruption.
  }
  // Adding it back restores the original mapping.
  auto again = Picker::Create(GetParam(), Equal(10), keys);
  EXPECT_EQ(MapKeys(*again, keys, 100000), before);
}

TEST_P(HashPolicyTest, WeightsRespected) {
  auto picker = Make(GetParam(), WithWeights({1, 2, 3}));
  // Ring hash balance depends on where ~1500 points fall; maglev's table is near exact.
  const double tolerance = GetParam() == LbPolicy::kRingHash ? 0.04 : 0.01;
  ExpectShares(Shares(*picker, 3, 60000, 31), {1, 2, 3}, tolerance);
  auto equal = Make(GetParam(), Equal(10));
  ExpectShares(Shares(*equal, 10, 100000, 32), std::vector<uint32_t>(10, 1),
               GetParam() == LbPolicy::kRingHash ? 0.03 : 0.005);
}

TEST_P(HashPolicyTest, RetryIsDeterministicAndAvoidsTried) {
  const std::vector<std::string> keys = Keys(10);
  auto picker = Picker::Create(GetParam(), Equal(10), keys);
  WorkerState a(1), b(2);
  std::mt19937_64 gen(7);
  for (int i = 0; i < 1000; ++i) {
    Input in;
    in.hash = gen();
    uint32_t tried[2];
    tried[0] = static_cast<uint32_t>(picker->Pick(a, in));
    in.tried = tried;
    in.tried_count = 1;
    int64_t second = picker->Pick(a, in);
    ASSERT_GE(second, 0);
    EXPECT_NE(second, tried[0]);
    EXPECT_EQ(picker->Pick(b, in), second);
    tried[1] = static_cast<uint32_t>(second);
    in.tried_count = 2;
    int64_t third = picker->Pick(a, in);
    EXPECT_NE(third, tried[0]);
    EXPECT_NE(third, tried[1]);
    EXPECT_GE(third, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(RingAndMaglev, HashPolicyTest,
                         ::testing::Values(LbPolicy::kRingHash, LbPolicy::kMaglev),
                         [](const ::testing::TestParamInfo<LbPolicy>& info) {
                           return info.param == LbPolicy::kRingHash ? "RingHash" : "Maglev";
                         });

TEST(RingHashTest, RingHasAtLeast1024PointsProportionalToWeight) {
  for (uint32_t n : {2u, 3u, 10u, 100u, 1000u}) {
    auto picker = Make(LbPolicy::kRingHash, Equal(n));
    EXPECT_GE(picker->table_size(), 1024u) << n;
    EXPECT_LT(picker->table_size(), 2048u) << n;
    EXPECT_EQ(picker->table_size() % n, 0u) << n;  // Same point count per host.
  }
  EXPECT_EQ(Make(LbPolicy::kRingHash, WithWeights({1, 2, 3}))->table_size(), 6u * 256);
}

TEST(RingHashTest, RingSizeOptions) {
  PickerOptions options;
  options.min_ring_size = 100;
  EXPECT_EQ(Picker::Create(LbPolicy::kRingHash, Equal(10), Keys(10), options)->table_size(), 160u);
  options.max_ring_size = 2000;  // Weights summing past the maximum are scaled down.
  auto capped = Picker::Create(LbPolicy::kRingHash, WithWeights({1000, 3000}), Keys(2), options);
  EXPECT_LE(capped->table_size(), 2000u);
  EXPECT_GE(capped->table_size(), 1000u);
  ExpectShares(Shares(*capped, 2, 60000, 33), {1, 3}, 0.04);
}

TEST(RingHashTest, HashAfterTheLastPointWrapsToTheFirst) {
  auto picker = Make(LbPolicy::kRingHash, Equal(5));
  WorkerState state(1);
  Input high, low;
  high.hash = UINT64_MAX;
  low.hash = 0;
  EXPECT_EQ(picker->Pick(state, high), picker->Pick(state, low));
}

TEST(MaglevTest, TableIsPrimeSizedAndBalanced) {
  auto picker = Make(LbPolicy::kMaglev, WithWeights({1, 2, 3}));
  ASSERT_EQ(picker->table_size(), 65537u);
  // Count the table's slots: hash h looks up slot h % 65537.
  WorkerState state(1);
  std::vector<int> slots(3, 0);
  Input in;
  for (uint64_t h = 0; h < 65537; ++h) {
    in.hash = h;
    slots[picker->Pick(state, in)]++;
  }
  EXPECT_NEAR(slots[0], 65537 / 6.0, 2);
  EXPECT_NEAR(slots[1], 65537 * 2 / 6.0, 2);
  EXPECT_NEAR(slots[2], 65537 * 3 / 6.0, 2);
}

TEST(MaglevTest, TableSizeOption) {
  PickerOptions options;
  options.maglev_table_size = 251;
  auto small = Picker::Create(LbPolicy::kMaglev, Equal(5), Keys(5), options);
  EXPECT_EQ(small->table_size(), 251u);
  options.maglev_table_size = 1000;  // Not prime: the default is used.
  auto fallback = Picker::Create(LbPolicy::kMaglev, Equal(5), Keys(5), options);
  EXPECT_EQ(fallback->table_size(), 65537u);
}

// ---- Retries (every policy) ----------------------------------------------------------------

TEST(TriedTest, NeverReturnsATriedHost) {
  for (LbPolicy policy : kAllPolicies) {
    for (const auto& weights :
         {std::vector<uint32_t>(10, 1), std::vector<uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 100}}) {
      auto picker = Make(policy, WithWeights(weights));
      std::atomic<uint32_t> active[10] = {};
      WorkerState state(41);
      std::mt19937 gen(42);
      for (int round = 0; round < 2000; ++round) {
        std::vector<uint32_t> order(10);
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), gen);
        const size_t count = 1 + gen() % 10;  // 1..10 hosts tried.
        Input in;
        in.hash = gen();
        in.tried = order.data();
        in.tried_count = count;
        SetActive(in, active);
        int64_t h = picker->Pick(state, in);
        if (count == 10) {
          EXPECT_EQ(h, -1) << static_cast<int>(policy);
        } else {
          ASSERT_GE(h, 0) << static_cast<int>(policy);
          EXPECT_EQ(std::find(order.begin(), order.begin() + count, h), order.begin() + count)
              << "policy " << static_cast<int>(policy) << " picked tried host " << h;
        }
      }
    }
  }
}

TEST(TriedTest, LastUntriedHostIsFoundEvenWhenItIsRare) {
  // Host 9 has 1/1000 of the weight and all others were tried: every policy must still find it.
  std::vector<uint32_t> weights(10, 111);
  weights[9] = 1;
  std::vector<uint32_t> tried = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (LbPolicy policy : kAllPolicies) {
    auto picker = Make(policy, WithWeights(weights));
    WorkerState state(43);
    Input in;
    in.tried = tried.data();
    in.tried_count = tried.size();
    for (int i = 0; i < 100; ++i) {
      in.hash = i * 0x9E3779B97F4A7C15ULL;
      EXPECT_EQ(picker->Pick(state, in), 9) << static_cast<int>(policy);
    }
  }
}

TEST(TriedTest, TriedHostsOutsideTheCandidatesAreIgnored) {
  for (LbPolicy policy : kAllPolicies) {
    auto picker = Picker::Create(policy, {{3, 1}, {5, 1}}, Keys(8));
    WorkerState state(44);
    uint32_t tried[] = {0, 1, 3, 7};
    Input in;
    in.tried = tried;
    in.tried_count = 4;
    for (int i = 0; i < 50; ++i) {
      in.hash = i;
      EXPECT_EQ(picker->Pick(state, in), 5);
    }
  }
}

// ---- Scale ---------------------------------------------------------------------------------

TEST(ScaleTest, TenThousandHostsBuildQuickly) {
  std::vector<uint32_t> weights;
  for (uint32_t i = 0; i < 10000; ++i) weights.push_back(1 + i % 10);
  const auto candidates = WithWeights(weights);
  const auto keys = Keys(10000);
  for (LbPolicy policy : kAllPolicies) {
    const auto start = std::chrono::steady_clock::now();
    auto picker = Picker::Create(policy, candidates, keys);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 2.0) << static_cast<int>(policy);  // ~10-50 ms here; slack for CI.
    EXPECT_EQ(picker->size(), 10000u);
    WorkerState state(45);
    Input in;
    std::vector<bool> seen(10000, false);
    for (int i = 0; i < 100000; ++i) {
      in.hash = i * 0x9E3779B97F4A7C15ULL;
      int64_t h = picker->Pick(state, in);
      ASSERT_GE(h, 0);
      ASSERT_LT(h, 10000);
      seen[h] = true;
    }
    // Every host is reachable (ring hash: 1 point per unit of weight can leave a few tiny arcs).
    EXPECT_GE(std::count(seen.begin(), seen.end(), true), 9500) << static_cast<int>(policy);
  }
}

// ---------------------------------------------------------------------------------------------
// Slow start

TEST(SlowStartWeightTest, LinearRampFromTheFloorToTheFullWeight) {
  const SlowStart slow{absl::Seconds(100), 1.0, 0.1};
  EXPECT_EQ(SlowStartWeight(1, absl::ZeroDuration(), slow), 100u);  // The 10% floor.
  EXPECT_EQ(SlowStartWeight(1, absl::Seconds(5), slow), 100u);
  EXPECT_EQ(SlowStartWeight(1, absl::Seconds(25), slow), 250u);
  EXPECT_EQ(SlowStartWeight(4, absl::Seconds(50), slow), 2000u);
  EXPECT_EQ(SlowStartWeight(1, absl::Seconds(99), slow), 990u);
  EXPECT_EQ(SlowStartWeight(1, absl::Seconds(100), slow), 1000u);  // Done: full weight.
  EXPECT_EQ(SlowStartWeight(10000, absl::Hours(1), slow), 10000000u);
  // Aggression 2: sqrt(t), faster at first.
  const SlowStart steep{absl::Seconds(100), 2.0, 0.0};
  EXPECT_EQ(SlowStartWeight(1, absl::Seconds(25), steep), 500u);
  EXPECT_EQ(SlowStartWeight(1, absl::ZeroDuration(), steep), 1u);  // Never 0.
  // Off.
  EXPECT_EQ(SlowStartWeight(3, absl::ZeroDuration(), SlowStart{}), 3000u);
}

// A cluster of two old hosts and one that joins at t=0, with a 60 s window; picks at simulated
// times (the tracker gets the proxy's monotonic clock) show the new host's share ramp up.
TEST(SlowStartTrackerTest, NewHostRampsUpAndRestartsWhenEligibleAgain) {
  const SlowStart slow{absl::Seconds(60), 1.0, 0.1};
  SlowStartTracker tracker;
  const absl::Duration origin = absl::Hours(5);  // Any monotonic origin.
  tracker.Begin(origin - absl::Hours(1));
  tracker.Report("c|old1", true, 1, slow);
  tracker.Report("c|old2", true, 1, slow);
  EXPECT_TRUE(tracker.ramping());
  // The share of picks the new host gets at `at` (random and round robin alike).
  auto share = [&](absl::Duration at, LbPolicy policy) {
    tracker.Begin(origin + at);
    std::vector<Candidate> candidates = {{0, tracker.Report("c|old1", true, 1, slow)},
                                         {1, tracker.Report("c|old2", true, 1, slow)},
                                         {2, tracker.Report("c|new", true, 1, slow)}};
    auto picker = Picker::Create(policy, candidates, {Key(0), Key(1), Key(2)});
    WorkerState state(7);
    int hits = 0;
    for (int i = 0; i < 30000; ++i) hits += picker->Pick(state, Input()) == 2;
    return hits / 30000.0;
  };
  for (LbPolicy policy : {LbPolicy::kRandom, LbPolicy::kRoundRobin, LbPolicy::kLeastRequest}) {
    SCOPED_TRACE(static_cast<int>(policy));
    tracker = SlowStartTracker();
    tracker.Begin(origin - absl::Hours(1));
    tracker.Report("c|old1", true, 1, slow);
    tracker.Report("c|old2", true, 1, slow);
    // t=0: 0.1 / 2.1; t=30s: 0.5 / 2.5; t=60s and later: 1 / 3.
    EXPECT_NEAR(share(absl::ZeroDuration(), policy), 0.1 / 2.1, 0.01);
    EXPECT_TRUE(tracker.ramping());
    EXPECT_NEAR(share(absl::Seconds(30), policy), 0.5 / 2.5, 0.015);
    EXPECT_NEAR(share(absl::Seconds(45), policy), 0.75 / 2.75, 0.015);
    EXPECT_NEAR(share(absl::Seconds(60), policy), 1.0 / 3.0, 0.015);
    EXPECT_FALSE(tracker.ramping());
  }
  // Unhealthy for a while, then eligible again: the ramp starts over.
  tracker.Begin(origin + absl::Seconds(200));
  EXPECT_EQ(tracker.Report("c|new", false, 1, slow), 0u);
  tracker.Begin(origin + absl::Seconds(230));
  EXPECT_EQ(tracker.Report("c|new", true, 1, slow), 100u);
  tracker.Begin(origin + absl::Seconds(260));
  EXPECT_EQ(tracker.Report("c|new", true, 1, slow), 500u);
  EXPECT_TRUE(tracker.ramping());
  // A host not reported at one rebuild is forgotten: it starts over when it comes back.
  tracker.Begin(origin + absl::Seconds(300));
  tracker.Begin(origin + absl::Seconds(400));
  EXPECT_EQ(tracker.Report("c|new", true, 1, slow), 100u);
}

}  // namespace
}  // namespace lb::proxy::balancer
