#include "controller/store/etcd_store.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/process/flag_file.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace lb::store {
namespace {

namespace pb = ::etcdserverpb;

std::string Quote(std::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(key.data(), key.size())), "\"");
}

absl::StatusCode ToCode(grpc::StatusCode code) { return static_cast<absl::StatusCode>(code); }

bool IsFailover(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

std::string EtcdPrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

// Everything the store and its watches share. Watches hold it by shared_ptr, so a WatchHandle
// may outlive the EtcdStore.
class EtcdStore::Impl {
 public:
  explicit Impl(const Options& options) : options_(options) {}

  absl::Status Init() {
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
    if (!options_.ca_file.empty() || !options_.cert_file.empty()) {
      grpc::SslCredentialsOptions ssl;
      if (!options_.ca_file.empty()) {
        absl::StatusOr<std::string> ca = process::ReadFlagFile("etcd_ca", options_.ca_file);
        if (!ca.ok()) return ca.status();
        ssl.pem_root_certs = *ca;
      }
      if (!options_.cert_file.empty()) {
        absl::StatusOr<std::string> cert = process::ReadFlagFile("etcd_cert", options_.cert_file);
        if (!cert.ok()) return cert.status();
        absl::StatusOr<std::string> key = process::ReadFlagFile("etcd_key", options_.key_file);
        if (!key.ok()) return key.status();
        ssl.pem_cert_chain = *cert;
        ssl.pem_private_key = *key;
      }
      creds = grpc::SslCredentials(ssl);
    }
    grpc::ChannelArguments args;
    // A List of a large prefix may exceed gRPC's 4 MiB default.
    args.SetMaxReceiveMessageSize(256 << 20);
    for (const std::string& endpoint : options_.endpoints) {
      std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(endpoint, creds, args);
      members_.push_back(Member{endpoint, pb::KV::NewStub(channel), pb::Watch::NewStub(channel),
                                pb::Auth::NewStub(channel), pb::Lease::NewStub(channel)});
    }
    return absl::OkStatus();
  }

  const Options& options() const { return options_; }
  std::string Key(std::string_view key) const {
    return absl::StrCat(options_.prefix, absl::string_view(key.data(), key.size()));
  }
  std::string_view Strip(const std::string& key) const {
    return std::string_view(key).substr(std::min(key.size(), options_.prefix.size()));
  }

  size_t current() const { return current_.load(std::memory_order_relaxed); }
  bool serializable() const { return serializable_.load(std::memory_order_relaxed); }
  void set_serializable(bool s) { serializable_.store(s, std::memory_order_relaxed); }
  std::string CurrentEndpoint() const { return members_[current()].endpoint; }
  pb::Watch::Stub* watch_stub(size_t i) const { return members_[i].watch.get(); }

  // Moves to the next endpoint unless another caller already did since `from` was read.
  void Failover(size_t from) {
    size_t next = (from + 1) % members_.size();
    current_.compare_exchange_strong(from, next, std::memory_order_relaxed);
  }

  // Sets up `ctx` for a call: deadline (if `deadline`) and the auth token.
  absl::Status Prepare(grpc::ClientContext& ctx, size_t member, bool deadline) {
    // gRPC deadlines are on the real clock.
    if (deadline) ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.request_timeout));
    if (options_.username.empty()) return absl::OkStatus();
    std::string token;
    {
      std::lock_guard<std::mutex> lock(token_mu_);
      token = token_;
    }
    if (token.empty()) {
      absl::StatusOr<std::string> fresh = Authenticate(member);
      if (!fresh.ok()) return fresh.status();
      token = *fresh;
    }
    ctx.AddMetadata("token", token);
    return absl::OkStatus();
  }

  // Runs `call(member index, ctx)` on the current endpoint; with `retry`, on the following ones
  // too when the failure is the endpoint's (a read is safe to repeat). An expired token is
  // renewed and the call repeated once.
  template <typename Call>
  absl::Status Run(bool retry, const char* what, Call call) {
    const size_t n = members_.size();
    absl::Status last;
    bool renewed = false;
    for (size_t attempt = 0; attempt < n; ++attempt) {
      const size_t i = current();
      grpc::ClientContext ctx;
      if (absl::Status s = Prepare(ctx, i, true); !s.ok()) {
        if (s.code() != absl::StatusCode::kUnavailable &&
            s.code() != absl::StatusCode::kDeadlineExceeded) {
          return s;
        }
        last = s;
        Failover(i);
        if (!retry) break;
        continue;
      }
      grpc::Status status = call(i, ctx);
      if (status.ok()) return absl::OkStatus();
      last = absl::Status(
          ToCode(status.error_code()),
          absl::StrCat("etcd ", members_[i].endpoint, " ", what, ": ", status.error_message()));
      if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && !renewed &&
          !options_.username.empty()) {
        renewed = true;
        ClearToken();
        --attempt;
        continue;
      }
      if (!IsFailover(status.error_code())) return last;
      Failover(i);
      if (!retry) break;
    }
    return absl::UnavailableError(last.message());
  }

  absl::StatusOr<pb::RangeResponse> Range(const pb::RangeRequest& request) {
    pb::RangeResponse response;
    absl::Status s = Run(true, "range", [&](size_t i, grpc::ClientContext& ctx) {
      response.Clear();
      return members_[i].kv->Range(&ctx, request, &response);
    });
    if (!s.ok()) return s;
    return response;
  }

  absl::StatusOr<pb::TxnResponse> Txn(const pb::TxnRequest& request) {
    pb::TxnResponse response;
    absl::Status s = Run(false, "txn", [&](size_t i, grpc::ClientContext& ctx) {
      return members_[i].kv->Txn(&ctx, request, &response);
    });
    if (!s.ok()) return s;
    return response;
  }

  absl::Status Compact(int64_t revision) {
    pb::CompactionRequest request;
    request.set_revision(revision);
    request.set_physical(true);
    pb::CompactionResponse response;
    return Run(true, "compact", [&](size_t i, grpc::ClientContext& ctx) {
      return members_[i].kv->Compact(&ctx, request, &response);
    });
  }

  // Lease calls: grant and revoke are safe to repeat on the next member (a repeated grant at
  // worst leaves an unused lease that expires); a keepalive is one request on its own stream.
  absl::StatusOr<pb::LeaseGrantResponse> LeaseGrant(const pb::LeaseGrantRequest& request) {
    pb::LeaseGrantResponse response;
    absl::Status s = Run(true, "lease grant", [&](size_t i, grpc::ClientContext& ctx) {
      response.Clear();
      return members_[i].lease->LeaseGrant(&ctx, request, &response);
    });
    if (!s.ok()) return s;
    return response;
  }

  absl::Status LeaseRevoke(const pb::LeaseRevokeRequest& request) {
    pb::LeaseRevokeResponse response;
    return Run(true, "lease revoke", [&](size_t i, grpc::ClientContext& ctx) {
      return members_[i].lease->LeaseRevoke(&ctx, request, &response);
    });
  }

  absl::StatusOr<pb::LeaseKeepAliveResponse> LeaseKeepAlive(int64_t lease) {
    pb::LeaseKeepAliveResponse response;
    absl::Status s = Run(true, "lease keepalive", [&](size_t i, grpc::ClientContext& ctx) {
      response.Clear();
      auto stream = members_[i].lease->LeaseKeepAlive(&ctx);
      pb::LeaseKeepAliveRequest request;
      request.set_id(lease);
      bool answered = stream->Write(request) && stream->Read(&response);
      stream->WritesDone();
      grpc::Status status = stream->Finish();
      if (answered) return grpc::Status::OK;
      return status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "no keepalive answer")
                         : status;
    });
    if (!s.ok()) return s;
    return response;
  }

  KeyValue FromPb(const ::mvccpb::KeyValue& kv) const {
    KeyValue out;
    out.key = std::string(Strip(kv.key()));
    out.value = kv.value();
    out.create_revision = kv.create_revision();
    out.mod_revision = kv.mod_revision();
    return out;
  }

 private:
  struct Member {
    std::string endpoint;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Watch::Stub> watch;
    std::unique_ptr<pb::Auth::Stub> auth;
    std::unique_ptr<pb::Lease::Stub> lease;
  };

  absl::StatusOr<std::string> Authenticate(size_t member) {
    pb::AuthenticateRequest request;
    request.set_name(options_.username);
    request.set_password(options_.password);
    pb::AuthenticateResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.request_timeout));  // Real time.
    grpc::Status status = members_[member].auth->Authenticate(&ctx, request, &response);
    if (!status.ok()) {
      return absl::Status(ToCode(status.error_code()),
                          absl::StrCat("etcd ", members_[member].endpoint,
                                       " authenticate: ", status.error_message()));
    }
    std::lock_guard<std::mutex> lock(token_mu_);
    token_ = response.token();
    return token_;
  }

  void ClearToken() {
    std::lock_guard<std::mutex> lock(token_mu_);
    token_.clear();
  }

  const Options options_;
  std::vector<Member> members_;
  std::atomic<size_t> current_{0};
  std::atomic<bool> serializable_{false};
  std::mutex token_mu_;
  std::string token_;
};

