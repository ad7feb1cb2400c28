#include "tests/xds/lb_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"

namespace lb::testing::xds {
namespace {

absl::Status FromGrpc(const grpc::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Waits for `events` on `fd` until `deadline`.
absl::Status PollUntil(int fd, short events, absl::Time deadline) {
  while (true) {
    int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return absl::DeadlineExceededError("HTTP request timed out");
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(ms));
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR)
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
  }
}

absl::StatusOr<std::string> Dechunk(absl::string_view body) {
  std::string out;
  while (true) {
    size_t eol = body.find("\r\n");
    if (eol == absl::string_view::npos) return absl::DataLossError("truncated chunk size");
    absl::string_view size_text = body.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(size_text, &size)) {
      return absl::DataLossError(absl::StrCat("bad chunk size \"", size_text, "\""));
    }
    body.remove_prefix(eol + 2);
    if (size == 0) return out;
    if (body.size() < size + 2) return absl::DataLossError("truncated chunk");
    out.append(body.data(), size);
    body.remove_prefix(size + 2);
  }
}

}  // namespace

LbApi::LbApi(const std::string& target, absl::Duration deadline)
    : stub_(lb::v1::LoadBalancer::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))),
      deadline_(deadline) {}

void LbApi::Prepare(grpc::ClientContext* ctx) const {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  ctx->set_wait_for_ready(true);
}

absl::Status LbApi::CreateCluster(const std::string& name) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::CreateClusterRequest req;
  req.mutable_cluster()->set_name(name);
  req.mutable_cluster()->set_lb_policy(lb::v1::ROUND_ROBIN);
  lb::v1::Cluster resp;
  return FromGrpc(stub_->CreateCluster(&ctx, req, &resp), "CreateCluster");
}

absl::Status LbApi::DeleteCluster(const std::string& name) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::DeleteClusterRequest req;
  req.set_name(name);
  lb::v1::DeleteClusterResponse resp;
  return FromGrpc(stub_->DeleteCluster(&ctx, req, &resp), "DeleteCluster");
}

absl::StatusOr<lb::v1::Cluster> LbApi::GetCluster(const std::string& name) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::GetClusterRequest req;
  req.set_name(name);
  lb::v1::Cluster resp;
  if (absl::Status s = FromGrpc(stub_->GetCluster(&ctx, req, &resp), "GetCluster"); !s.ok()) {
    return s;
  }
  return resp;
}

absl::Status LbApi::UpdateCluster(const lb::v1::Cluster& cluster) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::UpdateClusterRequest req;
  *req.mutable_cluster() = cluster;
  lb::v1::Cluster resp;
  return FromGrpc(stub_->UpdateCluster(&ctx, req, &resp), "UpdateCluster");
}

absl::Status LbApi::AddEndpoint(const std::string& cluster, const std::string& address, int port,
                                int weight, const std::string& zone) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::AddEndpointRequest req;
  req.set_cluster(cluster);
  req.mutable_endpoint()->set_address(address);
  req.mutable_endpoint()->set_port(port);
  req.mutable_endpoint()->set_weight(weight);
  req.mutable_endpoint()->set_zone(zone);
  lb::v1::AddEndpointResponse resp;
  return FromGrpc(stub_->AddEndpoint(&ctx, req, &resp), "AddEndpoint");
}

absl::Status LbApi::RemoveEndpoint(const std::string& cluster, const std::string& address,
                                   int port) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::RemoveEndpointRequest req;
  req.set_cluster(cluster);
  req.set_address(address);
  req.set_port(port);
  lb::v1::RemoveEndpointResponse resp;
  return FromGrpc(stub_->RemoveEndpoint(&ctx, req, &resp), "RemoveEndpoint");
}

absl::Status LbApi::SetEndpointState(const std::string& cluster, const std::string& address,
                                     int port, lb::v1::AdminState state) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::SetEndpointStateRequest req;
  req.set_cluster(cluster);
  req.set_address(address);
  req.set_port(port);
  req.set_admin_state(state);
  lb::v1::SetEndpointStateResponse resp;
  return FromGrpc(stub_->SetEndpointState(&ctx, req, &resp), "SetEndpointState");
}

