// xDS load benchmark: how fast one controller gets endpoint changes to many ADS streams, and
// what that costs it in memory and CPU. Not a test: it prints a table.
//
// Per mode (SotW and delta by default, each against a fresh controller):
//   1. start //controller:controller on loopback (port 0, ready file, fresh data dir);
//   2. create --clusters clusters of --endpoints endpoints each through lb.v1;
//   3. open --streams ADS streams from this process (callback API, one channel per
//      --streams_per_channel streams), each subscribing to CDS "*" and EDS for every cluster,
//      ACKing every response and fingerprinting every ClusterLoadAssignment it receives;
//   4. wait until every stream holds the full initial state;
//   5. make --changes single-endpoint changes, --interval apart, timing each until every stream
//      has the new ClusterLoadAssignment; then a burst of --burst changes to one cluster;
//   6. report latency percentiles, controller RSS (/proc/PID/status) and CPU (/proc/PID/stat).
//
//   bazel run //tests/bench:xds_load -- --streams=200
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/xds/type_urls.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/grpcpp.h"
#include "lb/v1/lb.grpc.pb.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/subprocess.h"

ABSL_FLAG(int, streams, 1000, "ADS streams to open");
ABSL_FLAG(int, clusters, 100, "Clusters to create");
ABSL_FLAG(int, endpoints, 100, "Endpoints per cluster");
ABSL_FLAG(int, changes, 50, "Single-endpoint changes, one at a time");
ABSL_FLAG(absl::Duration, interval, absl::Milliseconds(200), "Spacing of the single changes");
ABSL_FLAG(int, burst, 100, "Changes to one cluster, as fast as possible (0: no burst)");
ABSL_FLAG(std::string, modes, "sotw,delta", "Comma-separated: sotw, delta");
ABSL_FLAG(int, streams_per_channel, 100, "ADS streams per gRPC channel (TCP connection)");
ABSL_FLAG(int, setup_concurrency, 4, "Concurrent lb.v1 RPCs while creating clusters");
ABSL_FLAG(int, burst_concurrency, 4, "Concurrent lb.v1 RPCs in the burst");
ABSL_FLAG(absl::Duration, sync_timeout, absl::Seconds(180), "Bound on the initial sync");
ABSL_FLAG(absl::Duration, change_timeout, absl::Seconds(10), "Bound on one change's propagation");
ABSL_FLAG(std::string, controller_binary, "bazel-bin/controller/controller",
          "The controller; when left at the default, the copy in this binary's runfiles wins");
ABSL_FLAG(uint64_t, seed, 1, "Random seed for the change sequence");
ABSL_FLAG(bool, keep_tmp, false, "Keep the controllers' data dirs and logs");
ABSL_FLAG(double, connect_rate, 0,
          "Streams opened per second; 0 opens them all at once (a mass reconnect)");
ABSL_FLAG(std::string, controller_env, "",
          "Extra environment for the controller, comma-separated NAME=VALUE (e.g. allocator "
          "tunables)");
ABSL_FLAG(std::string, perf, "",
          "If set, `perf record -g` the controller during the sync and the change phases into "
          "PREFIX.MODE.sync.data and PREFIX.MODE.changes.data");
ABSL_FLAG(bool, malloc_probe, false,
          "At the end, attach gdb to the controller: malloc_stats() (heap in use) and "
          "malloc_trim(0), then read RSS again (live memory vs. memory the allocator keeps)");

namespace lb::bench {
namespace {

namespace discovery = envoy::service::discovery::v3;

using ::lb::xds::kClusterType;
using ::lb::xds::kEndpointType;
constexpr char kClusterPrefix[] = "bench-c";

// Children to kill if the benchmark is interrupted (the controller, perf).
std::atomic<pid_t> g_children[3];

void OnInterrupt(int signo) {
  for (auto& c : g_children) {
    pid_t pid = c.load();
    if (pid > 0) kill(pid, signo == SIGINT ? SIGINT : SIGKILL);
  }
  _exit(128 + signo);
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string ClusterName(int i) { return absl::StrFormat("%s%04d", kClusterPrefix, i); }

// Index of a "bench-cNNNN" name, or -1.
int ClusterIndex(absl::string_view name, int clusters) {
  if (name.size() <= sizeof(kClusterPrefix) - 1 ||
      name.substr(0, sizeof(kClusterPrefix) - 1) != kClusterPrefix) {
    return -1;
  }
  int i = 0;
  if (!absl::SimpleAtoi(name.substr(sizeof(kClusterPrefix) - 1), &i)) return -1;
  return i >= 0 && i < clusters ? i : -1;
}

// ---------------------------------------------------------------------------------------------
// Order-independent fingerprint of an endpoint set: what the benchmark expects a cluster to
// hold, and what a stream last received for it. 0 means "nothing received".

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t EndpointHash(absl::string_view address, uint32_t port) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : address) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return Mix(h ^ (static_cast<uint64_t>(port) << 40));
}

uint64_t FinishFingerprint(uint64_t sum, uint64_t count) { return Mix(sum + Mix(count)) | 1; }

// Decoding a ClusterLoadAssignment into message objects costs the client more CPU than the
// controller spends sending it, and both share the machine; so the streams read the wire format
// directly, touching only cluster_name and each endpoint's socket address.
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr uint32_t Bytes(int field) { return (field << 3) | 2; }
constexpr uint32_t Varint(int field) { return (field << 3) | 0; }

// Calls on_field(tag) for every field until the current limit; it returns 1 if it consumed the
// field, 0 to skip it, -1 on error.
template <typename F>
bool ForEachField(CodedInputStream* in, F&& on_field) {
  while (true) {
    uint32_t tag = in->ReadTag();
    if (tag == 0) return in->ConsumedEntireMessage();
    int r = on_field(tag);
    if (r < 0) return false;
    if (r == 0 && !WireFormatLite::SkipField(in, tag)) return false;
  }
}

// Runs `body` over the length-delimited field that follows.
template <typename F>
int Nested(CodedInputStream* in, F&& body) {
  uint32_t length = 0;
  if (!in->ReadVarint32(&length)) return -1;
  CodedInputStream::Limit limit = in->PushLimit(static_cast<int>(length));
  bool ok = ForEachField(in, body);
  in->PopLimit(limit);
  return ok ? 1 : -1;
}

// ClusterLoadAssignment{cluster_name=1, endpoints=2: LocalityLbEndpoints{lb_endpoints=2:
// LbEndpoint{endpoint=1: Endpoint{address=1: Address{socket_address=1: SocketAddress{address=2,
// port_value=3}}}}}}.
bool ScanAssignment(const std::string& bytes, std::string* cluster_name, uint64_t* fingerprint) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  uint64_t sum = 0, count = 0;
  std::string address;
  uint32_t port = 0;
  auto socket_address = [&](uint32_t tag) -> int {
    if (tag == Bytes(2)) return WireFormatLite::ReadString(&in, &address) ? 1 : -1;
    if (tag == Varint(3)) return in.ReadVarint32(&port) ? 1 : -1;
    return 0;
  };
  auto address_msg = [&](uint32_t tag) -> int {
    return tag == Bytes(1) ? Nested(&in, socket_address) : 0;
  };
  auto endpoint = [&](uint32_t tag) -> int {
    return tag == Bytes(1) ? Nested(&in, address_msg) : 0;
  };
  auto lb_endpoint = [&](uint32_t tag) -> int {
    if (tag != Bytes(1)) return 0;
    address.clear();
    port = 0;
    if (Nested(&in, endpoint) < 0) return -1;
    sum += EndpointHash(address, port);
    ++count;
    return 1;
  };
  auto locality = [&](uint32_t tag) -> int {
    return tag == Bytes(2) ? Nested(&in, lb_endpoint) : 0;
  };
  bool ok = ForEachField(&in, [&](uint32_t tag) -> int {
    if (tag == Bytes(1)) return WireFormatLite::ReadString(&in, cluster_name) ? 1 : -1;
    if (tag == Bytes(2)) return Nested(&in, locality);
    return 0;
  });
  *fingerprint = FinishFingerprint(sum, count);
  return ok;
}

