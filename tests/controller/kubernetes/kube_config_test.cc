// kubeconfig parsing and loading, and the in-cluster service account: good configs of each
// kind and a clear kInvalidArgument for every bad input.
#include "controller/kubernetes/kube_config.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace lb::kubernetes {
namespace {

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = absl::StrCat(TmpDir(), "/", name);
  FILE* f = std::fopen(path.c_str(), "w");
  EXPECT_NE(f, nullptr) << path;
  if (f != nullptr) {
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  return path;
}

constexpr char kTokenConfig[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: other
  cluster: {server: "https://other:1"}
- name: kind
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
contexts:
- name: dev
  context: {cluster: kind, user: admin, namespace: default}
users:
- name: admin
  user:
    token: s3cret
)";

TEST(KubeConfigTest, ParsesTheCurrentContext) {
  absl::StatusOr<KubeConfigFile> f = ParseKubeConfig(kTokenConfig);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->context, "dev");
  EXPECT_EQ(f->cluster, "kind");
  EXPECT_EQ(f->user, "admin");
  EXPECT_EQ(f->server, "https://127.0.0.1:6443");
  EXPECT_EQ(f->token, "s3cret");
  EXPECT_FALSE(f->insecure_skip_tls_verify);
}

TEST(KubeConfigTest, JsonIsYaml) {
  absl::StatusOr<KubeConfigFile> f = ParseKubeConfig(
      R"({"current-context":"c","contexts":[{"name":"c","context":{"cluster":"k"}}],)"
      R"("clusters":[{"name":"k","cluster":{"server":"https://h:443"}}]})");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->server, "https://h:443");
  EXPECT_EQ(f->user, "");
}

TEST(KubeConfigTest, LoadsFilesAndData) {
  const std::string ca = Write("ca.pem", "CA PEM\n");
  Write("client.pem", "CERT PEM\n");
  Write("token", "tok\n");
  const std::string path = Write("config", absl::StrCat(R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://h:6443", certificate-authority: ca.pem}}]
users: [{name: u, user: {client-certificate: client.pem, client-key-data: )",
                                                        absl::Base64Escape("KEY PEM"),
                                                        R"(, tokenFile: token}}]
)"));
  absl::StatusOr<ClusterConfig> c = LoadKubeConfig(path, false);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://h:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM\n");
  EXPECT_EQ(c->client_cert_pem, "CERT PEM\n");
  EXPECT_EQ(c->client_key_pem, "KEY PEM");
  EXPECT_EQ(c->token_file, absl::StrCat(TmpDir(), "/token"));
  EXPECT_EQ(c->token, "");
  (void)ca;
}

TEST(KubeConfigTest, InsecureOnlyWhenAllowed) {
  const std::string path = Write("insecure", R"(current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://h:6443", insecure-skip-tls-verify: true}}]
)");
  absl::StatusOr<ClusterConfig> refused = LoadKubeConfig(path, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("insecure-skip-tls-verify; refused"),
            absl::string_view::npos)
      << refused.status();
  absl::StatusOr<ClusterConfig> allowed = LoadKubeConfig(path, true);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_TRUE(allowed->insecure_skip_tls_verify);
}

struct Bad {
  const char* yaml;
  const char* message;
};

TEST(KubeConfigTest, BadInputsHaveClearErrors) {
  const std::string head =
      "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n";
  const std::string cluster = "clusters: [{name: k, cluster: {server: \"https://h:1\"}}]\n";
  const Bad cases[] = {
      {"current-context: [", "kubeconfig is not valid YAML"},
      {"- a\n- b\n", "kubeconfig is not a mapping"},
      {"kind: Config\n", "kubeconfig has no current-context"},
      {"current-context: x\ncontexts: []\n", "no context named \"x\" in contexts"},
      {"current-context: x\n", "kubeconfig has no contexts list"},
      {"current-context: c\ncontexts: [{name: c, context: {user: u}}]\n",
       "context \"c\" names no cluster"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {}}]\n",
       "cluster \"k\" has no server"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: \"ftp://h\"}}]\n",
       "is not an https:// URL"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: [1]}}]\n",
       "cluster \"k\".server must be a string"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: \"https://h\", insecure-skip-tls-verify: maybe}}]\n",
       "must be true or false"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
       "clusters: [{name: k, cluster: {server: \"https://h\"}}]\n",
       "kubeconfig has no users list"},
      {"current-context: &a c\ncontexts: *a\n", "YAML alias"},
      {"current-context: c\ncontexts: [{name: c}]\n", "context \"c\" has no context mapping"},
      {"current-context: c\ncontexts: [1]\n", "an entry of contexts is not a mapping"},
      {"? [a]\n: b\n", "mapping key that is not a string"},
  };
  for (const Bad& b : cases) {
    absl::StatusOr<KubeConfigFile> f = ParseKubeConfig(b.yaml);
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << b.yaml;
    EXPECT_NE(f.status().message().find(b.message), absl::string_view::npos)
        << b.yaml << " -> " << f.status();
  }
  const Bad users[] = {
      {"users: [{name: u, user: {exec: {command: aws}}}]\n", "uses exec: not supported"},
      {"users: [{name: u, user: {auth-provider: {name: gcp}}}]\n", "uses auth-provider"},
      {"users: [{name: u, user: {username: a, password: b}}]\n", "uses username"},
      {"users: [{name: u, user: {token: a, tokenFile: b}}]\n", "has both token and tokenFile"},
      {"users: [{name: u, user: {client-certificate: a}}]\n", "certificate without its key"},
      {"users: [{name: u, user: {client-key-data: a}}]\n", "key without its certificate"},
  };
  for (const Bad& b : users) {
    const std::string yaml = head + cluster + b.yaml;
    absl::StatusOr<KubeConfigFile> f = ParseKubeConfig(yaml);
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_NE(f.status().message().find(b.message), absl::string_view::npos)
        << yaml << " -> " << f.status();
  }
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "[";
  EXPECT_NE(ParseKubeConfig(deep).status().message().find("nests deeper than 64"),
            absl::string_view::npos);
}