namespace {

// One watch: a thread that keeps an etcd Watch stream open from `next_revision_` on.
class EtcdWatch : public std::enable_shared_from_this<EtcdWatch> {
 public:
  EtcdWatch(std::shared_ptr<EtcdStore::Impl> impl, std::string prefix, int64_t next_revision,
            std::map<std::string, int64_t> keys, WatchCallback callback)
      : impl_(std::move(impl)),
        key_(impl_->Key(prefix)),
        range_end_(EtcdPrefixEnd(key_)),
        next_revision_(next_revision),
        keys_(std::move(keys)),
        callback_(std::move(callback)) {}

  void Start() {
    thread_ = std::thread([self = shared_from_this()] { self->Loop(); });
  }

  // Stops the thread; when called from the watch's own callback, only marks it cancelled (the
  // thread returns after the callback does).
  void Cancel() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    cv_.notify_all();
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();
    } else if (thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  bool cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  void Loop() {
    absl::Duration backoff = absl::Milliseconds(50);
    while (!cancelled()) {
      const size_t member = impl_->current();
      auto ctx = std::make_unique<grpc::ClientContext>();
      if (!impl_->Prepare(*ctx, member, false).ok()) {
        if (!Sleep(backoff)) return;
        backoff = std::min(backoff * 2, impl_->options().max_watch_backoff);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (cancelled_) return;
        ctx_ = ctx.get();
      }
      auto stream = impl_->watch_stub(member)->Watch(ctx.get());
      etcdserverpb::WatchRequest request;
      auto* create = request.mutable_create_request();
      create->set_key(key_);
      create->set_range_end(range_end_);
      create->set_start_revision(next_revision_);
      bool relisted = false;
      if (stream->Write(request)) {
        etcdserverpb::WatchResponse response;
        while (stream->Read(&response)) {
          backoff = absl::Milliseconds(50);
          if (response.compact_revision() > 0) {
            relisted = Relist();
            break;
          }
          if (response.canceled()) break;
          if (!Deliver(response)) break;
        }
      }
      // etcd keeps the stream open after cancelling a watch on it: end it from our side.
      ctx->TryCancel();
      grpc::Status status = stream->Finish();
      {
        std::lock_guard<std::mutex> lock(mu_);
        ctx_ = nullptr;
        if (cancelled_) return;
      }
      if (!relisted && IsFailover(status.error_code())) impl_->Failover(member);
      if (relisted) continue;
      if (!Sleep(backoff)) return;
      backoff = std::min(backoff * 2, impl_->options().max_watch_backoff);
    }
  }

  // Waits `d` unless cancelled first; false when cancelled.
  bool Sleep(absl::Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return cancelled_; });
    return !cancelled_;
  }

  // Hands the response's events to the callback, one revision at a time. False once cancelled.
  bool Deliver(const etcdserverpb::WatchResponse& response) {
    std::vector<Event> batch;
    int64_t batch_revision = 0;
    auto flush = [&]() -> bool {
      if (batch.empty()) return true;
      if (cancelled()) return false;
      callback_(batch);
      next_revision_ = batch_revision + 1;
      batch.clear();
      return true;
    };
    for (const ::mvccpb::Event& e : response.events()) {
      const int64_t revision = e.kv().mod_revision();
      if (revision < next_revision_) continue;  // Already delivered before a reconnect.
      if (revision != batch_revision && !flush()) return false;
      batch_revision = revision;
      Event event;
      event.kv = impl_->FromPb(e.kv());
      if (e.type() == ::mvccpb::Event::DELETE) {
        event.type = Event::Type::kDelete;
        event.kv.value.clear();
        event.kv.create_revision = 0;
        keys_.erase(event.kv.key);
      } else {
        event.type = Event::Type::kPut;
        keys_[event.kv.key] = revision;
      }
      batch.push_back(std::move(event));
    }
    return flush();
  }

  // The history we needed was compacted: list the prefix now and deliver what differs from what
  // was delivered so far as one batch. False if the list failed (the loop retries).
  bool Relist() {
    etcdserverpb::RangeRequest request;
    request.set_key(key_);
    request.set_range_end(range_end_);
    absl::StatusOr<etcdserverpb::RangeResponse> listed = impl_->Range(request);
    if (!listed.ok()) return false;
    const int64_t revision = listed->header().revision();
    std::map<std::string, int64_t> now;
    std::vector<Event> batch;
    for (const ::mvccpb::KeyValue& kv : listed->kvs()) {
      KeyValue out = impl_->FromPb(kv);
      now[out.key] = out.mod_revision;
      auto it = keys_.find(out.key);
      if (it != keys_.end() && it->second == out.mod_revision) continue;
      batch.push_back(Event{Event::Type::kPut, std::move(out)});
    }
    for (const auto& [key, mod] : keys_) {
      if (now.count(key) != 0) continue;
      Event event;
      event.type = Event::Type::kDelete;
      event.kv.key = key;
      event.kv.mod_revision = revision;
      batch.push_back(std::move(event));
    }
    keys_ = std::move(now);
    if (!batch.empty() && !cancelled()) callback_(batch);
    next_revision_ = revision + 1;
    return true;
  }

  const std::shared_ptr<EtcdStore::Impl> impl_;
  const std::string key_;
  const std::string range_end_;
  // Loop thread only.
  int64_t next_revision_;
  std::map<std::string, int64_t> keys_;  // Delivered state: key -> mod_revision.
  const WatchCallback callback_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;              // Guarded by mu_.
  grpc::ClientContext* ctx_ = nullptr;  // Guarded by mu_: the open stream's context.
  std::thread thread_;
};

