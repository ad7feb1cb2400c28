#include "controller/kubernetes/curl_transport.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/process/flag_file.h"

namespace lb::kubernetes {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

curl_blob Blob(const std::string& s) {
  curl_blob b;
  b.data = const_cast<char*>(s.data());
  b.len = s.size();
  b.flags = CURL_BLOB_COPY;
  return b;
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

TokenSource::TokenSource(ClusterConfig config)
    : static_token_(std::move(config.token)), file_(std::move(config.token_file)) {}

std::string TokenSource::Token() {
  if (file_.empty()) return static_token_;
  absl::MutexLock lock(&mu_);
  struct stat st {};
  if (stat(file_.c_str(), &st) != 0) return token_;
  if (st.st_ino == ino_ && st.st_size == size_ && st.st_mtim.tv_sec == mtime_.tv_sec &&
      st.st_mtim.tv_nsec == mtime_.tv_nsec) {
    return token_;
  }
  absl::StatusOr<std::string> token = process::ReadFlagFile("kubernetes", file_, 1 << 20);
  if (!token.ok()) return token_;
  std::string t = std::move(*token);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  token_ = std::move(t);
  ino_ = st.st_ino;
  size_ = st.st_size;
  mtime_ = st.st_mtim;
  return token_;
}

// One exchange's state, shared with libcurl's callbacks.
struct CurlTransport::Call {
  std::string path;
  const char* method = "GET";
  const std::string* body = nullptr;  // Request body (PATCH).
  absl::Duration timeout;
  size_t max_body = 0;
  const LineCallback* on_line = nullptr;  // Set for a watch.
  const std::atomic<bool>* cancel = nullptr;
  CURL* easy = nullptr;
  // Results.
  HttpResponse response;
  std::string partial;   // A watch's incomplete line.
  bool stopped = false;  // on_line returned false.
  bool too_large = false;

  static size_t Write(char* data, size_t size, size_t n, void* user) {
    Call* call = static_cast<Call*>(user);
    const size_t len = size * n;
    long code = 0;  // NOLINT(runtime/int): libcurl's type.
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
    if (call->on_line == nullptr || code != 200) {
      if (call->response.body.size() + len > call->max_body) {
        call->too_large = true;
        return 0;
      }
      call->response.body.append(data, len);
      return len;
    }
    absl::string_view chunk(data, len);
    while (!chunk.empty()) {
      const size_t nl = chunk.find('\n');
      const size_t take = nl == absl::string_view::npos ? chunk.size() : nl;
      if (call->partial.size() + take > call->max_body) {
        call->too_large = true;
        return 0;
      }
      call->partial.append(chunk.data(), take);
      if (nl == absl::string_view::npos) break;
      chunk.remove_prefix(nl + 1);
      if (!call->partial.empty() && !(*call->on_line)(call->partial)) {
        call->stopped = true;
        return 0;
      }
      call->partial.clear();
    }
    return len;
  }

  static int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const Call* call = static_cast<const Call*>(user);
    return call->cancel != nullptr && call->cancel->load() ? 1 : 0;
  }
};

CurlTransport::CurlTransport(ClusterConfig config, CurlTransportOptions options)
    : config_(std::move(config)), options_(options), token_(config_) {
  GlobalInit();
}

absl::StatusOr<HttpResponse> CurlTransport::Perform(Call& call) {
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (easy == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  CURL* c = easy.get();
  call.easy = c;
  char error[CURL_ERROR_SIZE] = {0};
  const std::string url = config_.server + call.path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(call.timeout)));
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method);
  if (call.body != nullptr) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body->size()));
  }
  curl_blob ca = Blob(config_.ca_pem), cert = Blob(config_.client_cert_pem),
            key = Blob(config_.client_key_pem);
  if (!config_.ca_pem.empty()) curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!config_.client_cert_pem.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_slist* raw = nullptr;
  raw = curl_slist_append(raw, "Accept: application/json");
  if (call.body != nullptr)
    raw = curl_slist_append(raw, "Content-Type: application/merge-patch+json");
  if (const std::string token = token_.Token(); !token.empty()) {
    raw = curl_slist_append(raw, absl::StrCat("Authorization: Bearer ", token).c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Call::Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &call);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &Call::Progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &call);
  const CURLcode rc = curl_easy_perform(c);
  long code = 0;  // NOLINT(runtime/int): libcurl's type.
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  call.response.status = static_cast<int>(code);
  if (call.stopped) return std::move(call.response);
  if (call.too_large) {
    return absl::ResourceExhaustedError(absl::StrCat(
        call.on_line != nullptr && code == 200 ? "a watch event of " : "the answer to ",
        call.method, " ", call.path, " is over ", call.max_body, " bytes"));
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) return absl::CancelledError("watch cancelled");
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    // A watch that ran to its time limit ended normally.
    if (call.on_line != nullptr && code == 200) return std::move(call.response);
    return absl::DeadlineExceededError(absl::StrCat(call.method, " ", config_.server, call.path,
                                                    ": ", error[0] ? error : "timed out"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(call.method, " ", config_.server, call.path, ": ",
                                               error[0] ? error : curl_easy_strerror(rc)));
  }
  return std::move(call.response);
}

absl::StatusOr<HttpResponse> CurlTransport::Get(const std::string& path) {
  Call call;
  call.path = path;
  call.timeout = options_.request_timeout;
  call.max_body = options_.max_response_bytes;
  return Perform(call);
}

absl::StatusOr<HttpResponse> CurlTransport::Watch(const std::string& path,
                                                  const LineCallback& on_line,
                                                  const std::atomic<bool>& cancel) {
  Call call;
  call.path = path;
  call.timeout = options_.watch_timeout;
  call.max_body = options_.max_event_bytes;
  call.on_line = &on_line;
  call.cancel = &cancel;
  return Perform(call);
}

absl::StatusOr<HttpResponse> CurlTransport::MergePatch(const std::string& path,
                                                       const std::string& body) {
  Call call;
  call.path = path;
  call.method = "PATCH";
  call.body = &body;
  call.timeout = options_.request_timeout;
  call.max_body = options_.max_response_bytes;
  return Perform(call);
}

}  // namespace lb::kubernetes
