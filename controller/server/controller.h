// Wires the controller together: store, registry, hostname resolution, the lb.v1 gRPC service
// (plus grpc.health.v1 and reflection) and the REST API.
#ifndef LB_CONTROLLER_SERVER_CONTROLLER_H_
#define LB_CONTROLLER_SERVER_CONTROLLER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace lb::controller {

struct ControllerOptions {
  std::string grpc_listen = "127.0.0.1:18000";
  std::string rest_listen = "127.0.0.1:9091";
  std::string data_dir = "lb-data";  // Created if missing; holds lb.db (SQLite, WAL).
  std::string auth_token_file;       // Empty: no auth.
  // If set, written atomically once both listeners are up:
  // {"grpc_port":N,"rest_port":M,"pid":P}.
  std::string ready_file;
  absl::Duration dns_refresh_interval = absl::Seconds(30);
  // Every timer and timestamp of the controller reads this clock (tests pass a simulated one).
  // Must outlive the controller.
  Clock* clock = Clock::Real();
};

class Controller {
 public:
  // Opens the store, bootstraps defaults on first start and starts serving.
  static absl::StatusOr<std::unique_ptr<Controller>> Start(const ControllerOptions& options);
  virtual ~Controller() = default;

  virtual int grpc_port() const = 0;
  virtual int rest_port() const = 0;

  // Stops serving: open streams end, in-flight calls finish. Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace lb::controller

#endif  // LB_CONTROLLER_SERVER_CONTROLLER_H_
