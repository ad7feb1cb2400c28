// A network::Connection without a socket, for codec and connection-manager tests: writes are
// collected in a string, the test puts bytes into the read buffer and raises events itself.
#ifndef LB_TESTS_TEST_COMMON_PROXY_FAKE_CONNECTION_H_
#define LB_TESTS_TEST_COMMON_PROXY_FAKE_CONNECTION_H_

#include <string>
#include <utility>

#include "proxy/event/buffer.h"
#include "proxy/event/socket.h"
#include "proxy/network/connection.h"

namespace lb::testing {

class FakeConnection final : public proxy::network::Connection {
 public:
  FakeConnection() {
    absl::StatusOr<proxy::event::SocketAddress> a = proxy::event::MakeAddress("192.0.2.7", 4567);
    peer_ = *a;
  }

  // What was written so far (and takes it out).
  std::string TakeWritten() {
    std::string out;
    out.swap(written_);
    return out;
  }
  const std::string& written() const { return written_; }
  bool write_ended() const { return write_ended_; }
  bool read_disabled() const { return read_disabled_; }
  CloseType close_type() const { return close_type_; }
  int drained_calls() const { return drained_calls_; }
  int idle_releases = 0;  // ReleaseIdleMemory() calls.
  int release_fd = -1;    // What ReleaseSocket() hands over (once); -1: it refuses.
  proxy::network::ConnectionCallbacks* callbacks() const { return callbacks_; }
  void set_peer(const proxy::event::SocketAddress& peer) { peer_ = peer; }

  // proxy::network::Connection.
  void SetCallbacks(proxy::network::ConnectionCallbacks* callbacks) override {
    callbacks_ = callbacks;
  }
  void Write(proxy::event::Buffer& data, bool end_stream) override {
    size_t n = data.size();
    if (n > 0) written_.append(data.Linearize(n), n);
    data.Clear();
    write_ended_ = write_ended_ || end_stream;
  }
  void Write(absl::string_view data) override { written_.append(data.data(), data.size()); }
  void ReadDisable(bool disable) override { read_disabled_ = disable; }
  void ReadBufferDrained() override { ++drained_calls_; }
  bool reading() const override { return !read_disabled_ && state_ == State::kOpen; }
  void Close(CloseType type) override {
    if (state_ == State::kClosed) return;
    close_type_ = type;
    state_ = State::kClosed;
  }
  State state() const override { return state_; }
  bool connecting() const override { return false; }
  void SetBufferLimit(size_t) override {}
  size_t write_buffer_size() const override { return 0; }
  bool above_high_watermark() const override { return false; }
  proxy::event::Buffer& read_buffer() override { return read_buffer_; }
  void ReleaseIdleMemory() override { ++idle_releases; }
  // Keeps the connection (as a TLS one would) unless the test set `release_fd`.
  int ReleaseSocket() override {
    if (release_fd < 0 || state_ != State::kOpen || !read_buffer_.empty()) return -1;
    state_ = State::kClosed;
    return std::exchange(release_fd, -1);
  }
  const proxy::event::SocketAddress& peer() const override { return peer_; }
  absl::string_view NegotiatedProtocol() const override { return {}; }

 private:
  proxy::network::ConnectionCallbacks* callbacks_ = nullptr;
  proxy::event::Buffer read_buffer_;
  proxy::event::SocketAddress peer_;
  std::string written_;
  bool write_ended_ = false;
  bool read_disabled_ = false;
  int drained_calls_ = 0;
  State state_ = State::kOpen;
  CloseType close_type_ = CloseType::kNoFlush;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_PROXY_FAKE_CONNECTION_H_
