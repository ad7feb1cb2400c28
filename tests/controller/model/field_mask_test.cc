#include "controller/model/field_mask.h"

#include <string>

#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lb/v1/lb.pb.h"
#include "tests/test_common/text_proto.h"

namespace lb::model {
namespace {

using ::lb::testing::ParseTextProto;

using ::google::protobuf::FieldMask;
using ::google::protobuf::util::MessageDifferencer;

FieldMask Mask(std::initializer_list<const char*> paths) {
  FieldMask mask;
  for (const char* p : paths) mask.add_paths(p);
  return mask;
}

void ExpectEq(const google::protobuf::Message& actual, const std::string& text) {
  std::unique_ptr<google::protobuf::Message> want(actual.New());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, want.get()));
  EXPECT_TRUE(MessageDifferencer::Equals(actual, *want)) << actual.DebugString();
}

const char kCurrent[] = R"pb(
  name: "web"
  lb_policy: RING_HASH
  hash_policy {
    cookie: "sid"
    cookie_options { path: "/app" }
  }
  health_check {
    path: "/healthz"
    interval { seconds: 5 }
    healthy_threshold: 2
  }
  retries { value: 3 }
  endpoints { address: "10.0.0.1" port: 80 }
)pb";

TEST(ApplyFieldMaskTest, CopiesOnlyTheNamedFields) {
  auto target = ParseTextProto<lb::v1::Cluster>(kCurrent);
  auto patch = ParseTextProto<lb::v1::Cluster>(R"pb(
    lb_policy: MAGLEV
    health_check {
      interval { seconds: 2 }
      path: "/ignored"
    }
    retries { value: 9 }
  )pb");
  ASSERT_TRUE(ApplyFieldMask(Mask({"lb_policy", "health_check.interval"}), patch, &target).ok());
  ExpectEq(target, R"pb(
    name: "web"
    lb_policy: MAGLEV
    hash_policy {
      cookie: "sid"
      cookie_options { path: "/app" }
    }
    health_check {
      path: "/healthz"
      interval { seconds: 2 }
      healthy_threshold: 2
    }
    retries { value: 3 }
    endpoints { address: "10.0.0.1" port: 80 }
  )pb");
}

TEST(ApplyFieldMaskTest, NamedButUnsetClears) {
  auto target = ParseTextProto<lb::v1::Cluster>(kCurrent);
  ASSERT_TRUE(ApplyFieldMask(Mask({"hash_policy", "retries", "health_check.healthy_threshold"}),
                             lb::v1::Cluster(), &target)
                  .ok());
  EXPECT_FALSE(target.has_hash_policy());
  EXPECT_FALSE(target.has_retries());
  EXPECT_FALSE(target.health_check().has_healthy_threshold());
  EXPECT_EQ(target.health_check().path(), "/healthz");
}

TEST(ApplyFieldMaskTest, OneofMemberReplacesTheOneofAndKeepsSiblings) {
  auto target = ParseTextProto<lb::v1::Cluster>(kCurrent);
  auto patch = ParseTextProto<lb::v1::Cluster>(R"pb(hash_policy { header: "x-user" })pb");
  ASSERT_TRUE(ApplyFieldMask(Mask({"hash_policy.header"}), patch, &target).ok());
  ExpectEq(target.hash_policy(), R"pb(header: "x-user"
                                      cookie_options { path: "/app" })pb");
}

TEST(ApplyFieldMaskTest, MapsAndRepeatedFieldsAreReplacedWhole) {
  auto target = ParseTextProto<lb::v1::Endpoint>(R"pb(
    address: "10.0.0.1"
    port: 80
    weight: 3
    labels { key: "a" value: "1" }
    labels { key: "b" value: "2" }
  )pb");
  auto patch = ParseTextProto<lb::v1::Endpoint>(R"pb(labels { key: "c" value: "3" }
                                                     weight: 7)pb");
  ASSERT_TRUE(ApplyFieldMask(Mask({"labels"}), patch, &target).ok());
  ExpectEq(target, R"pb(address: "10.0.0.1"
                        port: 80
                        weight: 3
                        labels { key: "c" value: "3" })pb");
  // The same path twice is the same as once.
  ASSERT_TRUE(ApplyFieldMask(Mask({"weight", "weight"}), patch, &target).ok());
  EXPECT_EQ(target.weight(), 7u);
  // Presence of an optional scalar moves too.
  ASSERT_TRUE(ApplyFieldMask(Mask({"weight"}), lb::v1::Endpoint(), &target).ok());
  EXPECT_FALSE(target.has_weight());
}

TEST(ApplyFieldMaskTest, BadPathsAreNamedAndChangeNothing) {
  auto target = ParseTextProto<lb::v1::Cluster>(kCurrent);
  const lb::v1::Cluster before = target;
  absl::Status s = ApplyFieldMask(Mask({"retries", "nope", "lb_policy.x", "health_check.y"}),
                                  lb::v1::Cluster(), &target);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "update_mask.paths[1]: \"nope\": no field \"nope\" in lb.v1.Cluster; "
            "update_mask.paths[2]: \"lb_policy.x\": \"lb_policy\" has no fields; "
            "update_mask.paths[3]: \"health_check.y\": no field \"y\" in lb.v1.HealthCheck");
  EXPECT_TRUE(MessageDifferencer::Equals(target, before));
}

}  // namespace
}  // namespace lb::model
