// The controller binary's gRPC surface over a real channel: grpc.health.v1, server reflection,
// lb.v1 status codes, WatchChanges seeing REST writes (one mutation path), bearer-token auth on
// both APIs, and refusing to start on bad configuration.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.grpc.pb.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/net.h"
#include "tests/test_common/subprocess.h"

namespace lb::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "s3cret-T0ken";

std::chrono::system_clock::time_point Deadline(int seconds = 10) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

std::string StatusText(const grpc::Status& s) {
  return absl::StrCat("code ", s.error_code(), ": ", s.error_message());
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// Waits for `tag` on `cq` (operations are issued one at a time); false on failure or deadline.
bool Await(grpc::CompletionQueue* cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  grpc::CompletionQueue::NextStatus st = cq->AsyncNext(&got, &ok, Deadline(20));
  return st == grpc::CompletionQueue::GOT_EVENT && got == tag && ok;
}

// A unary call by method name with raw bytes, as any client without the .proto would make.
grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::string& request, std::string* response) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  auto call = stub.PrepareUnaryCall(&ctx, method, ToByteBuffer(request), &cq);
  call->StartCall();
  grpc::ByteBuffer out;
  grpc::Status status;
  call->Finish(&out, &status, reinterpret_cast<void*>(1));
  void* got = nullptr;
  bool ok = false;
  if (cq.AsyncNext(&got, &ok, Deadline(20)) != grpc::CompletionQueue::GOT_EVENT) {
    status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no completion");
  }
  *response = FromByteBuffer(out);
  cq.Shutdown();
  while (cq.Next(&got, &ok)) {
  }
  return status;
}

// The length-delimited field `number` of a serialized message, each occurrence.
std::vector<std::string> Fields(const std::string& message, int number) {
  google::protobuf::UnknownFieldSet set;
  std::vector<std::string> out;
  if (!set.ParseFromString(message)) return out;
  for (int i = 0; i < set.field_count(); ++i) {
    const google::protobuf::UnknownField& f = set.field(i);
    if (f.number() == number && f.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(f.length_delimited());
    }
  }
  return out;
}

class GrpcApiTest : public ::testing::Test {
 protected:
  virtual std::vector<std::string> ExtraFlags() { return {}; }

  void SetUp() override {
    controller_ = std::make_unique<ControllerProcess>(ExtraFlags());
    ASSERT_TRUE(controller_->Start().ok()) << controller_->LogTail();
    channel_ = grpc::CreateChannel(controller_->grpc_target(), grpc::InsecureChannelCredentials());
    stub_ = lb::v1::LoadBalancer::NewStub(channel_);
  }

  int rest_port() const { return controller_->rest_port(); }

  grpc::Status AddEndpoint(const std::string& cluster, const std::string& address, uint32_t port,
                           const std::string& token = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    if (!token.empty()) ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    lb::v1::AddEndpointRequest req;
    req.set_cluster(cluster);
    req.mutable_endpoint()->set_address(address);
    req.mutable_endpoint()->set_port(port);
    lb::v1::AddEndpointResponse resp;
    return stub_->AddEndpoint(&ctx, req, &resp);
  }

  grpc::Status RemoveEndpoint(const std::string& cluster, const std::string& address,
                              uint32_t port) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    lb::v1::RemoveEndpointRequest req;
    req.set_cluster(cluster);
    req.set_address(address);
    req.set_port(port);
    lb::v1::RemoveEndpointResponse resp;
    return stub_->RemoveEndpoint(&ctx, req, &resp);
  }

  std::string RestList() {
    absl::StatusOr<HttpResponse> r = HttpGet(rest_port(), "/config");
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return "";
    }
    EXPECT_EQ(r->status, 200) << r->raw;
    return r->body;
  }

  std::unique_ptr<ControllerProcess> controller_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<lb::v1::LoadBalancer::Stub> stub_;
};

