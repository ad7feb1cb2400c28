// A collector of validation errors, modelled on gRPC's ValidationErrors
// (src/core/util/validation_errors.h): code that validates a message pushes the name of the
// field it is in (ScopedField) and records problems there; nothing stops at the first problem,
// and the result is one kInvalidArgument listing every problem with its field path, e.g.
//   "cluster.endpoints[0].port: must be from 1 to 65535, got 0; cluster.name: is required"
// That text is what REST clients, lbctl users and NACKs (error_detail) see.
//
// Unlike gRPC's, problems keep the order in which they were found (not sorted by field) and
// each is "path: message" (just the message at the empty path); several at one field are listed
// one by one.
//
// Not thread-safe; one validation at a time. Cheap to create: make one per validated message.
#ifndef LB_COMMON_VALIDATION_VALIDATION_ERRORS_H_
#define LB_COMMON_VALIDATION_VALIDATION_ERRORS_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace lb {

class ValidationErrors {
 public:
  // Extends the current field path by `field` for its lifetime (scopes nest like the message).
  // `field` is appended as written: ".port", "[3]", ".labels[k]"; a leading '.' is dropped
  // while the path is empty, so one validator serves at the top level and nested.
  class ScopedField {
   public:
    ScopedField(ValidationErrors* errors, absl::string_view field);
    ~ScopedField();
    ScopedField(const ScopedField&) = delete;
    ScopedField& operator=(const ScopedField&) = delete;

   private:
    ValidationErrors* const errors_;
    const size_t restore_;  // Length of the path before this field.
  };

  // Records `message` at the current path.
  void AddError(absl::string_view message);
  // Records `message` at the current path extended by `field` (as ScopedField extends it).
  void AddFieldError(absl::string_view field, absl::string_view message);

  // True if a problem was recorded at exactly the current path.
  bool FieldHasErrors() const;
  bool ok() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  // The current field path, e.g. "cluster.endpoints[2]".
  const std::string& path() const { return path_; }

  // Every problem as "path: message", in the order recorded, joined by "; "; "" if none.
  std::string message() const;
  // OkStatus, or kInvalidArgument with message().
  absl::Status status() const;

 private:
  void Extend(absl::string_view field);

  std::string path_;
  std::vector<std::pair<std::string, std::string>> errors_;  // (path, message)
};

}  // namespace lb

#endif  // LB_COMMON_VALIDATION_VALIDATION_ERRORS_H_
