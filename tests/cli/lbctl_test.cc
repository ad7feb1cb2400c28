// lbctl against an in-process fake lb.v1 service: parsing, output, exit codes, auth, env.
#include "cli/lbctl.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/test_common/net.h"
#include "tests/test_common/wait.h"

namespace lb::cli {
namespace {

// What lbctl says on stderr when the token is given with --token.
constexpr char kTokenInArgvWarning[] =
    "lbctl: warning: --token is visible to other users of this machine (ps); prefer "
    "--token-file or LBCTL_TOKEN\n";

using ::testing::HasSubstr;
using ::testing::StartsWith;

template <typename T>
T ParseText(const std::string& text) {
  T msg;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &msg)) << text;
  return msg;
}

// Records every call; answers with canned responses or a canned error.
class FakeService final : public lb::v1::LoadBalancer::Service {
 public:
  // Every call fails with `status` from now on (OK: answer normally).
  void FailWith(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }
  void SetResponse(const std::string& method, const google::protobuf::Message& resp) {
    absl::MutexLock lock(&mu_);
    responses_[method].reset(resp.New());
    responses_[method]->CopyFrom(resp);
  }
  void SetDelay(absl::Duration delay) {
    absl::MutexLock lock(&mu_);
    delay_ = delay;
  }
  // WatchChanges sends these, then ends the stream if `end_stream`, else waits for
  // cancellation.
  void SetChanges(std::vector<lb::v1::Change> changes, bool end_stream) {
    absl::MutexLock lock(&mu_);
    changes_ = std::move(changes);
    end_stream_ = end_stream;
  }

  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // The last request of `method`.
  template <typename T>
  T request(const std::string& method) {
    absl::MutexLock lock(&mu_);
    T out;
    auto it = requests_.find(method);
    if (it != requests_.end()) out.CopyFrom(*it->second);
    return out;
  }
  // The last call's "authorization" metadata, or "<none>".
  std::string authorization() {
    absl::MutexLock lock(&mu_);
    return authorization_;
  }

  grpc::Status AddEndpoint(grpc::ServerContext* ctx, const lb::v1::AddEndpointRequest* req,
                           lb::v1::AddEndpointResponse* resp) override {
    return Handle(ctx, "AddEndpoint", *req, resp);
  }
  grpc::Status RemoveEndpoint(grpc::ServerContext* ctx, const lb::v1::RemoveEndpointRequest* req,
                              lb::v1::RemoveEndpointResponse* resp) override {
    return Handle(ctx, "RemoveEndpoint", *req, resp);
  }
  grpc::Status SetEndpointState(grpc::ServerContext* ctx,
                                const lb::v1::SetEndpointStateRequest* req,
                                lb::v1::SetEndpointStateResponse* resp) override {
    return Handle(ctx, "SetEndpointState", *req, resp);
  }
  grpc::Status UpdateEndpoint(grpc::ServerContext* ctx, const lb::v1::UpdateEndpointRequest* req,
                              lb::v1::UpdateEndpointResponse* resp) override {
    return Handle(ctx, "UpdateEndpoint", *req, resp);
  }
  grpc::Status ListEndpoints(grpc::ServerContext* ctx, const lb::v1::ListEndpointsRequest* req,
                             lb::v1::ListEndpointsResponse* resp) override {
    return Handle(ctx, "ListEndpoints", *req, resp);
  }
  grpc::Status CreateCluster(grpc::ServerContext* ctx, const lb::v1::CreateClusterRequest* req,
                             lb::v1::Cluster* resp) override {
    return Handle(ctx, "CreateCluster", *req, resp);
  }
  grpc::Status UpdateCluster(grpc::ServerContext* ctx, const lb::v1::UpdateClusterRequest* req,
                             lb::v1::Cluster* resp) override {
    return Handle(ctx, "UpdateCluster", *req, resp);
  }
  grpc::Status DeleteCluster(grpc::ServerContext* ctx, const lb::v1::DeleteClusterRequest* req,
                             lb::v1::DeleteClusterResponse* resp) override {
    return Handle(ctx, "DeleteCluster", *req, resp);
  }
  grpc::Status GetCluster(grpc::ServerContext* ctx, const lb::v1::GetClusterRequest* req,
                          lb::v1::Cluster* resp) override {
    return Handle(ctx, "GetCluster", *req, resp);
  }
  grpc::Status ListClusters(grpc::ServerContext* ctx, const lb::v1::ListClustersRequest* req,
                            lb::v1::ListClustersResponse* resp) override {
    return Handle(ctx, "ListClusters", *req, resp);
  }
  grpc::Status CreateRoute(grpc::ServerContext* ctx, const lb::v1::CreateRouteRequest* req,
                           lb::v1::RouteTableResponse* resp) override {
    return Handle(ctx, "CreateRoute", *req, resp);
  }
  grpc::Status UpdateRoute(grpc::ServerContext* ctx, const lb::v1::UpdateRouteRequest* req,
                           lb::v1::RouteTableResponse* resp) override {
    return Handle(ctx, "UpdateRoute", *req, resp);
  }
  grpc::Status DeleteRoute(grpc::ServerContext* ctx, const lb::v1::DeleteRouteRequest* req,
                           lb::v1::RouteTableResponse* resp) override {
    return Handle(ctx, "DeleteRoute", *req, resp);
  }
  grpc::Status ListRoutes(grpc::ServerContext* ctx, const lb::v1::ListRoutesRequest* req,
                          lb::v1::RouteTableResponse* resp) override {
    return Handle(ctx, "ListRoutes", *req, resp);
  }
  grpc::Status ListProxies(grpc::ServerContext* ctx, const lb::v1::ListProxiesRequest* req,
                           lb::v1::ListProxiesResponse* resp) override {
    {
      absl::MutexLock lock(&mu_);
      if (!leader_.empty()) ctx->AddInitialMetadata("lb-leader", leader_);
    }
    return Handle(ctx, "ListProxies", *req, resp);
  }
  // Sent as the "lb-leader" metadata of ListProxies, as the controller does.
  void SetLeader(std::string leader) {
    absl::MutexLock lock(&mu_);
    leader_ = std::move(leader);
  }
  grpc::Status WatchChanges(grpc::ServerContext* ctx, const lb::v1::WatchChangesRequest* req,
                            grpc::ServerWriter<lb::v1::Change>* writer) override {
    lb::v1::Change unused;
    grpc::Status s = Handle(ctx, "WatchChanges", *req, &unused);
    if (!s.ok()) return s;
    std::vector<lb::v1::Change> changes;
    bool end_stream;
    {
      absl::MutexLock lock(&mu_);
      changes = changes_;
      end_stream = end_stream_;
    }
    for (const auto& c : changes) {
      if (!writer->Write(c)) return grpc::Status::CANCELLED;
    }
    if (end_stream) return grpc::Status::OK;
    // An open stream until the client cancels (bounded).
    testing::WaitUntil([ctx] { return ctx->IsCancelled(); }, absl::Seconds(20),
                       absl::Milliseconds(10));
    return grpc::Status::CANCELLED;
  }

 private:
  grpc::Status Handle(grpc::ServerContext* ctx, const std::string& method,
                      const google::protobuf::Message& req, google::protobuf::Message* resp) {
    absl::Duration delay;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(method);
      requests_[method].reset(req.New());
      requests_[method]->CopyFrom(req);
      auto it = ctx->client_metadata().find("authorization");
      authorization_ = it == ctx->client_metadata().end()
                           ? "<none>"
                           : std::string(it->second.data(), it->second.size());
      auto r = responses_.find(method);
      if (r != responses_.end()) resp->CopyFrom(*r->second);
      delay = delay_;
      status = status_;
    }
    // A slow controller is the thing under test here (lbctl's --timeout), so this sleeps.
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    return status;
  }

  absl::Mutex mu_;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<google::protobuf::Message>> responses_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<google::protobuf::Message>> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::string authorization_ ABSL_GUARDED_BY(mu_);
  std::vector<lb::v1::Change> changes_ ABSL_GUARDED_BY(mu_);
  bool end_stream_ ABSL_GUARDED_BY(mu_) = true;
  std::string leader_ ABSL_GUARDED_BY(mu_);
};

// "127.0.0.1:N" where nothing listens.
std::string ClosedAddress() {
  absl::StatusOr<int> port = testing::PickFreePort();
  EXPECT_TRUE(port.ok()) << port.status();
  return testing::LoopbackAddress(port.ok() ? *port : 1);
}

