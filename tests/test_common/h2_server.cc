#include "tests/test_common/h2_server.h"

#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proxy/event/socket.h"

namespace lb::testing {

std::string H2Request::Get(absl::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

struct H2ServerSession::Callbacks {
  static H2ServerSession& Self(void* p) { return *static_cast<H2ServerSession*>(p); }
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      Self(user).requests_[frame->hd.stream_id].stream_id = frame->hd.stream_id;
    }
    return 0;
  }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto it = Self(user).requests_.find(frame->hd.stream_id);
    if (it == Self(user).requests_.end()) return 0;
    it->second.headers.emplace_back(std::string(reinterpret_cast<const char*>(name), namelen),
                                    std::string(reinterpret_cast<const char*>(value), valuelen));
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    auto it = Self(user).requests_.find(id);
    if (it != Self(user).requests_.end()) {
      it->second.body.append(reinterpret_cast<const char*>(data), len);
    }
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      auto it = Self(user).requests_.find(frame->hd.stream_id);
      if (it != Self(user).requests_.end()) it->second.ended = true;
    }
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    auto it = Self(user).requests_.find(id);
    if (it != Self(user).requests_.end() && error_code != NGHTTP2_NO_ERROR) {
      it->second.reset = true;
    }
    Self(user).pending_.erase(id);
    return 0;
  }
  static ssize_t Read(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                      uint32_t* flags, nghttp2_data_source*, void* user) {
    H2ServerSession& self = Self(user);
    auto it = self.pending_.find(id);
    if (it == self.pending_.end()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    Pending& p = it->second;
    size_t n = std::min(length, p.body.size() - p.offset);
    std::memcpy(buf, p.body.data() + p.offset, n);
    p.offset += n;
    if (p.offset == p.body.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!p.trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nva;
        for (const auto& [k, v] : p.trailers) {
          nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(k.data())),
                         reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), k.size(),
                         v.size(), NGHTTP2_NV_FLAG_NONE});
        }
        nghttp2_submit_trailer(session, id, nva.data(), nva.size());
      }
    }
    return static_cast<ssize_t>(n);
  }
};

H2ServerSession::H2ServerSession(uint32_t max_concurrent_streams) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::OnData);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::OnFrame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::OnClose);
  nghttp2_session_server_new(&session_, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  std::vector<nghttp2_settings_entry> entries;
  if (max_concurrent_streams > 0) {
    entries.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_concurrent_streams});
  }
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries.data(), entries.size());
}

H2ServerSession::~H2ServerSession() { nghttp2_session_del(session_); }

bool H2ServerSession::Feed(absl::string_view bytes) {
  ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                        bytes.size());
  return rv >= 0;
}

std::string H2ServerSession::Drain() {
  std::string out;
  for (int i = 0; i < 100000; ++i) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return out;
}

void H2ServerSession::Respond(int32_t stream_id, int status, const H2Fields& headers,
                              std::string body, const H2Fields& trailers) {
  std::string status_text = absl::StrCat(status);
  std::vector<nghttp2_nv> nva;
  auto add = [&nva](const std::string& k, const std::string& v) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(k.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), k.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  };
  const std::string status_name = ":status";
  add(status_name, status_text);
  for (const auto& [k, v] : headers) add(k, v);
  if (body.empty() && trailers.empty()) {
    nghttp2_submit_response(session_, stream_id, nva.data(), nva.size(), nullptr);
    return;
  }
  pending_[stream_id] = Pending{std::move(body), 0, trailers};
  nghttp2_data_provider provider;
  provider.source.ptr = nullptr;
  provider.read_callback = &Callbacks::Read;
  nghttp2_submit_response(session_, stream_id, nva.data(), nva.size(), &provider);
}

void H2ServerSession::ResetStream(int32_t stream_id, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, error_code);
}

void H2ServerSession::GoAway(int32_t last_stream_id, uint32_t error_code) {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, last_stream_id, error_code, nullptr, 0);
}

bool H2ServerSession::want_io() const {
  return nghttp2_session_want_read(session_) != 0 || nghttp2_session_want_write(session_) != 0;
}

// --- H2Server ---------------------------------------------------------------------------------