class EtcdWatchHandle final : public WatchHandle {
 public:
  explicit EtcdWatchHandle(std::shared_ptr<EtcdWatch> watch) : watch_(std::move(watch)) {}
  ~EtcdWatchHandle() override { watch_->Cancel(); }

 private:
  std::shared_ptr<EtcdWatch> watch_;
};

}  // namespace

EtcdStore::EtcdStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdStore::~EtcdStore() = default;

absl::StatusOr<std::unique_ptr<EtcdStore>> EtcdStore::Connect(const Options& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd: no endpoints given");
  }
  for (const std::string& e : options.endpoints) {
    if (e.empty()) return absl::InvalidArgumentError("etcd: empty endpoint");
  }
  if (options.prefix.empty()) {
    return absl::InvalidArgumentError("etcd: the key prefix must not be empty");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("etcd: a client certificate needs both cert and key files");
  }
  if (options.username.empty() != options.password.empty()) {
    return absl::InvalidArgumentError("etcd: authentication needs both user and password");
  }
  if (options.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd: request_timeout must be positive");
  }
  auto impl = std::make_shared<Impl>(options);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  std::unique_ptr<EtcdStore> store(new EtcdStore(impl));
  // First contact: retry until an endpoint answers or connect_timeout passes, in
  // real time (the pace of a remote server at start-up).
  const absl::Time deadline = absl::Now() + options.connect_timeout;
  absl::Status last;
  do {
    absl::StatusOr<int64_t> rev = store->CurrentRevision();
    if (rev.ok()) return store;
    last = rev.status();
    if (last.code() != absl::StatusCode::kUnavailable &&
        last.code() != absl::StatusCode::kDeadlineExceeded) {
      return last;
    }
    absl::SleepFor(absl::Milliseconds(100));  // Real time, as above.
  } while (absl::Now() < deadline);
  return absl::UnavailableError(absl::StrCat("etcd: no endpoint of ",
                                             absl::StrJoin(options.endpoints, ","),
                                             " answered: ", last.message()));
}

