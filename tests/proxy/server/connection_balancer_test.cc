#include "proxy/server/connection_balancer.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace lb::proxy {
namespace {

TEST(ConnectionBalancerTest, KeepsTiesAndMovesToTheLeastLoaded) {
  ConnectionBalancer b(3);
  EXPECT_EQ(b.Assign(1), 1);  // All equal: stays with the acceptor.
  EXPECT_EQ(b.Assign(1), 0);  // 0 and 2 have none; the first of them.
  EXPECT_EQ(b.Assign(1), 2);
  EXPECT_EQ(b.Assign(2), 2);  // 1/1/1: stays.
  EXPECT_EQ(b.connections(0), 1);
  EXPECT_EQ(b.connections(1), 1);
  EXPECT_EQ(b.connections(2), 2);
  b.Release(2);
  b.Release(2);
  EXPECT_EQ(b.Assign(0), 2);
  EXPECT_EQ(b.connections(2), 1);
}

TEST(ConnectionBalancerTest, SkewedAcceptsEndWithinOneOfEachOther) {
  // The kernel hands every connection to worker 0: the counts still come out even.
  ConnectionBalancer b(4);
  for (int i = 0; i < 103; ++i) b.Assign(0);
  int64_t total = 0;
  for (int w = 0; w < 4; ++w) {
    EXPECT_GE(b.connections(w), 25);
    EXPECT_LE(b.connections(w), 26);
    total += b.connections(w);
  }
  EXPECT_EQ(total, 103);
}

TEST(ConnectionBalancerTest, OneWorkerAlwaysOwnsEverything) {
  ConnectionBalancer b(1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.Assign(0), 0);
  EXPECT_EQ(b.connections(0), 5);
  EXPECT_EQ(ConnectionBalancer(0).workers(), 1);  // Clamped.
}

TEST(ConnectionBalancerTest, ConcurrentAssignAndReleaseKeepExactTotals) {
  ConnectionBalancer b(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&b, t] {
      for (int i = 0; i < 10000; ++i) {
        int owner = b.Assign(t);
        if (i % 2 == 1) b.Release(owner);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(b.connections(0) + b.connections(1), 10000);
  EXPECT_GE(b.connections(0), 0);
  EXPECT_GE(b.connections(1), 0);
}

}  // namespace
}  // namespace lb::proxy