TEST_F(GrpcApiTest, HealthCheckIsServing) {
  // HealthCheckRequest{service: ""} is the empty message; HealthCheckResponse{status: SERVING}
  // is field 1, varint 1.
  std::string response;
  grpc::Status s = RawUnaryCall(channel_, "/grpc.health.v1.Health/Check", "", &response);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(response, std::string("\x08\x01", 2)) << absl::CHexEscape(response);

  // An unknown service name is NOT_FOUND, per the health protocol.
  s = RawUnaryCall(channel_, "/grpc.health.v1.Health/Check", std::string("\x0a\x04nope", 6),
                   &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << StatusText(s);
}

TEST_F(GrpcApiTest, ServerReflectionListsServicesAndServesDescriptors) {
  grpc::GenericStub stub(channel_);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  auto stream =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  ASSERT_NE(stream, nullptr);
  int tag = 0;
  stream->StartCall(&tag);
  ASSERT_TRUE(Await(&cq, &tag));

  // ServerReflectionRequest{list_services: ""}: field 7, length 0.
  stream->Write(ToByteBuffer(std::string("\x3a\x00", 2)), &tag);
  ASSERT_TRUE(Await(&cq, &tag));
  grpc::ByteBuffer buffer;
  stream->Read(&buffer, &tag);
  ASSERT_TRUE(Await(&cq, &tag));
  // ServerReflectionResponse.list_services_response (6) -> ListServiceResponse.service (1)
  // -> ServiceResponse.name (1).
  std::vector<std::string> services;
  for (const std::string& list : Fields(FromByteBuffer(buffer), 6)) {
    for (const std::string& service : Fields(list, 1)) {
      for (const std::string& name : Fields(service, 1)) services.push_back(name);
    }
  }
  EXPECT_THAT(services, ::testing::IsSupersetOf(
                            {"lb.v1.LoadBalancer", "grpc.reflection.v1alpha.ServerReflection"}))
      << absl::StrJoin(services, ", ");

  // ServerReflectionRequest{file_containing_symbol: "lb.v1.LoadBalancer"}: field 4.
  const std::string symbol = "lb.v1.LoadBalancer";
  stream->Write(
      ToByteBuffer(absl::StrCat("\x22", std::string(1, static_cast<char>(symbol.size())), symbol)),
      &tag);
  ASSERT_TRUE(Await(&cq, &tag));
  stream->Read(&buffer, &tag);
  ASSERT_TRUE(Await(&cq, &tag));
  // file_descriptor_response (4) -> FileDescriptorResponse.file_descriptor_proto (1).
  bool found = false;
  for (const std::string& files : Fields(FromByteBuffer(buffer), 4)) {
    for (const std::string& file : Fields(files, 1)) {
      google::protobuf::FileDescriptorProto proto;
      ASSERT_TRUE(proto.ParseFromString(file));
      if (proto.name() != "lb/v1/lb.proto") continue;
      found = true;
      ASSERT_EQ(proto.service_size(), 1);
      EXPECT_EQ(proto.service(0).name(), "LoadBalancer");
      std::vector<std::string> methods;
      for (const auto& m : proto.service(0).method()) methods.push_back(m.name());
      EXPECT_THAT(methods, ::testing::IsSupersetOf({"AddEndpoint", "WatchChanges"}));
    }
  }
  EXPECT_TRUE(found) << "no lb/v1/lb.proto in " << absl::CHexEscape(FromByteBuffer(buffer));

  stream->WritesDone(&tag);
  ASSERT_TRUE(Await(&cq, &tag));
  grpc::Status status;
  stream->Finish(&status, &tag);
  ASSERT_TRUE(Await(&cq, &tag));
  EXPECT_TRUE(status.ok()) << StatusText(status);
  cq.Shutdown();
  void* got;
  bool ok;
  while (cq.Next(&got, &ok)) {
  }
}

TEST_F(GrpcApiTest, StatusCodesAndMessages) {
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    lb::v1::GetClusterRequest req;
    req.set_name("nope");
    lb::v1::Cluster resp;
    grpc::Status s = stub_->GetCluster(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << StatusText(s);
    EXPECT_EQ(s.error_message(), R"(cluster "nope" not found)");
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    lb::v1::ListEndpointsRequest req;
    req.set_cluster("nope");
    lb::v1::ListEndpointsResponse resp;
    grpc::Status s = stub_->ListEndpoints(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << StatusText(s);
  }
  grpc::Status s = AddEndpoint("nope", "127.0.0.1", 9000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << StatusText(s);
  EXPECT_EQ(s.error_message(), R"(cluster "nope" not found)");

  s = AddEndpoint("backend", "127.0.0.1", 0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << StatusText(s);
  EXPECT_EQ(s.error_message(), "endpoint.port: must be from 1 to 65535, got 0");

  s = AddEndpoint("backend", "127.0.0.1", 9000);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  s = AddEndpoint("backend", "127.0.0.1", 9000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << StatusText(s);
  EXPECT_EQ(s.error_message(), R"(endpoint 127.0.0.1:9000 already exists in cluster "backend")");

  s = RemoveEndpoint("backend", "127.0.0.1", 9001);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << StatusText(s);
  EXPECT_EQ(s.error_message(), R"(endpoint 127.0.0.1:9001 not found in cluster "backend")");
  s = RemoveEndpoint("backend", "127.0.0.1", 0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << StatusText(s);

  // What gRPC did is what the seed's API shows.
  EXPECT_EQ(RestList(), R"(["127.0.0.1:9000"])");
  s = RemoveEndpoint("backend", "127.0.0.1", 9000);
  EXPECT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(RestList(), "[]");
}

TEST_F(GrpcApiTest, UpdateClusterMaskChangesOneCircuitBreakerLimit) {
  auto update = [&](const std::string& path, uint32_t value, lb::v1::Cluster* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    lb::v1::UpdateClusterRequest req;
    req.mutable_cluster()->set_name("backend");
    const auto* field = lb::v1::CircuitBreakers::descriptor()->FindFieldByName(path);
    lb::v1::CircuitBreakers* cb = req.mutable_cluster()->mutable_circuit_breakers();
    cb->GetReflection()->SetUInt32(cb, field, value);
    req.mutable_update_mask()->add_paths("circuit_breakers." + path);
    return stub_->UpdateCluster(&ctx, req, resp);
  };
  lb::v1::Cluster c;
  grpc::Status s = update("max_requests", 2, &c);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  s = update("max_retries", 0, &c);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(c.circuit_breakers().max_connections(), 1024u);
  EXPECT_EQ(c.circuit_breakers().max_pending_requests(), 1024u);
  EXPECT_EQ(c.circuit_breakers().max_requests(), 2u);
  EXPECT_TRUE(c.circuit_breakers().has_max_retries());
  EXPECT_EQ(c.circuit_breakers().max_retries(), 0u);
  const int64_t version = c.version();
  s = update("max_connections", 0, &c);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << StatusText(s);
  EXPECT_EQ(s.error_message(),
            "cluster.circuit_breakers.max_connections: must be from 1 to 1000000, got 0");
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  lb::v1::GetClusterRequest get;
  get.set_name("backend");
  s = stub_->GetCluster(&ctx, get, &c);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(c.version(), version);
  EXPECT_EQ(c.circuit_breakers().max_connections(), 1024u);
}

bool HasEndpoint(const lb::v1::Cluster& c, const std::string& address, uint32_t port) {
  for (const auto& e : c.endpoints()) {
    if (e.address() == address && e.port() == port) return true;
  }
  return false;
}

TEST_F(GrpcApiTest, WatchChangesSeesRestWrites) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(30));
  lb::v1::WatchChangesRequest req;
  std::unique_ptr<grpc::ClientReader<lb::v1::Change>> reader = stub_->WatchChanges(&ctx, req);

  // The snapshot: every cluster, then the route table.
  lb::v1::Change change;
  bool saw_backend = false;
  int64_t snapshot_revision = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(reader->Read(&change)) << "stream ended during the snapshot";
    snapshot_revision = std::max(snapshot_revision, change.revision());
    if (change.has_cluster() && change.cluster().name() == "backend") {
      saw_backend = true;
      EXPECT_EQ(change.cluster().endpoints_size(), 0);
    }
    if (change.has_route_table()) break;
  }
  ASSERT_TRUE(saw_backend);

  // A write over the seed's REST API arrives on the gRPC watch.
  absl::StatusOr<HttpResponse> add =
      HttpPost(rest_port(), "/config", R"({"action":"add","ip":"127.0.0.1","port":7777})");
  ASSERT_TRUE(add.ok()) << add.status();
  ASSERT_EQ(add->status, 200);
  ASSERT_EQ(add->body, "");
  bool saw_add = false;
  int64_t add_revision = 0;
  for (int i = 0; i < 100 && !saw_add; ++i) {
    ASSERT_TRUE(reader->Read(&change)) << "stream ended before the REST add arrived";
    if (change.has_cluster() && change.cluster().name() == "backend" &&
        HasEndpoint(change.cluster(), "127.0.0.1", 7777)) {
      saw_add = true;
      add_revision = change.revision();
      EXPECT_GT(change.revision(), snapshot_revision);
      EXPECT_EQ(change.cluster().version(), change.revision());
      EXPECT_EQ(change.cluster().endpoints_size(), 1);
    }
  }
  ASSERT_TRUE(saw_add);

  absl::StatusOr<HttpResponse> del =
      HttpPost(rest_port(), "/config", R"({"action":"del","ip":"127.0.0.1","port":7777})");
  ASSERT_TRUE(del.ok()) << del.status();
  ASSERT_EQ(del->body, "");
  bool saw_del = false;
  for (int i = 0; i < 100 && !saw_del; ++i) {
    ASSERT_TRUE(reader->Read(&change)) << "stream ended before the REST del arrived";
    if (change.has_cluster() && change.cluster().name() == "backend" &&
        !HasEndpoint(change.cluster(), "127.0.0.1", 7777)) {
      saw_del = true;
      EXPECT_GT(change.revision(), add_revision);
    }
  }
  EXPECT_TRUE(saw_del);
  ctx.TryCancel();
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED) << StatusText(s);
}

// Auth: the token file is read at start; mutations need "Authorization: Bearer TOKEN" (REST
// header or gRPC metadata), reads need nothing.
class AuthTest : public GrpcApiTest {
 protected:
  std::vector<std::string> ExtraFlags() override {
    std::string path = MakeTempDir() + "/token";
    std::ofstream(path) << kToken << "\n";
    chmod(path.c_str(), 0600);
    return {absl::StrCat("--auth_token_file=", path)};
  }

  HttpResponse PostConfig(const std::string& body, const HttpHeaders& headers) {
    absl::StatusOr<HttpResponse> r = HttpPost(rest_port(), "/config", body, headers);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return HttpResponse();
    }
    return *std::move(r);
  }
};

TEST_F(AuthTest, GrpcMutationsNeedTheToken) {
  grpc::Status s = AddEndpoint("backend", "127.0.0.1", 8001);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << StatusText(s);
  EXPECT_EQ(s.error_message(), "this call needs an Authorization: Bearer token");
  s = AddEndpoint("backend", "127.0.0.1", 8001, "wrong-token");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << StatusText(s);
  EXPECT_EQ(s.error_message(), "invalid bearer token");
  s = AddEndpoint("backend", "127.0.0.1", 8001, std::string(kToken) + "x");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << StatusText(s);
  EXPECT_EQ(RestList(), "[]");

  s = AddEndpoint("backend", "127.0.0.1", 8001, kToken);
  EXPECT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(RestList(), R"(["127.0.0.1:8001"])");

  // Reads need no token.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    lb::v1::ListEndpointsRequest req;
    req.set_cluster("backend");
    lb::v1::ListEndpointsResponse resp;
    s = stub_->ListEndpoints(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << StatusText(s);
    ASSERT_EQ(resp.endpoints_size(), 1);
    EXPECT_EQ(resp.endpoints(0).port(), 8001u);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    lb::v1::ListClustersResponse resp;
    s = stub_->ListClusters(&ctx, lb::v1::ListClustersRequest(), &resp);
    EXPECT_TRUE(s.ok()) << StatusText(s);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    lb::v1::RouteTableResponse resp;
    s = stub_->ListRoutes(&ctx, lb::v1::ListRoutesRequest(), &resp);
    EXPECT_TRUE(s.ok()) << StatusText(s);
  }
}

TEST_F(AuthTest, RestMutationsNeedTheToken) {
  const std::string body = R"({"action":"add","ip":"127.0.0.1","port":8002})";
  for (const HttpHeaders& headers :
       {HttpHeaders{}, HttpHeaders{{"Authorization", "Bearer wrong-token"}},
        HttpHeaders{{"Authorization", absl::StrCat("Basic ", kToken)}},
        HttpHeaders{{"Authorization", kToken}},
        HttpHeaders{{"Authorization", absl::StrCat("Bearer ", kToken, "x")}}}) {
    HttpResponse r = PostConfig(body, headers);
    EXPECT_EQ(r.status, 401) << r.raw;
    EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer") << r.raw;
    EXPECT_THAT(r.body, HasSubstr("token")) << r.raw;
  }
  EXPECT_EQ(PostConfig(body, {}).body, "this call needs an Authorization: Bearer token\n");
  // The /v1 API too.
  absl::StatusOr<HttpResponse> v1 = HttpPost(rest_port(), "/v1/clusters/backend/endpoints",
                                             R"({"address":"127.0.0.1","port":8003})");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->status, 401) << v1->raw;
  EXPECT_EQ(RestList(), "[]");  // Nothing changed.

  HttpResponse ok = PostConfig(body, {{"Authorization", absl::StrCat("Bearer ", kToken)}});
  EXPECT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body, "");
  EXPECT_EQ(RestList(), R"(["127.0.0.1:8002"])");
  // Other methods are still the seed's 400, token or not.
  HttpRequest put;
  put.method = "PUT";
  put.target = "/config";
  absl::StatusOr<HttpResponse> r = HttpCall(rest_port(), put);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "Only POST and GET requests are allowed!");
}