std::string EtcdStore::CurrentEndpoint() const { return impl_->CurrentEndpoint(); }

absl::Status EtcdStore::Compact(int64_t revision) { return impl_->Compact(revision); }

void EtcdStore::SetSerializableReads(bool serializable) { impl_->set_serializable(serializable); }

absl::StatusOr<int64_t> EtcdStore::NewestModRevision() {
  etcdserverpb::RangeRequest request;
  request.set_key(impl_->Key(""));
  request.set_range_end(EtcdPrefixEnd(request.key()));
  request.set_keys_only(true);
  request.set_limit(1);
  request.set_sort_target(etcdserverpb::RangeRequest::MOD);
  request.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
  absl::StatusOr<etcdserverpb::RangeResponse> response = impl_->Range(request);
  if (!response.ok()) return response.status();
  return response->kvs().empty() ? int64_t{0} : response->kvs(0).mod_revision();
}

absl::StatusOr<std::optional<KeyValue>> EtcdStore::Get(std::string_view key) {
  etcdserverpb::RangeRequest request;
  request.set_key(impl_->Key(key));
  request.set_serializable(impl_->serializable());
  absl::StatusOr<etcdserverpb::RangeResponse> response = impl_->Range(request);
  if (!response.ok()) return response.status();
  if (response->kvs().empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(impl_->FromPb(response->kvs(0)));
}

absl::StatusOr<std::vector<KeyValue>> EtcdStore::List(std::string_view prefix) {
  etcdserverpb::RangeRequest request;
  request.set_key(impl_->Key(prefix));
  request.set_range_end(EtcdPrefixEnd(request.key()));
  request.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
  request.set_sort_target(etcdserverpb::RangeRequest::KEY);
  request.set_serializable(impl_->serializable());
  absl::StatusOr<etcdserverpb::RangeResponse> response = impl_->Range(request);
  if (!response.ok()) return response.status();
  std::vector<KeyValue> out;
  out.reserve(response->kvs_size());
  for (const ::mvccpb::KeyValue& kv : response->kvs()) out.push_back(impl_->FromPb(kv));
  return out;
}

absl::StatusOr<int64_t> EtcdStore::CurrentRevision() {
  etcdserverpb::RangeRequest request;
  request.set_key(impl_->Key(""));
  request.set_limit(1);
  request.set_keys_only(true);
  absl::StatusOr<etcdserverpb::RangeResponse> response = impl_->Range(request);
  if (!response.ok()) return response.status();
  return response->header().revision();
}

absl::StatusOr<int64_t> EtcdStore::Count(std::string_view prefix) {
  etcdserverpb::RangeRequest request;
  request.set_key(impl_->Key(prefix));
  request.set_range_end(EtcdPrefixEnd(request.key()));
  request.set_count_only(true);
  absl::StatusOr<etcdserverpb::RangeResponse> response = impl_->Range(request);
  if (!response.ok()) return response.status();
  return response->count();
}

absl::StatusOr<int64_t> EtcdStore::GrantLease(absl::Duration ttl) {
  if (ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease: ttl ", absl::FormatDuration(ttl), " is under 1s"));
  }
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1))));
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> response = impl_->LeaseGrant(request);
  if (!response.ok()) return response.status();
  if (!response->error().empty()) {
    return absl::UnavailableError(absl::StrCat("etcd lease grant: ", response->error()));
  }
  return response->id();
}

