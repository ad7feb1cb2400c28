// Tests of common/validation/validation_errors.cc.
#include "common/validation/validation_errors.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace lb {
namespace {

TEST(ValidationErrorsTest, EmptyIsOk) {
  ValidationErrors errors;
  EXPECT_TRUE(errors.ok());
  EXPECT_EQ(errors.size(), 0u);
  EXPECT_EQ(errors.message(), "");
  EXPECT_TRUE(errors.status().ok());
  EXPECT_EQ(errors.path(), "");
}

TEST(ValidationErrorsTest, JoinsEveryProblemWithItsPathInOrder) {
  ValidationErrors errors;
  errors.AddFieldError("a.b", "is bad");
  errors.AddError("no path here");
  errors.AddFieldError("c", "is worse");
  errors.AddFieldError("a.b", "is bad twice");
  EXPECT_FALSE(errors.ok());
  EXPECT_EQ(errors.size(), 4u);
  absl::Status s = errors.status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "a.b: is bad; no path here; c: is worse; a.b: is bad twice");
  EXPECT_EQ(errors.message(), s.message());
}

TEST(ValidationErrorsTest, ScopedFieldsNestAndPop) {
  ValidationErrors errors;
  {
    ValidationErrors::ScopedField cluster(&errors, "cluster");
    errors.AddFieldError(".name", "is required");
    {
      ValidationErrors::ScopedField endpoints(&errors, ".endpoints");
      ValidationErrors::ScopedField second(&errors, "[1]");
      EXPECT_EQ(errors.path(), "cluster.endpoints[1]");
      errors.AddFieldError(".port", "must be from 1 to 65535, got 0");
      errors.AddError("duplicate endpoint 10.0.0.1:80");
    }
    EXPECT_EQ(errors.path(), "cluster");
    errors.AddFieldError(".labels[k]", "value must be at most 256 printable characters");
  }
  EXPECT_EQ(errors.path(), "");
  errors.AddError("top");
  EXPECT_EQ(errors.message(),
            "cluster.name: is required; cluster.endpoints[1].port: must be from 1 to 65535, got "
            "0; cluster.endpoints[1]: duplicate endpoint 10.0.0.1:80; cluster.labels[k]: value "
            "must be at most 256 printable characters; top");
}

TEST(ValidationErrorsTest, LeadingDotIsDroppedOnlyAtTheTop) {
  ValidationErrors errors;
  {
    ValidationErrors::ScopedField name(&errors, ".name");
    EXPECT_EQ(errors.path(), "name");
  }
  {
    // An empty root (a validator called with path "") leaves the path empty: still the top.
    ValidationErrors::ScopedField root(&errors, "");
    ValidationErrors::ScopedField port(&errors, ".port");
    EXPECT_EQ(errors.path(), "port");
    ValidationErrors::ScopedField deeper(&errors, ".value");
    EXPECT_EQ(errors.path(), "port.value");
  }
  {
    ValidationErrors::ScopedField index(&errors, "[2]");
    EXPECT_EQ(errors.path(), "[2]");
  }
  EXPECT_EQ(errors.path(), "");
  EXPECT_TRUE(errors.ok());
}

TEST(ValidationErrorsTest, FieldHasErrorsLooksAtExactlyTheCurrentPath) {
  ValidationErrors errors;
  ValidationErrors::ScopedField hc(&errors, "health_check");
  EXPECT_FALSE(errors.FieldHasErrors());
  errors.AddFieldError(".timeout", "must not exceed the interval");
  EXPECT_FALSE(errors.FieldHasErrors());  // The problem is below, not here.
  {
    ValidationErrors::ScopedField timeout(&errors, ".timeout");
    EXPECT_TRUE(errors.FieldHasErrors());
  }
  {
    ValidationErrors::ScopedField interval(&errors, ".interval");
    EXPECT_FALSE(errors.FieldHasErrors());
  }
  errors.AddError("is wrong");
  EXPECT_TRUE(errors.FieldHasErrors());
}

TEST(ValidationErrorsTest, MessagesAreKeptVerbatim) {
  ValidationErrors errors;
  errors.AddFieldError("Cluster \"web\"", "lb_policy: unsupported value 6; connect_timeout: x");
  EXPECT_EQ(errors.message(),
            "Cluster \"web\": lb_policy: unsupported value 6; connect_timeout: x");
}

}  // namespace
}  // namespace lb
