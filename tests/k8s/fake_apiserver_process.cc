#include "tests/k8s/fake_apiserver_process.h"

#include <cstdio>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/test_common/http_client.h"
#include "tests/test_common/test_certs.h"

namespace lb::testing {

FakeApiServerProcess::FakeApiServerProcess(std::vector<std::string> extra_flags)
    : extra_flags_(std::move(extra_flags)), dir_(MakeTempDir()) {}

FakeApiServerProcess::~FakeApiServerProcess() { Kill(); }

absl::Status FakeApiServerProcess::Start(absl::Duration timeout) {
  if (dir_.empty()) return absl::InternalError("MakeTempDir failed");
  if (process_.has_value()) return absl::FailedPreconditionError("fake already running");
  absl::StatusOr<TestCa> ca = TestCa::Create("k8s test CA");
  if (!ca.ok()) return ca.status();
  CertOptions options;
  options.common_name = "kube-apiserver";
  options.dns_names = {"localhost"};
  options.ip_addresses = {"127.0.0.1", "::1"};
  absl::StatusOr<TestCert> cert = ca->Issue(options);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> ca_path = ca->WriteCaFile(dir_, "k8s");
  if (!ca_path.ok()) return ca_path.status();
  ca_path_ = *ca_path;
  if (absl::Status s = WriteFiles(dir_, "apiserver", &*cert); !s.ok()) return s;

  const std::string ready = dir_ + "/ready.json";
  const std::string log = dir_ + "/fake_apiserver.log";
  std::remove(ready.c_str());
  std::vector<std::string> argv = {
      "/usr/bin/python3",        RunfilePath("lb/tests/k8s/fake_apiserver.py"),
      "--ready_file=" + ready,   "--cert=" + cert->cert_path,
      "--key=" + cert->key_path, "--token=" + token_,
      "--plain_port=0"};
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  absl::StatusOr<Subprocess> sp = Subprocess::Start(argv, log);
  if (!sp.ok()) return sp.status();
  process_.emplace(std::move(*sp));
  absl::StatusOr<nlohmann::json> j =
      WaitForReadyFile(*process_, ready, timeout, "fake apiserver", log);
  if (!j.ok()) {
    Kill();
    return j.status();
  }
  port_ = j->value("port", 0);
  plain_port_ = j->value("plain_port", 0);
  return absl::OkStatus();
}

void FakeApiServerProcess::Kill() {
  if (!process_.has_value()) return;
  process_->Kill();
  process_.reset();
}

std::string FakeApiServerProcess::url() const { return absl::StrCat("https://127.0.0.1:", port_); }

std::string FakeApiServerProcess::LogTail(size_t max_bytes) const {
  return FileTail(dir_ + "/fake_apiserver.log", max_bytes);
}

absl::StatusOr<std::string> FakeApiServerProcess::Kubeconfig() const {
  nlohmann::json config = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"current-context", "fake"},
      {"clusters",
       {{{"name", "fake"}, {"cluster", {{"server", url()}, {"certificate-authority", ca_path_}}}}}},
      {"users", {{{"name", "fake"}, {"user", {{"token", token_}}}}}},
      {"contexts", {{{"name", "fake"}, {"context", {{"cluster", "fake"}, {"user", "fake"}}}}}}};
  const std::string path = dir_ + "/kubeconfig";
  std::ofstream out(path);
  out << config.dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError("cannot write " + path);
  return path;
}

absl::StatusOr<nlohmann::json> FakeApiServerProcess::Call(const std::string& method,
                                                          const std::string& path,
                                                          const nlohmann::json& body,
                                                          int want_status,
                                                          const std::string& content_type) {
  HttpRequest request;
  request.method = method;
  request.target = path;
  request.headers = {{"Authorization", "Bearer " + token_}};
  if (!body.is_null()) {
    request.headers.push_back({"Content-Type", content_type});
    request.body = body.dump();
  }
  absl::StatusOr<HttpResponse> r = HttpCall(plain_port_, request, absl::Seconds(15));
  if (!r.ok()) return r.status();
  if (r->status != want_status) {
    const std::string what = absl::StrCat(method, " ", path, ": ", r->status, " ", r->body);
    return r->status == 404 ? absl::NotFoundError(what) : absl::InternalError(what);
  }
  nlohmann::json parsed = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(absl::StrCat(method, " ", path, ": not JSON: ", r->body));
  }
  return parsed;
}

absl::Status FakeApiServerProcess::Apply(const nlohmann::json& objects) {
  return Call("POST", "/__fake/objects", objects).status();
}

absl::Status FakeApiServerProcess::Delete(const std::string& resource, const std::string& ns,
                                          const std::string& name) {
  return Call("DELETE",
              absl::StrCat("/__fake/objects/", resource, "/", ns.empty() ? "_" : ns, "/", name))
      .status();
}

absl::Status FakeApiServerProcess::Batch(const nlohmann::json& ops) {
  return Call("POST", "/__fake/batch", {{"ops", ops}}).status();
}

absl::Status FakeApiServerProcess::Compact() {
  return Call("POST", "/__fake/compact", nlohmann::json::object()).status();
}

absl::Status FakeApiServerProcess::CutWatches() {
  return Call("POST", "/__fake/cut_watches", nlohmann::json::object()).status();
}

absl::Status FakeApiServerProcess::Inject410(int count) {
  return Call("POST", absl::StrCat("/__fake/inject_410?count=", count), nlohmann::json::object())
      .status();
}

absl::StatusOr<nlohmann::json> FakeApiServerProcess::State() {
  return Call("GET", "/__fake/state");
}

absl::StatusOr<nlohmann::json> FakeApiServerProcess::Get(const std::string& api_path) {
  return Call("GET", api_path);
}

nlohmann::json K8sService(const std::string& ns, const std::string& name, int port,
                          const std::string& port_name) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"type", "ClusterIP"},
            {"selector", {{"app", name}}},
            {"ports",
             {{{"name", port_name},
               {"port", port},
               {"protocol", "TCP"},
               {"targetPort", port_name}}}}}}};
}

nlohmann::json K8sEndpointSlice(const std::string& ns, const std::string& name,
                                const std::string& service, int port,
                                const std::vector<SliceEndpoint>& endpoints,
                                const std::string& port_name) {
  nlohmann::json eps = nlohmann::json::array();
  for (const SliceEndpoint& e : endpoints) {
    nlohmann::json ep = {
        {"addresses", {e.ip}},
        {"conditions",
         {{"ready", e.ready}, {"serving", e.serving}, {"terminating", e.terminating}}}};
    if (!e.zone.empty()) ep["zone"] = e.zone;
    eps.push_back(std::move(ep));
  }
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels",
             {{"kubernetes.io/service-name", service},
              {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}}}}},
          {"addressType", "IPv4"},
          {"endpoints", eps},
          {"ports", {{{"name", port_name}, {"port", port}, {"protocol", "TCP"}}}}};
}

}  // namespace lb::testing
