// A scripted Transport for the sync's tests: queued list answers and watch streams per
// collection path, a record of every request. No network. Thread-safe.
#ifndef LB_TESTS_CONTROLLER_KUBERNETES_FAKE_TRANSPORT_H_
#define LB_TESTS_CONTROLLER_KUBERNETES_FAKE_TRANSPORT_H_

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "controller/kubernetes/transport.h"

namespace lb::kubernetes::testing {

// One scripted watch: its HTTP status, the lines it streams, then it ends (or, with `block`,
// waits for cancellation).
struct FakeWatch {
  absl::Status error;  // Non-OK: the transport fails with it.
  int status = 200;
  std::vector<std::string> lines;
  std::string body;  // For a non-200 status.
  bool block = false;
  // If set, the stream waits (up to 20 s) for it before its lines.
  absl::Notification* gate = nullptr;
};

class FakeTransport : public Transport {
 public:
  // Queues the answer to the next GET of `collection` (the path before '?'). When none is
  // queued: 200 with an empty list at resourceVersion "1".
  void AddList(const std::string& collection, absl::StatusOr<HttpResponse> answer) {
    absl::MutexLock lock(&mu_);
    lists_[collection].push_back(std::move(answer));
  }
  // Queues the next watch of `collection`. When none is queued, a watch blocks until cancelled.
  void AddWatch(const std::string& collection, FakeWatch watch) {
    absl::MutexLock lock(&mu_);
    watches_[collection].push_back(std::move(watch));
  }
  std::vector<std::string> Requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  std::vector<std::pair<std::string, std::string>> Patches() {
    absl::MutexLock lock(&mu_);
    return patches_;
  }
  void SetPatchStatus(int status) {
    absl::MutexLock lock(&mu_);
    patch_status_ = status;
  }

  absl::StatusOr<HttpResponse> Get(const std::string& path) override {
    absl::MutexLock lock(&mu_);
    requests_.push_back("GET " + path);
    auto& q = lists_[Collection(path)];
    if (q.empty()) {
      return HttpResponse{200, R"({"kind":"List","metadata":{"resourceVersion":"1"},"items":[]})"};
    }
    absl::StatusOr<HttpResponse> r = std::move(q.front());
    q.pop_front();
    return r;
  }

  absl::StatusOr<HttpResponse> Watch(const std::string& path, const LineCallback& on_line,
                                     const std::atomic<bool>& cancel) override {
    FakeWatch w;
    w.block = true;
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back("WATCH " + path);
      auto& q = watches_[Collection(path)];
      if (!q.empty()) {
        w = std::move(q.front());
        q.pop_front();
      }
    }
    if (w.gate != nullptr) w.gate->WaitForNotificationWithTimeout(absl::Seconds(20));
    if (!w.error.ok()) return w.error;
    if (w.status != 200) return HttpResponse{w.status, w.body};
    for (const std::string& line : w.lines) {
      if (!on_line(line)) return HttpResponse{200, ""};
    }
    // Bounded: 60 s at most (the test's own timeout is shorter).
    for (int i = 0; w.block && i < 6000 && !cancel.load(); ++i)
      absl::SleepFor(absl::Milliseconds(10));
    if (cancel.load()) return absl::CancelledError("watch cancelled");
    return HttpResponse{200, ""};
  }

  absl::StatusOr<HttpResponse> MergePatch(const std::string& path,
                                          const std::string& body) override {
    absl::MutexLock lock(&mu_);
    patches_.emplace_back(path, body);
    return HttpResponse{patch_status_, "{}"};
  }

 private:
  static std::string Collection(const std::string& path) { return path.substr(0, path.find('?')); }

  absl::Mutex mu_;
  std::map<std::string, std::deque<absl::StatusOr<HttpResponse>>> lists_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<FakeWatch>> watches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> patches_ ABSL_GUARDED_BY(mu_);
  int patch_status_ ABSL_GUARDED_BY(mu_) = 200;
};

}  // namespace lb::kubernetes::testing

#endif  // LB_TESTS_CONTROLLER_KUBERNETES_FAKE_TRANSPORT_H_
