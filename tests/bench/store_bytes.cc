// Bytes written per endpoint add, by store backend and layout, for bench/store_bench.sh (which
// prints the table; docs/store-benchmark.md). One JSON line on stdout.
//
//   store_bytes --store=sqlite --data_dir=DIR | --store=etcd --etcd_endpoints=H:P
//               --etcd_pid=PID --etcd_metrics_port=P
//               --layout=keys|embedded --size=N --adds=M
//
// A cluster is created with --size endpoints in one write, then --adds endpoints are added one
// by one. Measured around the adds: bytes the writing process wrote to storage
// (/proc/PID/io write_bytes: this process for SQLite, etcd's for etcd), the SQLite file's growth
// (lb.db after a checkpoint, i.e. closing the store) and etcd's db size in use.
//
// --layout=keys is the Registry (per-endpoint keys). --layout=embedded replays the write path
// before them (main at 6f4ce3e, Registry::MutateCluster): read the cluster, append the
// endpoint, write the whole cluster value back with compare-and-set on its revision.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "controller/model/validation.h"
#include "controller/registry/registry.h"
#include "controller/store/etcd_store.h"
#include "controller/store/sqlite_store.h"
#include "lb/v1/lb.pb.h"
#include "tests/test_common/http_client.h"

ABSL_FLAG(std::string, store, "sqlite", "sqlite or etcd");
ABSL_FLAG(std::string, data_dir, "", "--store=sqlite: directory of lb.db");
ABSL_FLAG(std::string, etcd_endpoints, "", "--store=etcd: host:port");
ABSL_FLAG(int, etcd_pid, 0, "--store=etcd: etcd's pid (its write_bytes are measured)");
ABSL_FLAG(int, etcd_metrics_port, 0, "--store=etcd: etcd's client port on 127.0.0.1 (/metrics)");
ABSL_FLAG(std::string, layout, "keys", "keys (per-endpoint keys) or embedded (before them)");
ABSL_FLAG(int, size, 10, "Endpoints in the cluster before the adds");
ABSL_FLAG(int, adds, 50, "Endpoint adds measured");

