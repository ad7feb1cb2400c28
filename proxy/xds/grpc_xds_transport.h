// XdsTransportFactory over gRPC: a fresh channel per stream (GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL),
// so reconnect timing is the ADS client's alone, and a receive limit large enough for big EDS
// answers.
#ifndef LB_PROXY_XDS_GRPC_XDS_TRANSPORT_H_
#define LB_PROXY_XDS_GRPC_XDS_TRANSPORT_H_

#include <memory>
#include <string>

#include "proxy/xds/xds_transport.h"

namespace lb::proxy::xds {

class GrpcXdsTransportFactory final : public XdsTransportFactory {
 public:
  std::unique_ptr<XdsStream> OpenAds(const std::string& target) override;
};

}  // namespace lb::proxy::xds

#endif  // LB_PROXY_XDS_GRPC_XDS_TRANSPORT_H_