// A stream buffer another thread may read while lbctl writes to it.
class SharedText : public std::streambuf {
 public:
  std::string str() const {
    absl::MutexLock lock(&mu_);
    return text_;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (ch != traits_type::eof()) {
      absl::MutexLock lock(&mu_);
      text_.push_back(static_cast<char>(ch));
    }
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    absl::MutexLock lock(&mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }

 private:
  mutable absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
};

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class LbctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    address_ = absl::StrCat("127.0.0.1:", port_);
  }
  void TearDown() override { server_->Shutdown(absl::ToChronoTime(absl::Now())); }

  // Runs lbctl with --controller pointing at the fake (unless `with_controller` is false).
  Result Run(std::vector<std::string> args, bool with_controller = true) {
    std::ostringstream out, err;
    Result r;
    r.code = RunTo(std::move(args), out, err, with_controller);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  // Like Run, writing to `out` and `err`; returns the exit code.
  int RunTo(std::vector<std::string> args, std::ostream& out, std::ostream& err,
            bool with_controller = true) {
    if (with_controller) args.insert(args.begin(), {"--controller", address_});
    Env env;
    env.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_vars_.find(name);
      if (it == env_vars_.end()) return std::nullopt;
      return it->second;
    };
    env.interrupted = [this]() { return interrupted_.load(); };
    env.resolve = resolve_;
    return RunLbctl(args, out, err, env);
  }

  // Whether the last `method` request the fake got equals `text`, a text-format T.
  template <typename T>
  ::testing::AssertionResult LastRequestIs(const std::string& method, const std::string& text) {
    T got = service_.request<T>(method);
    if (google::protobuf::util::MessageDifferencer::Equals(got, ParseText<T>(text))) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << method << " got:\n" << got.DebugString();
  }

  lb::v1::Cluster BackendCluster() {
    return ParseText<lb::v1::Cluster>(R"pb(
      name: "backend"
      lb_policy: RANDOM
      health_check {
        interval { seconds: 5 }
        timeout { seconds: 1 }
        healthy_threshold: 2
        unhealthy_threshold: 3
      }
      outlier_detection {
        consecutive_5xx: 5
        consecutive_gateway_failure: 5
        interval { seconds: 10 }
        base_ejection_time { seconds: 30 }
        max_ejection_percent: 50
      }
      connect_timeout { seconds: 1 }
      retries { value: 2 }
      healthy_panic_threshold { value: 50 }
      circuit_breakers {
        max_connections: 1024
        max_pending_requests: 1024
        max_requests: 2
        max_retries: 0
      }
      endpoints { address: "127.0.0.1" port: 1111 weight: 1 admin_state: ACTIVE }
      endpoints {
        address: "api.internal"
        port: 443
        weight: 5
        zone: "eu-1"
        admin_state: DRAINING
        resolved_addresses: "10.0.0.1"
        resolved_addresses: "10.0.0.2"
      }
      version: 7
    )pb");
  }

  FakeService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::map<std::string, std::string> env_vars_;
  std::atomic<bool> interrupted_{false};
  std::function<absl::Status(const std::string&)> resolve_;
};

// ---- endpoints ----

TEST_F(LbctlTest, AddSendsEndpointAndReportsVersion) {
  service_.SetResponse("AddEndpoint",
                       ParseText<lb::v1::AddEndpointResponse>("cluster { version: 7 }"));
  Result r = Run({"add", "127.0.0.1", "1111"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "added 127.0.0.1:1111 to cluster backend (version 7)\n");
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(LastRequestIs<lb::v1::AddEndpointRequest>(
      "AddEndpoint",
      R"pb(cluster: "backend"
           endpoint { address: "127.0.0.1" port: 1111 })pb"));
}

TEST_F(LbctlTest, AddWithAllFlags) {
  Result r = Run({"add", "10.0.0.7:8080", "--cluster", "web", "--weight", "3", "--zone", "eu-1",
                  "--label", "version=v2", "--label", "tier=a=b"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "added 10.0.0.7:8080 to cluster web (version 0)\n");
  EXPECT_TRUE(LastRequestIs<lb::v1::AddEndpointRequest>("AddEndpoint", R"pb(
    cluster: "web"
    endpoint {
      address: "10.0.0.7"
      port: 8080
      weight: 3
      zone: "eu-1"
      labels { key: "version" value: "v2" }
      labels { key: "tier" value: "a=b" }
    }
  )pb"));
}

TEST_F(LbctlTest, AddAcceptsEveryAddressForm) {
  struct Case {
    std::vector<std::string> args;
    std::string address;
    uint32_t port;
    std::string shown;
  };
  std::vector<Case> cases = {
      {{"10.0.0.1", "80"}, "10.0.0.1", 80, "10.0.0.1:80"},
      {{"10.0.0.1:80"}, "10.0.0.1", 80, "10.0.0.1:80"},
      {{"[::1]:9000"}, "::1", 9000, "[::1]:9000"},
      {{"[::1]", "9000"}, "::1", 9000, "[::1]:9000"},
      {{"::1", "9000"}, "::1", 9000, "[::1]:9000"},
      {{"api.internal", "443"}, "api.internal", 443, "api.internal:443"},
      {{"api.internal:65535"}, "api.internal", 65535, "api.internal:65535"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"add"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, absl::StrCat("added ", c.shown, " to cluster backend (version 0)\n"));
    auto req = service_.request<lb::v1::AddEndpointRequest>("AddEndpoint");
    EXPECT_EQ(req.endpoint().address(), c.address);
    EXPECT_EQ(req.endpoint().port(), c.port);
  }
}

TEST_F(LbctlTest, BadEndpointArgumentsAreUsageErrorsWithoutACall) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"add", "127.0.0.1", "abc"}, "invalid PORT \"abc\": must be a number from 1 to 65535"},
      {{"add", "127.0.0.1", "0"}, "invalid PORT \"0\": must be a number from 1 to 65535"},
      {{"add", "127.0.0.1", "65536"}, "invalid PORT \"65536\": must be a number from 1 to 65535"},
      {{"add", "127.0.0.1", "+80"}, "invalid PORT \"+80\": must be a number from 1 to 65535"},
      {{"add", "127.0.0.1:http"}, "invalid PORT \"http\": must be a number from 1 to 65535"},
      {{"add", "127.0.0.1"}, "missing PORT: give IP PORT, IP:PORT or [IPv6]:PORT"},
      {{"add", "[::1]"}, "missing PORT: give IP PORT, IP:PORT or [IPv6]:PORT"},
      {{"add", "[::1:80"}, "invalid address \"[::1:80\": missing \"]\""},
      {{"add", "::1:80"},
       "ambiguous \"::1:80\": write an IPv6 address as [IPv6]:PORT or give PORT separately"},
      {{"add", ":80"}, "missing IP: give IP PORT, IP:PORT or [IPv6]:PORT"},
      {{"add", "10.0.0.1", "80", "--label", "novalue"},
       "invalid --label \"novalue\": want KEY=VALUE"},
      {{"add", "10.0.0.1", "80", "--label", "=v"}, "invalid --label \"=v\": want KEY=VALUE"},
      {{"add", "10.0.0.1", "80", "--weight", "0"}, "invalid --weight 0: must be from 1 to 10000"},
      {{"add", "10.0.0.1", "80", "--weight", "20000"},
       "invalid --weight 20000: must be from 1 to 10000"},
      {{"update", "10.0.0.1", "80", "--weight", "10001"},
       "invalid --weight 10001: must be from 1 to 10000"},
      {{"update", "10.0.0.1", "80"},
       "nothing to change: give --weight, --zone, --label, --clear-labels or --admin-state"},
      {{"update", "10.0.0.1", "80", "--admin-state", "paused"},
       "invalid --admin-state \"paused\": want active or draining"},
      {{"update", "10.0.0.1", "80", "--label", "a=b", "--clear-labels"},
       "--label excludes --clear-labels"},
      {{"update", "10.0.0.1:x", "--weight", "2"},
       "invalid PORT \"x\": must be a number from 1 to 65535"},
      {{"del", "10.0.0.1", "80", "--if-version", "v3"}, "Could not convert: --if-version = v3"},
      {{"add", "10.0.0.1", "80", "--weight", "abc"}, "Could not convert: --weight = abc"},
      {{"add", "10.0.0.1", "80", "443"}, "The following argument was not expected: 443"},
      {{"add"}, "IP is required"},
      {{"del", "10.0.0.1", "x"}, "invalid PORT \"x\": must be a number from 1 to 65535"},
      {{"drain", "10.0.0.1"}, "missing PORT: give IP PORT, IP:PORT or [IPv6]:PORT"},
      {{"undrain", "10.0.0.1", "-1"}, "invalid PORT \"-1\": must be a number from 1 to 65535"},
  };
  for (const Case& c : cases) {
    Result r = Run(c.args);
    EXPECT_EQ(r.code, 2) << c.args[1];
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, absl::StrCat("lbctl: ", c.message, "\nRun 'lbctl ", c.args[0],
                                  " --help' for usage.\n"));
  }
  EXPECT_TRUE(service_.calls().empty());
}

