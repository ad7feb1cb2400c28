#include "tests/e2e/proxy/fake_ads.h"

#include <set>
#include <thread>

#include "absl/time/time.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace lb::testing {

namespace discovery = envoy::service::discovery::v3;

class FakeAds::Service final : public discovery::AggregatedDiscoveryService::Service {
 public:
  explicit Service(FakeAds& owner) : owner_(owner) {}

  grpc::Status StreamAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<discovery::DiscoveryResponse, discovery::DiscoveryRequest>* stream)
      override {
    struct Sub {
      std::vector<std::string> names;
      uint64_t sent = 0;  // Version sent (0: nothing yet).
    };
    absl::Mutex mu;
    std::map<std::string, Sub> subs;  // Guarded by mu.
    bool done = false;
    std::thread reader([&] {
      discovery::DiscoveryRequest request;
      while (stream->Read(&request)) {
        absl::MutexLock lock(&mu);
        if (request.has_error_detail()) {
          absl::MutexLock owner_lock(&owner_.mu_);
          owner_.nacks_.push_back(request.error_detail().message());
        }
        Sub& sub = subs[request.type_url()];
        std::vector<std::string> names(request.resource_names().begin(),
                                       request.resource_names().end());
        if (names != sub.names) {
          sub.names = std::move(names);
          sub.sent = 0;  // Answer the new subscription.
        }
      }
      absl::MutexLock lock(&mu);
      done = true;
    });
    uint64_t nonce = 0;
    while (!context->IsCancelled()) {
      std::vector<discovery::DiscoveryResponse> out;
      {
        absl::MutexLock lock(&mu);
        if (done) break;
        absl::MutexLock owner_lock(&owner_.mu_);
        if (owner_.stopping_) break;
        for (auto& [type, sub] : subs) {
          auto it = owner_.types_.find(type);
          if (it == owner_.types_.end() || it->second.version == sub.sent) continue;
          sub.sent = it->second.version;
          discovery::DiscoveryResponse r;
          r.set_type_url(type);
          r.set_version_info(std::to_string(it->second.version));
          r.set_nonce(std::to_string(++nonce));
          std::set<std::string> wanted(sub.names.begin(), sub.names.end());
          for (const auto& [name, any] : it->second.resources) {
            if (wanted.empty() || wanted.count(name)) *r.add_resources() = any;
          }
          out.push_back(std::move(r));
        }
      }
      for (const auto& r : out) stream->Write(r);
      absl::SleepFor(absl::Milliseconds(20));
    }
    context->TryCancel();
    reader.join();
    return grpc::Status::OK;
  }

 private:
  FakeAds& owner_;
};

FakeAds::FakeAds() : service_(std::make_unique<Service>(*this)) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
}

FakeAds::~FakeAds() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

void FakeAds::Set(
    const std::string& type_url,
    const std::vector<std::pair<std::string, const google::protobuf::Message*>>& resources) {
  absl::MutexLock lock(&mu_);
  TypeState& state = types_[type_url];
  state.resources.clear();
  for (const auto& [name, message] : resources) state.resources[name].PackFrom(*message);
  ++state.version;
}

std::vector<std::string> FakeAds::Nacks() const {
  absl::MutexLock lock(&mu_);
  return nacks_;
}

}  // namespace lb::testing
