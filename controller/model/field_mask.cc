#include "controller/model/field_mask.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/validation/validation_errors.h"

namespace lb::model {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// The fields along `path` from `type`, or a problem.
absl::Status Resolve(const Descriptor* type, const std::string& path,
                     std::vector<const FieldDescriptor*>* fields) {
  std::vector<std::string> names = absl::StrSplit(path, '.');
  for (size_t i = 0; i < names.size(); ++i) {
    const FieldDescriptor* f = type->FindFieldByName(names[i]);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("no field \"", names[i], "\" in ", type->full_name()));
    }
    fields->push_back(f);
    if (i + 1 == names.size()) break;
    if (f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(absl::StrCat("\"", names[i], "\" has no fields"));
    }
    type = f->message_type();
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyFieldMask(const google::protobuf::FieldMask& mask, const Message& patch,
                            Message* target) {
  ValidationErrors errors;
  std::vector<std::vector<const FieldDescriptor*>> resolved;
  for (int i = 0; i < mask.paths_size(); ++i) {
    std::vector<const FieldDescriptor*> fields;
    absl::Status s = Resolve(target->GetDescriptor(), mask.paths(i), &fields);
    if (!s.ok()) {
      errors.AddFieldError(absl::StrCat("update_mask.paths[", i, "]"),
                           absl::StrCat("\"", mask.paths(i), "\": ", s.message()));
    }
    resolved.push_back(std::move(fields));
  }
  if (!errors.ok()) return errors.status();
  for (const std::vector<const FieldDescriptor*>& fields : resolved) {
    const Message* from = &patch;
    Message* to = target;
    for (size_t i = 0; i + 1 < fields.size(); ++i) {
      from = &from->GetReflection()->GetMessage(*from, fields[i]);
      to = to->GetReflection()->MutableMessage(to, fields[i]);
    }
    // A copy to swap with: SwapFields moves every kind of field, presence included.
    std::unique_ptr<Message> copy(from->New());
    copy->CopyFrom(*from);
    to->GetReflection()->SwapFields(copy.get(), to, {fields.back()});
  }
  return absl::OkStatus();
}

}  // namespace lb::model
