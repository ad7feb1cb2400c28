// Kills the controller with SIGKILL while clients are writing, restarts it on the same data
// directory and checks that every acknowledged write survived: the store's durability promise
// (a committed, acknowledged change survives a crash of the process) seen from outside.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/wait.h"

namespace lb::testing {
namespace {

constexpr int kCycles = 3;
// Bounds on each writer per cycle; the kill comes long before either is reached.
constexpr int kMaxWritesPerCycle = 1500;
constexpr absl::Duration kMaxWriteTimePerCycle = absl::Seconds(20);
// Each writer's acknowledged writes before the kill: this many in the first cycle, and
// kMoreAcksPerCycle more in each further one, so the kill falls at a different point.
constexpr int kAcksBeforeFirstKill = 30;
constexpr int kMoreAcksPerCycle = 40;

// Port ranges keep every endpoint distinct: writer w in cycle c adds ports
// kFirstPort[w] + c * kCycleStride + i.
constexpr int kCycleStride = 2000;
constexpr int kRestFirstPort = 10000;
constexpr int kGrpcFirstPort = 20000;
constexpr int kRestCheckPort = 40000;  // + cycle: one add over REST after each restart.
constexpr int kGrpcCheckPort = 41000;  // + cycle: one add over gRPC after each restart.

std::string AddBody(int port) {
  return absl::StrCat(R"({"action":"add","ip":"127.0.0.1","port":)", port, "}");
}

// What one writer saw in one cycle.
struct WriterLog {
  std::string name;
  std::atomic<int> acked_count{0};
  std::vector<int> acked;      // Ports whose add was acknowledged, in order.
  std::optional<int> unknown;  // The add in flight when the connection failed: outcome unknown.
  absl::Time failed_at = absl::InfiniteFuture();
  std::string stop_reason;
  std::vector<std::string> unexpected;  // Answers that are neither an ack nor a failure.
};

// Adds 127.0.0.1:first_port+i over REST /config until the controller stops answering.
void RestWriter(int rest_port, int first_port, const std::atomic<bool>* stop, WriterLog* log) {
  absl::Time end = absl::Now() + kMaxWriteTimePerCycle;
  for (int i = 0; i < kMaxWritesPerCycle && !stop->load() && absl::Now() < end; ++i) {
    const int port = first_port + i;
    HttpRequest req;
    req.method = "POST";
    req.target = "/config";
    req.headers = {{"Content-Type", "application/json"}};
    req.body = AddBody(port);
    absl::StatusOr<HttpResponse> r = HttpCall(rest_port, req, absl::Seconds(15));
    if (!r.ok()) {
      log->failed_at = absl::Now();
      log->unknown = port;
      log->stop_reason = r.status().ToString();
      return;
    }
    if (r->status == 200 && r->body.empty()) {  // The seed's acknowledgement.
      log->acked.push_back(port);
      log->acked_count.fetch_add(1);
      continue;
    }
    log->unexpected.push_back(absl::StrCat("port ", port, ": ", r->raw));
    return;
  }
  log->stop_reason = "stopped";
}

// Adds 127.0.0.1:first_port+i with lb.v1 AddEndpoint until the controller stops answering.
void GrpcWriter(const std::string& target, int first_port, const std::atomic<bool>* stop,
                WriterLog* log) {
  auto stub = lb::v1::LoadBalancer::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  absl::Time end = absl::Now() + kMaxWriteTimePerCycle;
  for (int i = 0; i < kMaxWritesPerCycle && !stop->load() && absl::Now() < end; ++i) {
    const int port = first_port + i;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
    lb::v1::AddEndpointRequest req;
    req.set_cluster("backend");
    req.mutable_endpoint()->set_address("127.0.0.1");
    req.mutable_endpoint()->set_port(port);
    lb::v1::AddEndpointResponse resp;
    grpc::Status s = stub->AddEndpoint(&ctx, req, &resp);
    if (s.ok()) {
      log->acked.push_back(port);
      log->acked_count.fetch_add(1);
      continue;
    }
    log->failed_at = absl::Now();
    log->unknown = port;
    log->stop_reason = absl::StrCat("gRPC code ", s.error_code(), ": ", s.error_message());
    return;
  }
  log->stop_reason = "stopped";
}

// GET /config as ports of 127.0.0.1, in the listed order.
absl::StatusOr<std::vector<int>> ListedPorts(int rest_port, std::string* raw_body) {
  absl::StatusOr<HttpResponse> r = HttpGet(rest_port, "/config");
  if (!r.ok()) return r.status();
  *raw_body = r->body;
  if (r->status != 200) return absl::InternalError(absl::StrCat("GET /config: ", r->raw));
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return absl::InternalError(absl::StrCat("not a JSON array: ", r->body));
  std::vector<int> ports;
  for (const auto& e : j) {
    int port = 0;
    if (!e.is_string() || !absl::StartsWith(e.get<std::string>(), "127.0.0.1:") ||
        !absl::SimpleAtoi(e.get<std::string>().substr(10), &port)) {
      return absl::InternalError(absl::StrCat("unexpected entry ", e.dump()));
    }
    ports.push_back(port);
  }
  return ports;
}

// Which writer (or check) a port belongs to; its ports were added in increasing order.
int Source(int port) {
  if (port >= kGrpcCheckPort) return 3;
  if (port >= kRestCheckPort) return 2;
  if (port >= kGrpcFirstPort) return 1;
  return 0;
}

TEST(CrashTest, AcknowledgedWritesSurviveSigkillMidStream) {
  ControllerProcess controller;
  ASSERT_TRUE(controller.Start().ok()) << controller.LogTail();

  std::set<int> acked;  // Every acknowledged add, all cycles.
  std::set<int> maybe;  // Adds whose outcome is unknown (in flight at the kill).
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    std::atomic<bool> stop{false};
    WriterLog rest_log, grpc_log;
    rest_log.name = "REST";
    grpc_log.name = "gRPC";
    const absl::Time start = absl::Now();
    std::thread rest_thread(RestWriter, controller.rest_port(),
                            kRestFirstPort + cycle * kCycleStride, &stop, &rest_log);
    std::thread grpc_thread(GrpcWriter, controller.grpc_target(),
                            kGrpcFirstPort + cycle * kCycleStride, &stop, &grpc_log);

    // Kill once both writers have some acknowledged writes, at a later point each cycle
    // (bounded: a writer that stalls fails the checks below).
    const int kill_at = kAcksBeforeFirstKill + kMoreAcksPerCycle * cycle;
    WaitUntil(
        [&] {
          return rest_log.acked_count.load() >= kill_at && grpc_log.acked_count.load() >= kill_at;
        },
        absl::Seconds(10), absl::Milliseconds(2));
    const absl::Time kill_time = absl::Now();
    const int killed_pid = controller.pid();
    controller.Kill();  // SIGKILL, mid-stream.
    stop.store(true);
    rest_thread.join();
    grpc_thread.join();
    const absl::Duration writing = kill_time - start;

    for (WriterLog* log : {&rest_log, &grpc_log}) {
      EXPECT_TRUE(log->unexpected.empty())
          << log->name << ": " << absl::StrJoin(log->unexpected, "\n");
      EXPECT_GE(log->acked.size(), static_cast<size_t>(kill_at))
          << log->name << " wrote too little before "
          << "the kill: " << log->stop_reason;
      // A failure before the kill would be the controller failing a healthy write.
      EXPECT_GE(log->failed_at, kill_time)
          << log->name << " failed " << absl::FormatDuration(kill_time - log->failed_at)
          << " before the kill: " << log->stop_reason;
      acked.insert(log->acked.begin(), log->acked.end());
      if (log->unknown.has_value()) maybe.insert(*log->unknown);
      std::cout << "cycle " << cycle << ": " << log->name << " writer: " << log->acked.size()
                << " acknowledged in " << absl::FormatDuration(writing) << " before SIGKILL of pid "
                << killed_pid << "; stopped by: " << log->stop_reason << std::endl;
    }

    ASSERT_TRUE(controller.Start().ok()) << controller.LogTail();
    std::string raw;
    absl::StatusOr<std::vector<int>> listed = ListedPorts(controller.rest_port(), &raw);
    ASSERT_TRUE(listed.ok()) << listed.status();

    std::set<int> present(listed->begin(), listed->end());
    EXPECT_EQ(present.size(), listed->size()) << "duplicates in " << raw;
    std::vector<int> lost;
    for (int port : acked) {
      if (present.count(port) == 0) lost.push_back(port);
    }
    EXPECT_TRUE(lost.empty()) << "acknowledged but lost after SIGKILL: "
                              << absl::StrJoin(lost, ",");
    std::vector<int> phantom;
    for (int port : present) {
      if (acked.count(port) == 0 && maybe.count(port) == 0) phantom.push_back(port);
    }
    EXPECT_TRUE(phantom.empty()) << "never written but present: " << absl::StrJoin(phantom, ",");
    for (WriterLog* log : {&rest_log, &grpc_log}) {
      if (!log->unknown.has_value()) continue;
      std::cout << "cycle " << cycle << ": " << log->name << " add in flight at the kill (port "
                << *log->unknown << ") is " << (present.count(*log->unknown) ? "" : "not ")
                << "present after restart" << std::endl;
    }
    // Insertion order survives: each writer's endpoints appear in the order it added them.
    for (int source = 0; source < 4; ++source) {
      std::vector<int> of_source;
      for (int port : *listed) {
        if (Source(port) == source) of_source.push_back(port);
      }
      EXPECT_TRUE(std::is_sorted(of_source.begin(), of_source.end()))
          << "source " << source << " out of order: " << absl::StrJoin(of_source, ",");
    }

    // The recovered store is usable over both APIs, and both see the same list.
    absl::StatusOr<HttpResponse> add =
        HttpPost(controller.rest_port(), "/config", AddBody(kRestCheckPort + cycle));
    ASSERT_TRUE(add.ok()) << add.status();
    EXPECT_EQ(add->status, 200) << add->raw;
    EXPECT_EQ(add->body, "");
    acked.insert(kRestCheckPort + cycle);
    auto stub = lb::v1::LoadBalancer::NewStub(
        grpc::CreateChannel(controller.grpc_target(), grpc::InsecureChannelCredentials()));
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      lb::v1::AddEndpointRequest req;
      req.set_cluster("backend");
      req.mutable_endpoint()->set_address("127.0.0.1");
      req.mutable_endpoint()->set_port(kGrpcCheckPort + cycle);
      lb::v1::AddEndpointResponse resp;
      grpc::Status s = stub->AddEndpoint(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
      acked.insert(kGrpcCheckPort + cycle);
    }
    absl::StatusOr<std::vector<int>> after = ListedPorts(controller.rest_port(), &raw);
    ASSERT_TRUE(after.ok()) << after.status();
    std::vector<int> expected_after = *listed;
    expected_after.push_back(kRestCheckPort + cycle);
    expected_after.push_back(kGrpcCheckPort + cycle);
    EXPECT_EQ(*after, expected_after);
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      lb::v1::ListEndpointsRequest req;
      req.set_cluster("backend");
      lb::v1::ListEndpointsResponse resp;
      grpc::Status s = stub->ListEndpoints(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
      std::vector<int> grpc_ports;
      for (const auto& e : resp.endpoints()) {
        EXPECT_EQ(e.address(), "127.0.0.1");
        grpc_ports.push_back(static_cast<int>(e.port()));
      }
      EXPECT_EQ(grpc_ports, *after);
    }
    if (HasFatalFailure()) return;
  }
  absl::StatusOr<int> code = controller.Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << controller.LogTail();
}

}  // namespace
}  // namespace lb::testing