absl::StatusOr<lb::v1::ListProxiesResponse> LbApi::ListProxies() {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  lb::v1::ListProxiesResponse resp;
  if (absl::Status s =
          FromGrpc(stub_->ListProxies(&ctx, lb::v1::ListProxiesRequest(), &resp), "ListProxies");
      !s.ok()) {
    return s;
  }
  return resp;
}

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& path, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr = Loopback(port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(absl::StrCat("connect to port ", port, ": ", strerror(errno)));
    }
    if (absl::Status s = PollUntil(fd.get(), POLLOUT, deadline); !s.ok()) return s;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return absl::UnavailableError(absl::StrCat("connect to port ", port, ": ", strerror(err)));
    }
  }
  std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                                     "\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
  absl::string_view pending = request;
  while (!pending.empty()) {
    if (absl::Status s = PollUntil(fd.get(), POLLOUT, deadline); !s.ok()) return s;
    ssize_t n = send(fd.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    }
    pending.remove_prefix(n);
  }
  std::string raw;
  char buf[16384];
  while (true) {
    if (absl::Status s = PollUntil(fd.get(), POLLIN, deadline); !s.ok()) return s;
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
    }
    raw.append(buf, n);
  }
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return absl::DataLossError("no end of HTTP headers");
  absl::string_view head(raw.data(), head_end);
  size_t eol = head.find("\r\n");
  absl::string_view status_line = head.substr(0, eol);
  HttpResponse resp;
  // "HTTP/1.1 200 OK"
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
      !absl::SimpleAtoi(status_line.substr(9, 3), &resp.status)) {
    return absl::DataLossError(absl::StrCat("bad status line \"", status_line, "\""));
  }
  resp.headers = eol == absl::string_view::npos ? "" : std::string(head.substr(eol + 2));
  resp.body = raw.substr(head_end + 4);
  if (absl::StrContains(absl::AsciiStrToLower(resp.headers), "transfer-encoding: chunked")) {
    absl::StatusOr<std::string> body = Dechunk(resp.body);
    if (!body.ok()) return body.status();
    resp.body = std::move(*body);
  }
  return resp;
}

absl::StatusOr<lb::v1::ListProxiesResponse> RestListProxies(int rest_port) {
  absl::StatusOr<HttpResponse> resp = HttpGet(rest_port, "/v1/proxies");
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    return absl::UnknownError(
        absl::StrCat("GET /v1/proxies: HTTP ", resp->status, ": ", resp->body));
  }
  lb::v1::ListProxiesResponse out;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto s = google::protobuf::util::JsonStringToMessage(resp->body, &out, options);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat(
        "GET /v1/proxies: not a ListProxiesResponse: ", s.ToString(), ": ", resp->body));
  }
  return out;
}

const lb::v1::ProxyStatus* FindProxy(const lb::v1::ListProxiesResponse& proxies,
                                     const std::string& node_id) {
  for (const auto& p : proxies.proxies()) {
    if (p.node_id() == node_id) return &p;
  }
  return nullptr;
}

const lb::v1::ProxyResourceStatus* FindType(const lb::v1::ProxyStatus& proxy,
                                            const std::string& type_url) {
  for (const auto& r : proxy.resources()) {
    if (r.type_url() == type_url) return &r;
  }
  return nullptr;
}

absl::StatusOr<lb::v1::ProxyStatus> WaitForProxy(
    LbApi* api, const std::string& node_id,
    const std::function<bool(const lb::v1::ProxyStatus&)>& predicate, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  std::string last = "(no answer)";
  while (true) {
    absl::StatusOr<lb::v1::ListProxiesResponse> proxies = api->ListProxies();
    if (proxies.ok()) {
      const lb::v1::ProxyStatus* p = FindProxy(*proxies, node_id);
      if (p != nullptr && predicate(*p)) return *p;
      last = proxies->DebugString();
    } else {
      last = proxies.status().ToString();
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("proxy \"", node_id, "\" not as expected within ",
                       absl::FormatDuration(timeout), "; last ListProxies:\n", last));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

bool AllAcked(const lb::v1::ProxyStatus& proxy) {
  bool any_sent = false;
  for (const auto& r : proxy.resources()) {
    if (r.version_sent() != r.version_acked()) return false;
    any_sent |= !r.version_sent().empty();
  }
  return any_sent;
}

absl::StatusOr<int> PickFreePort() {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr = Loopback(0);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::InternalError(absl::StrCat("bind: ", strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError(absl::StrCat("getsockname: ", strerror(errno)));
  }
  return static_cast<int>(ntohs(addr.sin_port));
}

}  // namespace lb::testing::xds
