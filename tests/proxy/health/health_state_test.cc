#include "proxy/health/health_state.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/config/config.h"

namespace lb::proxy::health {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Result = OutlierDetector::Result;

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);

// ---------------------------------------------------------------------------------------------
// ActiveHealthState

TEST(ActiveHealthStateTest, NewHostIsUnknownAndCountsHealthy) {
  ActiveHealthState s(2, 3);
  EXPECT_EQ(s.status(), ActiveStatus::kUnknown);
  EXPECT_TRUE(s.healthy());
}

TEST(ActiveHealthStateTest, FirstSuccessConfirmsWithoutFlip) {
  ActiveHealthState s(2, 3);
  EXPECT_FALSE(s.Record(true));
  EXPECT_EQ(s.status(), ActiveStatus::kHealthy);
}

TEST(ActiveHealthStateTest, FirstFailureTakesUnknownHostOut) {
  ActiveHealthState s(2, 3);
  EXPECT_TRUE(s.Record(false));
  EXPECT_EQ(s.status(), ActiveStatus::kUnhealthy);
  EXPECT_FALSE(s.healthy());
}

TEST(ActiveHealthStateTest, HealthyHostNeedsUnhealthyThresholdConsecutiveFailures) {
  ActiveHealthState s(2, 3);
  s.Record(true);
  EXPECT_FALSE(s.Record(false));
  EXPECT_FALSE(s.Record(false));
  EXPECT_FALSE(s.Record(true));  // Resets the run.
  EXPECT_FALSE(s.Record(false));
  EXPECT_FALSE(s.Record(false));
  EXPECT_EQ(s.consecutive_failures(), 2u);
  EXPECT_TRUE(s.healthy());
  EXPECT_TRUE(s.Record(false));
  EXPECT_EQ(s.status(), ActiveStatus::kUnhealthy);
  EXPECT_FALSE(s.Record(false));  // Stays out, no second flip.
}

TEST(ActiveHealthStateTest, UnhealthyHostNeedsHealthyThresholdConsecutiveSuccesses) {
  ActiveHealthState s(2, 3);
  s.Record(false);
  ASSERT_FALSE(s.healthy());
  EXPECT_FALSE(s.Record(true));
  EXPECT_FALSE(s.Record(false));  // Resets the run.
  EXPECT_FALSE(s.Record(true));
  EXPECT_FALSE(s.healthy());
  EXPECT_TRUE(s.Record(true));
  EXPECT_EQ(s.status(), ActiveStatus::kHealthy);
  EXPECT_EQ(s.consecutive_successes(), 2u);
}

TEST(ActiveHealthStateTest, ZeroThresholdsActLikeOne) {
  ActiveHealthState s(0, 0);
  s.Record(true);
  EXPECT_TRUE(s.Record(false));
  EXPECT_TRUE(s.Record(true));
}

TEST(ActiveHealthStateTest, SetThresholdsKeepsVerdictAndCounters) {
  ActiveHealthState s(2, 5);
  s.Record(true);
  s.Record(false);
  s.Record(false);
  s.SetThresholds(2, 3);
  EXPECT_TRUE(s.healthy());
  EXPECT_TRUE(s.Record(false));  // Third failure reaches the new threshold.
}

// ---------------------------------------------------------------------------------------------
// OutlierDetector

OutlierConfig Config(uint32_t c5xx, uint32_t gateway, uint32_t max_percent = 100) {
  OutlierConfig c;
  c.consecutive_5xx = c5xx;
  c.consecutive_gateway_failure = gateway;
  c.interval = absl::Seconds(10);
  c.base_ejection_time = absl::Seconds(30);
  c.max_ejection_percent = max_percent;
  return c;
}

std::vector<std::string> Hosts(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("10.0.0." + std::to_string(i + 1) + ":80");
  return out;
}

// Reports `n` results; returns true if any of them ejected the host.
bool ReportN(OutlierDetector& d, const std::string& host, Result r, int n, absl::Time now) {
  bool ejected = false;
  for (int i = 0; i < n; ++i) ejected |= d.Report(host, r, now);
  return ejected;
}

