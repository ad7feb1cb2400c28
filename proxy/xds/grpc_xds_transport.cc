#include "proxy/xds/grpc_xds_transport.h"

#include "absl/strings/str_cat.h"
#include "common/process/flag_file.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/load_stats/v3/lrs.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace lb::proxy::xds {

absl::Status LoadControllerTls(const std::string& ca_file, const std::string& cert_file,
                               const std::string& key_file, GrpcXdsTransportOptions* options) {
  auto read = [](const char* flag, const std::string& path, std::string* out) -> absl::Status {
    if (path.empty()) return absl::OkStatus();
    absl::StatusOr<std::string> data = process::ReadFlagFile(flag, path);
    if (!data.ok()) return data.status();
    *out = *std::move(data);
    return absl::OkStatus();
  };
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        "--controller_cert and --controller_key go together: give both or neither");
  }
  if (absl::Status s = read("controller_ca", ca_file, &options->ca_pem); !s.ok()) return s;
  if (absl::Status s = read("controller_cert", cert_file, &options->cert_pem); !s.ok()) return s;
  return read("controller_key", key_file, &options->key_pem);
}

namespace {

namespace discovery_v3 = envoy::service::discovery::v3;

// Largest response accepted (a big EDS answer can exceed gRPC's 4 MiB default).
constexpr int kMaxResponseBytes = 128 << 20;

namespace lrs_v3 = envoy::service::load_stats::v3;

// StreamLoadStats on an ADS stream's channel (which it keeps alive).
class GrpcLrsStream final : public LrsStream {
 public:
  explicit GrpcLrsStream(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), stub_(lrs_v3::LoadReportingService::NewStub(channel_)) {
    stream_ = stub_->StreamLoadStats(&context_);
  }
  bool Write(const lrs_v3::LoadStatsRequest& request) override { return stream_->Write(request); }
  bool Read(lrs_v3::LoadStatsResponse* response) override { return stream_->Read(response); }
  absl::Status Finish() override {
    grpc::Status s = stream_->Finish();
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }
  void Cancel() override { context_.TryCancel(); }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<lrs_v3::LoadReportingService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<lrs_v3::LoadStatsRequest, lrs_v3::LoadStatsResponse>>
      stream_;
};

class GrpcXdsStream final : public XdsStream {
 public:
  GrpcXdsStream(const std::string& target, const GrpcXdsTransportOptions& options) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(kMaxResponseBytes);
    if (options.keepalive_time > absl::ZeroDuration()) {
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                  static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_time)));
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                  static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_timeout)));
      // The ADS stream is quiet between config changes: ping without data too.
      args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
      args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    }
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!options.ca_pem.empty() || !options.cert_pem.empty()) {
      grpc::SslCredentialsOptions tls;
      tls.pem_root_certs = options.ca_pem;
      tls.pem_cert_chain = options.cert_pem;
      tls.pem_private_key = options.key_pem;
      credentials = grpc::SslCredentials(tls);
    }
    channel_ = grpc::CreateCustomChannel(target, credentials, args);
    stub_ = discovery_v3::AggregatedDiscoveryService::NewStub(channel_);
    stream_ = stub_->StreamAggregatedResources(&context_);
  }

  bool Write(const discovery_v3::DiscoveryRequest& request) override {
    return stream_->Write(request);
  }
  bool Read(discovery_v3::DiscoveryResponse* response) override { return stream_->Read(response); }
  absl::Status Finish() override {
    grpc::Status s = stream_->Finish();
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }
  void Cancel() override { context_.TryCancel(); }
  std::unique_ptr<LrsStream> OpenLrs() override {
    return std::make_unique<GrpcLrsStream>(channel_);
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<discovery_v3::AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<discovery_v3::DiscoveryRequest, discovery_v3::DiscoveryResponse>>
      stream_;
};

}  // namespace

std::unique_ptr<XdsStream> GrpcXdsTransportFactory::OpenAds(const std::string& target) {
  return std::make_unique<GrpcXdsStream>(target, options_);
}

}  // namespace lb::proxy::xds
