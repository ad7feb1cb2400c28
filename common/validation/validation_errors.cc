#include "common/validation/validation_errors.h"

#include "absl/strings/str_cat.h"

namespace lb {

ValidationErrors::ScopedField::ScopedField(ValidationErrors* errors, absl::string_view field)
    : errors_(errors), restore_(errors->path_.size()) {
  errors_->Extend(field);
}

ValidationErrors::ScopedField::~ScopedField() { errors_->path_.resize(restore_); }

void ValidationErrors::Extend(absl::string_view field) {
  if (path_.empty() && !field.empty() && field.front() == '.') field.remove_prefix(1);
  path_.append(field.data(), field.size());
}

void ValidationErrors::AddError(absl::string_view message) {
  errors_.emplace_back(path_, std::string(message));
}

void ValidationErrors::AddFieldError(absl::string_view field, absl::string_view message) {
  ScopedField scope(this, field);
  AddError(message);
}

bool ValidationErrors::FieldHasErrors() const {
  for (const auto& [path, message] : errors_) {
    if (path == path_) return true;
  }
  return false;
}

std::string ValidationErrors::message() const {
  std::string out;
  for (const auto& [path, message] : errors_) {
    if (!out.empty()) out += "; ";
    if (path.empty()) {
      out += message;
    } else {
      absl::StrAppend(&out, path, ": ", message);
    }
  }
  return out;
}

absl::Status ValidationErrors::status() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(message());
}

}  // namespace lb