TEST(OutlierDetectorTest, Consecutive5xxEjectsAtThreshold) {
  OutlierDetector d(Config(5, 0), Hosts(4));
  const std::string h = "10.0.0.1:80";
  EXPECT_FALSE(ReportN(d, h, Result::k5xx, 4, kT0));
  EXPECT_FALSE(d.IsEjected(h));
  EXPECT_TRUE(d.Report(h, Result::k5xx, kT0));
  EXPECT_TRUE(d.IsEjected(h));
  EXPECT_EQ(d.ejected_count(), 1u);
  EXPECT_EQ(d.total_ejections(), 1u);
  EXPECT_EQ(d.Info(h)->ejected_until, kT0 + absl::Seconds(30));
  EXPECT_EQ(d.Info(h)->multiplier, 1u);
}

TEST(OutlierDetectorTest, SuccessResetsCounters) {
  OutlierDetector d(Config(3, 3), Hosts(4));
  const std::string h = "10.0.0.1:80";
  ReportN(d, h, Result::kGatewayFailure, 2, kT0);
  EXPECT_EQ(d.Info(h)->consecutive_5xx, 2u);
  EXPECT_EQ(d.Info(h)->consecutive_gateway_failure, 2u);
  d.Report(h, Result::kSuccess, kT0);
  EXPECT_EQ(d.Info(h)->consecutive_5xx, 0u);
  EXPECT_EQ(d.Info(h)->consecutive_gateway_failure, 0u);
  EXPECT_FALSE(ReportN(d, h, Result::kGatewayFailure, 2, kT0));
  EXPECT_FALSE(d.IsEjected(h));
}

TEST(OutlierDetectorTest, GatewayFailuresEjectAtTheirOwnThreshold) {
  OutlierDetector d(Config(0, 3), Hosts(4));  // consecutive_5xx disabled.
  const std::string h = "10.0.0.2:80";
  EXPECT_FALSE(ReportN(d, h, Result::kGatewayFailure, 2, kT0));
  EXPECT_TRUE(d.Report(h, Result::kGatewayFailure, kT0));
  EXPECT_TRUE(d.IsEjected(h));
}

TEST(OutlierDetectorTest, Plain5xxResetsGatewayCounterButCountsAs5xx) {
  OutlierDetector d(Config(4, 3), Hosts(4));
  const std::string h = "10.0.0.1:80";
  ReportN(d, h, Result::kGatewayFailure, 2, kT0);
  d.Report(h, Result::k5xx, kT0);
  EXPECT_EQ(d.Info(h)->consecutive_gateway_failure, 0u);
  EXPECT_EQ(d.Info(h)->consecutive_5xx, 3u);
  EXPECT_FALSE(d.IsEjected(h));
  EXPECT_TRUE(d.Report(h, Result::kGatewayFailure, kT0));  // Fourth 5xx-class result.
}

// The ejection names the streak that tripped, whatever the last result's class.
TEST(OutlierDetectorTest, EjectionNamesTheStreakThatTripped) {
  using Trigger = OutlierDetector::Trigger;
  OutlierDetector d(Config(3, 5), Hosts(4));
  EXPECT_EQ(d.Info("10.0.0.1:80")->last_trigger, Trigger::kNone);
  // Three gateway failures (503s) reach consecutive_5xx first.
  EXPECT_TRUE(ReportN(d, "10.0.0.1:80", Result::kGatewayFailure, 3, kT0));
  EXPECT_EQ(d.Info("10.0.0.1:80")->last_trigger, Trigger::kConsecutive5xx);
  OutlierDetector g(Config(5, 2), Hosts(4));
  EXPECT_TRUE(ReportN(g, "10.0.0.2:80", Result::kGatewayFailure, 2, kT0));
  EXPECT_EQ(g.Info("10.0.0.2:80")->last_trigger, Trigger::kConsecutiveGatewayFailure);
  // Both at once: the gateway streak is named, as Envoy checks it first.
  OutlierDetector both(Config(2, 2), Hosts(4));
  EXPECT_TRUE(ReportN(both, "10.0.0.3:80", Result::kGatewayFailure, 2, kT0));
  EXPECT_EQ(both.Info("10.0.0.3:80")->last_trigger, Trigger::kConsecutiveGatewayFailure);
}

