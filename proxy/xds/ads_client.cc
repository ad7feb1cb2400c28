#include "proxy/xds/ads_client.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/logging/event_log.h"
#include "proxy/xds/grpc_xds_transport.h"
#include "spdlog/spdlog.h"

namespace lb::proxy::xds {
namespace {

AdsNode NodeOf(const AdsClientOptions& o) {
  return {o.node_id, o.zone, o.user_agent, o.user_agent_version};
}

}  // namespace

AdsClient::AdsClient(AdsClientOptions options, ConfigCallback on_config)
    : options_(std::move(options)),
      on_config_(std::move(on_config)),
      subscription_(NodeOf(options_), options_.tls_listener) {
  if (options_.transport == nullptr) {
    GrpcXdsTransportOptions transport;
    transport.keepalive_time = options_.keepalive_time;
    transport.keepalive_timeout = options_.keepalive_timeout;
    options_.transport = std::make_shared<GrpcXdsTransportFactory>(transport);
  }
  if (options_.clock == nullptr) options_.clock = Clock::Real();
}

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
    if (stream_ != nullptr) stream_->Cancel();
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
  options_.clock->AwaitWithTimeout(&mu_, absl::Condition(&stopping_), d);
  return !stopping_;
}

void AdsClient::Publish(std::shared_ptr<const ProxyConfig> config) {
  {
    absl::MutexLock lock(&mu_);
    if (config == config_) return;
    // Nothing accepted yet: no point handing out an empty config.
    if (config_ == nullptr && config->clusters.empty() && config->virtual_hosts.empty() &&
        config->tls_listener == nullptr) {
      return;
    }
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
  std::unique_ptr<XdsStream> stream = options_.transport->OpenAds(target);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    stream_ = stream.get();
    status_.controller = target;
    status_.connected = false;
    ++status_.streams;
  }
  // Write failures need no handling: the stream is over and Read() returns false.
  for (const AdsSubscription::Request& request : subscription_.StartStream()) {
    stream->Write(request);
  }
  bool got_response = false;
  AdsSubscription::Response response;
  while (stream->Read(&response)) {
    AdsSubscription::Outcome outcome = subscription_.OnResponse(response);
    if (outcome.ignored) {
      spdlog::debug("xds: ignoring a response of unrequested type {}", response.type_url());
      continue;
    }
    if (outcome.accepted) {
      logging::LogEvent("config_accepted", {{"type", response.type_url()},
                                            {"version", response.version_info()},
                                            {"controller", target}});
    } else {
      logging::LogEvent("config_rejected", {{"type", response.type_url()},
                                            {"version", response.version_info()},
                                            {"controller", target},
                                            {"error", outcome.error}});
    }
    std::shared_ptr<const ProxyConfig> config = subscription_.Build();
    {
      // Status first, then the answer: whoever sees the ACK/NACK sees the status too.
      absl::MutexLock lock(&mu_);
      if (!got_response) {
        status_.connected = true;
        status_.connected_since = options_.clock->Now();
        logging::LogEvent("controller_connected", {{"controller", target}});
      }
      status_.versions = subscription_.versions();
      status_.nacks = subscription_.nacks();
      status_.warming_clusters = subscription_.WarmingClusters();
      status_.warnings = subscription_.Warnings();
      if (outcome.accepted) {
        ++status_.acks;
      } else {
        ++status_.nack_count;
        status_.last_error = outcome.error;
        status_.last_error_time = options_.clock->Now();
      }
      // An error that no longer holds is not shown: a stream is up and nothing is NACKed.
      if (status_.nacks.empty()) status_.last_error.clear();
    }
    if (!got_response && options_.on_lrs_stream) options_.on_lrs_stream(stream->OpenLrs());
    got_response = true;
    for (const AdsSubscription::Request& request : outcome.requests) stream->Write(request);
    Publish(std::move(config));
  }
  absl::Status finished = stream->Finish();
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
    status_.controller.clear();
    status_.connected = false;
    stopping = stopping_;
    if (!stopping) {
      status_.last_error =
          absl::StrCat("stream to ", target, " ended: ", absl::StatusCodeToString(finished.code()),
                       ": ", finished.message().empty() ? "(no message)" : finished.message());
      status_.last_error_time = options_.clock->Now();
      logging::LogEvent("controller_disconnected",
                        {{"controller", target}, {"error", status_.last_error}});
    }
  }
  return got_response;
}

}  // namespace lb::proxy::xds