struct H2Server::Conn {
  int fd = -1;
  std::unique_ptr<H2ServerSession> session;
  std::vector<int32_t> held;  // Streams waiting for Release().
  std::vector<int32_t> answered_or_held;
};

H2Server::H2Server(Options options) : options_(std::move(options)) {
  absl::StatusOr<int> fd = proxy::event::Listen("127.0.0.1", 0, false);
  listen_fd_ = *fd;
  port_ = proxy::event::LocalPort(listen_fd_);
  thread_ = std::thread([this] { Serve(); });
}

H2Server::~H2Server() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

void H2Server::Release() { command_ = 1; }
void H2Server::GoAwayKeepFirst() { command_ = 2; }
void H2Server::ResetHeld(uint32_t error_code) {
  reset_code_ = error_code;
  command_ = 3;
}

void H2Server::Answer(Conn& conn, int32_t id) {
  const H2Request& r = conn.session->requests().at(id);
  const std::string path = r.Get(":path");
  std::string body = absl::StrCat(options_.name, " ", path);
  if (options_.echo && absl::StartsWith(path, "/echo")) {
    body = r.body;
  } else if (options_.echo && absl::StartsWith(path, "/head")) {
    body.clear();
    for (const auto& [k, v] : r.headers) absl::StrAppend(&body, k, ": ", v, "\n");
  }
  H2Fields headers = {{"x-server", options_.name}, {"content-type", "text/plain"}};
  H2Fields trailers;
  if (options_.trailers) trailers = {{"grpc-status", "0"}, {"grpc-message", "ok"}};
  conn.session->Respond(id, 200, headers, body, trailers);
}

void H2Server::Serve() {
  std::vector<std::unique_ptr<Conn>> conns;
  char buf[16384];
  while (!stop_) {
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& c : conns) fds.push_back({c->fd, POLLIN, 0});
    poll(fds.data(), fds.size(), 5);
    if ((fds[0].revents & POLLIN) != 0) {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd >= 0) {
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        c->session = std::make_unique<H2ServerSession>(options_.max_concurrent_streams);
        conns.push_back(std::move(c));
        ++connections_;
      }
    }
    const int command = command_.exchange(0);
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = *conns[i];
      bool closed = false;
      if (i + 1 < fds.size() && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
        if (n <= 0 || !c.session->Feed(absl::string_view(buf, static_cast<size_t>(n)))) {
          closed = true;
        }
      }
      // New complete requests: answer or hold.
      for (const auto& [id, r] : c.session->requests()) {
        if (!r.ended || r.reset) continue;
        if (std::find(c.answered_or_held.begin(), c.answered_or_held.end(), id) !=
            c.answered_or_held.end()) {
          continue;
        }
        c.answered_or_held.push_back(id);
        ++requests_;
        if (options_.hold) {
          c.held.push_back(id);
          ++waiting_;
        } else {
          Answer(c, id);
        }
      }
      if (command == 1 || command == 2) {
        std::sort(c.held.begin(), c.held.end());
        if (command == 2 && !c.held.empty()) c.session->GoAway(c.held.front());
        for (int32_t id : c.held) {
          if (command == 1 || id == c.held.front()) Answer(c, id);
          --waiting_;
        }
        c.held.clear();
      } else if (command == 3) {
        for (int32_t id : c.held) {
          c.session->ResetStream(id, reset_code_);
          --waiting_;
        }
        c.held.clear();
      }
      std::string out = c.session->Drain();
      size_t off = 0;
      for (int tries = 0; off < out.size() && tries < 10000; ++tries) {
        ssize_t n = send(c.fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN) {
            usleep(100);
            continue;
          }
          closed = true;
          break;
        }
        off += static_cast<size_t>(n);
      }
      if (closed) {
        close(c.fd);
        c.fd = -1;
      }
    }
    if (command == 1 || command == 2) options_.hold = false;
    conns.erase(std::remove_if(conns.begin(), conns.end(),
                               [](const std::unique_ptr<Conn>& c) { return c->fd < 0; }),
                conns.end());
  }
  for (auto& c : conns) close(c->fd);
}

}  // namespace lb::testing
