// nghttp2's own client session for tests of the HTTP/2 server side: requests in, frames out
// through strings (no sockets), and a record of what came back per stream.
#ifndef LB_TESTS_TEST_COMMON_PROXY_H2_TEST_CLIENT_H_
#define LB_TESTS_TEST_COMMON_PROXY_H2_TEST_CLIENT_H_

#include <nghttp2/nghttp2.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "proxy/http/http2_common.h"

namespace lb::testing {

struct H2ClientStream {
  std::map<std::string, std::string> headers;
  std::map<std::string, std::string> trailers;
  std::string body;
  bool ended = false;
  int rst = -1;
  bool got_headers = false;
};

class H2TestClient {
 public:
  explicit H2TestClient(std::vector<nghttp2_settings_entry> settings = {}) {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
                const uint8_t* v, size_t vl, uint8_t, void* u) {
          H2ClientStream& s = static_cast<H2TestClient*>(u)->streams[f->hd.stream_id];
          auto& map = s.got_headers ? s.trailers : s.headers;
          map[std::string(reinterpret_cast<const char*>(n), nl)] =
              std::string(reinterpret_cast<const char*>(v), vl);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
          H2TestClient& c = *static_cast<H2TestClient*>(u);
          if (f->hd.type == NGHTTP2_HEADERS) c.streams[f->hd.stream_id].got_headers = true;
          if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
              (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            c.streams[f->hd.stream_id].ended = true;
          }
          if (f->hd.type == NGHTTP2_RST_STREAM) {
            c.streams[f->hd.stream_id].rst = static_cast<int>(f->rst_stream.error_code);
          }
          if (f->hd.type == NGHTTP2_GOAWAY) {
            c.goaway = static_cast<int>(f->goaway.error_code);
            c.goaway_last_stream = f->goaway.last_stream_id;
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* u) {
          static_cast<H2TestClient*>(u)->streams[id].body.append(reinterpret_cast<const char*>(d),
                                                                 n);
          return 0;
        });
    nghttp2_option* option;
    nghttp2_option_new(&option);
    // Lets the tests send heads larger than the server accepts.
    nghttp2_option_set_max_send_header_block_length(option, 1 << 20);
    nghttp2_session_client_new2(&session_, cbs, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  }
  ~H2TestClient() { nghttp2_session_del(session_); }

  int32_t Get(absl::string_view path, std::vector<std::pair<std::string, std::string>> extra = {},
              nghttp2_data_provider* body = nullptr) {
    http::Nghttp2Headers nv;
    nv.Add(":method", body == nullptr ? "GET" : "POST");
    nv.Add(":scheme", "http");
    nv.Add(":authority", "example.com");
    nv.Add(":path", path);
    for (auto& [n, v] : extra) nv.Add(n, v);
    const std::vector<nghttp2_nv>& nva = nv.nva();
    return nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), body, this);
  }

  // Client frames out.
  std::string Out() {
    std::string out;
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      out.append(reinterpret_cast<const char*>(data), n);
    }
    return out;
  }
  void In(const std::string& bytes) {
    nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                             bytes.size());
  }

  nghttp2_session* session_ = nullptr;
  std::map<int32_t, H2ClientStream> streams;
  int goaway = -1;
  int32_t goaway_last_stream = -1;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_PROXY_H2_TEST_CLIENT_H_
