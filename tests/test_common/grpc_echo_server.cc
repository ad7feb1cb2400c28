#include "tests/test_common/grpc_echo_server.h"

#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lb::testing {

using test::echo::v1::EchoRequest;
using test::echo::v1::EchoResponse;

GrpcEchoServer::GrpcEchoServer(std::string name) : service_(std::move(name)) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  SetServing(true);
}

GrpcEchoServer::~GrpcEchoServer() {
  if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
}

std::string GrpcEchoServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void GrpcEchoServer::SetServing(bool serving) {
  if (server_ == nullptr) return;
  server_->GetHealthCheckService()->SetServingStatus(kServiceName, serving);
  server_->GetHealthCheckService()->SetServingStatus("", serving);
}

grpc::Status GrpcEchoServer::Service::Whoami(grpc::ServerContext*,
                                             const test::echo::v1::WhoamiRequest*,
                                             test::echo::v1::WhoamiResponse* response) {
  response->set_name(name);
  return grpc::Status::OK;
}

bool GrpcEchoServer::Service::Begin(grpc::ServerContext* context, const EchoRequest& request) {
  calls.fetch_add(1);
  for (const auto& [key, value] : context->client_metadata()) {
    const std::string k(key.data(), key.size());
    if (absl::StartsWith(k, "x-echo-")) {
      context->AddInitialMetadata(k, std::string(value.data(), value.size()));
    }
  }
  context->AddTrailingMetadata("x-backend", name);
  // Bounded: at most 10 s, polled every 10 ms for the client's cancellation or deadline.
  const absl::Time until =
      absl::Now() + std::min(absl::Milliseconds(request.delay_ms()), absl::Seconds(10));
  while (absl::Now() < until) {
    if (context->IsCancelled()) {
      cancelled.fetch_add(1);
      return false;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

grpc::Status GrpcEchoServer::Service::Echo(grpc::ServerContext* context, const EchoRequest* request,
                                           EchoResponse* response) {
  if (!Begin(context, *request)) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  if (request->status_code() != 0) {
    return grpc::Status(static_cast<grpc::StatusCode>(request->status_code()),
                        request->status_message());
  }
  response->set_message(request->message());
  response->set_backend(name);
  return grpc::Status::OK;
}

grpc::Status GrpcEchoServer::Service::EchoStream(grpc::ServerContext* context,
                                                 const EchoRequest* request,
                                                 grpc::ServerWriter<EchoResponse>* writer) {
  if (!Begin(context, *request)) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  const int count = std::clamp(request->count(), 0, kMaxStreamCount);
  for (int i = 0; i < count; ++i) {
    EchoResponse r;
    r.set_message(request->message());
    r.set_backend(name);
    r.set_index(i);
    if (!writer->Write(r)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  }
  if (request->status_code() != 0) {
    return grpc::Status(static_cast<grpc::StatusCode>(request->status_code()),
                        request->status_message());
  }
  return grpc::Status::OK;
}

}  // namespace lb::testing
