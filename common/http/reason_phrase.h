// The standard reason phrase of an HTTP status code (RFC 9110 section 15), for status lines
// written by the proxy and the controller.
#ifndef LB_COMMON_HTTP_REASON_PHRASE_H_
#define LB_COMMON_HTTP_REASON_PHRASE_H_

#include "absl/strings/string_view.h"

namespace lb::http {

// "Not Found" for 404; "Unknown" for codes without a registered phrase.
absl::string_view ReasonPhrase(int status);

}  // namespace lb::http

#endif  // LB_COMMON_HTTP_REASON_PHRASE_H_
