#include "proxy/xds/lrs_client.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace lb::proxy::xds {
namespace {

// At most this many unread answers are kept (the controller sends one per stream).
constexpr size_t kMaxQueuedAnswers = 16;

}  // namespace

LrsClient::LrsClient(LoadReporter::Node node, ViewSource view, Clock* clock)
    : view_(std::move(view)), clock_(clock), reporter_(std::move(node)) {}

LrsClient::~LrsClient() { Stop(); }

void LrsClient::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void LrsClient::Attach(std::unique_ptr<LrsStream> stream) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  pending_ = std::move(stream);
  if (current_ != nullptr) current_->Cancel();
}

void LrsClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (current_ != nullptr) current_->Cancel();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t LrsClient::reports_sent() const {
  absl::MutexLock lock(&mu_);
  return reports_sent_;
}

void LrsClient::Run() {
  while (true) {
    std::unique_ptr<LrsStream> stream;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || pending_ != nullptr;
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      stream = std::move(pending_);
      current_ = stream.get();
      answers_.clear();
      stream_ended_ = false;
    }
    stream->Write(reporter_.StartStream());
    std::thread reader([this, s = stream.get()] {
      envoy::service::load_stats::v3::LoadStatsResponse answer;
      while (s->Read(&answer)) {
        absl::MutexLock lock(&mu_);
        if (answers_.size() < kMaxQueuedAnswers) answers_.push_back(answer);
      }
      absl::MutexLock lock(&mu_);
      stream_ended_ = true;
    });
    absl::Time next = absl::InfiniteFuture();
    while (true) {
      std::deque<envoy::service::load_stats::v3::LoadStatsResponse> answers;
      {
        absl::MutexLock lock(&mu_);
        auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || stream_ended_ || pending_ != nullptr || !answers_.empty();
        };
        clock_->AwaitWithDeadline(&mu_, absl::Condition(&wake), next);
        if (stopping_ || stream_ended_ || pending_ != nullptr) break;
        answers.swap(answers_);
      }
      for (const auto& a : answers) {
        // Each answer (re)starts the clock with its interval.
        reporter_.OnResponse(a);
        if (reporter_.active()) next = clock_->Now() + reporter_.interval();
      }
      if (reporter_.active() && clock_->Now() >= next) {
        const absl::Time now = clock_->Now();
        if (!stream->Write(reporter_.Report(view_(), now))) break;
        next = now + reporter_.interval();
        absl::MutexLock lock(&mu_);
        ++reports_sent_;
      }
    }
    stream->Cancel();
    reader.join();
    absl::Status finished = stream->Finish();
    {
      absl::MutexLock lock(&mu_);
      current_ = nullptr;
    }
    if (!finished.ok() && finished.code() != absl::StatusCode::kCancelled) {
      spdlog::info("lrs: stream ended: {}", finished.ToString());
    }
  }
}

}  // namespace lb::proxy::xds
