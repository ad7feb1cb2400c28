#include "tests/test_common/etcd_cluster.h"

#include <unistd.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/test_common/net.h"

namespace lb::testing {
namespace {

constexpr char kEtcd[] = "/usr/bin/etcd";

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(int members) {
  if (access(kEtcd, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kEtcd, " is missing: install Debian's etcd-server (bazel/install_deps.sh)"));
  }
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
  const std::string dir = MakeTempDir();
  std::vector<std::string> peers;
  // Each pick closes its socket, so the kernel may hand out a port twice (seen: two members
  // with the same peer URL, and etcd refusing the cluster). Picks are kept distinct.
  absl::flat_hash_set<int> taken;
  const auto pick = [&taken]() -> absl::StatusOr<int> {
    for (int attempt = 0; attempt < 100; ++attempt) {
      absl::StatusOr<int> port = PickFreePort();
      if (!port.ok() || taken.insert(*port).second) return port;
    }
    return absl::UnavailableError("no distinct free port in 100 picks");
  };
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    absl::StatusOr<int> client = pick();
    if (!client.ok()) return client.status();
    absl::StatusOr<int> peer = pick();
    if (!peer.ok()) return peer.status();
    m.client_port = *client;
    m.peer_port = *peer;
    m.data_dir = absl::StrCat(dir, "/", m.name);
    m.log_path = absl::StrCat(dir, "/", m.name, ".log");
    peers.push_back(absl::StrCat(m.name, "=http://127.0.0.1:", m.peer_port));
    cluster->endpoints_.push_back(absl::StrCat("127.0.0.1:", m.client_port));
    cluster->members_.push_back(std::move(m));
  }
  cluster->initial_cluster_ = absl::StrJoin(peers, ",");
  for (int i = 0; i < members; ++i) {
    if (absl::Status s = cluster->Launch(i, true); !s.ok()) return s;
  }
  for (int i = 0; i < members; ++i) {
    if (absl::Status s = cluster->WaitReady(i); !s.ok()) return s;
  }
  return cluster;
}

EtcdCluster::~EtcdCluster() {
  for (Member& m : members_) {
    if (m.process.has_value()) m.process->Kill();
  }
}

absl::Status EtcdCluster::Launch(int i, bool initial) {
  Member& m = members_[i];
  const std::string client = absl::StrCat("http://127.0.0.1:", m.client_port);
  const std::string peer = absl::StrCat("http://127.0.0.1:", m.peer_port);
  std::vector<std::string> argv = {
      kEtcd,
      absl::StrCat("--name=", m.name),
      absl::StrCat("--data-dir=", m.data_dir),
      absl::StrCat("--listen-client-urls=", client),
      absl::StrCat("--advertise-client-urls=", client),
      absl::StrCat("--listen-peer-urls=", peer),
      absl::StrCat("--initial-advertise-peer-urls=", peer),
      absl::StrCat("--initial-cluster=", initial_cluster_),
      "--initial-cluster-token=lb-test",
      absl::StrCat("--initial-cluster-state=", initial ? "new" : "existing"),
      // Fast elections on loopback: a killed leader is replaced in about a second.
      "--heartbeat-interval=50",
      "--election-timeout=500",
      // A cluster created with its endpoints, deleted, or migrated is one transaction of up to
      // 10,001 ops (docs/etcd.md); etcd's default is 128.
      "--max-txn-ops=10240",
      "--logger=zap",
      "--log-outputs=stderr",
      "--log-level=warn",
  };
  absl::StatusOr<Subprocess> p = Subprocess::Start(argv, m.log_path);
  if (!p.ok()) return p.status();
  m.process.emplace(std::move(*p));
  return absl::OkStatus();
}

absl::Status EtcdCluster::WaitReady(int i) {
  Member& m = members_[i];
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    // /health answers {"health":"true"} once the member has a leader and serves requests.
    absl::StatusOr<CommandResult> r =
        RunCommand({"/usr/bin/curl", "-s", "-m", "2",
                    absl::StrCat("http://127.0.0.1:", m.client_port, "/health")},
                   absl::Seconds(5));
    if (r.ok() && r->out.find("\"health\":\"true\"") != std::string::npos) {
      return absl::OkStatus();
    }
    if (m.process.has_value()) {
      absl::StatusOr<int> exited = m.process->Wait(absl::ZeroDuration());
      if (exited.ok()) {
        return absl::UnavailableError(
            absl::StrCat("etcd ", m.name, " exited with ", *exited, ": ", LogTail(i)));
      }
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("etcd ", m.name, " not healthy after 30 s: ", LogTail(i)));
}

void EtcdCluster::Kill(int i) {
  Member& m = members_[i];
  if (m.process.has_value()) m.process->Kill();
  m.process.reset();
}

absl::Status EtcdCluster::Restart(int i) {
  Kill(i);
  if (absl::Status s = Launch(i, false); !s.ok()) return s;
  return WaitReady(i);
}

std::string EtcdCluster::LogTail(int i) const { return FileTail(members_[i].log_path); }

}  // namespace lb::testing