namespace lb {
namespace {

constexpr char kCluster[] = "bench";

lb::v1::Endpoint MakeEndpoint(int i) {
  lb::v1::Endpoint e;
  e.set_address(absl::StrCat("10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255));
  e.set_port(8080);
  if (!model::NormalizeEndpoint(&e).ok()) std::abort();
  return e;
}

absl::StatusOr<int64_t> WriteBytes(int pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/io") : absl::StrCat("/proc/", pid, "/io"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    int64_t v = 0;
    if (absl::ConsumePrefix(&rest, "write_bytes: ") && absl::SimpleAtoi(rest, &v)) return v;
  }
  return absl::UnavailableError("no write_bytes in /proc/PID/io");
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

absl::StatusOr<double> EtcdDbInUse(int port) {
  absl::StatusOr<testing::HttpResponse> r = testing::HttpGet(port, "/metrics");
  if (!r.ok()) return r.status();
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    if (absl::ConsumePrefix(&line, "etcd_mvcc_db_total_size_in_use_in_bytes ")) {
      double v = 0;
      if (absl::SimpleAtod(line, &v)) return v;
    }
  }
  return absl::NotFoundError("etcd_mvcc_db_total_size_in_use_in_bytes not in etcd's /metrics");
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenStore() {
  if (absl::GetFlag(FLAGS_store) == "etcd") {
    store::EtcdStore::Options o;
    o.endpoints = {absl::GetFlag(FLAGS_etcd_endpoints)};
    absl::StatusOr<std::unique_ptr<store::EtcdStore>> s = store::EtcdStore::Connect(o);
    if (!s.ok()) return s.status();
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> s =
      store::SqliteStore::Open(absl::StrCat(absl::GetFlag(FLAGS_data_dir), "/lb.db"));
  if (!s.ok()) return s.status();
  return std::unique_ptr<store::Store>(std::move(*s));
}

// The write path before per-endpoint keys.
absl::Status EmbeddedAdd(store::Store* store, const lb::v1::Endpoint& e) {
  const std::string key = registry::ClusterKey(kCluster);
  absl::StatusOr<std::optional<store::KeyValue>> kv = store->Get(key);
  if (!kv.ok()) return kv.status();
  lb::v1::Cluster c;
  if (!kv->has_value() || !c.ParseFromString((*kv)->value))
    return absl::InternalError("no cluster");
  *c.add_endpoints() = e;
  return store->Txn({{key, (*kv)->mod_revision}}, {store::Op::Put(key, c.SerializeAsString())})
      .status();
}

absl::Status Run() {
  const bool etcd = absl::GetFlag(FLAGS_store) == "etcd";
  const bool keys = absl::GetFlag(FLAGS_layout) == "keys";
  const int size = absl::GetFlag(FLAGS_size);
  const int adds = absl::GetFlag(FLAGS_adds);
  const std::string db = absl::StrCat(absl::GetFlag(FLAGS_data_dir), "/lb.db");
  {
    absl::StatusOr<std::unique_ptr<store::Store>> s = OpenStore();
    if (!s.ok()) return s.status();
    lb::v1::Cluster c;
    c.set_name(kCluster);
    if (absl::Status st = model::NormalizeCluster(&c); !st.ok()) return st;
    for (int i = 0; i < size; ++i) *c.add_endpoints() = MakeEndpoint(i);
    if (keys) {
      registry::Registry r(s->get());
      if (absl::StatusOr<lb::v1::Cluster> made = r.CreateCluster(c); !made.ok()) {
        return made.status();
      }
    } else {
      absl::StatusOr<int64_t> rev =
          (*s)->Txn({}, {store::Op::Put(registry::ClusterKey(kCluster), c.SerializeAsString())});
      if (!rev.ok()) return rev.status();
    }
  }  // Closed: SQLite checkpoints its WAL into lb.db.
  const int64_t file_before = etcd ? 0 : FileSize(db);
  absl::StatusOr<std::unique_ptr<store::Store>> s = OpenStore();
  if (!s.ok()) return s.status();
  registry::Registry r(s->get());
  const int pid = etcd ? absl::GetFlag(FLAGS_etcd_pid) : 0;
  absl::StatusOr<double> etcd_before =
      etcd ? EtcdDbInUse(absl::GetFlag(FLAGS_etcd_metrics_port)) : absl::StatusOr<double>(0.0);
  if (!etcd_before.ok()) return etcd_before.status();
  absl::StatusOr<int64_t> io_before = WriteBytes(pid);
  if (!io_before.ok()) return io_before.status();
  const absl::Time start = absl::Now();
  for (int i = 0; i < adds; ++i) {
    const lb::v1::Endpoint e = MakeEndpoint(size + i);
    absl::Status st = keys ? r.AddEndpoint(kCluster, e).status() : EmbeddedAdd(s->get(), e);
    if (!st.ok()) return st;
  }
  const absl::Duration took = absl::Now() - start;
  absl::StatusOr<int64_t> io_after = WriteBytes(pid);
  if (!io_after.ok()) return io_after.status();
  absl::StatusOr<double> etcd_after =
      etcd ? EtcdDbInUse(absl::GetFlag(FLAGS_etcd_metrics_port)) : absl::StatusOr<double>(0.0);
  if (!etcd_after.ok()) return etcd_after.status();
  s->reset();
  const int64_t file_after = etcd ? 0 : FileSize(db);
  std::printf(
      "{\"store\":\"%s\",\"layout\":\"%s\",\"size\":%d,\"adds\":%d,\"write_bytes_per_add\":%.0f,"
      "\"file_growth_per_add\":%.0f,\"etcd_db_growth_per_add\":%.0f,\"ms_per_add\":%.2f}\n",
      etcd ? "etcd" : "sqlite", keys ? "keys" : "embedded", size, adds,
      static_cast<double>(*io_after - *io_before) / adds,
      static_cast<double>(file_after - file_before) / adds, (*etcd_after - *etcd_before) / adds,
      absl::ToDoubleMilliseconds(took) / adds);
  return absl::OkStatus();
}

}  // namespace
}  // namespace lb

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Status s = lb::Run();
  if (!s.ok()) {
    std::fprintf(stderr, "store_bytes: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
