// Fakes of the upstream side for router and connection-manager tests: a connection pool that
// answers when the test says so, and the request encoder of each stream it hands out.
#ifndef LB_TESTS_TEST_COMMON_PROXY_FAKE_POOL_H_
#define LB_TESTS_TEST_COMMON_PROXY_FAKE_POOL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/event/buffer.h"
#include "proxy/http/codec.h"
#include "proxy/http/header_map.h"
#include "proxy/upstream/conn_pool.h"

namespace lb::testing {

using proxy::event::Buffer;
namespace http = ::lb::http;
namespace upstream = ::lb::proxy::upstream;

// The upstream side of one attempt.
class FakeEncoder : public http::RequestEncoder {
 public:
  void SetCallbacks(http::StreamCallbacks* callbacks) override { callbacks_ = callbacks; }
  void ReadDisable(bool disable) override { read_disabled = disable; }
  void ResetStream() override { reset = true; }
  void EncodeHeaders(const http::RequestHeaderMap& headers, bool end_stream) override {
    head = absl::StrCat(http::MethodName(headers.method), " ", headers.target, "\n");
    headers.AppendHttp1(&head);
    ended = end_stream;
  }
  void EncodeData(Buffer& data, bool end_stream) override {
    size_t n = data.size();
    if (n > 0) body.append(data.Linearize(n), n);
    data.Clear();
    ended = ended || end_stream;
  }
  void EncodeTrailers(const http::RequestHeaderMap& t) override {
    t.AppendHttp1(&trailers);
    ended = true;
  }
  http::StreamCallbacks* callbacks() { return callbacks_; }

  std::string head;
  std::string body;
  std::string trailers;  // As HTTP/1 field lines.
  bool ended = false;
  bool reset = false;
  bool read_disabled = false;

 private:
  http::StreamCallbacks* callbacks_ = nullptr;
};

// One host's pool: remembers who waits and answers when told.
class FakePool : public upstream::ConnPool, public upstream::PoolHandle {
 public:
  upstream::PoolHandle* NewStream(http::ResponseDecoder& decoder,
                                  upstream::PoolCallbacks& callbacks) override {
    ++requests;
    decoder_ = &decoder;
    callbacks_ = &callbacks;
    if (fail_at_once) {
      callbacks_ = nullptr;
      callbacks.OnPoolFailure(*fail_at_once, "refused at once");
      return nullptr;
    }
    return this;
  }
  void Cancel() override {
    ++canceled;
    callbacks_ = nullptr;
  }
  void Drain() override {}
  bool empty() const override { return true; }
  size_t idle_connections() const override { return 0; }

  bool waiting() const { return callbacks_ != nullptr; }
  FakeEncoder& Ready() {
    encoders.push_back(std::make_unique<FakeEncoder>());
    upstream::PoolCallbacks* cb = callbacks_;
    callbacks_ = nullptr;
    cb->OnPoolReady(*encoders.back(), false);
    return *encoders.back();
  }
  void Fail(upstream::PoolFailureReason reason) {
    upstream::PoolCallbacks* cb = callbacks_;
    callbacks_ = nullptr;
    cb->OnPoolFailure(reason, "connect failed");
  }
  // The upstream answers on the last stream.
  void Respond(int status, absl::string_view body, bool end = true) {
    http::ResponseHeaderMapPtr h = http::NewResponseHeaderMap();
    h->status = status;
    h->content_length = body.size();
    decoder_->DecodeHeaders(std::move(h), body.empty() && end);
    if (!body.empty()) {
      Buffer b;
      b.Append(body);
      decoder_->DecodeData(b, end);
    }
  }
  // The upstream answers with `head` on the last stream.
  void RespondHead(http::ResponseHeaderMapPtr head, bool end) {
    decoder_->DecodeHeaders(std::move(head), end);
  }
  void Reset(http::StreamResetReason reason, absl::string_view details) {
    encoders.back()->callbacks()->OnStreamReset(reason, details);
  }

  int requests = 0;
  int canceled = 0;
  std::optional<upstream::PoolFailureReason> fail_at_once;
  std::vector<std::unique_ptr<FakeEncoder>> encoders;

 private:
  http::ResponseDecoder* decoder_ = nullptr;
  upstream::PoolCallbacks* callbacks_ = nullptr;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_PROXY_FAKE_POOL_H_
