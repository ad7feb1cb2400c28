// What the read APIs (REST /v1/clusters/{name}/endpoints, lb.v1 ListEndpoints) call to fill
// each endpoint's `status` from the load reports (LoadAggregator::FillStatus). Any thread.
#ifndef LB_CONTROLLER_LRS_ENDPOINT_STATUS_SOURCE_H_
#define LB_CONTROLLER_LRS_ENDPOINT_STATUS_SOURCE_H_

#include <functional>
#include <string>

#include "google/protobuf/repeated_field.h"
#include "lb/v1/lb.pb.h"

namespace lb::lrs {

using EndpointStatusSource = std::function<void(
    const std::string& cluster, google::protobuf::RepeatedPtrField<lb::v1::Endpoint>* endpoints)>;

}  // namespace lb::lrs

#endif  // LB_CONTROLLER_LRS_ENDPOINT_STATUS_SOURCE_H_
