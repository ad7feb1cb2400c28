// The seam between the ADS client and gRPC (as gRPC's own XdsTransportFactory): one
// bidirectional ADS stream at a time to a controller. The gRPC implementation is
// grpc_xds_transport.h; tests put an in-memory one here and run the client without gRPC.
#ifndef LB_PROXY_XDS_XDS_TRANSPORT_H_
#define LB_PROXY_XDS_XDS_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace lb::proxy::xds {

// One StreamAggregatedResources call. Write, Read and Finish are called by one thread (the
// ADS client's); Cancel by any thread.
class XdsStream {
 public:
  virtual ~XdsStream() = default;
  // False once the stream is broken (then Read returns false too).
  virtual bool Write(const envoy::service::discovery::v3::DiscoveryRequest& request) = 0;
  // Blocks for the next response; false when the stream ended.
  virtual bool Read(envoy::service::discovery::v3::DiscoveryResponse* response) = 0;
  // After Read returned false: why the stream ended.
  virtual absl::Status Finish() = 0;
  // Ends the stream from another thread: a blocked Read returns false.
  virtual void Cancel() = 0;
};

class XdsTransportFactory {
 public:
  virtual ~XdsTransportFactory() = default;
  // Starts a stream to `target` ("host:port"). Never null: a stream that cannot be set up ends
  // at once (Read returns false, Finish says why).
  virtual std::unique_ptr<XdsStream> OpenAds(const std::string& target) = 0;
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_XDS_TRANSPORT_H_