TEST(OutlierDetectorTest, DisabledDetectorsNeverEject) {
  OutlierDetector d(Config(0, 0), Hosts(4));
  EXPECT_FALSE(ReportN(d, "10.0.0.1:80", Result::kGatewayFailure, 100, kT0));
  EXPECT_FALSE(ReportN(d, "10.0.0.1:80", Result::k5xx, 100, kT0));
  EXPECT_EQ(d.ejected_count(), 0u);
}

TEST(OutlierDetectorTest, UnknownHostAndReportsWhileEjectedAreIgnored) {
  OutlierDetector d(Config(2, 0), Hosts(4));
  EXPECT_FALSE(ReportN(d, "10.9.9.9:80", Result::k5xx, 10, kT0));
  EXPECT_EQ(d.Info("10.9.9.9:80"), nullptr);
  const std::string h = "10.0.0.1:80";
  ASSERT_TRUE(ReportN(d, h, Result::k5xx, 2, kT0));
  EXPECT_FALSE(ReportN(d, h, Result::k5xx, 10, kT0 + absl::Seconds(1)));
  EXPECT_EQ(d.Info(h)->consecutive_5xx, 0u);
  EXPECT_EQ(d.Info(h)->ejected_until, kT0 + absl::Seconds(30));
  EXPECT_EQ(d.total_ejections(), 1u);
}

TEST(OutlierDetectorTest, TickUnejectsExactlyWhenEjectionExpires) {
  OutlierDetector d(Config(1, 0), Hosts(4));
  const std::string h = "10.0.0.1:80";
  ASSERT_TRUE(d.Report(h, Result::k5xx, kT0));
  EXPECT_THAT(d.Tick(kT0 + absl::Seconds(29)), IsEmpty());
  EXPECT_TRUE(d.IsEjected(h));
  EXPECT_THAT(d.Tick(kT0 + absl::Seconds(30)), ElementsAre(h));
  EXPECT_FALSE(d.IsEjected(h));
  EXPECT_EQ(d.ejected_count(), 0u);
  EXPECT_THAT(d.Tick(kT0 + absl::Seconds(31)), IsEmpty());
}

TEST(OutlierDetectorTest, BackOffGrowsWithEachEjectionAndIsCapped) {
  OutlierDetector d(Config(1, 0), Hosts(4));
  const std::string h = "10.0.0.1:80";
  absl::Time now = kT0;
  std::vector<absl::Duration> lengths;
  for (int i = 0; i < 13; ++i) {
    ASSERT_TRUE(d.Report(h, Result::k5xx, now)) << i;
    const absl::Time until = d.Info(h)->ejected_until;
    lengths.push_back(until - now);
    // Un-eject at expiry and fail again at once: no time to decay.
    ASSERT_THAT(d.Tick(until), ElementsAre(h));
    now = until;
  }
  EXPECT_EQ(lengths[0], absl::Seconds(30));
  EXPECT_EQ(lengths[1], absl::Seconds(60));
  EXPECT_EQ(lengths[2], absl::Seconds(90));
  EXPECT_EQ(lengths[8], absl::Seconds(270));
  EXPECT_EQ(lengths[9], absl::Seconds(300));  // Cap: Envoy's default max_ejection_time.
  EXPECT_EQ(lengths[10], absl::Seconds(300));
  EXPECT_EQ(lengths[12], absl::Seconds(300));
  EXPECT_EQ(d.Info(h)->multiplier, 10u);  // Stops growing at the cap.
}