// The benchmark's model of one cluster.
struct ClusterModel {
  std::vector<std::pair<std::string, uint32_t>> endpoints;
  uint32_t next_port = 0;
  uint64_t Fingerprint() const {
    uint64_t sum = 0;
    for (const auto& [a, p] : endpoints) sum += EndpointHash(a, p);
    return FinishFingerprint(sum, endpoints.size());
  }
};

std::string EndpointAddress(int j) { return absl::StrCat("127.0.0.", 1 + j % 250); }

// ---------------------------------------------------------------------------------------------
// /proc readings of the controller.

struct ProcStats {
  double rss_mb = 0;
  double hwm_mb = 0;
  double cpu_s = 0;  // utime + stime
  int threads = 0;
};

ProcStats ReadProc(pid_t pid) {
  ProcStats s;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() < 2) continue;
    double v = 0;
    if (!absl::SimpleAtod(parts[1], &v)) continue;
    if (parts[0] == "VmRSS:") s.rss_mb = v / 1024;
    if (parts[0] == "VmHWM:") s.hwm_mb = v / 1024;
    if (parts[0] == "Threads:") s.threads = static_cast<int>(v);
  }
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::stringstream ss;
  ss << stat.rdbuf();
  std::string text = ss.str();
  size_t paren = text.rfind(')');
  if (paren != std::string::npos) {
    // Fields after "pid (comm)": state is field 3; utime 14 and stime 15.
    std::vector<std::string> f = absl::StrSplit(text.substr(paren + 2), ' ');
    if (f.size() > 12) {
      double ut = 0, st = 0;
      (void)absl::SimpleAtod(f[11], &ut);
      (void)absl::SimpleAtod(f[12], &st);
      s.cpu_s = (ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  return s;
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The controller's push-latency histogram (publication of a snapshot, or a request, to the
// response written), scraped from its REST /metrics.

// The body of GET `path` from 127.0.0.1:`port`, or "" on any failure.
std::string HttpGetBody(int port, const std::string& path) {
  absl::StatusOr<lb::testing::HttpResponse> r = lb::testing::HttpGet(port, path);
  return r.ok() && r->status == 200 ? r->body : "";
}

struct PushHistogram {
  std::vector<std::pair<double, double>> cumulative;  // (le, count), ascending le.
  double sum = 0;
  double count = 0;
};

PushHistogram ScrapePushLatency(int rest_port) {
  PushHistogram h;
  const std::string name = "lb_xds_push_latency_seconds";
  for (absl::string_view line : absl::StrSplit(HttpGetBody(rest_port, "/metrics"), '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    size_t space = line.rfind(' ');
    double v = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &v)) continue;
    absl::string_view key = line.substr(0, space);
    if (key == name + "_sum") {
      h.sum = v;
    } else if (key == name + "_count") {
      h.count = v;
    } else if (absl::StartsWith(key, name + "_bucket{le=\"")) {
      absl::string_view le = key.substr(name.size() + 12);
      le = le.substr(0, le.find('"'));
      double bound = 0;
      if (le == "+Inf") {
        bound = 1e9;
      } else if (!absl::SimpleAtod(le, &bound)) {
        continue;
      }
      h.cumulative.emplace_back(bound, v);
    }
  }
  std::sort(h.cumulative.begin(), h.cumulative.end());
  return h;
}

// Upper bound of the bucket holding quantile q of the observations between two scrapes.
double HistogramQuantile(const PushHistogram& a, const PushHistogram& b, double q) {
  double total = b.count - a.count;
  if (total <= 0 || a.cumulative.size() != b.cumulative.size()) return -1;
  for (size_t i = 0; i < b.cumulative.size(); ++i) {
    if (b.cumulative[i].second - a.cumulative[i].second >= q * total) {
      return b.cumulative[i].first;
    }
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// One ADS stream. Everything the main thread reads is atomic.

struct Counters {
  std::atomic<uint64_t> responses{0};
  std::atomic<uint64_t> eds_resources{0};
  std::atomic<uint64_t> bytes{0};            // Serialized resource bytes received.
  std::atomic<uint64_t> bad_assignments{0};  // Undecodable ClusterLoadAssignments.
  std::atomic<int> ended{0};
  std::atomic<int> done{0};
};

class StreamState {
 public:
  explicit StreamState(int clusters)
      : fp_(new std::atomic<uint64_t>[clusters]), recv_ns_(new std::atomic<int64_t>[clusters]) {
    for (int i = 0; i < clusters; ++i) {
      fp_[i].store(0);
      recv_ns_[i].store(0);
    }
  }
  virtual ~StreamState() = default;
  virtual void Cancel() = 0;

  uint64_t fp(int c) const { return fp_[c].load(std::memory_order_acquire); }
  int64_t recv_ns(int c) const { return recv_ns_[c].load(std::memory_order_acquire); }
  int cds_clusters() const { return cds_clusters_.load(); }
  bool ended() const { return ended_.load(); }
  const std::string& end_status() const { return end_status_; }

 protected:
  void Record(int c, uint64_t fp, int64_t now) {
    recv_ns_[c].store(now, std::memory_order_release);
    fp_[c].store(fp, std::memory_order_release);
  }
  std::unique_ptr<std::atomic<uint64_t>[]> fp_;
  std::unique_ptr<std::atomic<int64_t>[]> recv_ns_;
  std::atomic<int> cds_clusters_{-1};
  std::atomic<bool> ended_{false};
  std::string end_status_;  // Written before ended_.
};

template <bool kDelta>
class AdsStream final
    : public StreamState,
      public grpc::ClientBidiReactor<
          std::conditional_t<kDelta, discovery::DeltaDiscoveryRequest, discovery::DiscoveryRequest>,
          std::conditional_t<kDelta, discovery::DeltaDiscoveryResponse,
                             discovery::DiscoveryResponse>> {
 public:
  using Request =
      std::conditional_t<kDelta, discovery::DeltaDiscoveryRequest, discovery::DiscoveryRequest>;
  using Response =
      std::conditional_t<kDelta, discovery::DeltaDiscoveryResponse, discovery::DiscoveryResponse>;

  AdsStream(int index, int clusters, const std::vector<std::string>* names, Counters* counters)
      : StreamState(clusters),
        index_(index),
        clusters_(clusters),
        names_(names),
        counters_(counters) {}

  void Start(discovery::AggregatedDiscoveryService::Stub* stub) {
    Request cds, eds;
    auto* node = cds.mutable_node();
    node->set_id(absl::StrCat("bench-", index_));
    node->set_cluster("lb-bench");
    node->set_user_agent_name("lb-bench");
    node->set_user_agent_version("1");
    cds.set_type_url(kClusterType);
    eds.set_type_url(kEndpointType);
    if constexpr (kDelta) {
      cds.add_resource_names_subscribe("*");
      for (const auto& n : *names_) eds.add_resource_names_subscribe(n);
      stub->async()->DeltaAggregatedResources(&ctx_, this);
    } else {
      cds.add_resource_names("*");
      for (const auto& n : *names_) eds.add_resource_names(n);
      stub->async()->StreamAggregatedResources(&ctx_, this);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      writes_.push_back(std::move(cds));
      writes_.push_back(std::move(eds));
      writing_ = true;
      this->StartWrite(&writes_.front());
    }
    this->StartRead(&response_);
    this->StartCall();
  }

  void Cancel() override { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // The status arrives in OnDone.
    int64_t now = NowNs();
    counters_->responses.fetch_add(1, std::memory_order_relaxed);
    Request ack;
    ack.set_type_url(response_.type_url());
    ack.set_response_nonce(response_.nonce());
    uint64_t bytes = 0;
    if (response_.type_url() == kEndpointType) {
      if constexpr (kDelta) {
        for (const auto& r : response_.resources()) {
          bytes += r.resource().value().size();
          HandleAssignment(r.resource().value(), now);
        }
        for (const auto& name : response_.removed_resources()) {
          int c = ClusterIndex(name, clusters_);
          if (c >= 0) Record(c, 0, now);
        }
      } else {
        for (const auto& any : response_.resources()) {
          bytes += any.value().size();
          HandleAssignment(any.value(), now);
        }
        // A SotW ACK repeats the subscription; otherwise it would unsubscribe.
        *ack.mutable_resource_names() = {names_->begin(), names_->end()};
      }
      counters_->eds_resources.fetch_add(response_.resources_size(), std::memory_order_relaxed);
    } else if (response_.type_url() == kClusterType) {
      // Counts the benchmark's clusters (the controller may hold others).
      if constexpr (kDelta) {
        for (const auto& r : response_.resources()) {
          bytes += r.resource().value().size();
          if (ClusterIndex(r.name(), clusters_) >= 0) cds_names_.insert(r.name());
        }
        for (const auto& name : response_.removed_resources()) cds_names_.erase(name);
      } else {
        cds_names_.clear();  // Full state.
        for (const auto& any : response_.resources()) {
          bytes += any.value().size();
          cluster_.Clear();
          if (cluster_.ParseFromString(any.value()) &&
              ClusterIndex(cluster_.name(), clusters_) >= 0) {
            cds_names_.insert(cluster_.name());
          }
        }
        ack.add_resource_names("*");
      }
      cds_clusters_.store(static_cast<int>(cds_names_.size()));
    }
    if constexpr (!kDelta) ack.set_version_info(response_.version_info());
    counters_->bytes.fetch_add(bytes, std::memory_order_relaxed);
    response_.Clear();
    this->StartRead(&response_);
    Write(std::move(ack));
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writes_.pop_front();
    writing_ = false;
    if (!ok) return;
    if (!writes_.empty()) {
      writing_ = true;
      this->StartWrite(&writes_.front());
    }
  }

  void OnDone(const grpc::Status& status) override {
    end_status_ = absl::StrCat(status.error_code(), " ", status.error_message());
    ended_.store(true);
    counters_->ended.fetch_add(1);
    counters_->done.fetch_add(1);
  }

 private:
  void HandleAssignment(const std::string& bytes, int64_t now) {
    uint64_t fp = 0;
    if (!ScanAssignment(bytes, &scratch_name_, &fp)) {
      counters_->bad_assignments.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    int c = ClusterIndex(scratch_name_, clusters_);
    if (c >= 0) Record(c, fp, now);
  }

  void Write(Request request) {
    std::lock_guard<std::mutex> lock(mu_);
    writes_.push_back(std::move(request));
    if (writing_) return;
    writing_ = true;
    this->StartWrite(&writes_.front());
  }

  const int index_;
  const int clusters_;
  const std::vector<std::string>* const names_;
  Counters* const counters_;
  grpc::ClientContext ctx_;
  Response response_;  // Owned by the single outstanding read.
  std::string scratch_name_;
  envoy::config::cluster::v3::Cluster cluster_;
  std::set<std::string> cds_names_;  // The benchmark's clusters this stream holds.
  std::mutex mu_;
  std::deque<Request> writes_;  // Front is being written while writing_.
  bool writing_ = false;
};

// ---------------------------------------------------------------------------------------------

struct Result {
  std::string mode;
  int streams = 0;
  int clusters = 0;
  int endpoints = 0;
  double create_s = 0;  // Creating the clusters through lb.v1.
  double sync_s = -1;   // First stream opened -> every stream holds everything.
  int unsynced = 0;
  std::vector<double> change_ms;  // Propagation of the changes that made it.
  std::vector<double> rpc_ms;     // The lb.v1 call alone.
  std::vector<double> first_ms;   // Until the first stream had it.
  int misses = 0;
  double burst_ms = -1;
  double burst_rpc_ms = 0;
  double burst_responses_per_stream = 0;  // < burst size: the controller coalesced.
  ProcStats after_create, after_sync, end;
  double cpu_create_s = 0, cpu_sync_s = 0, cpu_changes_s = 0, cpu_burst_s = 0;
  double bench_cpu_s = 0, bench_cpu_sync_s = 0, bench_cpu_changes_s = 0;
  // Server side, single-change phase: snapshot publication -> response written.
  double push_mean_ms = -1, push_p50_ms = -1, push_p99_ms = -1;
  double pushes = 0;
  double rss_after_trim_mb = -1, heap_in_use_mb = -1;  // --malloc_probe
  uint64_t responses = 0, eds_resources = 0, bytes = 0;
  int ended_early = 0;
  std::string first_end_status;
  std::string error;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string FindController(const char* argv0) {
  std::string flag = absl::GetFlag(FLAGS_controller_binary);
  if (flag != "bazel-bin/controller/controller") return flag;
  std::vector<std::string> candidates;
  for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* d = getenv(env))
      candidates.push_back(absl::StrCat(d, "/lb/controller/controller"));
  }
  candidates.push_back(absl::StrCat(argv0, ".runfiles/lb/controller/controller"));
  for (const auto& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return flag;
}

class Bench {
 public:
  Bench(std::string mode, std::string controller) : controller_(std::move(controller)) {
    r_.mode = std::move(mode);
    r_.streams = absl::GetFlag(FLAGS_streams);
    r_.clusters = absl::GetFlag(FLAGS_clusters);
    r_.endpoints = absl::GetFlag(FLAGS_endpoints);
    rng_.seed(absl::GetFlag(FLAGS_seed));
  }

  Result Run() {
    double bench_cpu0 = SelfCpuSeconds();
    if (!StartController()) return r_;
    RunPhases();
    r_.bench_cpu_s = SelfCpuSeconds() - bench_cpu0;
    r_.end = ReadProc(pid_);
    r_.responses = counters_.responses.load();
    r_.eds_resources = counters_.eds_resources.load();
    r_.bytes = counters_.bytes.load();
    if (counters_.bad_assignments.load() > 0 && r_.error.empty()) {
      r_.error = absl::StrCat(counters_.bad_assignments.load(),
                              " ClusterLoadAssignments could not be decoded");
    }
    r_.ended_early = counters_.ended.load();
    for (const auto& s : streams_) {
      if (s->ended()) {
        r_.first_end_status = s->end_status();
        break;
      }
    }
    if (absl::GetFlag(FLAGS_malloc_probe) && r_.error.empty()) MallocProbe();
    Shutdown();
    return r_;
  }

 private:
  bool StartController() {
    tmp_ = testing::MakeTempDir();
    std::string ready = tmp_ + "/ready.json";
    log_ = tmp_ + "/controller.log";
    absl::StatusOr<testing::Subprocess> p = testing::Subprocess::Start(
        {controller_, "--grpc_listen=127.0.0.1:0", "--rest_listen=127.0.0.1:0",
         absl::StrCat("--data_dir=", tmp_, "/data"), absl::StrCat("--ready_file=", ready),
         "--log_level=warn"},
        log_, absl::StrSplit(absl::GetFlag(FLAGS_controller_env), ',', absl::SkipEmpty()));
    if (!p.ok()) {
      r_.error = std::string(p.status().ToString());
      return false;
    }
    controller_proc_ = std::make_unique<testing::Subprocess>(std::move(*p));
    g_children[0] = controller_proc_->pid();
    absl::StatusOr<nlohmann::json> json =
        testing::WaitForReadyFile(*controller_proc_, ready, absl::Seconds(30), "controller", log_);
    if (!json.ok()) {
      r_.error = absl::StrCat("controller did not start: ", json.status().message());
      return false;
    }
    port_ = json->value("grpc_port", -1);
    rest_port_ = json->value("rest_port", -1);
    pid_ = controller_proc_->pid();
    if (port_ <= 0) {
      r_.error = absl::StrCat("bad ready file: ", json->dump());
      return false;
    }
    target_ = absl::StrCat("127.0.0.1:", port_);
    api_ = lb::v1::LoadBalancer::NewStub(
        grpc::CreateChannel(target_, grpc::InsecureChannelCredentials()));
    return true;
  }

  void Log(const std::string& msg) {
    std::fprintf(stderr, "[%s %7.1fs] %s\n", r_.mode.c_str(), (NowNs() - t_start_) / 1e9,
                 msg.c_str());
  }

  void RunPhases() {
    t_start_ = NowNs();
    const int C = r_.clusters, E = r_.endpoints, N = r_.streams;
    ProcStats p0 = ReadProc(pid_);

    // 2. Clusters.
    model_.resize(C);
    for (int i = 0; i < C; ++i) {
      names_.push_back(ClusterName(i));
      for (int j = 0; j < E; ++j) model_[i].endpoints.emplace_back(EndpointAddress(j), 20000 + j);
      model_[i].next_port = 20000 + E;
    }
    int64_t t0 = NowNs();
    std::atomic<int> next{0}, failed{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < std::max(1, absl::GetFlag(FLAGS_setup_concurrency)); ++w) {
      workers.emplace_back([&] {
        for (int i = next++; i < C; i = next++) {
          lb::v1::CreateClusterRequest req;
          req.mutable_cluster()->set_name(names_[i]);
          req.mutable_cluster()->set_lb_policy(lb::v1::ROUND_ROBIN);
          for (const auto& [a, p] : model_[i].endpoints) {
            auto* e = req.mutable_cluster()->add_endpoints();
            e->set_address(a);
            e->set_port(p);
          }
          lb::v1::Cluster resp;
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
          grpc::Status s = api_->CreateCluster(&ctx, req, &resp);
          if (!s.ok()) {
            if (failed++ == 0) Log(absl::StrCat("CreateCluster: ", s.error_message()));
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    r_.create_s = (NowNs() - t0) / 1e9;
    r_.after_create = ReadProc(pid_);
    r_.cpu_create_s = r_.after_create.cpu_s - p0.cpu_s;
    if (failed > 0) {
      r_.error = absl::StrCat(failed.load(), " CreateCluster calls failed");
      return;
    }
    Log(absl::StrFormat("%d clusters x %d endpoints created in %.2f s", C, E, r_.create_s));

    // 3. Streams.
    StartPerf("sync");
    double bench_cpu = SelfCpuSeconds();
    int per_channel = std::max(1, absl::GetFlag(FLAGS_streams_per_channel));
    t0 = NowNs();
    const double rate = absl::GetFlag(FLAGS_connect_rate);
    for (int i = 0; i < N; ++i) {
      if (rate > 0) {
        int64_t due = t0 + static_cast<int64_t>(i / rate * 1e9);
        while (NowNs() < due) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (i % per_channel == 0) {
        grpc::ChannelArguments args;
        args.SetInt("lb.bench.channel", i / per_channel);  // A connection of its own.
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        args.SetMaxReceiveMessageSize(-1);
        stubs_.push_back(discovery::AggregatedDiscoveryService::NewStub(
            grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args)));
      }
      std::unique_ptr<StreamState> s;
      if (r_.mode == "delta") {
        auto* d = new AdsStream<true>(i, C, &names_, &counters_);
        s.reset(d);
        d->Start(stubs_.back().get());
      } else {
        auto* d = new AdsStream<false>(i, C, &names_, &counters_);
        s.reset(d);
        d->Start(stubs_.back().get());
      }
      streams_.push_back(std::move(s));
    }
    Log(absl::StrFormat("%d streams opened on %d channels in %.2f s", N, stubs_.size(),
                        (NowNs() - t0) / 1e9));

    // 4. Initial sync.
    std::vector<uint64_t> want(C);
    for (int c = 0; c < C; ++c) want[c] = model_[c].Fingerprint();
    int64_t deadline = t0 + absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_sync_timeout));
    int64_t last_log = NowNs();
    while (true) {
      int unsynced = 0;
      int64_t last = 0;
      for (const auto& s : streams_) {
        if (s->ended()) continue;  // Counted in ended_early.
        bool ok = s->cds_clusters() == C;
        for (int c = 0; ok && c < C; ++c) {
          ok = s->fp(c) == want[c];
          last = std::max(last, s->recv_ns(c));
        }
        unsynced += ok ? 0 : 1;
      }
      if (unsynced == 0) {
        r_.sync_s = (last - t0) / 1e9;
        break;
      }
      int64_t now = NowNs();
      if (now > deadline) {
        r_.unsynced = unsynced;
        Log(absl::StrFormat("initial sync timed out: %d of %d streams incomplete", unsynced, N));
        for (const auto& s : streams_) {
          if (s->ended()) continue;
          int wrong = 0, first = -1;
          for (int c = 0; c < C; ++c) {
            if (s->fp(c) != want[c]) {
              ++wrong;
              if (first < 0) first = c;
            }
          }
          if (wrong == 0 && s->cds_clusters() == C) continue;
          Log(
              absl::StrFormat("  e.g. a stream holds %d clusters (CDS), %d of %d assignments "
                              "differ (first %s)",
                              s->cds_clusters(), wrong, C, first < 0 ? "-" : names_[first]));
          break;
        }
        break;
      }
      if (now - last_log > 5e9) {
        ProcStats ps = ReadProc(pid_);
        Log(absl::StrFormat("syncing: %d/%d streams complete, %" PRIu64
                            " responses, %.0f MB received; controller RSS %.0f MB, CPU %.1f s",
                            N - unsynced, N, counters_.responses.load(),
                            counters_.bytes.load() / 1e6, ps.rss_mb,
                            ps.cpu_s - r_.after_create.cpu_s));
        last_log = now;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    r_.after_sync = ReadProc(pid_);
    r_.cpu_sync_s = r_.after_sync.cpu_s - r_.after_create.cpu_s;
    r_.bench_cpu_sync_s = SelfCpuSeconds() - bench_cpu;
    StopPerf();
    if (r_.sync_s >= 0) {
      Log(absl::StrFormat("initial sync %.2f s; controller RSS %.0f MB (peak %.0f), CPU %.1f s",
                          r_.sync_s, r_.after_sync.rss_mb, r_.after_sync.hwm_mb, r_.cpu_sync_s));
    }

    // 5a. Single changes.
    const int64_t change_timeout = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_change_timeout));
    const int64_t interval = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_interval));
    const int K = absl::GetFlag(FLAGS_changes);
    StartPerf("changes");
    bench_cpu = SelfCpuSeconds();
    PushHistogram h0 = ScrapePushLatency(rest_port_);
    for (int k = 0; k < K; ++k) {
      int c = std::uniform_int_distribution<int>(0, C - 1)(rng_);
      ClusterModel& m = model_[c];
      bool add = m.endpoints.size() <= 1 || std::bernoulli_distribution(0.5)(rng_);
      int64_t start = NowNs();
      grpc::Status s;
      if (add) {
        std::pair<std::string, uint32_t> e(EndpointAddress(m.next_port), m.next_port);
        ++m.next_port;
        s = AddEndpoint(c, e);
        if (s.ok()) m.endpoints.push_back(e);
      } else {
        size_t victim = std::uniform_int_distribution<size_t>(0, m.endpoints.size() - 1)(rng_);
        s = RemoveEndpoint(c, m.endpoints[victim]);
        if (s.ok()) m.endpoints.erase(m.endpoints.begin() + victim);
      }
      int64_t rpc_done = NowNs();
      if (!s.ok()) {
        Log(absl::StrCat("change ", k, " failed: ", s.error_message()));
        ++r_.misses;
        continue;
      }
      r_.rpc_ms.push_back((rpc_done - start) / 1e6);
      int missing = 0;
      int64_t first = 0;
      int64_t last = WaitCluster(c, m.Fingerprint(), start + change_timeout, &missing, &first);
      if (missing > 0) {
        ++r_.misses;
        Log(absl::StrFormat("change %d (%s on %s): %d streams missed it within %s", k,
                            add ? "add" : "remove", names_[c], missing,
                            absl::FormatDuration(absl::GetFlag(FLAGS_change_timeout))));
      } else {
        r_.change_ms.push_back((last - start) / 1e6);
        r_.first_ms.push_back((first - start) / 1e6);
      }
      int64_t wait_until = start + interval;
      while (NowNs() < wait_until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ProcStats after_changes = ReadProc(pid_);
    PushHistogram h1 = ScrapePushLatency(rest_port_);
    r_.bench_cpu_changes_s = SelfCpuSeconds() - bench_cpu;
    StopPerf();
    r_.cpu_changes_s = after_changes.cpu_s - r_.after_sync.cpu_s;
    r_.pushes = h1.count - h0.count;
    if (r_.pushes > 0) {
      r_.push_mean_ms = (h1.sum - h0.sum) / r_.pushes * 1e3;
      r_.push_p50_ms = HistogramQuantile(h0, h1, 0.5) * 1e3;
      r_.push_p99_ms = HistogramQuantile(h0, h1, 0.99) * 1e3;
    }
    if (!r_.change_ms.empty()) {
      Log(absl::StrFormat("%d changes: p50 %.1f ms, p99 %.1f ms, max %.1f ms (RPC p50 %.1f ms)", K,
                          Percentile(r_.change_ms, 50), Percentile(r_.change_ms, 99),
                          Percentile(r_.change_ms, 100), Percentile(r_.rpc_ms, 50)));
    }

    // 5b. Burst: adds to one cluster from a few concurrent callers.
    const int B = absl::GetFlag(FLAGS_burst);
    if (B > 0) {
      int c = std::uniform_int_distribution<int>(0, C - 1)(rng_);
      ClusterModel& m = model_[c];
      std::vector<std::pair<std::string, uint32_t>> adds;
      for (int b = 0; b < B; ++b) {
        adds.emplace_back(EndpointAddress(m.next_port), m.next_port);
        ++m.next_port;
      }
      std::atomic<int> nb{0}, bfailed{0};
      uint64_t responses_before = counters_.responses.load();
      std::vector<std::thread> bw;
      int64_t start = NowNs();
      for (int w = 0; w < std::max(1, absl::GetFlag(FLAGS_burst_concurrency)); ++w) {
        bw.emplace_back([&] {
          for (int b = nb++; b < B; b = nb++) {
            if (!AddEndpoint(c, adds[b]).ok()) ++bfailed;
          }
        });
      }
      for (auto& w : bw) w.join();
      r_.burst_rpc_ms = (NowNs() - start) / 1e6;
      for (auto& e : adds) m.endpoints.push_back(e);
      int missing = 0;
      int64_t last = WaitCluster(c, m.Fingerprint(), start + 3 * change_timeout, &missing);
      if (bfailed > 0 || missing > 0) {
        Log(absl::StrFormat("burst: %d calls failed, %d streams did not converge", bfailed.load(),
                            missing));
      } else {
        r_.burst_ms = (last - start) / 1e6;
        r_.burst_responses_per_stream =
            static_cast<double>(counters_.responses.load() - responses_before) / streams_.size();
        Log(absl::StrFormat("burst of %d on %s: calls took %.0f ms, all streams converged %.0f ms",
                            B, names_[c], r_.burst_rpc_ms, r_.burst_ms));
      }
      r_.cpu_burst_s = ReadProc(pid_).cpu_s - after_changes.cpu_s;
    }
  }

  void StartPerf(const std::string& phase) {
    if (absl::GetFlag(FLAGS_perf).empty()) return;
    std::string out = absl::StrCat(absl::GetFlag(FLAGS_perf), ".", r_.mode, ".", phase, ".data");
    absl::StatusOr<testing::Subprocess> p = testing::Subprocess::Start(
        {"/usr/bin/perf", "record", "-g", "-F", "999", "-p", absl::StrCat(pid_), "-o", out},
        out + ".log");
    if (!p.ok()) {
      Log(absl::StrCat("perf: ", p.status().ToString()));
      return;
    }
    perf_ = std::make_unique<testing::Subprocess>(std::move(*p));
    g_children[1] = perf_->pid();
    std::string self =
        absl::StrCat(absl::GetFlag(FLAGS_perf), ".", r_.mode, ".", phase, ".bench.data");
    absl::StatusOr<testing::Subprocess> q = testing::Subprocess::Start(
        {"/usr/bin/perf", "record", "-g", "-F", "999", "-p", absl::StrCat(getpid()), "-o", self},
        self + ".log");
    if (q.ok()) {
      perf_self_ = std::make_unique<testing::Subprocess>(std::move(*q));
      g_children[2] = perf_self_->pid();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // Let it attach.
    Log(absl::StrCat("perf recording into ", out));
  }

  void StopPerf() {
    g_children[1] = 0;
    g_children[2] = 0;
    for (auto* p : {&perf_, &perf_self_}) {
      if (*p == nullptr) continue;
      (*p)->Signal(SIGINT);
      if (!(*p)->Wait(absl::Seconds(60)).ok()) (*p)->Kill();
      p->reset();
    }
  }

  // Asks the controller's allocator, through gdb, how much heap is in use, then has it return
  // free memory to the system and reads RSS again.
  void MallocProbe() {
    absl::StatusOr<testing::CommandResult> gdb =
        testing::RunCommand({"/usr/bin/gdb", "-p", absl::StrCat(pid_), "-batch", "-ex",
                             "call (void)malloc_stats()", "-ex", "call (int)malloc_trim(0)"},
                            absl::Seconds(120));
    if (!gdb.ok() || gdb->exit_code != 0) {
      Log("malloc probe: gdb failed");
      return;
    }
    r_.rss_after_trim_mb = ReadProc(pid_).rss_mb;
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    size_t total = text.rfind("Total (incl. mmap):");
    if (total != std::string::npos) {
      size_t at = text.find("in use bytes", total);
      size_t eq = at == std::string::npos ? at : text.find('=', at);
      if (eq != std::string::npos) {
        size_t end = text.find('\n', eq);
        double bytes = 0;
        if (absl::SimpleAtod(absl::StripAsciiWhitespace(text.substr(eq + 1, end - eq - 1)),
                             &bytes)) {
          r_.heap_in_use_mb = bytes / (1 << 20);
        }
      }
    }
    Log(
        absl::StrFormat("malloc probe: RSS %.0f MB, heap in use %.0f MB, RSS after malloc_trim "
                        "%.0f MB",
                        r_.end.rss_mb, r_.heap_in_use_mb, r_.rss_after_trim_mb));
  }

  grpc::Status AddEndpoint(int c, const std::pair<std::string, uint32_t>& e) {
    lb::v1::AddEndpointRequest req;
    req.set_cluster(names_[c]);
    req.mutable_endpoint()->set_address(e.first);
    req.mutable_endpoint()->set_port(e.second);
    lb::v1::AddEndpointResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return api_->AddEndpoint(&ctx, req, &resp);
  }

  grpc::Status RemoveEndpoint(int c, const std::pair<std::string, uint32_t>& e) {
    lb::v1::RemoveEndpointRequest req;
    req.set_cluster(names_[c]);
    req.set_address(e.first);
    req.set_port(e.second);
    lb::v1::RemoveEndpointResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return api_->RemoveEndpoint(&ctx, req, &resp);
  }

  // Waits until every live stream holds fingerprint `want` for cluster `c`. Returns the arrival
  // time of the last one (steady ns) and sets `*first` to that of the first; `*missing` counts
  // the streams that did not by `deadline`.
  int64_t WaitCluster(int c, uint64_t want, int64_t deadline, int* missing,
                      int64_t* first = nullptr) {
    while (true) {
      int miss = 0;
      int64_t last = 0, earliest = INT64_MAX;
      for (const auto& s : streams_) {
        if (s->ended()) continue;
        if (s->fp(c) != want) {
          ++miss;
        } else {
          last = std::max(last, s->recv_ns(c));
          earliest = std::min(earliest, s->recv_ns(c));
        }
      }
      if (miss == 0 || NowNs() > deadline) {
        *missing = miss;
        if (first != nullptr) *first = earliest;
        return last;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }

  void Shutdown() {
    for (auto& s : streams_) s->Cancel();
    int64_t deadline = NowNs() + 10e9;
    while (counters_.done.load() < static_cast<int>(streams_.size()) && NowNs() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (counters_.done.load() < static_cast<int>(streams_.size())) {
      // Reactors still referenced by gRPC: leak them rather than free them under its feet.
      for (auto& s : streams_) s.release();
    }
    streams_.clear();
    stubs_.clear();
    api_.reset();
    if (controller_proc_ != nullptr) {
      g_children[0] = 0;
      controller_proc_->Signal(SIGTERM);
      if (!controller_proc_->Wait(absl::Seconds(10)).ok()) controller_proc_->Kill();
      controller_proc_.reset();
    }
    if (!absl::GetFlag(FLAGS_keep_tmp) && !tmp_.empty() && r_.error.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(tmp_, ec);
    } else if (!tmp_.empty()) {
      Log(absl::StrCat("controller data and log kept in ", tmp_));
    }
  }

  const std::string controller_;
  Result r_;
  std::mt19937_64 rng_;
  std::string tmp_, log_, target_;
  int port_ = 0, rest_port_ = 0;
  std::unique_ptr<testing::Subprocess> perf_, perf_self_;  // Of the controller, of this process.
  pid_t pid_ = 0;
  int64_t t_start_ = 0;
  std::unique_ptr<testing::Subprocess> controller_proc_;
  std::unique_ptr<lb::v1::LoadBalancer::Stub> api_;
  std::vector<std::string> names_;
  std::vector<ClusterModel> model_;
  Counters counters_;
  std::vector<std::unique_ptr<discovery::AggregatedDiscoveryService::Stub>> stubs_;
  std::vector<std::unique_ptr<StreamState>> streams_;
};

std::string Ms(double v) { return v < 0 ? "-" : absl::StrFormat("%.1f", v); }

void PrintTable(const std::vector<Result>& results) {
  std::printf("\n");
  std::printf("%-6s %7s %9s %8s %8s %8s %8s %6s %9s %13s %17s %10s %8s\n", "mode", "streams", "CxE",
              "sync_s", "p50_ms", "p99_ms", "max_ms", "miss", "burst_ms", "rss_mb now/pk",
              "ctl_cpu_s set/chg", "responses", "recv_MB");
  for (const Result& r : results) {
    if (!r.error.empty()) {
      std::printf("%-6s error: %s\n", r.mode.c_str(), r.error.c_str());
      continue;
    }
    std::string cxe = absl::StrCat(r.clusters, "x", r.endpoints);
    std::string rss = absl::StrFormat("%.0f/%.0f", r.end.rss_mb, r.end.hwm_mb);
    std::string cpu = absl::StrFormat("%.1f/%.1f", r.cpu_create_s + r.cpu_sync_s,
                                      r.cpu_changes_s + r.cpu_burst_s);
    std::string sync = r.sync_s < 0 ? absl::StrCat("TIMEOUT(", r.unsynced, ")")
                                    : absl::StrFormat("%.2f", r.sync_s);
    std::printf("%-6s %7d %9s %8s %8s %8s %8s %6d %9s %13s %17s %10" PRIu64 " %8.0f\n",
                r.mode.c_str(), r.streams, cxe.c_str(), sync.c_str(),
                Ms(Percentile(r.change_ms, 50)).c_str(), Ms(Percentile(r.change_ms, 99)).c_str(),
                Ms(Percentile(r.change_ms, 100)).c_str(), r.misses, Ms(r.burst_ms).c_str(),
                rss.c_str(), cpu.c_str(), r.responses, r.bytes / 1e6);
  }
  std::printf("\nDetails:\n");
  for (const Result& r : results) {
    if (!r.error.empty()) continue;
    std::printf("  %s:\n", r.mode.c_str());
    std::printf(
        "    setup: clusters created in %.2f s (controller CPU %.1f s, RSS %.0f MB); "
        "initial sync: controller CPU %.1f s, bench CPU %.1f s, controller RSS %.0f MB "
        "(peak %.0f), %d threads\n",
        r.create_s, r.cpu_create_s, r.after_create.rss_mb, r.cpu_sync_s, r.bench_cpu_sync_s,
        r.after_sync.rss_mb, r.after_sync.hwm_mb, r.end.threads);
    std::printf(
        "    changes: first stream had it p50 %s ms / p99 %s ms; lb.v1 call p50 %.1f ms; "
        "controller CPU %.1f s, bench CPU %.1f s; "
        "server push latency (publication -> written) mean %.1f ms, p50 <= %s ms, "
        "p99 <= %s ms over %.0f pushes\n",
        Ms(Percentile(r.first_ms, 50)).c_str(), Ms(Percentile(r.first_ms, 99)).c_str(),
        Percentile(r.rpc_ms, 50), r.cpu_changes_s, r.bench_cpu_changes_s, r.push_mean_ms,
        Ms(r.push_p50_ms).c_str(), Ms(r.push_p99_ms).c_str(), r.pushes);
    std::printf(
        "    burst: calls took %.0f ms, %.1f responses per stream, controller CPU %.1f s; EDS "
        "resources received "
        "%" PRIu64 "; streams ended early %d%s; bench CPU total %.1f s\n",
        r.burst_rpc_ms, r.burst_responses_per_stream, r.cpu_burst_s, r.eds_resources, r.ended_early,
        r.first_end_status.empty() ? "" : absl::StrCat(" (", r.first_end_status, ")").c_str(),
        r.bench_cpu_s);
    if (r.rss_after_trim_mb >= 0) {
      std::printf(
          "    malloc probe: RSS %.0f MB, heap in use %s MB, RSS after malloc_trim(0) "
          "%.0f MB\n",
          r.end.rss_mb, Ms(r.heap_in_use_mb).c_str(), r.rss_after_trim_mb);
    }
  }
  std::printf("\nGoals: p99 < 500 ms for one change reaching %s streams; controller RSS < 300 MB\n",
              results.empty() ? "?" : absl::StrCat(results[0].streams).c_str());
  for (const Result& r : results) {
    if (!r.error.empty()) continue;
    double p99 = Percentile(r.change_ms, 99);
    bool lat = p99 >= 0 && p99 < 500 && r.misses == 0;
    bool mem = r.end.hwm_mb < 300;
    std::printf("  %-6s latency %s (p99 %s ms, %d misses), memory %s (peak %.0f MB)\n",
                r.mode.c_str(), lat ? "MET" : "MISSED", Ms(p99).c_str(), r.misses,
                mem ? "MET" : "MISSED", r.end.hwm_mb);
  }
  std::fflush(stdout);
}

}  // namespace
}  // namespace lb::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "xDS load benchmark: starts the controller, opens many ADS streams, times endpoint "
      "changes reaching all of them.\n  xds_load [--streams=1000] [--clusters=100] "
      "[--endpoints=100] [--changes=50] [--interval=200ms] [--modes=sotw,delta]");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, lb::bench::OnInterrupt);
  signal(SIGTERM, lb::bench::OnInterrupt);
  std::string controller = lb::bench::FindController(argv[0]);
  if (access(controller.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "no controller binary at %s (--controller_binary)\n", controller.c_str());
    return 2;
  }
  std::vector<lb::bench::Result> results;
  for (absl::string_view mode :
       absl::StrSplit(absl::GetFlag(FLAGS_modes), ',', absl::SkipWhitespace())) {
    if (mode != "sotw" && mode != "delta") {
      std::fprintf(stderr, "unknown mode %s\n", std::string(mode).c_str());
      return 2;
    }
    lb::bench::Bench bench{std::string(mode), controller};
    results.push_back(bench.Run());
  }
  lb::bench::PrintTable(results);
  for (const auto& r : results) {
    if (!r.error.empty()) return 1;
  }
  return 0;
}
