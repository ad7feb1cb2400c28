// Real etcd members (Debian's etcd-server, /usr/bin/etcd) started by a test on loopback: one
// member or a cluster of several, each with its own data directory under TEST_TMPDIR.
#ifndef LB_TESTS_TEST_COMMON_ETCD_CLUSTER_H_
#define LB_TESTS_TEST_COMMON_ETCD_CLUSTER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {

class EtcdCluster {
 public:
  // Starts `members` members as one new cluster and waits (up to 30 s) until every member
  // answers on its client port. kFailedPrecondition if etcd is not installed.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(int members);
  ~EtcdCluster();

  // "127.0.0.1:PORT" of each member's client URL, in member order.
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // SIGKILL of member `i` (its data stays); Restart brings it back with the same data.
  void Kill(int i);
  absl::Status Restart(int i);
  // The tail of member `i`'s log, for failure messages.
  std::string LogTail(int i) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    std::string log_path;
    std::optional<Subprocess> process;
  };
  EtcdCluster() = default;
  absl::Status Launch(int i, bool initial);
  absl::Status WaitReady(int i);

  std::string initial_cluster_;
  std::vector<Member> members_;
  std::vector<std::string> endpoints_;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_ETCD_CLUSTER_H_