absl::Status EtcdStore::KeepAliveLease(int64_t lease) {
  absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> response = impl_->LeaseKeepAlive(lease);
  if (!response.ok()) return response.status();
  // etcd answers a lease it does not know with TTL 0 (or less).
  if (response->ttl() <= 0) {
    return absl::NotFoundError(absl::StrCat("lease ", lease, " expired or was revoked"));
  }
  return absl::OkStatus();
}

absl::Status EtcdStore::RevokeLease(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  absl::Status s = impl_->LeaseRevoke(request);
  if (s.code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("lease ", lease, " expired or was revoked"));
  }
  return s;
}

absl::StatusOr<int64_t> EtcdStore::Txn(const std::vector<Compare>& compares,
                                       const std::vector<Op>& ops) {
  if (ops.empty()) return absl::InvalidArgumentError("txn: empty op list");
  if (absl::Status s = CheckPrefixDeletes(ops); !s.ok()) return s;
  // Collapse the ops per key (etcd refuses a key twice in one Txn), in first-seen order.
  enum class State { kPut, kDeletedExisting, kDeletedOwnPut };
  struct Net {
    State state;
    const Op* last_put = nullptr;
    bool needs_existing = false;  // A delete of a key this txn did not put first.
  };
  std::vector<std::string> order;
  std::map<std::string, Net> net;
  std::vector<std::string> prefixes;  // Of kDeletePrefix ops: one DeleteRange each.
  for (const Op& op : ops) {
    if (op.kind == Op::Kind::kDeletePrefix) {
      prefixes.push_back(op.key);
      continue;
    }
    auto it = net.find(op.key);
    if (op.kind == Op::Kind::kPut) {
      if (it == net.end()) {
        order.push_back(op.key);
        net[op.key] = Net{State::kPut, &op, false};
      } else if (it->second.state == State::kDeletedExisting) {
        return absl::InvalidArgumentError(
            absl::StrCat("txn: delete then put of key ", Quote(op.key),
                         " in one transaction is not supported by the etcd store"));
      } else {
        it->second.state = State::kPut;
        it->second.last_put = &op;
      }
    } else {
      if (it == net.end()) {
        order.push_back(op.key);
        net[op.key] = Net{State::kDeletedExisting, nullptr, true};
      } else if (it->second.state == State::kPut) {
        it->second.state = State::kDeletedOwnPut;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("txn: delete of missing key ", Quote(op.key)));
      }
    }
  }

  etcdserverpb::TxnRequest request;
  for (const Compare& c : compares) {
    etcdserverpb::Compare* cmp = request.add_compare();
    cmp->set_result(etcdserverpb::Compare::EQUAL);
    cmp->set_target(etcdserverpb::Compare::MOD);
    cmp->set_key(impl_->Key(c.key));
    cmp->set_mod_revision(c.mod_revision);
    request.add_failure()->mutable_request_range()->set_key(cmp->key());
  }
  std::vector<std::string> existence;  // Keys that must exist, after the compares' ranges.
  for (const std::string& key : order) {
    const Net& n = net[key];
    if (n.needs_existing) {
      etcdserverpb::Compare* cmp = request.add_compare();
      cmp->set_result(etcdserverpb::Compare::GREATER);
      cmp->set_target(etcdserverpb::Compare::VERSION);
      cmp->set_key(impl_->Key(key));
      cmp->set_version(0);
      request.add_failure()->mutable_request_range()->set_key(cmp->key());
      existence.push_back(key);
    }
    switch (n.state) {
      case State::kPut: {
        auto* put = request.add_success()->mutable_request_put();
        put->set_key(impl_->Key(key));
        put->set_value(n.last_put->value);
        put->set_lease(n.last_put->lease);
        break;
      }
      case State::kDeletedExisting:
      case State::kDeletedOwnPut:
        // A put then delete of a new key deletes nothing; of an existing one, deletes it.
        request.add_success()->mutable_request_delete_range()->set_key(impl_->Key(key));
        break;
    }
  }
  for (const std::string& prefix : prefixes) {
    auto* range = request.add_success()->mutable_request_delete_range();
    range->set_key(impl_->Key(prefix));
    range->set_range_end(EtcdPrefixEnd(range->key()));
  }
  absl::StatusOr<etcdserverpb::TxnResponse> response = impl_->Txn(request);
  if (!response.ok()) return response.status();
  if (response->succeeded()) return response->header().revision();

  // Name the first failing condition, as SqliteStore does.
  const auto& results = response->responses();
  for (size_t i = 0; i < compares.size() && static_cast<int>(i) < results.size(); ++i) {
    const auto& kvs = results[i].response_range().kvs();
    const int64_t actual = kvs.empty() ? 0 : kvs[0].mod_revision();
    if (actual != compares[i].mod_revision) {
      return absl::AbortedError(absl::StrCat("txn: compare failed on key ", Quote(compares[i].key),
                                             ": expected mod_revision ", compares[i].mod_revision,
                                             ", actual ", actual,
                                             actual == 0 ? " (key does not exist)" : ""));
    }
  }
  for (size_t j = 0; j < existence.size(); ++j) {
    const size_t i = compares.size() + j;
    if (static_cast<int>(i) < results.size() && results[i].response_range().kvs().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("txn: delete of missing key ", Quote(existence[j])));
    }
  }
  return absl::AbortedError("txn: a condition failed");
}