TEST(OutlierDetectorTest, CustomMaxEjectionTimeAndBaseAboveIt) {
  OutlierDetector::Options options;
  options.max_ejection_time = absl::Seconds(50);
  OutlierDetector d(Config(1, 0), Hosts(4), options);
  const std::string h = "10.0.0.1:80";
  d.Report(h, Result::k5xx, kT0);
  d.Tick(kT0 + absl::Seconds(30));
  d.Report(h, Result::k5xx, kT0 + absl::Seconds(30));
  EXPECT_EQ(d.Info(h)->ejected_until, kT0 + absl::Seconds(80));  // min(60, 50).

  OutlierConfig long_base = Config(1, 0);
  long_base.base_ejection_time = absl::Seconds(600);
  OutlierDetector d2(long_base, Hosts(4));
  d2.Report(h, Result::k5xx, kT0);
  EXPECT_EQ(d2.Info(h)->ejected_until, kT0 + absl::Seconds(600));  // Never below base.
}

TEST(OutlierDetectorTest, MultiplierDecaysOncePerIntervalWhileNotEjected) {
  OutlierDetector d(Config(1, 0), Hosts(4));
  const std::string h = "10.0.0.1:80";
  absl::Time now = kT0;
  for (int i = 0; i < 3; ++i) {
    d.Report(h, Result::k5xx, now);
    now = d.Info(h)->ejected_until;
    d.Tick(now);
  }
  ASSERT_EQ(d.Info(h)->multiplier, 3u);
  const absl::Time unejected = now;
  d.Tick(unejected + absl::Seconds(9));
  EXPECT_EQ(d.Info(h)->multiplier, 3u);
  d.Tick(unejected + absl::Seconds(10));
  EXPECT_EQ(d.Info(h)->multiplier, 2u);
  // Sparse ticks decay by whole intervals elapsed, not by ticks.
  d.Tick(unejected + absl::Seconds(25));
  EXPECT_EQ(d.Info(h)->multiplier, 1u);
  // The next ejection is therefore short again: base × (1 + 1).
  const absl::Time t = unejected + absl::Seconds(26);
  ASSERT_TRUE(d.Report(h, Result::k5xx, t));
  EXPECT_EQ(d.Info(h)->ejected_until, t + absl::Seconds(60));
  // No decay while ejected.
  d.Tick(t + absl::Seconds(59));
  EXPECT_EQ(d.Info(h)->multiplier, 2u);
  d.Tick(t + absl::Seconds(60) + absl::Seconds(1000));
  EXPECT_EQ(d.Info(h)->multiplier, 2u);  // Un-ejected in this tick; decay starts now.
  d.Tick(t + absl::Seconds(60) + absl::Seconds(1020));
  EXPECT_EQ(d.Info(h)->multiplier, 0u);
}

TEST(OutlierDetectorTest, MaxEjectionPercentCapsEjections) {
  // 50% of 4 hosts: two may be out at once.
  OutlierDetector d(Config(1, 0, 50), Hosts(4));
  EXPECT_TRUE(d.Report("10.0.0.1:80", Result::k5xx, kT0));
  EXPECT_TRUE(d.Report("10.0.0.2:80", Result::k5xx, kT0));
  EXPECT_FALSE(d.Report("10.0.0.3:80", Result::k5xx, kT0));
  EXPECT_FALSE(d.IsEjected("10.0.0.3:80"));
  EXPECT_EQ(d.ejected_count(), 2u);
  EXPECT_EQ(d.overflow_count(), 1u);
  // The refused host is reconsidered after another run of failures, once room frees up.
  d.Tick(kT0 + absl::Seconds(30));
  EXPECT_TRUE(d.Report("10.0.0.3:80", Result::k5xx, kT0 + absl::Seconds(30)));
}

TEST(OutlierDetectorTest, MaxEjectionPercentSmallClusters) {
  // Envoy's rule: (ejected + 1) / total <= max%.
  OutlierDetector one(Config(1, 0, 50), Hosts(1));
  EXPECT_FALSE(one.Report("10.0.0.1:80", Result::k5xx, kT0));  // 100% > 50%.
  OutlierDetector two(Config(1, 0, 50), Hosts(2));
  EXPECT_TRUE(two.Report("10.0.0.1:80", Result::k5xx, kT0));  // 50% <= 50%.
  EXPECT_FALSE(two.Report("10.0.0.2:80", Result::k5xx, kT0));
  OutlierDetector three(Config(1, 0, 10), Hosts(3));
  EXPECT_FALSE(three.Report("10.0.0.1:80", Result::k5xx, kT0));  // 33% > 10%.
  OutlierDetector all(Config(1, 0, 100), Hosts(2));
  EXPECT_TRUE(all.Report("10.0.0.1:80", Result::k5xx, kT0));
  EXPECT_TRUE(all.Report("10.0.0.2:80", Result::k5xx, kT0));
  OutlierDetector none(Config(1, 0, 0), Hosts(10));
  EXPECT_FALSE(none.Report("10.0.0.1:80", Result::k5xx, kT0));
}

