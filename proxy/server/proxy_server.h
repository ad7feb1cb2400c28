// The proxy process minus main(): N workers, and a main thread that turns configuration,
// active health checks and outlier reports into snapshots for the workers, plus the admin API
// (/ready, /stats, /config_dump).
//
// Threads: SetConfig() and Drain()/Stop() may be called from any thread; everything that owns
// state (health checker, outlier detectors, host registry) runs on the main dispatcher thread;
// the admin server runs on its own thread and reads only published, immutable data.
#ifndef LB_PROXY_SERVER_PROXY_SERVER_H_
#define LB_PROXY_SERVER_PROXY_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/config/config.h"
#include "proxy/server/worker.h"

namespace lb::proxy {

struct ProxyOptions {
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 8080;  // 0: pick one (see port()).
  std::string admin_listen = "127.0.0.1:9901";
  int workers = 0;  // 0: one per core.
  // Even out open client connections across workers (see ConnectionBalancer); false leaves the
  // spread to the kernel's SO_REUSEPORT hash.
  bool balance_connections = true;
  absl::Duration drain_timeout = absl::Seconds(15);
  WorkerOptions worker;
};

class ProxyServer {
 public:
  static absl::StatusOr<std::unique_ptr<ProxyServer>> Start(const ProxyOptions& options);
  virtual ~ProxyServer() = default;

  virtual uint16_t port() const = 0;
  virtual int admin_port() const = 0;

  // Any thread. The configuration to serve from now on (the last good one stays in force until
  // another arrives).
  virtual void SetConfig(std::shared_ptr<const ProxyConfig> config) = 0;
  // A JSON object describing the config source (ADS state), shown in /config_dump.
  virtual void SetSourceStatus(std::function<std::string()> status) = 0;

  // Stops accepting, lets in-flight requests finish (at most drain_timeout), then stops the
  // workers. True if everything finished in time. Blocks.
  virtual bool Shutdown() = 0;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_PROXY_SERVER_H_
