// A real gRPC C++ server for end-to-end tests: test.echo.v1.Echo (proto/test/echo/v1) on
// 127.0.0.1:0 with grpc++'s default health service, answering with its own name.
//
//   Whoami      the server's name;
//   Echo        the request's message and the server's name; echoes every client metadata key
//               starting with "x-echo-" back as initial metadata, and sets trailing metadata
//               "x-backend" = name; a request with status_code != 0 fails with that code and
//               status_message instead (after the metadata);
//   EchoStream  `count` messages (at most kMaxStreamCount) numbered from 0, the same metadata,
//               then status_code/status_message;
//   delay_ms    both wait that long first (at most 10 s), or until the call is cancelled.
//
// Threading: the server's own threads call the service; counts are atomic.
#ifndef LB_TESTS_TEST_COMMON_GRPC_ECHO_SERVER_H_
#define LB_TESTS_TEST_COMMON_GRPC_ECHO_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "test/echo/v1/echo.grpc.pb.h"

namespace lb::testing {

class GrpcEchoServer {
 public:
  static constexpr int kMaxStreamCount = 10000;
  static constexpr char kServiceName[] = "test.echo.v1.Echo";

  // Starts at once; `name` is what its answers say. Its health status for kServiceName and ""
  // is SERVING.
  explicit GrpcEchoServer(std::string name);
  ~GrpcEchoServer();  // Shuts down (cancels calls in flight).
  GrpcEchoServer(const GrpcEchoServer&) = delete;
  GrpcEchoServer& operator=(const GrpcEchoServer&) = delete;

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:N"
  const std::string& name() const { return service_.name; }
  // Calls of Echo and EchoStream that reached this server.
  int calls() const { return service_.calls.load(); }
  // Echo/EchoStream calls that ended because the client's deadline passed or it cancelled.
  int cancelled() const { return service_.cancelled.load(); }
  void SetServing(bool serving);

 private:
  class Service final : public test::echo::v1::Echo::Service {
   public:
    explicit Service(std::string n) : name(std::move(n)) {}
    grpc::Status Whoami(grpc::ServerContext* context, const test::echo::v1::WhoamiRequest* request,
                        test::echo::v1::WhoamiResponse* response) override;
    grpc::Status Echo(grpc::ServerContext* context, const test::echo::v1::EchoRequest* request,
                      test::echo::v1::EchoResponse* response) override;
    grpc::Status EchoStream(grpc::ServerContext* context,
                            const test::echo::v1::EchoRequest* request,
                            grpc::ServerWriter<test::echo::v1::EchoResponse>* writer) override;

    // Metadata, the delay; false if the call was cancelled meanwhile.
    bool Begin(grpc::ServerContext* context, const test::echo::v1::EchoRequest& request);

    const std::string name;
    std::atomic<int> calls{0};
    std::atomic<int> cancelled{0};
  };

  Service service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace lb::testing

#endif  // LB_TESTS_TEST_COMMON_GRPC_ECHO_SERVER_H_
