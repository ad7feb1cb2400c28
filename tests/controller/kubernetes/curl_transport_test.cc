// CurlTransport against the stand-in API server over HTTPS (tests/k8s/fake_apiserver.py): the
// server is verified with the kubeconfig's CA (a wrong CA fails the handshake), a token file is
// re-read when it is rotated, watches stream events line by line, status is merge-patched.
#include "controller/kubernetes/curl_transport.h"

#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/k8s/fake_apiserver_process.h"
#include "tests/test_common/subprocess.h"
#include "tests/test_common/test_certs.h"

namespace lb::kubernetes {
namespace {

using ::lb::testing::FakeApiServerProcess;

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::trunc);
  out << data;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The fake accepts its own token and whatever this file holds at each request.
    WriteFile(accepted_, "rotated-token-1");
    fake_.emplace(std::vector<std::string>{"--token_file=" + accepted_});
    absl::Status s = fake_->Start();
    ASSERT_TRUE(s.ok()) << s;
    config_.server = fake_->url();
    config_.ca_pem = ReadFile(fake_->ca_path());
    ASSERT_FALSE(config_.ca_pem.empty());
  }

  const std::string dir_ = ::lb::testing::MakeTempDir();
  const std::string accepted_ = dir_ + "/accepted-token";
  std::optional<FakeApiServerProcess> fake_;
  ClusterConfig config_;
};

TEST_F(CurlTransportTest, VerifiesTheServerWithTheConfiguredCa) {
  config_.token = fake_->token();
  CurlTransport good(config_, {});
  absl::StatusOr<HttpResponse> r = good.Get("/api/v1/services");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body).value("kind", ""), "ServiceList");

  ClusterConfig wrong = config_;
  wrong.ca_pem = ::lb::testing::CreateCaOrDie("some other CA").cert_pem();
  CurlTransport bad(wrong, {});
  r = bad.Get("/api/v1/services");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  // The token never appears in errors.
  EXPECT_FALSE(absl::StrContains(r.status().ToString(), fake_->token()));
}

TEST_F(CurlTransportTest, ReReadsARotatedTokenFile) {
  const std::string token_file = dir_ + "/token";
  WriteFile(token_file, "rotated-token-1\n");
  config_.token_file = token_file;
  CurlTransport transport(config_, {});
  absl::StatusOr<HttpResponse> r = transport.Get("/api/v1/services");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->body;

  // The server moves to a new token: the old one is refused...
  WriteFile(accepted_, "rotated-token-2");
  r = transport.Get("/api/v1/services");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 401) << r->body;

  // ...until the kubelet writes the new one (a different size and content) into the file.
  WriteFile(token_file, "rotated-token-2-longer");
  WriteFile(accepted_, "rotated-token-2-longer");
  r = transport.Get("/api/v1/services");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(CurlTransportTest, WatchStreamsEventsAndPatchWritesStatus) {
  config_.token = fake_->token();
  CurlTransport transport(config_, {});
  absl::StatusOr<HttpResponse> list = transport.Get("/apis/networking.k8s.io/v1/ingresses");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->status, 200) << list->body;
  const std::string rv = nlohmann::json::parse(list->body)["metadata"].value("resourceVersion", "");

  absl::Status applied =
      fake_->Apply(nlohmann::json{{"apiVersion", "networking.k8s.io/v1"},
                                  {"kind", "Ingress"},
                                  {"metadata", {{"namespace", "default"}, {"name", "web"}}},
                                  {"spec", {{"ingressClassName", "lb"}}}});
  ASSERT_TRUE(applied.ok()) << applied;

  std::vector<nlohmann::json> events;
  std::atomic<bool> cancel{false};
  absl::StatusOr<HttpResponse> w = transport.Watch(
      "/apis/networking.k8s.io/v1/ingresses?watch=1&timeoutSeconds=10&resourceVersion=" + rv,
      [&](absl::string_view line) {
        events.push_back(nlohmann::json::parse(std::string(line), nullptr, false));
        return false;  // The first event is enough.
      },
      cancel);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->status, 200);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].value("type", ""), "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"].value("name", ""), "web");

  absl::StatusOr<HttpResponse> p =
      transport.MergePatch("/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status",
                           R"({"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.7"}]}}})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->status, 200) << p->body;
  absl::StatusOr<nlohmann::json> got =
      fake_->Get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/web");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["status"]["loadBalancer"]["ingress"][0].value("ip", ""), "192.0.2.7");
}

}  // namespace
}  // namespace lb::kubernetes
