// XdsTransportFactory over gRPC: a fresh channel per stream (GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL),
// so reconnect timing is the ADS client's alone, and a receive limit large enough for big EDS
// answers. HTTP/2 keepalive pings on the stream: a controller that stops answering (a silent
// partition, a frozen host) fails the stream within keepalive_time + keepalive_timeout, and the
// ADS client moves on to the next controller. The controller must accept pings that often
// (its GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS), or it answers too_many_pings.
#ifndef LB_PROXY_XDS_GRPC_XDS_TRANSPORT_H_
#define LB_PROXY_XDS_GRPC_XDS_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proxy/xds/xds_transport.h"

namespace lb::proxy::xds {

struct GrpcXdsTransportOptions {
  absl::Duration keepalive_time = absl::Seconds(10);  // 0: no pings.
  absl::Duration keepalive_timeout = absl::Seconds(5);
  // TLS to the controller (PEM contents). With a CA or a client certificate the channel is TLS:
  // the controller's certificate must chain to ca_pem (empty: gRPC's default roots), and
  // cert_pem/key_pem are presented to a controller that requires client certificates (mTLS).
  // All empty: plaintext.
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// Reads the proxy's --controller_ca, --controller_cert and --controller_key files into
// `options` (each empty path is skipped). kInvalidArgument naming the flag for an unreadable or
// empty file, or a certificate without its key (or the reverse).
absl::Status LoadControllerTls(const std::string& ca_file, const std::string& cert_file,
                               const std::string& key_file, GrpcXdsTransportOptions* options);

class GrpcXdsTransportFactory final : public XdsTransportFactory {
 public:
  explicit GrpcXdsTransportFactory(GrpcXdsTransportOptions options = {}) : options_(options) {}
  std::unique_ptr<XdsStream> OpenAds(const std::string& target) override;

 private:
  const GrpcXdsTransportOptions options_;
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_GRPC_XDS_TRANSPORT_H_
