#include "controller/kubernetes/reflector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lb::kubernetes {
namespace {

// Percent-encodes a query parameter value (continue tokens are base64 and may hold + / =).
std::string QueryEscape(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string StringAt(const nlohmann::json& j, const char* a, const char* b) {
  if (!j.is_object()) return "";
  auto i = j.find(a);
  if (i == j.end() || !i->is_object()) return "";
  auto k = i->find(b);
  return k != i->end() && k->is_string() ? k->get<std::string>() : "";
}

// "NAMESPACE/NAME" of an object; "" when it has no name.
std::string KeyOf(const nlohmann::json& object) {
  const std::string name = StringAt(object, "metadata", "name");
  if (name.empty()) return "";
  return absl::StrCat(StringAt(object, "metadata", "namespace"), "/", name);
}

// managedFields can be larger than the object and nothing reads them.
void Trim(nlohmann::json& object) {
  auto m = object.find("metadata");
  if (m != object.end() && m->is_object()) m->erase("managedFields");
}

// The message of a Status body, or the start of the body.
std::string StatusMessage(const HttpResponse& r) {
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    return j["message"].get<std::string>();
  }
  return r.body.substr(0, 200);
}

}  // namespace

std::vector<ResourceKind> SyncedKinds() {
  return {
      {"services", "/api/v1/services", false},
      {"endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", false},
      {"ingresses", "/apis/networking.k8s.io/v1/ingresses", false},
      {"secrets", "/api/v1/secrets", false},
      {"gateways", "/apis/gateway.networking.k8s.io/v1/gateways", true},
      {"httproutes", "/apis/gateway.networking.k8s.io/v1/httproutes", true},
  };
}

absl::Status ObjectStore::Replace(const std::string& kind, Objects objects) {
  {
    absl::MutexLock lock(&mu_);
    Objects& old = kinds_[kind];
    const size_t total = total_ - old.size() + objects.size();
    if (total > max_objects_) {
      return absl::ResourceExhaustedError(
          absl::StrCat(kind, ": ", objects.size(), " objects would make ", total,
                       ", over --kubernetes_max_objects=", max_objects_));
    }
    total_ = total;
    old = std::move(objects);
    present_[kind] = true;
    ++generation_;
  }
  Changed();
  return absl::OkStatus();
}

absl::Status ObjectStore::Upsert(const std::string& kind, const std::string& key,
                                 nlohmann::json object) {
  {
    absl::MutexLock lock(&mu_);
    Objects& objects = kinds_[kind];
    auto it = objects.find(key);
    if (it == objects.end()) {
      if (total_ + 1 > max_objects_) {
        return absl::ResourceExhaustedError(
            absl::StrCat(kind, " ", key, ": over --kubernetes_max_objects=", max_objects_));
      }
      ++total_;
      objects.emplace(key, std::move(object));
    } else {
      it->second = std::move(object);
    }
    ++generation_;
  }
  Changed();
  return absl::OkStatus();
}

void ObjectStore::Delete(const std::string& kind, const std::string& key) {
  {
    absl::MutexLock lock(&mu_);
    if (kinds_[kind].erase(key) == 0) return;
    --total_;
    ++generation_;
  }
  Changed();
}

void ObjectStore::MarkAbsent(const std::string& kind) {
  {
    absl::MutexLock lock(&mu_);
    Objects& old = kinds_[kind];
    auto p = present_.find(kind);
    if (old.empty() && p != present_.end() && !p->second) return;
    total_ -= old.size();
    old.clear();
    present_[kind] = false;
    ++generation_;
  }
  Changed();
}

ObjectStore::Objects ObjectStore::Get(const std::string& kind) const {
  absl::MutexLock lock(&mu_);
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? Objects() : it->second;
}

bool ObjectStore::Present(const std::string& kind) const {
  absl::MutexLock lock(&mu_);
  auto it = present_.find(kind);
  return it != present_.end() && it->second;
}

size_t ObjectStore::Count(const std::string& kind) const {
  absl::MutexLock lock(&mu_);
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? 0 : it->second.size();
}

