#include "proxy/xds/ads_client.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "proxy/xds/config_builder.h"
#include "spdlog/spdlog.h"

namespace lb::proxy::xds {

namespace discovery_v3 = envoy::service::discovery::v3;

struct AdsClient::State {
  ConfigBuilder builder;
  std::map<std::string, std::string> versions;  // Type URL -> last accepted version_info.
  std::vector<std::string> eds_names;           // The EDS subscription last sent.
};

namespace {

// Largest response accepted (a big EDS answer can exceed gRPC's 4 MiB default).
constexpr int kMaxResponseBytes = 128 << 20;

constexpr int kInvalidArgument = 3;  // google.rpc.Code.

}  // namespace

AdsClient::AdsClient(AdsClientOptions options, ConfigCallback on_config)
    : options_(std::move(options)),
      on_config_(std::move(on_config)),
      state_(std::make_unique<State>()) {}

AdsClient::~AdsClient() { Stop(); }

absl::Status AdsClient::Start() {
  if (options_.controllers.empty()) {
    return absl::InvalidArgumentError("controllers: at least one host:port is required");
  }
  if (options_.node_id.empty()) return absl::InvalidArgumentError("node_id: must not be empty");
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("the ADS client was already started");
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void AdsClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

AdsClientStatus AdsClient::GetStatus() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

std::shared_ptr<const ProxyConfig> AdsClient::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

bool AdsClient::Sleep(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

void AdsClient::RecordError(const std::string& error) {
  absl::MutexLock lock(&mu_);
  status_.last_error = error;
  status_.last_error_time = absl::Now();
}

void AdsClient::Publish(std::shared_ptr<const ProxyConfig> config) {
  {
    absl::MutexLock lock(&mu_);
    if (config == config_) return;
    // Nothing accepted yet: no point handing out an empty config.
    if (config_ == nullptr && config->clusters.empty() && config->virtual_hosts.empty()) return;
    config_ = config;
  }
  if (on_config_) on_config_(std::move(config));
}

void AdsClient::Run() {
  absl::BitGen random;
  size_t index = 0;
  absl::Duration backoff = options_.initial_backoff;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    bool got_response = RunStream(options_.controllers[index]);
    index = (index + 1) % options_.controllers.size();
    if (got_response) backoff = options_.initial_backoff;
    double factor = absl::Uniform(random, 1.0 - options_.jitter, 1.0 + options_.jitter);
    if (!Sleep(backoff * factor)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool AdsClient::RunStream(const std::string& target) {
  grpc::ChannelArguments args;
  // A fresh channel per attempt, sharing no subchannel (and so no connection backoff) with
  // earlier ones: the reconnect schedule is ours alone.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(kMaxResponseBytes);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  std::unique_ptr<discovery_v3::AggregatedDiscoveryService::Stub> stub =
      discovery_v3::AggregatedDiscoveryService::NewStub(channel);

  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    context_ = &context;
    status_.controller = target;
    status_.connected = false;
    ++status_.streams;
  }
  std::unique_ptr<
      grpc::ClientReaderWriter<discovery_v3::DiscoveryRequest, discovery_v3::DiscoveryResponse>>
      stream = stub->StreamAggregatedResources(&context);

  State& st = *state_;
  std::map<std::string, std::string> nonces;  // Type URL -> last nonce on this stream.
  bool node_sent = false;
  // Write failures need no handling: the stream is over and Read() returns false.
  auto send = [&](const std::string& type, const std::vector<std::string>& names,
                  const std::string* error) {
    discovery_v3::DiscoveryRequest request;
    if (!node_sent) {
      auto* node = request.mutable_node();
      node->set_id(options_.node_id);
      node->mutable_locality()->set_zone(options_.zone);
      node->set_user_agent_name(options_.user_agent);
      node->set_user_agent_version(options_.user_agent_version);
      node_sent = true;
    }
    request.set_type_url(type);
    request.set_version_info(st.versions[type]);
    for (const std::string& name : names) request.add_resource_names(name);
    request.set_response_nonce(nonces[type]);
    if (error != nullptr) {
      request.mutable_error_detail()->set_code(kInvalidArgument);
      request.mutable_error_detail()->set_message(*error);
    }
    stream->Write(request);
  };
  auto names_of = [&](const std::string& type) -> std::vector<std::string> {
    if (type == kRouteType) return {kRouteConfigName};
    if (type == kEndpointType) return st.eds_names;
    return {};  // CDS: wildcard.
  };

  // Subscribe, with the versions we hold (a reconnect resumes where the last stream stopped).
  send(kClusterType, names_of(kClusterType), nullptr);
  send(kRouteType, names_of(kRouteType), nullptr);
  st.eds_names = st.builder.ClusterNames();
  if (!st.eds_names.empty()) send(kEndpointType, st.eds_names, nullptr);

  bool got_response = false;
  discovery_v3::DiscoveryResponse response;
  while (stream->Read(&response)) {
    if (!got_response) {
      got_response = true;
      absl::MutexLock lock(&mu_);
      status_.connected = true;
      status_.connected_since = absl::Now();
      spdlog::info("xds: connected to controller {}", target);
    }
    const std::string& type = response.type_url();
    if (type != kClusterType && type != kEndpointType && type != kRouteType) {
      spdlog::debug("xds: ignoring a response of unrequested type {}", type);
      continue;
    }
    nonces[type] = response.nonce();
    absl::Status applied = st.builder.ApplyResponse(response);
    // Status first, then the answer: whoever sees the ACK/NACK sees the status too.
    if (applied.ok()) {
      st.versions[type] = response.version_info();
      {
        absl::MutexLock lock(&mu_);
        status_.versions[type] = response.version_info();
        ++status_.acks;
      }
      send(type, names_of(type), nullptr);
    } else {
      std::string error(applied.message());
      spdlog::warn("xds: NACK of {} version {} from {}: {}", type, response.version_info(), target,
                   error);
      {
        absl::MutexLock lock(&mu_);
        status_.nacks[type] = error;
        ++status_.nack_count;
        status_.last_error = error;
        status_.last_error_time = absl::Now();
      }
      send(type, names_of(type), &error);
    }
    if (type == kClusterType) {
      std::vector<std::string> names = st.builder.ClusterNames();
      if (names != st.eds_names) {
        st.eds_names = std::move(names);
        send(kEndpointType, st.eds_names, nullptr);
      }
    }
    std::shared_ptr<const ProxyConfig> config = st.builder.Build();
    {
      absl::MutexLock lock(&mu_);
      status_.warming_clusters = st.builder.WarmingClusters();
      status_.warnings = st.builder.Warnings();
    }
    Publish(std::move(config));
  }
  grpc::Status finished = stream->Finish();
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    status_.controller.clear();
    status_.connected = false;
    stopping = stopping_;
  }
  if (!stopping) {
    std::string error = absl::StrCat(
        "stream to ", target,
        " ended: ", absl::StatusCodeToString(static_cast<absl::StatusCode>(finished.error_code())),
        ": ", finished.error_message().empty() ? "(no message)" : finished.error_message());
    spdlog::warn("xds: {}", error);
    RecordError(error);
  }
  return got_response;
}

}  // namespace lb::proxy::xds