TEST(KubeConfigTest, LoadErrorsNameTheFile) {
  absl::StatusOr<ClusterConfig> missing = LoadKubeConfig(TmpDir() + "/nope", false);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string bad_data = Write("bad_data", R"(current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://h", certificate-authority-data: "!!"}}]
)");
  EXPECT_NE(LoadKubeConfig(bad_data, false)
                .status()
                .message()
                .find("certificate-authority-data is not base64"),
            absl::string_view::npos);
  const std::string both = Write("both", R"(current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://h", certificate-authority: a, certificate-authority-data: YQ==}}]
)");
  EXPECT_NE(LoadKubeConfig(both, false).status().message().find("both certificate-authority"),
            absl::string_view::npos);
  const std::string no_ca = Write("no_ca", R"(current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://h", certificate-authority: missing.pem}}]
)");
  absl::StatusOr<ClusterConfig> c = LoadKubeConfig(no_ca, false);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("missing.pem"), absl::string_view::npos) << c.status();
}

TEST(KubeConfigTest, InCluster) {
  EXPECT_EQ(InClusterConfig(TmpDir(), "", "443").status().code(),
            absl::StatusCode::kFailedPrecondition);
  const std::string dir = TmpDir() + "/sa";
  EXPECT_EQ(InClusterConfig(dir, "10.0.0.1", "443").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  Write("sa/ca.crt", "CA\n");
  Write("sa/token", "tok\n");
  absl::StatusOr<ClusterConfig> c = InClusterConfig(dir, "10.0.0.1", "443");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.0.0.1:443");
  EXPECT_EQ(c->ca_pem, "CA\n");
  EXPECT_EQ(c->token_file, dir + "/token");
  absl::StatusOr<ClusterConfig> v6 = InClusterConfig(dir, "fd00::1", "6443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:6443");
}

}  // namespace
}  // namespace lb::kubernetes
