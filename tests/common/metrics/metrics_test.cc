// Tests of the Prometheus text rendering (common/metrics/metrics.cc): exact output.
#include "common/metrics/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lb::metrics {
namespace {

using ::testing::ElementsAre;

TEST(RegistryTest, EmptyRendersNothing) {
  Registry r;
  EXPECT_EQ(r.Render(), "");
}

TEST(RegistryTest, CounterWithoutLabels) {
  Registry r;
  Counter* c = r.GetCounter("lb_things_total", "Things seen.");
  EXPECT_EQ(r.Render(),
            "# HELP lb_things_total Things seen.\n"
            "# TYPE lb_things_total counter\n"
            "lb_things_total 0\n");
  c->Increment();
  c->Increment(41);
  EXPECT_EQ(c->Value(), 42u);
  EXPECT_EQ(r.Render(),
            "# HELP lb_things_total Things seen.\n"
            "# TYPE lb_things_total counter\n"
            "lb_things_total 42\n");
}

TEST(RegistryTest, SameNameAndLabelsIsTheSameMetric) {
  Registry r;
  Counter* a = r.GetCounter("c_total", "first help", {{"k", "v"}});
  Counter* b = r.GetCounter("c_total", "second help is ignored", {{"k", "v"}});
  EXPECT_EQ(a, b);
  Counter* other = r.GetCounter("c_total", "", {{"k", "w"}});
  EXPECT_NE(a, other);
  Gauge* g1 = r.GetGauge("g", "h");
  EXPECT_EQ(g1, r.GetGauge("g", "h"));
  Histogram* h1 = r.GetHistogram("h", "h", {}, {1});
  EXPECT_EQ(h1, r.GetHistogram("h", "h", {}, {5, 6}));
  EXPECT_THAT(h1->bounds(), ElementsAre(1));
}

TEST(RegistryTest, LabelsInCreationOrderSeriesSortedFamiliesSorted) {
  Registry r;
  r.GetCounter("z_total", "Last family.", {{"route", "/b"}, {"code", "200"}})->Increment(2);
  r.GetCounter("z_total", "Last family.", {{"route", "/a"}, {"code", "404"}})->Increment();
  r.GetCounter("z_total", "Last family.", {{"route", "/a"}, {"code", "200"}})->Increment(3);
  r.GetGauge("a_gauge", "First family.", {{"zone", "eu"}})->Set(-7);
  r.GetGauge("a_gauge", "First family.")->Add(5);
  EXPECT_EQ(r.Render(),
            "# HELP a_gauge First family.\n"
            "# TYPE a_gauge gauge\n"
            "a_gauge 5\n"
            "a_gauge{zone=\"eu\"} -7\n"
            "# HELP z_total Last family.\n"
            "# TYPE z_total counter\n"
            "z_total{route=\"/a\",code=\"200\"} 3\n"
            "z_total{route=\"/a\",code=\"404\"} 1\n"
            "z_total{route=\"/b\",code=\"200\"} 2\n");
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  Registry r;
  r.GetCounter("c_total", "Help.", {{"path", "a\\b\"c\nd"}})->Increment();
  EXPECT_EQ(r.Render(),
            "# HELP c_total Help.\n"
            "# TYPE c_total counter\n"
            "c_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(GaugeTest, SetAndAdd) {
  Gauge g;
  EXPECT_EQ(g.Value(), 0);
  g.Set(10);
  g.Add(-15);
  EXPECT_EQ(g.Value(), -5);
}

TEST(HistogramTest, BucketsAreUpperInclusiveAndCumulative) {
  Registry r;
  Histogram* h = r.GetHistogram("lat_seconds", "Latency.", {{"route", "/x"}}, {1, 0.1, 0.5});
  EXPECT_THAT(h->bounds(), ElementsAre(0.1, 0.5, 1));  // Sorted.
  for (double v : {0.05, 0.1, 0.3, 1.0, 2.5}) h->Observe(v);
  EXPECT_THAT(h->BucketCounts(), ElementsAre(2, 1, 1, 1));
  EXPECT_EQ(h->Count(), 5u);
  EXPECT_DOUBLE_EQ(h->Sum(), 3.95);
  EXPECT_EQ(r.Render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"
            "lat_seconds_bucket{route=\"/x\",le=\"1\"} 4\n"
            "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 5\n"
            "lat_seconds_sum{route=\"/x\"} 3.95\n"
            "lat_seconds_count{route=\"/x\"} 5\n");
}

TEST(HistogramTest, NoLabelsAndNoObservations) {
  Registry r;
  r.GetHistogram("h", "H.", {}, {0.25});
  EXPECT_EQ(r.Render(),
            "# HELP h H.\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"0.25\"} 0\n"
            "h_bucket{le=\"+Inf\"} 0\n"
            "h_sum 0\n"
            "h_count 0\n");
}

TEST(HistogramTest, DefaultLatencyBounds) {
  EXPECT_THAT(DefaultLatencyBounds(), ElementsAre(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1, 0.25, 0.5, 1, 2.5, 5, 10));
  Registry r;
  Histogram* h = r.GetHistogram("req_seconds", "Requests.");
  h->Observe(0.003);
  h->Observe(0.0005);
  h->Observe(12);
  EXPECT_EQ(r.Render(),
            "# HELP req_seconds Requests.\n"
            "# TYPE req_seconds histogram\n"
            "req_seconds_bucket{le=\"0.0005\"} 1\n"
            "req_seconds_bucket{le=\"0.001\"} 1\n"
            "req_seconds_bucket{le=\"0.0025\"} 1\n"
            "req_seconds_bucket{le=\"0.005\"} 2\n"
            "req_seconds_bucket{le=\"0.01\"} 2\n"
            "req_seconds_bucket{le=\"0.025\"} 2\n"
            "req_seconds_bucket{le=\"0.05\"} 2\n"
            "req_seconds_bucket{le=\"0.1\"} 2\n"
            "req_seconds_bucket{le=\"0.25\"} 2\n"
            "req_seconds_bucket{le=\"0.5\"} 2\n"
            "req_seconds_bucket{le=\"1\"} 2\n"
            "req_seconds_bucket{le=\"2.5\"} 2\n"
            "req_seconds_bucket{le=\"5\"} 2\n"
            "req_seconds_bucket{le=\"10\"} 2\n"
            "req_seconds_bucket{le=\"+Inf\"} 3\n"
            "req_seconds_sum 12.0035\n"
            "req_seconds_count 3\n");
}

TEST(HistogramTest, SumKeepsMicrosecondPrecision) {
  Histogram h({1});
  h.Observe(0.000001);
  h.Observe(0.0000004);  // Rounds to 0 us.
  EXPECT_DOUBLE_EQ(h.Sum(), 0.000001);
  EXPECT_EQ(h.Count(), 2u);
}

TEST(RegistryTest, ConcurrentUpdatesAreNotLost) {
  Registry r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r] {
      for (int i = 0; i < 10000; ++i) {
        r.GetCounter("c_total", "C.", {{"k", "v"}})->Increment();
        r.GetHistogram("h", "H.", {}, {1})->Observe(0.5);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(r.GetCounter("c_total", "C.", {{"k", "v"}})->Value(), 40000u);
  Histogram* h = r.GetHistogram("h", "H.");
  EXPECT_EQ(h->Count(), 40000u);
  EXPECT_DOUBLE_EQ(h->Sum(), 20000);
}

TEST(RegistryTest, CollectorSamplesRenderSortedAndShareFamiliesWithOwnMetrics) {
  Registry r;
  r.GetCounter("b_total", "B.", {{"k", "own"}})->Increment(2);
  int calls = 0;
  r.AddCollector([&calls](SampleSink& sink) {
    ++calls;
    sink.Counter("b_total", "ignored: the family has its help", {{"k", "collected"}}, 5);
    sink.Counter("a_total", "A.", {}, 7);
    sink.Gauge("c", "C.", {{"w", "0"}}, 1.5);
    sink.Gauge("c", "C.", {{"w", "1"}}, 3);
  });
  EXPECT_EQ(r.Render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 7\n"
            "# HELP b_total B.\n# TYPE b_total counter\nb_total{k=\"collected\"} 5\n"
            "b_total{k=\"own\"} 2\n"
            "# HELP c C.\n# TYPE c gauge\nc{w=\"0\"} 1.5\nc{w=\"1\"} 3\n");
  EXPECT_EQ(calls, 1);
  r.Render();
  EXPECT_EQ(calls, 2);  // Values are read anew at every render.
}

TEST(RegistryTest, CollectedHistogramsRenderCumulativeBuckets) {
  Registry r;
  r.AddCollector([](SampleSink& sink) {
    sink.Histogram("lat_seconds", "Latency.", {{"c", "web"}}, {0.001, 0.01}, {2, 3, 1}, 0.5);
  });
  EXPECT_EQ(r.Render(),
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{c=\"web\",le=\"0.001\"} 2\n"
            "lat_seconds_bucket{c=\"web\",le=\"0.01\"} 5\n"
            "lat_seconds_bucket{c=\"web\",le=\"+Inf\"} 6\n"
            "lat_seconds_sum{c=\"web\"} 0.5\n"
            "lat_seconds_count{c=\"web\"} 6\n");
}

}  // namespace
}  // namespace lb::metrics
