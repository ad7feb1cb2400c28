// The reason phrase of an HTTP status code, for status lines written by the controller's REST
// server (evhttp), the proxy's HTTP/1 codec and test backends.
#ifndef LB_COMMON_HTTP_REASON_PHRASE_H_
#define LB_COMMON_HTTP_REASON_PHRASE_H_

#include "absl/strings/string_view.h"

namespace lb::http {

// The registered phrase of every status RFC 9110 (and RFCs 6585, 7725, 8470) define, e.g.
// 404 -> "Not Found", 413 -> "Payload Too Large" (RFC 7231's name, which clients know); for
// another code of 100-599 the name of its class ("Client Error" for 499); "" outside 100-599.
// The result is a static, NUL-terminated string, so its data() may be passed to C APIs.
absl::string_view ReasonPhrase(int status);

}  // namespace lb::http

#endif  // LB_COMMON_HTTP_REASON_PHRASE_H_