// Starting the binary with a bad configuration: it must exit non-zero with a clear message
// on stderr, and never report ready.
class StartupFailureTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }

  // The command line ControllerProcess would start, with `flags` added.
  std::vector<std::string> Argv(const std::vector<std::string>& flags) {
    process_ = std::make_unique<ControllerProcess>(flags);
    return process_->Argv();
  }

  bool ReadyFileWritten() const {
    struct stat st;
    return process_ != nullptr && stat(process_->ready_file().c_str(), &st) == 0;
  }

  std::string dir_;  // For the files the flags name.
  std::unique_ptr<ControllerProcess> process_;
};

// Runs the controller expecting it to refuse to start (bounded).
CommandResult RunExpectingFailure(const std::vector<std::string>& argv) {
  absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(30));
  if (!r.ok()) {
    ADD_FAILURE() << "controller did not exit: " << r.status();
    return CommandResult();
  }
  return *r;
}

std::string Describe(const CommandResult& r) {
  return absl::StrCat("exit code ", r.exit_code, ", stderr: \"", absl::CHexEscape(r.err), "\"");
}

TEST_F(StartupFailureTest, RestPortInUse) {
  ListeningSocket busy;
  ASSERT_TRUE(busy.ok());
  CommandResult r =
      RunExpectingFailure(Argv({absl::StrCat("--rest_listen=127.0.0.1:", busy.port())}));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", busy.port())))
      << Describe(r);
  EXPECT_FALSE(ReadyFileWritten());
}

