// The seam between the ADS client and gRPC (as gRPC's own XdsTransportFactory): one
// bidirectional ADS stream at a time to a controller. The gRPC implementation is
// grpc_xds_transport.h; tests put an in-memory one here and run the client without gRPC.
#ifndef LB_PROXY_XDS_XDS_TRANSPORT_H_
#define LB_PROXY_XDS_XDS_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "envoy/service/load_stats/v3/lrs.pb.h"

namespace lb::proxy::xds {

// One StreamLoadStats call (docs/lrs.md). One thread may Write while another Reads; Finish
// after Read returned false; Cancel from any thread.
class LrsStream {
 public:
  virtual ~LrsStream() = default;
  virtual bool Write(const envoy::service::load_stats::v3::LoadStatsRequest& request) = 0;
  virtual bool Read(envoy::service::load_stats::v3::LoadStatsResponse* response) = 0;
  virtual absl::Status Finish() = 0;
  virtual void Cancel() = 0;
};

// An LrsStream that has ended with `status` (Write and Read return false).
class EndedLrsStream final : public LrsStream {
 public:
  explicit EndedLrsStream(absl::Status status) : status_(std::move(status)) {}
  bool Write(const envoy::service::load_stats::v3::LoadStatsRequest&) override { return false; }
  bool Read(envoy::service::load_stats::v3::LoadStatsResponse*) override { return false; }
  absl::Status Finish() override { return status_; }
  void Cancel() override {}

 private:
  const absl::Status status_;
};

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
  // A load reporting stream to the same controller, over the same connection; it may outlive
  // this stream. Called by the ADS client's thread. Transports without LRS: an ended stream.
  virtual std::unique_ptr<LrsStream> OpenLrs() {
    return std::make_unique<EndedLrsStream>(
        absl::UnimplementedError("this transport has no load reporting"));
  }
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
