// The controller binary with TLS on its listeners (--tls_cert, --tls_key, --client_ca), with
// certificates made at run time (tests/test_common/test_certs): lbctl, curl and the proxy's
// ADS stream are refused without a client certificate and served with one; plaintext is
// refused on the TLS ports; certificates go in through lbctl and REST and their private keys
// never come back out, nor into the log.
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_common/controller_process.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/proxy_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/test_certs.h"
#include "tests/test_common/wait.h"

namespace lb {
namespace {

using testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunCommand;

constexpr char kToken[] = "tls-test-token";

// The lines of the body of a PEM block (base64), none of which may appear where the key must not.
std::vector<std::string> PemBodyLines(const std::string& pem) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(pem, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "-----")) out.emplace_back(line);
  }
  return out;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create("controller CA");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<testing::TestCa>(std::move(*ca));
    absl::StatusOr<std::string> ca_path = ca_->WriteCaFile(dir_, "controller");
    ASSERT_TRUE(ca_path.ok());
    ca_path_ = *ca_path;

    testing::CertOptions server;
    server.common_name = "controller";
    server.dns_names = {"localhost"};
    server.ip_addresses = {"127.0.0.1"};
    server_ = Issue(server, "server");
    testing::CertOptions client;
    client.common_name = "operator";
    client.server = false;
    client.client = true;
    client_ = Issue(client, "client");
    // A client certificate from a CA the controller does not trust.
    absl::StatusOr<testing::TestCa> other = testing::TestCa::Create("someone else");
    ASSERT_TRUE(other.ok());
    absl::StatusOr<testing::TestCert> rogue = other->Issue(client);
    ASSERT_TRUE(rogue.ok());
    rogue_ = *rogue;
    ASSERT_TRUE(testing::WriteFiles(dir_, "rogue", &rogue_).ok());
    // What lbctl cert add and REST upload: a certificate for www.example.test.
    testing::CertOptions site;
    site.common_name = "www.example.test";
    site.dns_names = {"www.example.test", "example.test"};
    site_ = Issue(site, "site");

    token_path_ = dir_ + "/token";
    std::ofstream(token_path_) << kToken << "\n";
    ASSERT_EQ(chmod(token_path_.c_str(), 0600), 0);
  }

  testing::TestCert Issue(const testing::CertOptions& options, const std::string& name) {
    absl::StatusOr<testing::TestCert> cert = ca_->Issue(options);
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return {};
    EXPECT_TRUE(testing::WriteFiles(dir_, name, &*cert).ok());
    return *cert;
  }

  // Starts the controller with TLS (and mTLS when `mtls`).
  void StartController(bool mtls = true) {
    std::vector<std::string> argv = {
        testing::ControllerProcess::BinaryPath(),
        "--grpc_listen=127.0.0.1:0",
        "--rest_listen=127.0.0.1:0",
        absl::StrCat("--data_dir=", dir_, "/data"),
        absl::StrCat("--ready_file=", dir_, "/ready.json"),
        absl::StrCat("--auth_token_file=", token_path_),
        absl::StrCat("--tls_cert=", server_.cert_path),
        absl::StrCat("--tls_key=", server_.key_path),
        "--log_level=trace",
    };
    if (mtls) argv.push_back(absl::StrCat("--client_ca=", ca_path_));
    log_path_ = dir_ + "/controller.log";
    absl::StatusOr<testing::Subprocess> p = testing::Subprocess::Start(argv, log_path_);
    ASSERT_TRUE(p.ok()) << p.status();
    controller_.emplace(std::move(*p));
    absl::StatusOr<nlohmann::json> ready = testing::WaitForReadyFile(
        *controller_, dir_ + "/ready.json", absl::Seconds(30), "controller", log_path_);
    ASSERT_TRUE(ready.ok()) << ready.status();
    grpc_port_ = (*ready)["grpc_port"].get<int>();
    rest_port_ = (*ready)["rest_port"].get<int>();
  }

  CommandResult Lbctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
    // A generous --timeout: a loaded CI machine must not turn an answer into exit 3.
    std::vector<std::string> argv = {testing::RunfilePath("lb/cli/lbctl"), "--timeout", "60s",
                                     "--controller", absl::StrCat("127.0.0.1:", grpc_port_)};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(30), env);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }

  // curl against the REST port; `flags` before the URL.
  CommandResult Curl(std::vector<std::string> flags, const std::string& url) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "60"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(url);
    absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(30));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }
  std::string RestUrl(const std::string& path) const {
    return absl::StrCat("https://127.0.0.1:", rest_port_, path);
  }
  std::vector<std::string> ClientCurlFlags() const {
    return {"--cacert", ca_path_, "--cert", client_.cert_path, "--key", client_.key_path};
  }

  std::string dir_;
  std::unique_ptr<testing::TestCa> ca_;
  std::string ca_path_;
  testing::TestCert server_, client_, rogue_, site_;
  std::string token_path_;
  std::optional<testing::Subprocess> controller_;
  std::string log_path_;
  int grpc_port_ = 0;
  int rest_port_ = 0;
};