TEST_F(StartupFailureTest, GrpcPortInUse) {
  ListeningSocket busy;
  ASSERT_TRUE(busy.ok());
  CommandResult r =
      RunExpectingFailure(Argv({absl::StrCat("--grpc_listen=127.0.0.1:", busy.port())}));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("127.0.0.1:", busy.port()))) << Describe(r);
  EXPECT_FALSE(ReadyFileWritten());
}

// Another controller already serving the port: gRPC would share it (SO_REUSEPORT) and split the
// calls between two stores; the second controller must refuse to start instead.
TEST_F(StartupFailureTest, SecondControllerOnTheSameGrpcPortExits) {
  ControllerProcess first;
  absl::Status s = first.Start();
  ASSERT_TRUE(s.ok()) << s;
  const std::string address = absl::StrCat("127.0.0.1:", first.grpc_port());
  CommandResult r = RunExpectingFailure(Argv({"--grpc_listen=" + address}));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("cannot listen for gRPC on ", address,
                                            " (address in use or not local?)")))
      << Describe(r);
  EXPECT_FALSE(ReadyFileWritten());
  // Every call still reaches the first one.
  EXPECT_TRUE(SeedConfig(first.rest_port(), "add", 1111).ok());
  absl::StatusOr<std::vector<std::string>> list = SeedList(first.rest_port());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(*list, std::vector<std::string>{"127.0.0.1:1111"});
}

