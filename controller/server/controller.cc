#include "controller/server/controller.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/http/evhttp_server.h"
#include "common/metrics/metrics.h"
#include "common/process/ready_file.h"
#include "controller/api/auth.h"
#include "controller/api/grpc_service.h"
#include "controller/dns/hostname_cache.h"
#include "controller/model/model_cache.h"
#include "controller/model/model_metrics.h"
#include "controller/registry/registry.h"
#include "controller/rest/rest_handler.h"
#include "controller/store/sqlite_store.h"
#include "controller/xds/xds_server.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace lb::controller {
namespace {

class ControllerImpl : public Controller {
 public:
  ~ControllerImpl() override { Shutdown(); }

  int grpc_port() const override { return grpc_port_; }
  int rest_port() const override { return rest_->port(); }

  void Shutdown() override {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return;
      shut_down_ = true;
    }
    if (service_) service_->Shutdown();
    rest_.reset();
    if (xds_) xds_->Shutdown();
    if (grpc_server_) {
      // gRPC's deadline is on the real clock, whatever ControllerOptions::clock is.
      grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    }
    watch_.reset();
    hostnames_.reset();
  }

  absl::Status Init(const ControllerOptions& o) {
    if (!o.auth_token_file.empty()) {
      absl::StatusOr<api::TokenAuth> auth = api::TokenAuth::FromFile(o.auth_token_file);
      if (!auth.ok()) return auth.status();
      auth_ = std::move(*auth);
    }
    if (mkdir(o.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("cannot create data dir ", o.data_dir, ": ", strerror(errno)));
    }
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> store =
        store::SqliteStore::Open(absl::StrCat(o.data_dir, "/lb.db"));
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    registry_ = std::make_unique<registry::Registry>(store_.get());
    registry_->SetMutationObserver([this](absl::string_view op, const absl::Status& s) {
      metrics_
          .GetCounter("lb_controller_mutations_total", "Model mutations by operation and result.",
                      {{"op", std::string(op)}, {"code", absl::StatusCodeToString(s.code())}})
          ->Increment();
    });
    if (absl::Status s = registry_->Bootstrap(); !s.ok()) return s;

    resolver_ = dns::NewSystemResolver();
    hostnames_ =
        std::make_unique<dns::HostnameCache>(resolver_.get(), o.dns_refresh_interval, o.clock);
    registry_->SetResolvedLookup(
        [this](const std::string& host) { return hostnames_->Lookup(host); });
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    xds_ = std::make_unique<xds::XdsServer>(
        [this](const std::string& h) { return hostnames_->Lookup(h); }, &metrics_,
        absl::StrCat("lb-controller/", host, "/", getpid()), o.clock);
    hostnames_->SetOnChange([this] { xds_->OnDnsChange(); });
    model_metrics_ = std::make_unique<model::ModelMetrics>(&metrics_);
    // In this order for every change: xDS first, then the names to resolve, then metrics.
    model_.AddObserver(xds_.get());
    model_.AddObserver(hostnames_.get());
    model_.AddObserver(model_metrics_.get());
    absl::StatusOr<std::unique_ptr<store::WatchHandle>> watch =
        registry_->Watch([this](const lb::v1::Change& change) { model_.Apply(change); });
    if (!watch.ok()) return watch.status();
    watch_ = std::move(*watch);
    hostnames_->RefreshNow();
    xds_->OnDnsChange();
    hostnames_->Start();
    xds_->Flush();  // Serve xDS only once the current model is published.

    service_ =
        std::make_unique<api::LoadBalancerService>(registry_.get(), &auth_, &metrics_, o.clock);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    // gRPC sets SO_REUSEPORT by default, which lets a second controller bind the same port and
    // take half of the calls. One process per port: a taken port fails the start.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(o.grpc_listen, grpc::InsecureServerCredentials(), &grpc_port_);
    builder.RegisterService(service_.get());
    builder.RegisterService(xds_.get());
    service_->SetProxiesSource([this] { return xds_->ListProxies(); });
    builder.SetMaxReceiveMessageSize(16 << 20);
    grpc_server_ = builder.BuildAndStart();
    if (grpc_server_ == nullptr || grpc_port_ == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", o.grpc_listen,
                                                 " (address in use or not local?)"));
    }

    rest_handler_ =
        std::make_unique<rest::RestHandler>(registry_.get(), &auth_, &metrics_, o.clock);
    rest_handler_->AddExtraHandler([this](const http::HttpRequest& req, http::HttpResponse* resp) {
      absl::string_view path = req.target;
      path = path.substr(0, path.find('?'));
      if (path != "/v1/proxies") return false;
      if (req.method != "GET" && req.method != "HEAD") {
        *resp = rest::MethodNotAllowed(req.method, "GET, HEAD");
        return true;
      }
      google::protobuf::util::JsonPrintOptions options;
      options.always_print_primitive_fields = true;
      options.preserve_proto_field_names = true;
      resp->content_type = "application/json";
      (void)google::protobuf::util::MessageToJsonString(xds_->ListProxies(), &resp->body, options);
      resp->body += "\n";
      return true;
    });
    absl::StatusOr<std::unique_ptr<http::EvhttpServer>> rest = http::EvhttpServer::Start(
        o.rest_listen, [this](const http::HttpRequest& req) { return rest_handler_->Handle(req); },
        16 * rest::kMaxBodyBytes);
    if (!rest.ok()) return rest.status();
    rest_ = std::move(*rest);

    spdlog::info("controller: gRPC on {} (port {}), REST on {} (port {}), data in {}{}",
                 o.grpc_listen, grpc_port_, o.rest_listen, rest_->port(), o.data_dir,
                 auth_.enabled() ? ", auth on" : "");
    if (!o.ready_file.empty()) {
      return process::WriteReadyFile(o.ready_file,
                                     {{"grpc_port", grpc_port_}, {"rest_port", rest_->port()}});
    }
    return absl::OkStatus();
  }

 private:
  metrics::Registry metrics_;
  api::TokenAuth auth_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<dns::Resolver> resolver_;
  // Fed by the store's watch (watch_); observed by xds_, hostnames_ and model_metrics_, which
  // it outlives; the watch is cancelled before they go.
  model::ModelCache model_;
  std::unique_ptr<dns::HostnameCache> hostnames_;
  std::unique_ptr<xds::XdsServer> xds_;
  std::unique_ptr<model::ModelMetrics> model_metrics_;
  std::unique_ptr<store::WatchHandle> watch_;
  std::unique_ptr<api::LoadBalancerService> service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;
  std::unique_ptr<rest::RestHandler> rest_handler_;
  std::unique_ptr<http::EvhttpServer> rest_;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Controller>> Controller::Start(const ControllerOptions& options) {
  auto controller = std::make_unique<ControllerImpl>();
  if (absl::Status s = controller->Init(options); !s.ok()) {
    controller->Shutdown();
    return s;
  }
  return controller;
}

}  // namespace lb::controller
