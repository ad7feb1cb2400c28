#include "proxy/health/active_checker.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/base/check.h"
#include "common/net/address.h"
#include "proxy/event/buffer.h"
#include "proxy/event/socket.h"
#include "proxy/http/header_map.h"
#include "proxy/http/http2_client_codec.h"
#include "proxy/http/parser.h"
#include "proxy/network/connection.h"
#include "proxy/network/transport_socket.h"

namespace lb::proxy::health {
namespace {

// Floors that keep a misconfigured cluster from spinning the main loop.
constexpr absl::Duration kMinInterval = absl::Milliseconds(10);
constexpr absl::Duration kMinTimeout = absl::Milliseconds(1);
constexpr double kMaxJitter = 0.1;

// Percent-encodes bytes that would break the request line (controls, space, DEL) and makes
// the target origin-form, so a bad path yields a failing check rather than a malformed request.
std::string RequestTarget(absl::string_view path) {
  std::string out;
  if (path.empty() || path[0] != '/') out.push_back('/');
  for (unsigned char c : path) {
    if (c <= 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

bool ValidHostHeader(absl::string_view host) {
  if (host.empty()) return false;
  for (unsigned char c : host) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING.
constexpr uint64_t kServing = 1;
constexpr char kHealthCheckPath[] = "/grpc.health.v1.Health/Check";
// A check's answer is one small message; anything larger is not a health service.
constexpr size_t kMaxGrpcResponseBytes = 1024;

// A gRPC message frame (uncompressed) holding HealthCheckRequest{service}: field 1, string.
std::string GrpcHealthRequest(absl::string_view service) {
  std::string message;
  if (!service.empty()) {
    message.push_back(0x0a);
    for (uint64_t n = service.size();; n >>= 7) {
      if (n < 0x80) {
        message.push_back(static_cast<char>(n));
        break;
      }
      message.push_back(static_cast<char>((n & 0x7f) | 0x80));
    }
    message.append(service.data(), service.size());
  }
  std::string frame(5, '\0');
  const uint32_t len = static_cast<uint32_t>(message.size());
  frame[1] = static_cast<char>(len >> 24);
  frame[2] = static_cast<char>(len >> 16);
  frame[3] = static_cast<char>(len >> 8);
  frame[4] = static_cast<char>(len);
  return frame + message;
}

// The ServingStatus of a gRPC frame holding a HealthCheckResponse (0, UNKNOWN, when absent), or
// nullopt when the bytes are not one uncompressed message.
std::optional<uint64_t> GrpcServingStatus(absl::string_view frame) {
  if (frame.size() < 5 || frame[0] != 0) return std::nullopt;
  const uint32_t len = (static_cast<uint32_t>(static_cast<uint8_t>(frame[1])) << 24) |
                       (static_cast<uint32_t>(static_cast<uint8_t>(frame[2])) << 16) |
                       (static_cast<uint32_t>(static_cast<uint8_t>(frame[3])) << 8) |
                       static_cast<uint32_t>(static_cast<uint8_t>(frame[4]));
  absl::string_view m = frame.substr(5);
  if (m.size() != len) return std::nullopt;
  uint64_t status = 0;
  size_t i = 0;
  while (i < m.size()) {  // Fields: varints only (unknown length-delimited ones are skipped).
    auto varint = [&](uint64_t* out) {
      *out = 0;
      for (int shift = 0; i < m.size() && shift < 64; shift += 7) {
        const uint8_t b = static_cast<uint8_t>(m[i++]);
        *out |= static_cast<uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) return true;
      }
      return false;
    };
    uint64_t key = 0;
    if (!varint(&key)) return std::nullopt;
    uint64_t value = 0;
    switch (key & 7) {
      case 0:
        if (!varint(&value)) return std::nullopt;
        if (key >> 3 == 1) status = value;
        break;
      case 2:
        if (!varint(&value) || value > m.size() - i) return std::nullopt;
        i += value;
        break;
      default:
        return std::nullopt;
    }
  }
  return status;
}

// What one host's checks need; derived from its cluster's HealthCheckConfig and endpoint.
struct CheckSettings {
  std::string address;
  uint16_t port = 0;
  std::string request;  // HTTP: the whole request, ready to send.
  // gRPC: the Health/Check request message frame and the :authority.
  bool grpc = false;
  std::string grpc_request;
  std::string authority;
  absl::Duration interval;
  absl::Duration timeout;
  uint32_t healthy_threshold = 1;
  uint32_t unhealthy_threshold = 1;
};

CheckSettings MakeSettings(const HealthCheckConfig& hc, const EndpointConfig& ep) {
  CheckSettings s;
  s.address = ep.address;
  s.port = ep.port;
  std::string host = ep.hostname;
  if (!ValidHostHeader(host)) host = net::UriHost(ep.address);
  s.request = absl::StrCat("GET ", RequestTarget(hc.path), " HTTP/1.1\r\nHost: ", host,
                           "\r\nUser-Agent: lb-health/1\r\nConnection: close\r\n\r\n");
  s.grpc = hc.grpc;
  if (hc.grpc) {
    s.grpc_request = GrpcHealthRequest(hc.grpc_service_name);
    s.authority = ValidHostHeader(hc.grpc_authority) ? hc.grpc_authority : host;
  }
  s.interval = std::max(hc.interval, kMinInterval);
  s.timeout = std::max(hc.timeout, kMinTimeout);
  s.healthy_threshold = hc.healthy_threshold;
  s.unhealthy_threshold = hc.unhealthy_threshold;
  return s;
}

}  // namespace

// One host's check cycle: a timer for the next check and, while a check runs, a connection and
// a deadline. Lives on the dispatcher's thread; owned by ActiveChecker::hosts_.
class ActiveChecker::HostCheck final : public network::ConnectionCallbacks,
                                       public http::Http2ClientCodecCallbacks,
                                       public http::ResponseDecoder,
                                       public http::StreamCallbacks {
 public:
  HostCheck(ActiveChecker* owner, std::string cluster, std::string key, CheckSettings settings)
      : owner_(owner),
        cluster_(std::move(cluster)),
        key_(std::move(key)),
        settings_(std::move(settings)),
        state_(settings_.healthy_threshold, settings_.unhealthy_threshold),
        next_(owner->dispatcher_.CreateTimer([this] { Start(); })),
        deadline_(owner->dispatcher_.CreateTimer([this] { Finish(false); })) {}

  ~HostCheck() override { Abort(); }

  HostCheck(const HostCheck&) = delete;
  HostCheck& operator=(const HostCheck&) = delete;

  const std::string& cluster() const { return cluster_; }
  const std::string& key() const { return key_; }
  ActiveHealthState& state() { return state_; }

  void ScheduleIn(absl::Duration delay) { next_->Arm(delay); }

  // New settings from Update(). The verdict stays; see the header for what applies when.
  void Apply(CheckSettings settings) {
    state_.SetThresholds(settings.healthy_threshold, settings.unhealthy_threshold);
    const bool interval_changed = settings.interval != settings_.interval;
    settings_ = std::move(settings);
    if (interval_changed && connection_ == nullptr) {
      ScheduleIn(owner_->Jitter(settings_.interval));
    }
  }

  // network::ConnectionCallbacks.
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kConnected) {
      if (settings_.grpc) {
        StartGrpc();
      } else {
        connection_->Write(settings_.request);
      }
      return;
    }
    Finish(false);  // Refused, unreachable, reset, or closed.
  }

  void OnData(event::Buffer& data, bool end_stream) override {
    if (settings_.grpc) {
      // The verdict is taken after Dispatch returns: Finish() frees the codec.
      const bool ok = codec_ != nullptr && codec_->Dispatch(data, end_stream).ok();
      if (grpc_result_.has_value()) return Finish(*grpc_result_);
      if (!ok || end_stream) Finish(false);
      return;
    }
    size_t len = std::min<size_t>(data.size(), http::HeadLimits().max_header_bytes + 1);
    http::ParseResult r = parser_.Parse(data.Linearize(len), len);
    if (r.done()) {
      Finish(parser_.status_code() >= 200 && parser_.status_code() <= 299);
    } else if (r.error() || end_stream) {
      Finish(false);  // Malformed, or closed before a whole head.
    }
  }

  // http::Http2ClientCodecCallbacks.
  void OnStreamClosed() override {}
  void OnGoAway() override {}

  // http::ResponseDecoder and StreamCallbacks of the check's one stream: they only record the
  // verdict (see OnData).
  void DecodeHeaders(http::ResponseHeaderMapPtr headers, bool end_stream) override {
    grpc_status_ok_ = false;
    if (headers->status != 200) {
      grpc_result_ = false;
      return;
    }
    if (auto s = headers->Find("grpc-status")) grpc_status_ok_ = s->value == "0";
    if (end_stream) grpc_result_ = false;  // Trailers-only: an error, or no message.
  }
  void DecodeData(event::Buffer& data, bool end_stream) override {
    if (grpc_body_.size() + data.size() > kMaxGrpcResponseBytes) {
      grpc_result_ = false;
    } else if (data.size() > 0) {
      grpc_body_.append(data.Linearize(data.size()), data.size());
    }
    data.Clear();
    if (end_stream && !grpc_result_.has_value()) Verdict();
  }
  void DecodeTrailers(http::ResponseHeaderMapPtr trailers) override {
    auto s = trailers->Find("grpc-status");
    grpc_status_ok_ = s.has_value() && s->value == "0";
    if (!grpc_result_.has_value()) Verdict();
  }
  void OnStreamReset(http::StreamResetReason, absl::string_view) override { grpc_result_ = false; }
  void OnAboveWriteBufferHighWatermark() override {}
  void OnBelowWriteBufferLowWatermark() override {}

 private:
  // Healthy: grpc-status 0 and the answer SERVING.
  void Verdict() {
    std::optional<uint64_t> status = GrpcServingStatus(grpc_body_);
    grpc_result_ = grpc_status_ok_ && status.has_value() && *status == kServing;
  }

  // Unary grpc.health.v1.Health/Check over h2c.
  void StartGrpc() {
    http::Http2ClientSettings settings;
    settings.max_concurrent_streams = 1;
    settings.stream_window_bytes = 64 * 1024;
    settings.connection_window_bytes = 64 * 1024;
    codec_ = std::make_unique<http::Http2ClientCodec>(*connection_, *this, settings);
    http::RequestHeaderMapPtr headers = http::NewRequestHeaderMap();
    headers->method = http::Method::kPost;
    headers->method_token = "POST";
    headers->target = kHealthCheckPath;
    headers->host = settings_.authority;
    headers->has_host = true;
    headers->content_length = settings_.grpc_request.size();
    headers->Add("content-type", "application/grpc");
    headers->Add("user-agent", "lb-health/1");
    http::RequestEncoder& encoder = codec_->NewStream(*this);
    encoder.SetCallbacks(this);
    encoder.EncodeHeaders(*headers, false);
    event::Buffer body;
    body.Append(settings_.grpc_request);
    encoder.EncodeData(body, true);
    if (grpc_result_.has_value()) Finish(*grpc_result_);
  }

  void Start() {
    absl::StatusOr<event::SocketAddress> address =
        event::MakeAddress(settings_.address, settings_.port);
    if (!address.ok()) return Finish(false);  // Not an IP literal: cannot be reached.
    std::shared_ptr<const network::TransportSocketFactory> transport =
        owner_->transport_for_ ? owner_->transport_for_(cluster_) : nullptr;
    absl::StatusOr<std::unique_ptr<network::Connection>> connection =
        network::CreateClientConnection(owner_->dispatcher_, *address,
                                        transport != nullptr
                                            ? transport->Create()
                                            : std::make_unique<network::RawTransportSocket>());
    if (!connection.ok()) {
      if (connection.status().code() == absl::StatusCode::kResourceExhausted) {
        // Our shortage, not the host's: no verdict, try again later.
        ++owner_->checks_skipped_;
        Stats().skipped.fetch_add(1, std::memory_order_relaxed);
        ScheduleIn(settings_.interval);
        return;
      }
      return Finish(false);
    }
    connection_ = std::move(*connection);
    ++owner_->checks_in_flight_;
    connection_->SetCallbacks(this);
    parser_.Reset(http::Method::kGet);
    grpc_result_.reset();
    grpc_body_.clear();
    grpc_status_ok_ = false;
    deadline_->Arm(settings_.timeout);
  }

  // Releases the in-flight check's connection, if any (freed at the end of the loop turn: this
  // may run inside one of its callbacks).
  void Abort() {
    deadline_->Disarm();
    codec_.reset();  // Never from inside its own calls (see OnData).
    if (connection_ != nullptr) {
      --owner_->checks_in_flight_;
      connection_->SetCallbacks(nullptr);
      connection_->Close(network::Connection::CloseType::kNoFlush);
      owner_->dispatcher_.DeferredDelete(std::move(connection_));
    }
  }

  void Finish(bool success) {
    Abort();
    ScheduleIn(settings_.interval + owner_->Jitter(settings_.interval));
    // Last: OnResult may run on_change, which may destroy this object through Update().
    owner_->OnResult(this, success);
  }

  ActiveChecker* const owner_;
  const std::string cluster_;
  const std::string key_;
  CheckSettings settings_;
  ActiveHealthState state_;
  std::unique_ptr<event::Timer> next_;               // Starts the next check.
  std::unique_ptr<event::Timer> deadline_;           // Fails the running check.
  std::unique_ptr<network::Connection> connection_;  // While a check runs.
  http::ResponseParser parser_;
  // gRPC checks: the codec on connection_, the answer so far, and the verdict once known.
  std::unique_ptr<http::Http2ClientCodec> codec_;
  std::string grpc_body_;
  bool grpc_status_ok_ = false;
  std::optional<bool> grpc_result_;
};

CheckerStats& Stats() {
  static CheckerStats* stats = new CheckerStats();
  return *stats;
}

ActiveChecker::ActiveChecker(event::Dispatcher& dispatcher, OnChange on_change)
    : dispatcher_(dispatcher), on_change_(std::move(on_change)) {}

// Each HostCheck closes its connection; cleared here while the counters it updates exist.
ActiveChecker::~ActiveChecker() { hosts_.clear(); }

absl::Duration ActiveChecker::Jitter(absl::Duration interval) {
  return interval * absl::Uniform(rng_, 0.0, kMaxJitter);
}

void ActiveChecker::Update(const ProxyConfig& config) {
  LB_DCHECK(dispatcher_.IsThreadSafe());
  std::map<Key, CheckSettings> wanted;
  for (const auto& [name, cluster] : config.clusters) {
    if (!cluster.health_check.enabled()) continue;
    for (const EndpointConfig& ep : cluster.endpoints) {
      wanted[{name, ep.Key()}] = MakeSettings(cluster.health_check, ep);
    }
  }
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (wanted.count(it->first) == 0) {
      it = hosts_.erase(it);  // Aborts its in-flight check.
    } else {
      ++it;
    }
  }
  for (auto& [key, settings] : wanted) {
    auto it = hosts_.find(key);
    if (it != hosts_.end()) {
      it->second->Apply(std::move(settings));
      continue;
    }
    const absl::Duration first = Jitter(settings.interval);
    auto check = std::make_unique<HostCheck>(this, key.first, key.second, std::move(settings));
    check->ScheduleIn(first);
    hosts_.emplace(key, std::move(check));
  }
}

void ActiveChecker::OnResult(HostCheck* check, bool success) {
  ++checks_completed_;
  (success ? Stats().passed : Stats().failed).fetch_add(1, std::memory_order_relaxed);
  if (!check->state().Record(success)) return;
  // Copies: on_change may call Update(), which may destroy `check`.
  const std::string cluster = check->cluster();
  const std::string key = check->key();
  const bool healthy = check->state().healthy();
  if (on_change_) on_change_(cluster, key, healthy);
}

ActiveStatus ActiveChecker::Status(const std::string& cluster, const std::string& host_key) const {
  auto it = hosts_.find(Key(cluster, host_key));
  return it == hosts_.end() ? ActiveStatus::kUnknown : it->second->state().status();
}

bool ActiveChecker::Checked(const std::string& cluster, const std::string& host_key) const {
  return hosts_.count(Key(cluster, host_key)) > 0;
}

}  // namespace lb::proxy::health
