// A RestHandler over a real in-memory SqliteStore (optionally behind FakeStore), with helpers to
// send requests without a network.
#ifndef LB_TESTS_CONTROLLER_REST_REST_FIXTURE_H_
#define LB_TESTS_CONTROLLER_REST_REST_FIXTURE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http/http_types.h"
#include "common/metrics/metrics.h"
#include "common/time/simulated_clock.h"
#include "controller/api/auth.h"
#include "controller/registry/registry.h"
#include "controller/rest/rest_handler.h"
#include "controller/store/sqlite_store.h"
#include "gtest/gtest.h"
#include "tests/test_common/fake_store.h"

namespace lb::rest {

using Headers = std::vector<std::pair<std::string, std::string>>;

class RestFixture : public ::testing::Test {
 protected:
  void SetUp() override { Init(api::TokenAuth()); }

  // (Re)builds everything with `auth`, bootstrapped like a first start of the controller.
  void Init(api::TokenAuth auth) {
    handler_.reset();
    registry_.reset();
    fake_.reset();
    store_.reset();
    auth_ = std::move(auth);
    metrics_ = std::make_unique<metrics::Registry>();
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s = store::SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    fake_ = std::make_unique<testing::FakeStore>(store_.get());
    registry_ = std::make_unique<registry::Registry>(fake_.get());
    ASSERT_TRUE(registry_->Bootstrap().ok());
    handler_ = std::make_unique<RestHandler>(registry_.get(), &auth_, metrics_.get(), &clock_);
  }

  http::HttpResponse Send(const std::string& method, const std::string& target,
                          const std::string& body = "", const Headers& headers = {}) {
    http::HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = headers;
    return handler_->Handle(req);
  }
  http::HttpResponse Get(const std::string& target, const Headers& headers = {}) {
    return Send("GET", target, "", headers);
  }
  http::HttpResponse Post(const std::string& target, const std::string& body,
                          const Headers& headers = {}) {
    return Send("POST", target, body, headers);
  }

  // Value of the first response header `name`, or "<none>".
  static std::string HeaderOf(const http::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "<none>";
  }

  // Everything observable through the registry plus the store revision.
  std::string State() {
    std::string out;
    absl::StatusOr<int64_t> rev = store_->CurrentRevision();
    out += "revision " + (rev.ok() ? std::to_string(*rev) : rev.status().ToString()) + "\n";
    absl::StatusOr<std::vector<lb::v1::Cluster>> cs = registry_->ListClusters();
    if (cs.ok()) {
      for (const auto& c : *cs) out += c.ShortDebugString() + "\n";
    } else {
      out += cs.status().ToString() + "\n";
    }
    absl::StatusOr<lb::v1::RouteTable> t = registry_->GetRouteTable();
    out += t.ok() ? t->ShortDebugString() : t.status().ToString();
    return out;
  }

  api::TokenAuth auth_;
  std::unique_ptr<metrics::Registry> metrics_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<testing::FakeStore> fake_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<RestHandler> handler_;
  SimulatedClock clock_;  // Request latencies are measured on it.
};

}  // namespace lb::rest

#endif  // LB_TESTS_CONTROLLER_REST_REST_FIXTURE_H_