TEST_F(LbctlTest, Del) {
  service_.SetResponse("RemoveEndpoint",
                       ParseText<lb::v1::RemoveEndpointResponse>("cluster { version: 9 }"));
  Result r = Run({"del", "[::1]:1111", "--cluster", "web"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "removed [::1]:1111 from cluster web (version 9)\n");
  auto req = service_.request<lb::v1::RemoveEndpointRequest>("RemoveEndpoint");
  EXPECT_EQ(req.cluster(), "web");
  EXPECT_EQ(req.address(), "::1");
  EXPECT_EQ(req.port(), 1111u);
}

TEST_F(LbctlTest, DrainAndUndrain) {
  service_.SetResponse("SetEndpointState",
                       ParseText<lb::v1::SetEndpointStateResponse>("cluster { version: 10 }"));
  Result r = Run({"drain", "127.0.0.1", "1111"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "draining 127.0.0.1:1111 in cluster backend (version 10)\n");
  auto req = service_.request<lb::v1::SetEndpointStateRequest>("SetEndpointState");
  EXPECT_EQ(req.cluster(), "backend");
  EXPECT_EQ(req.address(), "127.0.0.1");
  EXPECT_EQ(req.port(), 1111u);
  EXPECT_EQ(req.admin_state(), lb::v1::DRAINING);

  r = Run({"undrain", "127.0.0.1:1111"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "activated 127.0.0.1:1111 in cluster backend (version 10)\n");
  req = service_.request<lb::v1::SetEndpointStateRequest>("SetEndpointState");
  EXPECT_EQ(req.admin_state(), lb::v1::ACTIVE);
}

TEST_F(LbctlTest, UpdateChangesOnlyTheGivenFieldsInPlace) {
  service_.SetResponse("UpdateEndpoint",
                       ParseText<lb::v1::UpdateEndpointResponse>("cluster { version: 11 }"));
  Result r = Run({"update", "10.0.0.7:8080", "--cluster", "web", "--weight", "5"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "updated 10.0.0.7:8080 in cluster web (version 11)\n");
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateEndpointRequest>("UpdateEndpoint", R"pb(
    cluster: "web"
    address: "10.0.0.7"
    port: 8080
    endpoint { weight: 5 }
    update_mask { paths: "weight" }
  )pb"));

  r = Run({"update", "[::1]", "9000", "--zone", "", "--label", "a=b", "--label", "c=d",
           "--admin-state", "Draining", "--if-version", "10"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateEndpointRequest>("UpdateEndpoint", R"pb(
    cluster: "backend"
    address: "::1"
    port: 9000
    endpoint {
      labels { key: "a" value: "b" }
      labels { key: "c" value: "d" }
      admin_state: DRAINING
    }
    update_mask { paths: "zone" paths: "labels" paths: "admin_state" }
    expected_version: 10
  )pb"));

  r = Run({"update", "127.0.0.1", "1", "--clear-labels"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateEndpointRequest>("UpdateEndpoint", R"pb(
    cluster: "backend"
    address: "127.0.0.1"
    port: 1
    endpoint {}
    update_mask { paths: "labels" }
  )pb"));
}

TEST_F(LbctlTest, EveryEndpointWriteSendsIfVersion) {
  for (const std::string& command :
       std::vector<std::string>{"add", "del", "drain", "undrain", "update"}) {
    std::vector<std::string> args = {command, "127.0.0.1", "1", "--if-version", "42"};
    if (command == "update") args.insert(args.end(), {"--weight", "3"});
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << command << ": " << r.err;
  }
  EXPECT_EQ(service_.request<lb::v1::AddEndpointRequest>("AddEndpoint").expected_version(), 42);
  EXPECT_EQ(service_.request<lb::v1::RemoveEndpointRequest>("RemoveEndpoint").expected_version(),
            42);
  EXPECT_EQ(
      service_.request<lb::v1::SetEndpointStateRequest>("SetEndpointState").expected_version(), 42);
  EXPECT_EQ(service_.request<lb::v1::UpdateEndpointRequest>("UpdateEndpoint").expected_version(),
            42);
  // A stale version: the controller's ABORTED is exit 1, its message verbatim.
  service_.FailWith(
      grpc::Status(grpc::StatusCode::ABORTED,
                   "cluster \"backend\" is at version 43, not 42; re-read and retry"));
  Result r = Run({"drain", "127.0.0.1", "1", "--if-version", "42"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lbctl: cluster \"backend\" is at version 43, not 42; re-read and retry\n");
}

TEST_F(LbctlTest, AddWarnsWhenTheHostnameDoesNotResolve) {
  std::vector<std::string> resolved;
  resolve_ = [&](const std::string& host) -> absl::Status {
    resolved.push_back(host);
    if (host == "nowhere.invalid") return absl::NotFoundError("Name or service not known");
    return absl::OkStatus();
  };
  Result r = Run({"add", "nowhere.invalid", "80"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "added nowhere.invalid:80 to cluster backend (version 0)\n");
  EXPECT_EQ(r.err,
            "lbctl: warning: hostname \"nowhere.invalid\" does not resolve here (Name or service "
            "not known); proxies get no address for it until the controller resolves it\n");
  r = Run({"add", "api.internal", "80"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(resolved, (std::vector<std::string>{"nowhere.invalid", "api.internal"}));
  // Nothing to warn about when the add failed.
  service_.FailWith(grpc::Status(grpc::StatusCode::NOT_FOUND, "cluster \"x\" not found"));
  r = Run({"add", "nowhere.invalid", "80", "--cluster", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lbctl: cluster \"x\" not found\n");
}

TEST_F(LbctlTest, ListTable) {
  lb::v1::ListEndpointsResponse resp;
  *resp.mutable_endpoints() = BackendCluster().endpoints();
  resp.set_version(7);
  // The first endpoint has a status (from the controller's load reports), the second none.
  lb::v1::EndpointStatus* status = resp.mutable_endpoints(0)->mutable_status();
  status->set_proxies_total(2);
  status->set_proxies_healthy(1);
  status->set_rps(12.5);
  status->set_error_rate(0.01);
  status->set_p99_ms(4.2);
  service_.SetResponse("ListEndpoints", resp);
  Result r = Run({"list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ADDRESS       PORT  WEIGHT  ZONE  STATE     HEALTHY  REQ/S  ERR%  P99    RESOLVED\n"
            "127.0.0.1     1111  1       -     ACTIVE    1/2      12.5   1.0   4.2ms  -\n"
            "api.internal  443   5       eu-1  DRAINING  -        -      -     -      "
            "10.0.0.1,10.0.0.2\n");
  EXPECT_EQ(service_.request<lb::v1::ListEndpointsRequest>("ListEndpoints").cluster(), "backend");

  r = Run({"list", "--cluster", "web"});
  EXPECT_EQ(service_.request<lb::v1::ListEndpointsRequest>("ListEndpoints").cluster(), "web");
}

TEST_F(LbctlTest, ProxiesTableShowsSentAckedAndNack) {
  service_.SetResponse(
      "ListProxies", ParseText<lb::v1::ListProxiesResponse>(R"pb(
        proxies {
          node_id: "edge-1"
          address: "ipv4:127.0.0.1:5000"
          protocol: "sotw"
          resources {
            type_url: "type.googleapis.com/envoy.config.cluster.v3.Cluster"
            version_sent: "v2"
            version_acked: "v1"
            nacked_version: "v2"
            last_nack_error: "bad cluster"
            nacks: 1
          }
          resources {
            type_url: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
            version_sent: "e1"
            version_acked: "e1"
          }
        }
        proxies { node_id: "idle" address: "ipv6:[::1]:6000" protocol: "delta" }
      )pb"));
  Result r = Run({"proxies"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NODE    ADDRESS              PROTOCOL  TYPE  SENT  ACKED  NACKS  LAST NACK\n"
            "edge-1  ipv4:127.0.0.1:5000  sotw      CDS   v2    v1     1      v2: bad cluster\n"
            "edge-1  ipv4:127.0.0.1:5000  sotw      EDS   e1    e1     0      -\n"
            "idle    ipv6:[::1]:6000      delta     -     -     -      0      -\n");

  r = Run({"proxies", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  lb::v1::ListProxiesResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &parsed).ok()) << r.out;
  ASSERT_EQ(parsed.proxies_size(), 2);
  EXPECT_EQ(parsed.proxies(0).resources(0).last_nack_error(), "bad cluster");
}

TEST_F(LbctlTest, ProxiesShowsTheLeaderAboveTheTable) {
  service_.SetLeader("host-a:18000");
  service_.SetResponse("ListProxies", ParseText<lb::v1::ListProxiesResponse>(R"pb(
                         proxies { node_id: "idle" address: "ipv4:127.0.0.1:6000" protocol: "sotw" }
                       )pb"));
  Result r = Run({"proxies"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "LEADER: host-a:18000\n"
            "\n"
            "NODE  ADDRESS              PROTOCOL  TYPE  SENT  ACKED  NACKS  LAST NACK\n"
            "idle  ipv4:127.0.0.1:6000  sotw      -     -     -      0      -\n");
  // JSON stays the API's message.
  r = Run({"proxies", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("LEADER"), std::string::npos) << r.out;
}

TEST_F(LbctlTest, ListEmptyPrintsHeaderOnly) {
  Result r = Run({"list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ADDRESS  PORT  WEIGHT  ZONE  STATE  HEALTHY  REQ/S  ERR%  P99  RESOLVED\n");
}

TEST_F(LbctlTest, ListJson) {
  service_.SetResponse("ListEndpoints", ParseText<lb::v1::ListEndpointsResponse>(R"pb(
                         endpoints {
                           address: "127.0.0.1"
                           port: 1112
                           weight: 1
                           admin_state: ACTIVE
                           labels { key: "a" value: "b" }
                         }
                         version: 4
                       )pb"));
  const std::string expected = R"({
 "endpoints": [
  {
   "address": "127.0.0.1",
   "port": 1112,
   "zone": "",
   "labels": {
    "a": "b"
   },
   "admin_state": "ACTIVE",
   "resolved_addresses": [],
   "weight": 1
  }
 ],
 "version": "4"
}
)";
  Result r = Run({"list", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
  // Global flags go before or after the command.
  r = Run({"--output", "json", "list"});
  EXPECT_EQ(r.out, expected);
}

TEST_F(LbctlTest, MutationJsonPrintsTheResponse) {
  service_.SetResponse("AddEndpoint", ParseText<lb::v1::AddEndpointResponse>(
                                          R"pb(cluster { name: "backend" version: 3 })pb"));
  Result r = Run({"add", "127.0.0.1", "1111", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("{\n \"cluster\": {\n  \"name\": \"backend\",\n"));
  EXPECT_THAT(r.out, HasSubstr("\"version\": \"3\""));
}

// ---- clusters ----

TEST_F(LbctlTest, ClusterList) {
  lb::v1::ListClustersResponse resp;
  *resp.add_clusters() = BackendCluster();
  lb::v1::Cluster* web = resp.add_clusters();
  web->set_name("web");
  web->set_lb_policy(lb::v1::ROUND_ROBIN);
  web->mutable_health_check()->set_path("/healthz");
  web->set_version(12);
  service_.SetResponse("ListClusters", resp);
  Result r = Run({"cluster", "list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME     POLICY       ENDPOINTS  HEALTH CHECK  VERSION\n"
            "backend  random       2          -             7\n"
            "web      round_robin  0          /healthz      12\n");
}

TEST_F(LbctlTest, ClusterGet) {
  lb::v1::Cluster c = BackendCluster();
  c.mutable_hash_policy()->set_header("x-user");
  c.mutable_health_check()->set_path("/healthz");
  c.mutable_health_check()->mutable_interval()->set_nanos(500000000);
  c.mutable_health_check()->mutable_interval()->set_seconds(0);
  c.mutable_health_check()->mutable_timeout()->set_seconds(0);
  c.mutable_health_check()->mutable_timeout()->set_nanos(250000000);
  service_.SetResponse("GetCluster", c);
  Result r = Run({"cluster", "get", "backend"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "name:               backend\n"
            "protocol:           http1\n"
            "policy:             random\n"
            "hash:               header x-user\n"
            "health check:       GET /healthz every 0.500s, timeout 0.250s, healthy after 2, "
            "unhealthy after 3\n"
            "outlier detection:  5 consecutive 5xx, 5 gateway failures, interval 10s, base "
            "ejection 30s, max 50% ejected\n"
            "connect timeout:    1s\n"
            "retries:            2\n"
            "panic threshold:    50%\n"
            "circuit breakers:   max connections 1024, max pending requests 1024, max requests 2, "
            "max retries 0\n"
            "version:            7\n"
            "endpoints:          2\n"
            "\n"
            "ADDRESS       PORT  WEIGHT  ZONE  STATE     RESOLVED\n"
            "127.0.0.1     1111  1       -     ACTIVE    -\n"
            "api.internal  443   5       eu-1  DRAINING  10.0.0.1,10.0.0.2\n");
  EXPECT_EQ(service_.request<lb::v1::GetClusterRequest>("GetCluster").name(), "backend");
}

TEST_F(LbctlTest, ClusterGetJson) {
  service_.SetResponse("GetCluster", ParseText<lb::v1::Cluster>(R"pb(
                         name: "web"
                         lb_policy: MAGLEV
                         hash_policy { source_ip: true }
                         retries { value: 0 }
                         version: 3
                         circuit_breakers { max_requests: 2 max_retries: 0 }
                         protocol: HTTP1
                       )pb"));
  Result r = Run({"cluster", "get", "web", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, R"({
 "name": "web",
 "lb_policy": "MAGLEV",
 "hash_policy": {
  "source_ip": true
 },
 "endpoints": [],
 "version": "3",
 "circuit_breakers": {
  "max_requests": 2,
  "max_retries": 0
 },
 "protocol": "HTTP1",
 "retries": 0
}
)");
}

TEST_F(LbctlTest, ClusterCreateWithEveryFlag) {
  service_.SetResponse("CreateCluster",
                       ParseText<lb::v1::Cluster>(R"pb(name: "web" version: 5)pb"));
  Result r = Run({"cluster",   "create",
                  "web",       "--policy",
                  "ring_hash", "--hash-cookie",
                  "sid",       "--hc-path",
                  "/healthz",  "--hc-interval",
                  "2s",        "--hc-timeout",
                  "500ms",     "--hc-healthy",
                  "3",         "--hc-unhealthy",
                  "4",         "--connect-timeout",
                  "1.5s",      "--retries",
                  "0",         "--panic-threshold",
                  "0",         "--max-connections",
                  "100",       "--max-pending-requests",
                  "10",        "--max-requests",
                  "50",        "--max-retries",
                  "0"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "created cluster web (version 5)\n");
  EXPECT_TRUE(LastRequestIs<lb::v1::CreateClusterRequest>("CreateCluster", R"pb(
    cluster {
      name: "web"
      lb_policy: RING_HASH
      hash_policy { cookie: "sid" }
      health_check {
        path: "/healthz"
        interval { seconds: 2 }
        timeout { nanos: 500000000 }
        healthy_threshold: 3
        unhealthy_threshold: 4
      }
      connect_timeout { seconds: 1 nanos: 500000000 }
      retries { value: 0 }
      healthy_panic_threshold { value: 0 }
      circuit_breakers {
        max_connections: 100
        max_pending_requests: 10
        max_requests: 50
        max_retries: 0
      }
    }
  )pb"));
}

TEST_F(LbctlTest, ClusterCreateMinimalLeavesDefaultsToTheController) {
  Result r = Run({"cluster", "create", "web"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto req = service_.request<lb::v1::CreateClusterRequest>("CreateCluster");
  EXPECT_EQ(req.cluster().name(), "web");
  EXPECT_FALSE(req.cluster().has_retries());
  EXPECT_FALSE(req.cluster().has_healthy_panic_threshold());
  EXPECT_FALSE(req.cluster().has_connect_timeout());
  EXPECT_FALSE(req.cluster().has_circuit_breakers());
  EXPECT_EQ(req.cluster().lb_policy(), lb::v1::LB_POLICY_UNSPECIFIED);
}

TEST_F(LbctlTest, ClusterPolicyNames) {
  const std::vector<std::pair<std::string, lb::v1::LbPolicy>> cases = {
      {"random", lb::v1::RANDOM},
      {"round_robin", lb::v1::ROUND_ROBIN},
      {"least_request", lb::v1::LEAST_REQUEST},
      {"ring_hash", lb::v1::RING_HASH},
      {"maglev", lb::v1::MAGLEV},
      {"ROUND-ROBIN", lb::v1::ROUND_ROBIN},
  };
  for (const auto& [name, policy] : cases) {
    Result r = Run({"cluster", "create", "web", "--policy", name});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(service_.request<lb::v1::CreateClusterRequest>("CreateCluster").cluster().lb_policy(),
              policy)
        << name;
  }
}

TEST_F(LbctlTest, ClusterBadFlagsAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string want = ": want random, round_robin, least_request, ring_hash or maglev";
  const std::string durations = "\"500ms\", \"2s\", \"1m\", \"1h\" or \"0.500s\"";
  std::vector<Case> cases = {
      {{"cluster", "create", "web", "--policy", "fastest"}, "invalid --policy \"fastest\"" + want},
      {{"cluster", "create", "web", "--policy", "lb_policy_unspecified"},
       "invalid --policy \"lb_policy_unspecified\"" + want},
      {{"cluster", "create", "web", "--hc-interval", "5"},
       "invalid --hc-interval: \"5\" is not a duration; want " + durations},
      {{"cluster", "update", "web", "--hc-timeout", "soon"},
       "invalid --hc-timeout: \"soon\" is not a duration; want " + durations},
      {{"cluster", "create", "web", "--connect-timeout", "inf"},
       "invalid --connect-timeout: \"inf\" is not a duration; want " + durations},
      {{"cluster", "create", "web", "--cookie-ttl", "1d"},
       "invalid --cookie-ttl: \"1d\" is not a duration; want " + durations},
      {{"cluster", "create", "web", "--cookie-same-site", "loose"},
       "invalid --cookie-same-site \"loose\": want strict, lax or none"},
      {{"cluster", "create", "web", "--cookie-http-only", "maybe"},
       "Could not convert: --cookie-http-only = maybe"},
      {{"cluster", "update", "web"}, "nothing to change: give at least one setting flag"},
      {{"cluster", "update", "web", "--hash-none", "--hash-cookie", "c"},
       "--hash-cookie excludes --hash-none"},
      {{"cluster", "create", "web", "--hash-header", "h", "--hash-source-ip"},
       "--hash-header excludes --hash-source-ip"},
      {{"cluster", "create", "web", "--retries", "-1"}, "Could not convert: --retries = -1"},
      {{"cluster", "update", "web", "--max-requests", "-1"},
       "Could not convert: --max-requests = -1"},
      {{"cluster", "create", "web", "--max-connections", "4294967296"},
       "Could not convert: --max-connections = 4294967296"},
      {{"cluster", "create"}, "NAME is required"},
      {{"cluster", "get"}, "NAME is required"},
  };
  for (const Case& c : cases) {
    Result r = Run(c.args);
    EXPECT_EQ(r.code, 2) << c.message;
    EXPECT_EQ(r.err, absl::StrCat("lbctl: ", c.message, "\nRun 'lbctl cluster ", c.args[1],
                                  " --help' for usage.\n"));
  }
  EXPECT_TRUE(service_.calls().empty());
}

TEST_F(LbctlTest, ClusterUpdateSendsOnlyTheGivenFlags) {
  lb::v1::Cluster updated;
  updated.set_name("web");
  updated.set_version(8);
  service_.SetResponse("UpdateCluster", updated);
  Result r = Run({"cluster", "update", "web", "--retries", "5", "--hash-source-ip", "--hc-interval",
                  "3s", "--od-5xx", "0", "--panic-threshold", "0"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "updated cluster web (version 8)\n");
  // No read: the mask names exactly the flags given, so nothing else can change.
  EXPECT_EQ(service_.calls(), std::vector<std::string>{"UpdateCluster"});
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateClusterRequest>("UpdateCluster", R"pb(
    cluster {
      name: "web"
      hash_policy { source_ip: true }
      health_check { interval { seconds: 3 } }
      outlier_detection { consecutive_5xx: 0 }
      retries { value: 5 }
      healthy_panic_threshold { value: 0 }
    }
    update_mask {
      paths: "hash_policy"
      paths: "health_check.interval"
      paths: "outlier_detection.consecutive_5xx"
      paths: "retries"
      paths: "healthy_panic_threshold"
    }
  )pb"));
}

TEST_F(LbctlTest, ClusterProtocolAndGrpcHealthCheckFlags) {
  Result r = Run({"cluster", "create", "greeter", "--protocol", "http2", "--hc-grpc",
                  "echo.v1.Echo", "--hc-interval", "2s"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::CreateClusterRequest>("CreateCluster", R"pb(
    cluster {
      name: "greeter"
      protocol: HTTP2
      health_check {
        grpc_service_name: "echo.v1.Echo"
        interval { seconds: 2 }
      }
    }
  )pb"));
  // Without a value: the whole server (""); an HTTP check turns the gRPC one off.
  r = Run({"cluster", "update", "greeter", "--hc-grpc"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateClusterRequest>("UpdateCluster", R"pb(
    cluster {
      name: "greeter"
      health_check { grpc_service_name: "" }
    }
    update_mask { paths: "health_check.grpc_service_name" paths: "health_check.path" }
  )pb"));
  r = Run({"cluster", "update", "greeter", "--protocol", "HTTP1", "--hc-path", "/healthz"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateClusterRequest>("UpdateCluster", R"pb(
    cluster {
      name: "greeter"
      protocol: HTTP1
      health_check { path: "/healthz" }
    }
    update_mask {
      paths: "protocol"
      paths: "health_check.path"
      paths: "health_check.grpc_service_name"
    }
  )pb"));
  r = Run({"cluster", "create", "x", "--protocol", "http3"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("invalid --protocol \"http3\": want http1 or http2"), std::string::npos)
      << r.err;
}

TEST_F(LbctlTest, ClusterGetShowsTheProtocolAndAGrpcCheck) {
  service_.SetResponse("GetCluster", ParseText<lb::v1::Cluster>(R"pb(
                         name: "greeter"
                         protocol: HTTP2
                         health_check {
                           grpc_service_name: "echo.v1.Echo"
                           interval { seconds: 5 }
                           timeout { seconds: 1 }
                           healthy_threshold: 2
                           unhealthy_threshold: 3
                         }
                       )pb"));
  Result r = Run({"cluster", "get", "greeter"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("protocol:           http2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gRPC Health/Check \"echo.v1.Echo\" every 5s"), std::string::npos) << r.out;
  r = Run({"cluster", "get", "greeter", "-o", "json"});
  EXPECT_NE(r.out.find("\"protocol\": \"HTTP2\""), std::string::npos) << r.out;
}

TEST_F(LbctlTest, ClusterUpdateSendsOneCircuitBreakerLimit) {
  Result r = Run({"cluster", "update", "web", "--max-requests", "200"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateClusterRequest>("UpdateCluster", R"pb(
    cluster {
      name: "web"
      circuit_breakers { max_requests: 200 }
    }
    update_mask { paths: "circuit_breakers.max_requests" }
  )pb"));
  // 0 is sent as given (present): the controller decides, here keeping it for max_retries.
  r = Run({"cluster", "update", "web", "--max-retries", "0", "--max-pending-requests", "7",
           "--max-connections", "9"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateClusterRequest>("UpdateCluster", R"pb(
    cluster {
      name: "web"
      circuit_breakers { max_connections: 9 max_pending_requests: 7 max_retries: 0 }
    }
    update_mask {
      paths: "circuit_breakers.max_connections"
      paths: "circuit_breakers.max_pending_requests"
      paths: "circuit_breakers.max_retries"
    }
  )pb"));
}

TEST_F(LbctlTest, ClusterUpdateCookieOptionsAloneAndHashNone) {
  Result r =
      Run({"cluster", "update", "sticky", "--cookie-ttl", "1h", "--cookie-same-site", "LAX",
           "--cookie-secure", "true", "--cookie-http-only", "false", "--cookie-path", "/app"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateClusterRequest>("UpdateCluster", R"pb(
    cluster {
      name: "sticky"
      hash_policy {
        cookie_options {
          ttl { seconds: 3600 }
          path: "/app"
          http_only { value: false }
          same_site: LAX
          secure: true
        }
      }
    }
    update_mask {
      paths: "hash_policy.cookie_options.ttl"
      paths: "hash_policy.cookie_options.path"
      paths: "hash_policy.cookie_options.http_only"
      paths: "hash_policy.cookie_options.same_site"
      paths: "hash_policy.cookie_options.secure"
    }
  )pb"));

  // A new key replaces the whole hash policy, its cookie options with it.
  r = Run({"cluster", "update", "sticky", "--hash-cookie", "lb", "--cookie-generate", "false"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateClusterRequest>("UpdateCluster", R"pb(
    cluster {
      name: "sticky"
      hash_policy {
        cookie: "lb"
        cookie_options { generate { value: false } }
      }
    }
    update_mask { paths: "hash_policy" }
  )pb"));

  r = Run({"cluster", "update", "sticky", "--policy", "round_robin", "--hash-none"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateClusterRequest>("UpdateCluster", R"pb(
    cluster { name: "sticky" lb_policy: ROUND_ROBIN }
    update_mask { paths: "lb_policy" paths: "hash_policy" }
  )pb"));
}

TEST_F(LbctlTest, ClusterUpdateWithStaleIfVersionIsRefused) {
  service_.FailWith(grpc::Status(grpc::StatusCode::ABORTED,
                                 "cluster \"backend\" is at version 8, not 7; re-read and retry"));
  Result r = Run({"cluster", "update", "backend", "--retries", "1", "--if-version", "7"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lbctl: cluster \"backend\" is at version 8, not 7; re-read and retry\n");
  EXPECT_EQ(service_.request<lb::v1::UpdateClusterRequest>("UpdateCluster").expected_version(), 7);
}

TEST_F(LbctlTest, ClusterGetShowsCookieOptions) {
  lb::v1::Cluster c = ParseText<lb::v1::Cluster>(R"pb(
    name: "sticky"
    lb_policy: RING_HASH
    hash_policy {
      cookie: "lb"
      cookie_options {
        ttl { seconds: 3600 }
        same_site: LAX
        secure: true
      }
    }
  )pb");
  service_.SetResponse("GetCluster", c);
  Result r = Run({"cluster", "get", "sticky"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("hash:               cookie lb (set by the proxy: ttl 3600s, path "
                               "/, HttpOnly, SameSite lax, Secure)\n"));
  EXPECT_THAT(r.out, HasSubstr("health check:       disabled\n"));
  EXPECT_THAT(r.out, HasSubstr("outlier detection:  off\n"));
  c.mutable_hash_policy()->mutable_cookie_options()->Clear();
  c.mutable_hash_policy()->mutable_cookie_options()->mutable_generate()->set_value(false);
  service_.SetResponse("GetCluster", c);
  r = Run({"cluster", "get", "sticky"});
  EXPECT_THAT(r.out, HasSubstr("hash:               cookie lb (set by the application)\n"));
}

TEST_F(LbctlTest, ClusterDelete) {
  Result r = Run({"cluster", "delete", "web"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted cluster web\n");
  EXPECT_EQ(service_.request<lb::v1::DeleteClusterRequest>("DeleteCluster").name(), "web");
  EXPECT_EQ(service_.request<lb::v1::DeleteClusterRequest>("DeleteCluster").expected_version(), 0);
  r = Run({"cluster", "delete", "web", "--if-version", "4"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(service_.request<lb::v1::DeleteClusterRequest>("DeleteCluster").expected_version(), 4);
}

// ---- routes ----

lb::v1::RouteTableResponse TwoRoutes() {
  return ParseText<lb::v1::RouteTableResponse>(R"pb(
    route_table {
      name: "default"
      routes { name: "default" host: "*" path_prefix: "/" cluster: "backend" }
      routes { name: "api" host: "example.com" path_prefix: "/api" cluster: "web" }
      version: 14
    }
  )pb");
}

TEST_F(LbctlTest, RouteListAndGet) {
  service_.SetResponse("ListRoutes", TwoRoutes());
  Result r = Run({"route", "list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME     HOSTS        PREFIX  CLUSTER\n"
            "default  *            /       backend\n"
            "api      example.com  /api    web\n");

  r = Run({"route", "get", "api"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "name:           api\n"
            "hosts:          example.com\n"
            "prefix:         /api\n"
            "cluster:        web\n"
            "table version:  14\n");

  r = Run({"route", "get", "api", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\n \"name\": \"api\",\n \"host\": \"example.com\",\n \"path_prefix\": \"/api\",\n"
            " \"cluster\": \"web\",\n \"hosts\": [],\n \"weighted_clusters\": [],\n "
            "\"path_exact\": \"\",\n"
            " \"headers\": [],\n \"method\": \"\",\n \"request_headers_to_add\": [],\n"
            " \"request_headers_to_remove\": [],\n \"priority\": 0,\n \"https_redirect\": 0\n}\n");

  r = Run({"route", "get", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lbctl: route \"nope\" not found\n");
}

TEST_F(LbctlTest, RouteCreate) {
  service_.SetResponse("CreateRoute", TwoRoutes());
  Result r = Run(
      {"route", "create", "api", "--cluster", "web", "--host", "example.com", "--prefix", "/api"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "created route api (route table version 14)\n");
  EXPECT_TRUE(LastRequestIs<lb::v1::CreateRouteRequest>(
      "CreateRoute",
      R"pb(route { name: "api" hosts: "example.com" path_prefix: "/api" cluster: "web" })pb"));
}

TEST_F(LbctlTest, RoutesWithSeveralHosts) {
  lb::v1::RouteTableResponse table = ParseText<lb::v1::RouteTableResponse>(R"pb(
    route_table {
      routes { name: "default" host: "*" hosts: "*" path_prefix: "/" cluster: "backend" }
      routes {
        name: "www"
        host: "example.com"
        hosts: "example.com"
        hosts: "*.example.com"
        path_prefix: "/"
        cluster: "web"
      }
      version: 20
    }
  )pb");
  service_.SetResponse("CreateRoute", table);
  service_.SetResponse("ListRoutes", table);
  service_.SetResponse("UpdateRoute", table);
  Result r = Run({"route", "create", "www", "--cluster", "web", "--host", "example.com", "--host",
                  "*.example.com", "--if-version", "19"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::CreateRouteRequest>("CreateRoute", R"pb(
    route { name: "www" cluster: "web" hosts: "example.com" hosts: "*.example.com" }
    expected_version: 19
  )pb"));

  r = Run({"route", "list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME     HOSTS                      PREFIX  CLUSTER\n"
            "default  *                          /       backend\n"
            "www      example.com,*.example.com  /       web\n");

  // --host replaces every host; --if-version replaces the version read.
  r = Run({"route", "update", "www", "--host", "example.org", "--if-version", "18"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateRouteRequest>("UpdateRoute", R"pb(
    route { name: "www" hosts: "example.org" path_prefix: "/" cluster: "web" }
    expected_version: 18
  )pb"));
}

TEST_F(LbctlTest, DuplicateRouteIsRefusedNamingTheOther) {
  service_.FailWith(grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                                 "route \"b\": host \"*\" with path_prefix \"/\" is already "
                                 "routed by route \"default\""));
  Result r = Run({"route", "create", "b", "--cluster", "backend"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "lbctl: route \"b\": host \"*\" with path_prefix \"/\" is already routed by route "
            "\"default\"\n");
}

TEST_F(LbctlTest, RouteListHelpSaysWhichOrder) {
  Result r = Run({"route", "list", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("List routes in table order (creation order). That is not match "
                               "order"));
}

TEST_F(LbctlTest, RouteUpdateIsReadModifyWrite) {
  service_.SetResponse("ListRoutes", TwoRoutes());
  service_.SetResponse("UpdateRoute", TwoRoutes());
  Result r = Run({"route", "update", "api", "--cluster", "web2"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "updated route api (route table version 14)\n");
  EXPECT_TRUE(LastRequestIs<lb::v1::UpdateRouteRequest>("UpdateRoute", R"pb(
    route { name: "api" host: "example.com" path_prefix: "/api" cluster: "web2" }
    expected_version: 14
  )pb"));

  r = Run({"route", "update", "nope", "--prefix", "/x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lbctl: route \"nope\" not found\n");
}

TEST_F(LbctlTest, RouteDelete) {
  service_.SetResponse("DeleteRoute", TwoRoutes());
  Result r = Run({"route", "delete", "api"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted route api (route table version 14)\n");
  EXPECT_EQ(service_.request<lb::v1::DeleteRouteRequest>("DeleteRoute").name(), "api");
  EXPECT_EQ(service_.request<lb::v1::DeleteRouteRequest>("DeleteRoute").expected_version(), 0);
  r = Run({"route", "delete", "api", "--if-version", "13"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(service_.request<lb::v1::DeleteRouteRequest>("DeleteRoute").expected_version(), 13);
}

// ---- watch ----

// The initial state (revisions 7 and 9), the marker, then changes; revision 10 comes twice.
std::vector<lb::v1::Change> SomeChanges() {
  const lb::v1::Change revision_10 = ParseText<lb::v1::Change>(
      R"pb(revision: 10
           cluster {
             name: "backend"
             lb_policy: ROUND_ROBIN
             endpoints { address: "127.0.0.1" port: 1 weight: 5 }
             endpoints { address: "::1" port: 2 weight: 1 zone: "z1" }
             version: 10
           })pb");
  return {
      ParseText<lb::v1::Change>(
          R"pb(revision: 7
               cluster {
                 name: "backend"
                 lb_policy: RANDOM
                 endpoints { address: "127.0.0.1" port: 1 weight: 1 }
                 version: 7
                 protocol: HTTP1
               })pb"),
      ParseText<lb::v1::Change>(
          R"pb(revision: 9
               route_table {
                 routes { name: "r" hosts: "*" path_prefix: "/" cluster: "backend" }
                 version: 9
               })pb"),
      ParseText<lb::v1::Change>(R"pb(revision: 9 initial_state_end: true)pb"),
      revision_10,
      revision_10,
      ParseText<lb::v1::Change>(R"pb(revision: 11
                                     cluster { name: "web" lb_policy: RANDOM version: 11 })pb"),
      ParseText<lb::v1::Change>(R"pb(revision: 12 cluster_deleted: "web")pb"),
      ParseText<lb::v1::Change>(
          R"pb(revision: 13
               route_table {
                 routes { name: "r" hosts: "*" path_prefix: "/v2" cluster: "backend" }
                 routes {
                   name: "s"
                   hosts: "a.example"
                   hosts: "b.example"
                   path_prefix: "/"
                   cluster: "web"
                 }
                 version: 13
               })pb"),
      ParseText<lb::v1::Change>(
          R"pb(revision: 14
               cluster {
                 name: "backend"
                 lb_policy: ROUND_ROBIN
                 endpoints {
                   address: "127.0.0.1"
                   port: 1
                   weight: 5
                   admin_state: DRAINING
                   labels { key: "v" value: "2" }
                 }
                 health_check {
                   path: "/h"
                   interval { seconds: 5 }
                   timeout { seconds: 1 }
                   healthy_threshold: 2
                   unhealthy_threshold: 3
                 }
                 circuit_breakers {
                   max_connections: 1024
                   max_pending_requests: 1024
                   max_requests: 2
                   max_retries: 3
                 }
                 version: 14
               })pb"),
  };
}

TEST_F(LbctlTest, WatchSaysWhatEachChangeChanged) {
  service_.SetChanges(SomeChanges(), /*end_stream=*/true);
  Result r = Run({"watch"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "revision 7: cluster backend (policy random, 1 endpoints, version 7)\n"
            "revision 9: route table (1 routes, version 9)\n"
            "revision 9: end of the initial state; changes follow\n"
            "revision 10: cluster backend (version 10): endpoint 127.0.0.1:1 weight 1 -> 5; added "
            "endpoint [::1]:2 (weight 1, zone z1); policy random -> round_robin\n"
            "revision 11: cluster web created (policy random, 0 endpoints, version 11)\n"
            "revision 12: cluster web deleted\n"
            "revision 13: route table (version 13): route r prefix / -> /v2; added route s (hosts "
            "a.example,b.example, prefix /, cluster web)\n"
            "revision 14: cluster backend (version 14): drained endpoint 127.0.0.1:1; endpoint "
            "127.0.0.1:1 labels - -> v=2; removed endpoint [::1]:2; health check disabled -> GET "
            "/h every 5s, timeout 1s, healthy after 2, unhealthy after 3; circuit breakers max "
            "connections default, max pending requests default, max requests default, max "
            "retries default -> max connections 1024, max pending requests 1024, max requests 2, "
            "max retries 3\n");
}

TEST_F(LbctlTest, WatchCountCountsChangesAfterTheMarker) {
  service_.SetChanges(SomeChanges(), /*end_stream=*/false);
  Result r = Run({"watch", "--count", "2"});
  EXPECT_EQ(r.code, 0) << r.err;
  // Three lines of initial state and marker, then two changes (the repeat is not one).
  EXPECT_EQ(r.out,
            "revision 7: cluster backend (policy random, 1 endpoints, version 7)\n"
            "revision 9: route table (1 routes, version 9)\n"
            "revision 9: end of the initial state; changes follow\n"
            "revision 10: cluster backend (version 10): endpoint 127.0.0.1:1 weight 1 -> 5; added "
            "endpoint [::1]:2 (weight 1, zone z1); policy random -> round_robin\n"
            "revision 11: cluster web created (policy random, 0 endpoints, version 11)\n");
}

TEST_F(LbctlTest, WatchJsonLinesAndCount) {
  service_.SetChanges(SomeChanges(), /*end_stream=*/false);
  Result r = Run({"watch", "-o", "json", "--count", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0],
            "{\"revision\":\"7\",\"cluster\":{\"name\":\"backend\",\"lb_policy\":\"RANDOM\","
            "\"endpoints\":[{\"address\":\"127.0.0.1\",\"port\":1,\"zone\":\"\",\"labels\":{},"
            "\"admin_state\":\"ADMIN_STATE_UNSPECIFIED\",\"resolved_addresses\":[],\"weight\":1}],"
            "\"version\":\"7\",\"protocol\":\"HTTP1\"}}");
  EXPECT_EQ(lines[2], "{\"revision\":\"9\",\"initial_state_end\":true}");
  EXPECT_THAT(lines[3], StartsWith("{\"revision\":\"10\",\"cluster\":{\"name\":\"backend\","
                                   "\"lb_policy\":\"ROUND_ROBIN\","));
}

TEST_F(LbctlTest, WatchEndsOnInterrupt) {
  service_.SetChanges(SomeChanges(), /*end_stream=*/false);
  SharedText out_text;
  std::ostream out(&out_text);
  std::ostringstream err;
  // Interrupts once the watch has shown every change (the stream stays open).
  std::thread stopper([&]() {
    testing::WaitUntil([&] { return absl::StrContains(out_text.str(), "revision 14: cluster"); },
                       absl::Seconds(5));
    interrupted_ = true;
  });
  absl::Time start = absl::Now();
  int code = RunTo({"watch"}, out, err);
  stopper.join();
  EXPECT_EQ(code, 0) << err.str();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_THAT(out_text.str(), HasSubstr("revision 14: cluster"));
}

TEST_F(LbctlTest, WatchHasNoDeadlineUnlessTimeoutIsGiven) {
  service_.SetChanges(SomeChanges(), /*end_stream=*/false);
  absl::Time start = absl::Now();
  Result r = Run({"watch", "--timeout", "300ms"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("revision 9"));
}

TEST_F(LbctlTest, WatchErrorsMapToExitCodes) {
  service_.FailWith(
      grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "watcher fell too far behind; re-watch"));
  Result r = Run({"watch"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lbctl: watcher fell too far behind; re-watch\n");
}

// ---- exit codes, errors ----

TEST_F(LbctlTest, ControllerErrorsMapToExitCodesWithVerbatimMessages) {
  struct Case {
    grpc::StatusCode code;
    int exit_code;
  };
  const std::vector<Case> cases = {
      {grpc::StatusCode::INVALID_ARGUMENT, 2},
      {grpc::StatusCode::NOT_FOUND, 1},
      {grpc::StatusCode::ALREADY_EXISTS, 1},
      {grpc::StatusCode::FAILED_PRECONDITION, 1},
      {grpc::StatusCode::ABORTED, 1},
      {grpc::StatusCode::OUT_OF_RANGE, 2},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, 1},
      {grpc::StatusCode::INTERNAL, 1},
      {grpc::StatusCode::UNIMPLEMENTED, 1},
      {grpc::StatusCode::UNKNOWN, 1},
      {grpc::StatusCode::UNAUTHENTICATED, 4},
      {grpc::StatusCode::PERMISSION_DENIED, 4},
  };
  const std::string msg = "endpoint.port: must be from 1 to 65535, got 0";
  for (const Case& c : cases) {
    service_.FailWith(grpc::Status(c.code, msg));
    Result r = Run({"--token", "t", "add", "127.0.0.1", "1"});
    EXPECT_EQ(r.code, c.exit_code) << c.code;
    EXPECT_EQ(r.err, absl::StrCat(kTokenInArgvWarning, "lbctl: ", msg, "\n")) << c.code;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(LbctlTest, ServerSideUnavailableAndDeadlineAreExit3) {
  service_.FailWith(grpc::Status(grpc::StatusCode::UNAVAILABLE, "controller is shutting down"));
  Result r = Run({"list"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err, absl::StrCat("lbctl: cannot reach controller at ", address_,
                                ": controller is shutting down\n"));
  service_.FailWith(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "late"));
  r = Run({"list"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err, absl::StrCat("lbctl: controller at ", address_, " did not answer within 5s\n"));
}

TEST_F(LbctlTest, SlowControllerHitsTimeout) {
  service_.SetDelay(absl::Seconds(1));
  Result r = Run({"--timeout", "200ms", "list"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err,
            absl::StrCat("lbctl: controller at ", address_, " did not answer within 200ms\n"));
}

TEST_F(LbctlTest, UnreachableControllerIsExit3NamingTheAddress) {
  std::string closed = ClosedAddress();
  Result r = Run({"--controller", closed, "list"}, /*with_controller=*/false);
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, StartsWith(absl::StrCat("lbctl: cannot reach controller at ", closed, ": ")));
}

TEST_F(LbctlTest, WatchOnUnreachableControllerIsExit3) {
  std::string closed = ClosedAddress();
  Result r = Run({"--controller", closed, "watch"}, /*with_controller=*/false);
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, StartsWith(absl::StrCat("lbctl: cannot reach controller at ", closed, ": ")));
}

TEST_F(LbctlTest, UnauthenticatedWithoutTokenAddsAHint) {
  service_.FailWith(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                 "this call needs an Authorization: Bearer token"));
  Result r = Run({"add", "127.0.0.1", "1"});
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(r.err,
            "lbctl: this call needs an Authorization: Bearer token\n"
            "lbctl: this needs a token: pass --token or --token-file, or set LBCTL_TOKEN\n");
}

TEST_F(LbctlTest, EmptyErrorMessageShowsTheCode) {
  service_.FailWith(grpc::Status(grpc::StatusCode::NOT_FOUND, ""));
  Result r = Run({"list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "lbctl: NOT_FOUND\n");
}

// ---- tokens, environment, globals ----

TEST_F(LbctlTest, NoTokenSendsNoAuthorization) {
  Run({"list"});
  EXPECT_EQ(service_.authorization(), "<none>");
}

TEST_F(LbctlTest, TokenFlagIsSentAsBearerMetadata) {
  Result r = Run({"--token", "s3cret", "add", "127.0.0.1", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(service_.authorization(), "Bearer s3cret");
  // Reads carry it too, and the flag may follow the command.
  Run({"list", "--token", "other"});
  EXPECT_EQ(service_.authorization(), "Bearer other");
}

TEST_F(LbctlTest, TokenFileIsReadAndTrimmed) {
  std::string path = absl::StrCat(::testing::TempDir(), "/token");
  {
    std::ofstream f(path);
    f << "  from-file\n";
  }
  Result r = Run({"--token-file", path, "add", "127.0.0.1", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(service_.authorization(), "Bearer from-file");

  r = Run({"--token-file", path + ".missing", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, absl::StrCat("lbctl: cannot read token file ", path,
                                ".missing: No such file or directory\n"
                                "Run 'lbctl list --help' for usage.\n"));
  r = Run({"--token", "a", "--token-file", path, "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, StartsWith("lbctl: --token excludes --token-file\n"));
  EXPECT_EQ(service_.calls().size(), 1u);
}

TEST_F(LbctlTest, TokenFromEnvironment) {
  env_vars_["LBCTL_TOKEN"] = "env-token";
  Result r = Run({"add", "127.0.0.1", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(service_.authorization(), "Bearer env-token");
  // The flag wins.
  Run({"--token", "flag-token", "add", "127.0.0.1", "1"});
  EXPECT_EQ(service_.authorization(), "Bearer flag-token");
}

TEST_F(LbctlTest, ControllerFromEnvironment) {
  env_vars_["LBCTL_CONTROLLER"] = address_;
  Result r = Run({"list"}, /*with_controller=*/false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(service_.calls(), std::vector<std::string>{"ListEndpoints"});
  // The flag wins over the environment.
  env_vars_["LBCTL_CONTROLLER"] = ClosedAddress();
  r = Run({"--controller", address_, "list"}, /*with_controller=*/false);
  EXPECT_EQ(r.code, 0) << r.err;
  r = Run({"list"}, /*with_controller=*/false);
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr(env_vars_["LBCTL_CONTROLLER"]));
}

TEST_F(LbctlTest, DefaultControllerAddress) {
  std::vector<std::string> seen;
  Env env;
  env.stub_factory = [&](const std::string& address) {
    seen.push_back(address);
    return DefaultStubFactory(address);
  };
  std::ostringstream out, err;
  RunLbctl({"--timeout", "100ms", "list"}, out, err, env);
  EXPECT_EQ(seen, std::vector<std::string>{"127.0.0.1:18000"});
}

TEST_F(LbctlTest, BadGlobalFlags) {
  Result r = Run({"-o", "yaml", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "lbctl: invalid --output \"yaml\": want table or json\n"
            "Run 'lbctl list --help' for usage.\n");
  r = Run({"--timeout", "5", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "lbctl: invalid --timeout \"5\": want a positive duration such as 500ms, 5s or 1m\n"
            "Run 'lbctl list --help' for usage.\n");
  r = Run({"--timeout", "-1s", "list"});
  EXPECT_EQ(r.code, 2);
  r = Run({"list", "--frob"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "lbctl: The following argument was not expected: --frob\n"
            "Run 'lbctl list --help' for usage.\n");
  EXPECT_TRUE(service_.calls().empty());
}

TEST_F(LbctlTest, UnknownAndMissingCommands) {
  Result r = Run({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "lbctl: unknown command \"frobnicate\"; want one of add, update, del, list, drain, "
            "undrain, cluster, route, cert, watch, proxies, history, version\nRun 'lbctl --help' "
            "for usage.\n");
  r = Run({"cluster"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "lbctl: missing command after \"lbctl cluster\"; want one of list, get, create, "
            "update, delete\nRun 'lbctl cluster --help' for usage.\n");
  r = Run({"route", "show"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "lbctl: unknown command \"show\"; want one of list, get, create, update, delete\n"
            "Run 'lbctl route --help' for usage.\n");
  // No arguments at all: the help, on stderr.
  r = Run({}, /*with_controller=*/false);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("Usage: lbctl"));
}

TEST_F(LbctlTest, HelpOnEveryCommand) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Usage: lbctl [OPTIONS] SUBCOMMAND"));
  EXPECT_THAT(r.out, HasSubstr("Exit codes:"));
  EXPECT_THAT(r.out, HasSubstr("4  unauthenticated or permission denied"));
  EXPECT_THAT(r.out, HasSubstr("LBCTL_CONTROLLER"));
  const std::vector<std::vector<std::string>> commands = {
      {"add"},
      {"update"},
      {"del"},
      {"list"},
      {"drain"},
      {"undrain"},
      {"watch"},
      {"cluster"},
      {"cluster", "list"},
      {"cluster", "get"},
      {"cluster", "create"},
      {"cluster", "update"},
      {"cluster", "delete"},
      {"route"},
      {"route", "list"},
      {"route", "get"},
      {"route", "create"},
      {"route", "update"},
      {"route", "delete"},
      {"proxies"},
      {"version"},
  };
  for (std::vector<std::string> args : commands) {
    std::string name = absl::StrJoin(args, " ");
    args.push_back("--help");
    r = Run(args);
    EXPECT_EQ(r.code, 0) << name;
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("Usage: lbctl ", name))) << name;
    EXPECT_THAT(r.out, HasSubstr("Examples:")) << name;
    EXPECT_EQ(r.err, "");
  }
  r = Run({"add", "-h"});
  EXPECT_THAT(r.out, HasSubstr("IP:PORT, [IPv6]:PORT"));
  EXPECT_TRUE(service_.calls().empty());
}

TEST_F(LbctlTest, Version) {
  Result r = Run({"version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "lbctl 0.1.0 (API lb.v1)\n");
  r = Run({"version", "-o", "json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "{\n \"version\": \"0.1.0\",\n \"api\": \"lb.v1\"\n}\n");
  EXPECT_TRUE(service_.calls().empty());
}

// Every command prints JSON with -o json: one JSON value on stdout, nothing on stderr.
TEST_F(LbctlTest, EveryCommandHonoursJsonOutput) {
  service_.SetResponse("ListRoutes", TwoRoutes());
  service_.SetChanges(SomeChanges(), /*end_stream=*/true);
  const std::vector<std::vector<std::string>> commands = {
      {"add", "127.0.0.1", "1"},
      {"update", "127.0.0.1", "1", "--weight", "2"},
      {"del", "127.0.0.1", "1"},
      {"list"},
      {"drain", "127.0.0.1", "1"},
      {"undrain", "127.0.0.1", "1"},
      {"cluster", "list"},
      {"cluster", "get", "web"},
      {"cluster", "create", "web"},
      {"cluster", "update", "web", "--retries", "1"},
      {"cluster", "delete", "web"},
      {"route", "list"},
      {"route", "get", "api"},
      {"route", "create", "x", "--cluster", "web"},
      {"route", "update", "api", "--prefix", "/x"},
      {"route", "delete", "api"},
      {"proxies"},
      {"version"},
  };
  for (std::vector<std::string> args : commands) {
    std::string name = absl::StrJoin(args, " ");
    args.push_back("-o");
    args.push_back("json");
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.err, "") << name;
    EXPECT_THAT(r.out, StartsWith("{")) << name;
    EXPECT_TRUE(absl::EndsWith(r.out, "}\n")) << name << ": " << r.out;
  }
  Result r = Run({"watch", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"revision\":") && absl::EndsWith(line, "}")) << line;
  }
}

}  // namespace
}  // namespace lb::cli