size_t ObjectStore::Total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

uint64_t ObjectStore::Generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

void ObjectStore::Changed() {
  if (on_change_) on_change_();
}

absl::Duration Backoff(int attempt, absl::Duration initial, absl::Duration max,
                       std::mt19937_64& rng) {
  absl::Duration d = initial;
  for (int i = 0; i < attempt && d < max; ++i) d *= 2;
  d = std::min(d, max);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return d * jitter(rng);
}

Reflector::Reflector(ResourceKind kind, Transport* transport, ObjectStore* store,
                     ReflectorOptions options)
    : kind_(std::move(kind)),
      transport_(transport),
      store_(store),
      options_(options),
      rng_(options.seed != 0 ? options.seed : std::random_device()()) {}

Reflector::~Reflector() { Stop(); }

void Reflector::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Reflector::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_.store(true);
  }
  if (thread_.joinable()) thread_.join();
}

std::string Reflector::LastError() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

bool Reflector::Sleep(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  options_.clock->AwaitWithTimeout(
      &mu_,
      absl::Condition(
          +[](std::atomic<bool>* stop) { return stop->load(); }, &stop_),
      d);
  return !stop_.load();
}

Reflector::Outcome Reflector::Fail(std::string error) {
  stats_.errors.fetch_add(1);
  spdlog::warn("kubernetes: {}: {}", kind_.resource, error);
  absl::MutexLock lock(&mu_);
  last_error_ = std::move(error);
  return Outcome::kError;
}

Reflector::Outcome Reflector::List() {
  ObjectStore::Objects objects;
  std::string cont, rv;
  // Bounded: every page holds up to page_limit objects and the store caps the total.
  for (int page = 0; page < 1000000 && !stop_.load(); ++page) {
    std::string path = absl::StrCat(kind_.path, "?limit=", options_.page_limit);
    if (!cont.empty()) absl::StrAppend(&path, "&continue=", QueryEscape(cont));
    absl::StatusOr<HttpResponse> r = transport_->Get(path);
    if (!r.ok()) return Fail(absl::StrCat("list: ", r.status().message()));
    if (r->status == 404 && kind_.optional) return Outcome::kAbsent;
    if (r->status == 410 && !cont.empty()) {
      // The continue token expired: list again from the start.
      objects.clear();
      cont.clear();
      continue;
    }
    if (r->status != 200) {
      return Fail(absl::StrCat("list: HTTP ", r->status, ": ", StatusMessage(*r)));
    }
    nlohmann::json body = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body.contains("items") ||
        !(body["items"].is_array() || body["items"].is_null())) {
      return Fail("list: the answer is not a list");
    }
    if (body["items"].is_array()) {
      for (nlohmann::json& item : body["items"]) {
        const std::string key = KeyOf(item);
        if (key.empty()) continue;
        Trim(item);
        objects[key] = std::move(item);
      }
    }
    rv = StringAt(body, "metadata", "resourceVersion");
    cont = StringAt(body, "metadata", "continue");
    if (cont.empty()) break;
  }
  if (stop_.load()) return Outcome::kError;
  if (absl::Status s = store_->Replace(kind_.resource, std::move(objects)); !s.ok()) {
    stats_.over_cap.fetch_add(1);
    return Fail(std::string(s.message()));
  }
  resource_version_ = rv;
  return Outcome::kOk;
}