absl::StatusOr<std::unique_ptr<WatchHandle>> EtcdStore::Watch(std::string_view prefix,
                                                              int64_t after_revision,
                                                              WatchCallback callback) {
  if (after_revision < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch: negative after_revision ", after_revision));
  }
  if (!callback) return absl::InvalidArgumentError("watch: empty callback");
  // The state as of after_revision, which a relist after a compaction is compared with; also
  // the check that the history after it still exists.
  std::map<std::string, int64_t> keys;
  absl::StatusOr<int64_t> current = CurrentRevision();
  if (!current.ok()) return current.status();
  etcdserverpb::RangeRequest request;
  request.set_key(impl_->Key(prefix));
  request.set_range_end(EtcdPrefixEnd(request.key()));
  request.set_keys_only(true);
  // Revision 0 means "latest" to etcd; the state at 0 is empty, and history from revision 1
  // on must exist.
  if (after_revision == 0) {
    request.set_limit(1);
    request.set_revision(std::min<int64_t>(1, *current));
  } else {
    request.set_revision(std::min(after_revision, *current));
  }
  absl::StatusOr<etcdserverpb::RangeResponse> seeded = impl_->Range(request);
  if (!seeded.ok()) {
    if (seeded.status().code() == absl::StatusCode::kOutOfRange) {
      return absl::OutOfRangeError(absl::StrCat("watch: history after revision ", after_revision,
                                                " was compacted; re-list and watch from there (",
                                                seeded.status().message(), ")"));
    }
    return seeded.status();
  }
  if (after_revision > 0) {
    for (const ::mvccpb::KeyValue& kv : seeded->kvs()) {
      keys[std::string(impl_->Strip(kv.key()))] = kv.mod_revision();
    }
  }
  auto watch = std::make_shared<EtcdWatch>(impl_, std::string(prefix), after_revision + 1,
                                           std::move(keys), std::move(callback));
  watch->Start();
  return std::unique_ptr<WatchHandle>(new EtcdWatchHandle(std::move(watch)));
}

}  // namespace lb::store
