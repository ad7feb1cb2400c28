// The proxy process minus main(): the workers (WorkerSet), the main thread that runs the
// ClusterManager (configuration, health checks and outlier reports into snapshots), and the
// admin API (AdminServer).
//
// Threads: every method may be called from any thread; the cluster manager lives on the main
// dispatcher's thread; the admin server has its own and reads only published, immutable data.
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
#include "proxy/xds/ads_status.h"
#include "proxy/xds/load_reporter.h"

namespace lb::proxy {

struct ProxyOptions {
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 8080;  // 0: pick one (see port()).
  // The TLS listener (--tls_listen): port -1 for none, 0 to pick one (see tls_port()).
  std::string tls_listen_host = "0.0.0.0";
  int tls_listen_port = -1;
  std::string admin_listen = "127.0.0.1:9901";
  int workers = 0;  // 0: one per core.
  // Even out open client connections across workers (see ConnectionBalancer); false leaves the
  // spread to the kernel's SO_REUSEPORT hash.
  bool balance_connections = true;
  // See WorkerSetOptions::share_port.
  bool share_port = false;
  // See WorkerSetOptions::max_connections (0: no cap).
  uint64_t max_connections = 0;
  absl::Duration drain_timeout = absl::Seconds(15);
  WorkerOptions worker;
};

class ProxyServer {
 public:
  static absl::StatusOr<std::unique_ptr<ProxyServer>> Start(const ProxyOptions& options);
  virtual ~ProxyServer() = default;

  virtual uint16_t port() const = 0;
  virtual uint16_t tls_port() const = 0;  // 0 without a TLS listener.
  virtual int admin_port() const = 0;

  // Any thread. The configuration to serve from now on (the last good one stays in force until
  // another arrives).
  virtual void SetConfig(std::shared_ptr<const ProxyConfig> config) = 0;
  // The config source's state (the ADS client's), shown in /config_dump. Any thread; `status`
  // is called on the admin thread.
  virtual void SetSourceStatus(std::function<xds::AdsClientStatus()> status) = 0;

  // What the LRS client reports: the counters and health of the last published snapshot (an
  // empty view before the first). Any thread.
  virtual xds::LoadView LoadView() = 0;

  // Stops accepting, lets in-flight requests finish (at most drain_timeout), then stops the
  // workers. True if everything finished in time. Blocks.
  virtual bool Shutdown() = 0;
};

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_PROXY_SERVER_H_
