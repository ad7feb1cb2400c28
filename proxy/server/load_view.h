// What the LRS client reports, read from a published routing snapshot: every cluster's hosts
// with their cumulative counters (summed over workers) and the health the snapshot gives them.
// Any thread (the snapshot is immutable; the counters are atomics).
#ifndef LB_PROXY_SERVER_LOAD_VIEW_H_
#define LB_PROXY_SERVER_LOAD_VIEW_H_

#include "proxy/router/snapshot.h"
#include "proxy/xds/load_reporter.h"

namespace lb::proxy {

xds::LoadView LoadViewOf(const router::Snapshot& snapshot);

}  // namespace lb::proxy

#endif  // LB_PROXY_SERVER_LOAD_VIEW_H_
