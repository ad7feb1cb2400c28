// A static state-of-the-world ADS server for end-to-end tests of the proxy: the test sets the
// exact resources (by type, each with its name) and every stream gets them, filtered by the
// names it subscribed to (none: all), again whenever the test changes a type. Stands in for
// the controller until it emits the TLS resources of docs/tls.md itself.
#ifndef LB_TESTS_E2E_PROXY_FAKE_ADS_H_
#define LB_TESTS_E2E_PROXY_FAKE_ADS_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace lb::testing {

class FakeAds {
 public:
  FakeAds();  // Listens on 127.0.0.1, a port the kernel picks.
  ~FakeAds();

  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

  // Replaces every resource of `type_url` (resources are (name, message) pairs) and pushes
  // them to every stream subscribed to the type.
  void Set(const std::string& type_url,
           const std::vector<std::pair<std::string, const google::protobuf::Message*>>& resources);
  // NACK error texts received (for checks on rejected resources).
  std::vector<std::string> Nacks() const;

  class Service;

 private:
  friend class Service;
  struct TypeState {
    uint64_t version = 0;
    std::map<std::string, google::protobuf::Any> resources;
  };

  mutable absl::Mutex mu_;
  std::map<std::string, TypeState> types_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> nacks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace lb::testing

#endif  // LB_TESTS_E2E_PROXY_FAKE_ADS_H_