Reflector::Outcome Reflector::WatchOnce() {
  const std::string path = absl::StrCat(
      kind_.path,
      "?watch=1&allowWatchBookmarks=true&resourceVersion=", QueryEscape(resource_version_),
      "&timeoutSeconds=", options_.watch_timeout_seconds);
  Outcome outcome = Outcome::kOk;
  std::string error;
  uint64_t lines = 0;
  absl::StatusOr<HttpResponse> r = transport_->Watch(
      path,
      [&](absl::string_view line) {
        if (stop_.load()) return false;
        ++lines;
        nlohmann::json event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!event.is_object() || !event.contains("type") || !event["type"].is_string() ||
            !event.contains("object") || !event["object"].is_object()) {
          outcome = Outcome::kError;
          error = "watch: an event is not a watch event";
          return false;
        }
        const std::string type = event["type"].get<std::string>();
        nlohmann::json& object = event["object"];
        if (type == "ERROR") {
          const int code = object.contains("code") && object["code"].is_number_integer()
                               ? object["code"].get<int>()
                               : 0;
          if (code == 410) {
            outcome = Outcome::kGone;
          } else {
            outcome = Outcome::kError;
            error = absl::StrCat("watch: error event ", code, ": ",
                                 StatusMessage(HttpResponse{code, object.dump()}));
          }
          return false;
        }
        const std::string rv = StringAt(object, "metadata", "resourceVersion");
        if (type == "BOOKMARK") {
          if (!rv.empty()) resource_version_ = rv;
          return true;
        }
        const std::string key = KeyOf(object);
        if (key.empty()) {
          outcome = Outcome::kError;
          error = "watch: an event's object has no name";
          return false;
        }
        if (type == "ADDED" || type == "MODIFIED") {
          Trim(object);
          if (absl::Status s = store_->Upsert(kind_.resource, key, std::move(object)); !s.ok()) {
            stats_.over_cap.fetch_add(1);
            spdlog::warn("kubernetes: {}: {}", kind_.resource, std::string(s.message()));
          }
        } else if (type == "DELETED") {
          store_->Delete(kind_.resource, key);
        } else {
          outcome = Outcome::kError;
          error = absl::StrCat("watch: unknown event type \"", type, "\"");
          return false;
        }
        stats_.events.fetch_add(1);
        if (!rv.empty()) resource_version_ = rv;
        return true;
      },
      stop_);
  if (!r.ok()) {
    if (stop_.load()) return Outcome::kOk;
    return Fail(absl::StrCat("watch: ", r.status().message()));
  }
  if (r->status == 410) return Outcome::kGone;
  if (r->status == 404 && kind_.optional) return Outcome::kAbsent;
  if (r->status != 200) {
    return Fail(absl::StrCat("watch: HTTP ", r->status, ": ", StatusMessage(*r)));
  }
  if (outcome == Outcome::kError) return Fail(std::move(error));
  if (outcome == Outcome::kOk && lines == 0) {
    return Fail("watch: ended without an event");  // Back off rather than spin.
  }
  return outcome;
}

void Reflector::Run() {
  int attempt = 0;
  bool need_list = true;
  while (!stop_.load()) {
    if (need_list) {
      const Outcome o = List();
      if (stop_.load()) break;
      if (o == Outcome::kAbsent) {
        store_->MarkAbsent(kind_.resource);
        synced_.store(true);
        attempt = 0;
        spdlog::info("kubernetes: {}: not served (404): absent; checking again in {}",
                     kind_.resource, absl::FormatDuration(options_.absent_recheck));
        Sleep(options_.absent_recheck);
        continue;
      }
      if (o != Outcome::kOk) {
        Sleep(Backoff(attempt++, options_.backoff_initial, options_.backoff_max, rng_));
        continue;
      }
      stats_.lists.fetch_add(1);
      synced_.store(true);
      {
        absl::MutexLock lock(&mu_);
        last_error_.clear();
      }
      attempt = 0;
      need_list = false;
    } else {
      stats_.watch_restarts.fetch_add(1);
    }
    const Outcome o = WatchOnce();
    if (stop_.load()) break;
    switch (o) {
      case Outcome::kOk:
        attempt = 0;
        break;
      case Outcome::kGone:
        stats_.relists_gone.fetch_add(1);
        need_list = true;
        break;
      case Outcome::kAbsent:
        need_list = true;
        break;
      case Outcome::kError:
        Sleep(Backoff(attempt++, options_.backoff_initial, options_.backoff_max, rng_));
        break;
    }
  }
}

}  // namespace lb::kubernetes