TEST_F(TlsTest, LbctlNeedsAClientCertificateForGrpc) {
  StartController();
  // Plaintext to the TLS port, TLS without a client certificate, one from another CA: the
  // handshake fails, which lbctl reports as unreachable (exit 3).
  CommandResult r = Lbctl({"cert", "list"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = Lbctl({"--ca", ca_path_, "cert", "list"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot reach controller"));
  r = Lbctl({"--ca", ca_path_, "--cert", rogue_.cert_path, "--key", rogue_.key_path, "list"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  // --cert without --key is a usage error.
  r = Lbctl({"--ca", ca_path_, "--cert", client_.cert_path, "list"});
  EXPECT_EQ(r.exit_code, 2) << r.err;

  // With one: reads work, writes still need the token.
  r = Lbctl({"--ca", ca_path_, "--cert", client_.cert_path, "--key", client_.key_path, "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> tls_env = {absl::StrCat("LBCTL_CA=", ca_path_),
                                      absl::StrCat("LBCTL_CERT=", client_.cert_path),
                                      absl::StrCat("LBCTL_KEY=", client_.key_path)};
  r = Lbctl({"cert", "add", "site", "--cert", site_.cert_path, "--key", site_.key_path}, tls_env);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  r = Lbctl({"--token-file", token_path_, "cert", "add", "site", "--cert", site_.cert_path, "--key",
             site_.key_path, "--default"},
            tls_env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("added certificate site for www.example.test,example.test "
                               "(default)"));
  tls_env.push_back(absl::StrCat("LBCTL_TOKEN=", kToken));
  r = Lbctl({"cert", "add", "site", "--cert", site_.cert_path, "--key", site_.key_path}, tls_env);
  EXPECT_EQ(r.exit_code, 1) << r.err;  // ALREADY_EXISTS
  r = Lbctl({"cert", "add", "bad", "--cert", site_.cert_path, "--key", client_.key_path}, tls_env);
  EXPECT_EQ(r.exit_code, 2) << r.err;  // INVALID_ARGUMENT: the key does not match.
  EXPECT_THAT(r.err, HasSubstr("certificate.private_key: does not match the certificate"));
  r = Lbctl({"cert", "add", "x", "--cert", dir_ + "/missing.crt", "--key", site_.key_path},
            tls_env);
  EXPECT_EQ(r.exit_code, 2) << r.err;

  r = Lbctl({"cert", "list"}, tls_env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("site"));
  r = Lbctl({"cert", "get", "site", "-o", "json"}, tls_env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json got = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_EQ(got["name"], "site");
  EXPECT_EQ(got["default"], true);
  EXPECT_EQ(got["private_key"], "");
  EXPECT_THAT(got["info"]["subject"].get<std::string>(), HasSubstr("CN=www.example.test"));
  r = Lbctl({"cert", "get", "site"}, tls_env);
  EXPECT_THAT(r.out, HasSubstr("sha256:"));
  for (const std::string& line : PemBodyLines(site_.key_pem)) {
    EXPECT_THAT(r.out, Not(HasSubstr(line)));
  }
  r = Lbctl({"cert", "delete", "nope"}, tls_env);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = Lbctl({"cert", "delete", "site"}, tls_env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(TlsTest, RestNeedsAClientCertificateAndNeverEchoesOrLogsTheKey) {
  StartController();
  // Plaintext HTTP to the TLS port: no HTTP answer.
  CommandResult r = Curl({}, absl::StrCat("http://127.0.0.1:", rest_port_, "/healthz"));
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("HTTP")));
  // TLS without a client certificate, or with one from another CA: the handshake fails.
  r = Curl({"--cacert", ca_path_}, RestUrl("/healthz"));
  EXPECT_NE(r.exit_code, 0) << r.out;
  r = Curl({"--cacert", ca_path_, "--cert", rogue_.cert_path, "--key", rogue_.key_path},
           RestUrl("/healthz"));
  EXPECT_NE(r.exit_code, 0) << r.out;
  // With one.
  r = Curl(ClientCurlFlags(), RestUrl("/healthz"));
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // POST a certificate: 401 without the token, 201 with it; the key is not in the answer.
  nlohmann::json body = {{"name", "site"},
                         {"cert_chain", site_.chain_pem},
                         {"private_key", site_.key_pem},
                         {"sni", {"www.example.test"}}};
  std::vector<std::string> post = ClientCurlFlags();
  for (const char* f : {"-X", "POST", "-i", "--data-binary"}) post.push_back(f);
  post.push_back(body.dump());
  r = Curl(post, RestUrl("/v1/secrets"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 401")) << r.out;
  post.insert(post.begin(), {"-H", absl::StrCat("Authorization: Bearer ", kToken)});
  r = Curl(post, RestUrl("/v1/secrets"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 201")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Location: /v1/secrets/site"));
  EXPECT_THAT(r.out, HasSubstr("ETag: \""));
  std::string answers = r.out;
  // Again: 409; PUT with a stale If-Match: 409 naming the version; GET one and the list.
  r = Curl(post, RestUrl("/v1/secrets"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 409")) << r.out;
  std::vector<std::string> put = ClientCurlFlags();
  for (const char* f : {"-X", "PUT", "-i", "-H", "If-Match: \"1\"", "--data-binary"}) {
    put.push_back(f);
  }
  put.push_back(body.dump());
  put.insert(put.begin(), {"-H", absl::StrCat("Authorization: Bearer ", kToken)});
  r = Curl(put, RestUrl("/v1/secrets/site"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 409")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("re-read and retry"));
  std::vector<std::string> get = ClientCurlFlags();
  get.push_back("-i");
  r = Curl(get, RestUrl("/v1/secrets/site"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 200")) << r.out;
  answers += r.out;
  r = Curl(get, RestUrl("/v1/secrets"));
  EXPECT_THAT(r.out, HasSubstr("\"site\"")) << r.out;
  answers += r.out;
  r = Curl(get, RestUrl("/v1/secrets/nope"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 404")) << r.out;
  body["private_key"] = client_.key_pem;  // Another key: 400, and not echoed either.
  post.back() = body.dump();
  body["name"] = "other";
  post.back() = body.dump();
  r = Curl(post, RestUrl("/v1/secrets"));
  EXPECT_THAT(r.out, HasSubstr("HTTP/1.1 400")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("does not match the certificate"));
  answers += r.out;

  const std::string log = testing::ReadFileOrEmpty(log_path_);
  ASSERT_FALSE(log.empty());
  for (const std::string& line : PemBodyLines(site_.key_pem)) {
    EXPECT_THAT(answers, Not(HasSubstr(line)));
    EXPECT_THAT(log, Not(HasSubstr(line)));
  }
  for (const std::string& line : PemBodyLines(client_.key_pem)) {
    EXPECT_THAT(answers, Not(HasSubstr(line)));
    EXPECT_THAT(log, Not(HasSubstr(line)));
  }
}

// The audit trail names a caller that presented a verified client certificate by its subject,
// on REST and on gRPC alike (docs/audit.md).
TEST_F(TlsTest, AuditRecordsTheClientCertificateSubject) {
  StartController();
  std::vector<std::string> post = ClientCurlFlags();
  for (const char* f : {"-X", "POST", "-H"}) post.push_back(f);
  post.push_back(absl::StrCat("Authorization: Bearer ", kToken));
  post.push_back("--data-binary");
  post.push_back(R"({"action":"add","ip":"127.0.0.1","port":8081})");
  CommandResult r = Curl(post, RestUrl("/config"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Lbctl({"--ca", ca_path_, "--cert", client_.cert_path, "--key", client_.key_path,
             "--token-file", token_path_, "cert", "add", "site", "--cert", site_.cert_path, "--key",
             site_.key_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = Curl(ClientCurlFlags(), RestUrl("/v1/events"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json events = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(events.contains("events")) << r.out;
  std::vector<std::string> seen;
  for (const auto& e : events["events"]) {
    if (e.value("api", "") == "internal") continue;  // The controller's own writes.
    seen.push_back(
        absl::StrCat(e.value("api", ""), " ", e.value("kind", ""), " ", e.value("name", "")));
    EXPECT_THAT(e.value("caller", ""), HasSubstr("CN=operator")) << e.dump();
    EXPECT_THAT(e.dump(), Not(HasSubstr(kToken)));
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("rest_config endpoint backend/127.0.0.1:8081",
                                           "grpc certificate site"))
      << r.out;
}

TEST_F(TlsTest, ProxyAdsNeedsAClientCertificate) {
  StartController();
  const std::string target = absl::StrCat("127.0.0.1:", grpc_port_);
  // Without a client certificate: the stream never comes up; the proxy says why.
  testing::ProxyProcess refused("edge-refused", {absl::StrCat("--controller_ca=", ca_path_)});
  ASSERT_TRUE(refused.Start(target).ok()) << refused.LogTail();
  std::string last_error;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        absl::StatusOr<testing::HttpResponse> dump =
            testing::HttpGet(refused.admin_port(), "/config_dump");
        if (!dump.ok() || dump->status != 200) return false;
        nlohmann::json j = nlohmann::json::parse(dump->body, nullptr, false);
        if (!j.is_object() || !j.contains("source")) return false;
        last_error = j["source"].value("last_error", "");
        return !last_error.empty();
      },
      absl::Seconds(30)))
      << refused.LogTail();
  absl::StatusOr<testing::HttpResponse> ready = testing::HttpGet(refused.admin_port(), "/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_NE(ready->status, 200);
  // With one: configured.
  testing::ProxyProcess proxy("edge-mtls", {absl::StrCat("--controller_ca=", ca_path_),
                                            absl::StrCat("--controller_cert=", client_.cert_path),
                                            absl::StrCat("--controller_key=", client_.key_path)});
  ASSERT_TRUE(proxy.Start(target).ok()) << proxy.LogTail();
  EXPECT_TRUE(proxy.WaitReady().ok()) << proxy.LogTail();
  // A missing file is refused at start with the flag's name.
  testing::ProxyProcess bad("edge-bad", {absl::StrCat("--controller_cert=", client_.cert_path)});
  EXPECT_FALSE(bad.Start(target, absl::Seconds(10)).ok());
  EXPECT_THAT(bad.LogTail(), HasSubstr("--controller_cert and --controller_key go together"));
}

TEST_F(TlsTest, ServerOnlyTlsAndBadTlsFlags) {
  StartController(/*mtls=*/false);
  // TLS without client certificates: --ca alone is enough.
  CommandResult r = Lbctl({"--ca", ca_path_, "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Curl({"--cacert", ca_path_}, RestUrl("/healthz"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A CA that did not issue the controller's certificate.
  r = Lbctl({"--ca", rogue_.cert_path, "list"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  controller_->Kill();

  for (const std::vector<std::string>& flags :
       std::vector<std::vector<std::string>>{{absl::StrCat("--tls_cert=", server_.cert_path)},
                                             {absl::StrCat("--client_ca=", ca_path_)},
                                             {absl::StrCat("--tls_cert=", server_.cert_path),
                                              absl::StrCat("--tls_key=", client_.key_path)},
                                             {absl::StrCat("--tls_cert=", dir_, "/missing.crt"),
                                              absl::StrCat("--tls_key=", server_.key_path)}}) {
    std::vector<std::string> argv = {testing::ControllerProcess::BinaryPath(),
                                     "--grpc_listen=127.0.0.1:0", "--rest_listen=127.0.0.1:0",
                                     absl::StrCat("--data_dir=", dir_, "/data2")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<CommandResult> bad = RunCommand(argv, absl::Seconds(30));
    ASSERT_TRUE(bad.ok());
    EXPECT_EQ(bad->exit_code, 1) << bad->err;
    EXPECT_THAT(bad->err, HasSubstr("--")) << bad->err;
  }
}

}  // namespace
}  // namespace lb