TEST(OutlierDetectorTest, UpdateKeepsStateOfRemainingHosts) {
  OutlierDetector d(Config(3, 0), Hosts(3));
  ASSERT_TRUE(ReportN(d, "10.0.0.1:80", Result::k5xx, 3, kT0));
  ReportN(d, "10.0.0.2:80", Result::k5xx, 2, kT0);
  d.Update({"10.0.0.1:80", "10.0.0.2:80", "10.0.0.4:80"});  // .3 leaves, .4 arrives.
  EXPECT_EQ(d.host_count(), 3u);
  EXPECT_TRUE(d.IsEjected("10.0.0.1:80"));
  EXPECT_EQ(d.Info("10.0.0.1:80")->ejected_until, kT0 + absl::Seconds(30));
  EXPECT_EQ(d.Info("10.0.0.2:80")->consecutive_5xx, 2u);
  EXPECT_EQ(d.Info("10.0.0.3:80"), nullptr);
  EXPECT_EQ(d.Info("10.0.0.4:80")->consecutive_5xx, 0u);
  EXPECT_TRUE(d.Report("10.0.0.2:80", Result::k5xx, kT0));  // Counter carried over.
  EXPECT_EQ(d.ejected_count(), 2u);
}

TEST(OutlierDetectorTest, UpdateRemovingEjectedHostFreesItsSlot) {
  OutlierDetector d(Config(1, 0, 50), Hosts(4));
  ASSERT_TRUE(d.Report("10.0.0.1:80", Result::k5xx, kT0));
  ASSERT_TRUE(d.Report("10.0.0.2:80", Result::k5xx, kT0));
  d.Update({"10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80"});
  EXPECT_EQ(d.ejected_count(), 1u);
  EXPECT_TRUE(d.Report("10.0.0.3:80", Result::k5xx, kT0));
  // A returning host starts clean.
  d.Update(Hosts(4));
  EXPECT_FALSE(d.IsEjected("10.0.0.1:80"));
  EXPECT_EQ(d.Info("10.0.0.1:80")->multiplier, 0u);
}

TEST(OutlierDetectorTest, SetConfigAppliesToLaterReports) {
  OutlierDetector d(Config(5, 0), Hosts(4));
  const std::string h = "10.0.0.1:80";
  ReportN(d, h, Result::k5xx, 2, kT0);
  d.SetConfig(Config(3, 0));
  EXPECT_TRUE(d.Report(h, Result::k5xx, kT0));
  d.SetConfig(Config(0, 0));
  d.Tick(kT0 + absl::Seconds(30));
  EXPECT_FALSE(ReportN(d, h, Result::k5xx, 50, kT0 + absl::Seconds(30)));
}

// ---------------------------------------------------------------------------------------------
// EligibleHosts

HostHealth H(bool healthy = true, bool ejected = false, bool draining = false,
             uint32_t weight = 1) {
  HostHealth h;
  h.active_healthy = healthy;
  h.ejected = ejected;
  h.draining = draining;
  h.weight = weight;
  return h;
}

TEST(EligibleHostsTest, AllHealthy) {
  Eligibility e = EligibleHosts({H(), H(), H()}, 50);
  EXPECT_THAT(e.hosts, ElementsAre(0, 1, 2));
  EXPECT_FALSE(e.panic);
}

TEST(EligibleHostsTest, UnhealthyAndEjectedAreSkippedAboveThreshold) {
  Eligibility e = EligibleHosts({H(), H(false), H(true, true), H(), H()}, 50);
  EXPECT_THAT(e.hosts, ElementsAre(0, 3, 4));  // 3/5 = 60% >= 50%.
  EXPECT_FALSE(e.panic);
}