TEST_F(StartupFailureTest, SecondControllerOnTheSameRestPortExits) {
  ControllerProcess first;
  absl::Status s = first.Start();
  ASSERT_TRUE(s.ok()) << s;
  const std::string address = absl::StrCat("127.0.0.1:", first.rest_port());
  CommandResult r = RunExpectingFailure(Argv({"--rest_listen=" + address}));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("cannot listen on ", address))) << Describe(r);
  EXPECT_FALSE(ReadyFileWritten());
  EXPECT_TRUE(SeedConfig(first.rest_port(), "add", 1111).ok());
}

TEST_F(StartupFailureTest, MissingTokenFile) {
  const std::string path = dir_ + "/no-such-token";
  CommandResult r = RunExpectingFailure(Argv({absl::StrCat("--auth_token_file=", path)}));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("auth token file: cannot read ", path))) << Describe(r);
  EXPECT_FALSE(ReadyFileWritten());
}

TEST_F(StartupFailureTest, UnreadableTokenFile) {
  // Permission bits do not stop root, so as root the "file" is a directory, which cannot be
  // read as a file either.
  std::string path = dir_ + "/token";
  if (geteuid() == 0) {
    ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  } else {
    std::ofstream(path) << kToken << "\n";
    ASSERT_EQ(chmod(path.c_str(), 0), 0);
  }
  CommandResult r = RunExpectingFailure(Argv({absl::StrCat("--auth_token_file=", path)}));
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("auth token file")) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(path)) << Describe(r);
  EXPECT_FALSE(ReadyFileWritten());
}

