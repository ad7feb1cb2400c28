// GET /v1/events: the audit trail (docs/audit.md).
//
//   GET /v1/events?cluster=NAME&since=REVISION&limit=N
//
// {"events":[...]} oldest first; each event as lb.v1.Event in JSON (proto field names) with
// before_json/after_json replaced by "before"/"after" objects (null when absent). limit: 1-1000,
// default 100; since: a revision >= 0 (0 or absent: the newest `limit` events; otherwise the
// first `limit` after it). 400 INVALID_ARGUMENT naming a bad parameter.
#ifndef LB_CONTROLLER_REST_EVENTS_HANDLER_H_
#define LB_CONTROLLER_REST_EVENTS_HANDLER_H_

#include "common/http/http_types.h"
#include "controller/registry/registry.h"

namespace lb::rest {

// False unless the request's path is /v1/events; then fills `response`. Thread-safe.
bool ServeEvents(registry::Registry* registry, const http::HttpRequest& request,
                 http::HttpResponse* response);

}  // namespace lb::rest

#endif  // LB_CONTROLLER_REST_EVENTS_HANDLER_H_