TEST(EligibleHostsTest, ExactlyAtThresholdIsNotPanic) {
  Eligibility e = EligibleHosts({H(), H(false)}, 50);
  EXPECT_THAT(e.hosts, ElementsAre(0));
  EXPECT_FALSE(e.panic);
}

TEST(EligibleHostsTest, PanicBelowThresholdUsesAllNonDrainingHosts) {
  Eligibility e = EligibleHosts({H(), H(false), H(true, true), H(false, true), H(false)}, 50);
  EXPECT_TRUE(e.panic);  // 1/5 = 20% < 50%.
  EXPECT_THAT(e.hosts, ElementsAre(0, 1, 2, 3, 4));
}

TEST(EligibleHostsTest, PanicWhenNothingIsHealthy) {
  Eligibility e = EligibleHosts({H(false), H(true, true)}, 1);
  EXPECT_TRUE(e.panic);
  EXPECT_THAT(e.hosts, ElementsAre(0, 1));
}

TEST(EligibleHostsTest, ZeroThresholdDisablesPanic) {
  Eligibility e = EligibleHosts({H(false), H(true, true), H()}, 0);
  EXPECT_FALSE(e.panic);
  EXPECT_THAT(e.hosts, ElementsAre(2));
  e = EligibleHosts({H(false), H(true, true)}, 0);
  EXPECT_FALSE(e.panic);
  EXPECT_THAT(e.hosts, IsEmpty());
}

TEST(EligibleHostsTest, DrainingNeverEligibleNorCounted) {
  // Draining hosts neither count in the share nor appear in panic mode.
  Eligibility e = EligibleHosts({H(true, false, true), H(true, false, true), H(), H(false)}, 50);
  EXPECT_FALSE(e.panic);  // 1 healthy of 2 non-draining = 50%.
  EXPECT_THAT(e.hosts, ElementsAre(2));
  e = EligibleHosts({H(true, false, true), H(false), H(false, true)}, 50);
  EXPECT_TRUE(e.panic);
  EXPECT_THAT(e.hosts, ElementsAre(1, 2));
  e = EligibleHosts({H(true, false, true), H(true, false, true)}, 100);
  EXPECT_FALSE(e.panic);
  EXPECT_THAT(e.hosts, IsEmpty());
}

TEST(EligibleHostsTest, ShareIsByWeight) {
  // Healthy hosts are 3 of 4 by count but 3 of 13 by weight: panic.
  Eligibility e = EligibleHosts({H(), H(), H(), H(false, false, false, 10)}, 50);
  EXPECT_TRUE(e.panic);
  EXPECT_THAT(e.hosts, ElementsAre(0, 1, 2, 3));
  // The heavy host healthy, three light ones not: 10/13, no panic.
  e = EligibleHosts({H(false), H(false), H(false), H(true, false, false, 10)}, 50);
  EXPECT_FALSE(e.panic);
  EXPECT_THAT(e.hosts, ElementsAre(3));
}

TEST(EligibleHostsTest, ZeroWeightHostsNeverTakeTraffic) {
  Eligibility e = EligibleHosts({H(true, false, false, 0), H()}, 50);
  EXPECT_THAT(e.hosts, ElementsAre(1));
  e = EligibleHosts({H(true, false, false, 0), H(false)}, 50);
  EXPECT_TRUE(e.panic);
  EXPECT_THAT(e.hosts, ElementsAre(1));
}

TEST(EligibleHostsTest, Empty) {
  Eligibility e = EligibleHosts({}, 50);
  EXPECT_THAT(e.hosts, IsEmpty());
  EXPECT_FALSE(e.panic);
}

TEST(EligibleHostsTest, ThresholdAbove100ActsAs100) {
  Eligibility e = EligibleHosts({H(), H()}, 250);
  EXPECT_FALSE(e.panic);
  e = EligibleHosts({H(), H(false)}, 250);
  EXPECT_TRUE(e.panic);
  EXPECT_THAT(e.hosts, UnorderedElementsAre(0, 1));
}

}  // namespace
}  // namespace lb::proxy::health