// As ssh does for keys: a token file group or others may read is refused, naming the fix.
TEST_F(StartupFailureTest, TokenFileReadableByOthers) {
  const std::string path = dir_ + "/token";
  std::ofstream(path) << kToken << "\n";
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    CommandResult r = RunExpectingFailure(Argv({absl::StrCat("--auth_token_file=", path)}));
    EXPECT_EQ(r.exit_code, 1) << Describe(r);
    EXPECT_THAT(r.err,
                HasSubstr(absl::StrCat("auth token file: ", path, " holds a secret but has mode")))
        << Describe(r);
    EXPECT_THAT(r.err, HasSubstr(absl::StrCat("chmod 600 ", path))) << Describe(r);
    EXPECT_FALSE(ReadyFileWritten());
  }
}

TEST_F(StartupFailureTest, EmptyTokenFile) {
  const std::string path = dir_ + "/token";
  std::ofstream(path) << " \n";
  chmod(path.c_str(), 0600);
  CommandResult r = RunExpectingFailure(Argv({absl::StrCat("--auth_token_file=", path)}));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("is empty")) << Describe(r);
  EXPECT_FALSE(ReadyFileWritten());
}

TEST_F(StartupFailureTest, DataDirCannotBeCreated) {
  const std::string file = dir_ + "/a-file";
  std::ofstream(file) << "x";
  CommandResult r = RunExpectingFailure(Argv({absl::StrCat("--data_dir=", file, "/data")}));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("cannot create data dir")) << Describe(r);
  EXPECT_FALSE(ReadyFileWritten());
}

}  // namespace
}  // namespace lb::testing
