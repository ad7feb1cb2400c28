#include "controller/rest/json_body.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/time/duration_text.h"
#include "common/validation/validation_errors.h"
#include "controller/model/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace lb::rest {
namespace {

namespace pbjson = google::protobuf::util;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// The field a JSON key names: its proto name or its lowerCamelCase JSON name.
const FieldDescriptor* FieldOf(const Descriptor* d, const std::string& key) {
  if (const FieldDescriptor* f = d->FindFieldByName(key); f != nullptr) return f;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == key) return d->field(i);
  }
  return nullptr;
}

bool IsWellKnown(const Descriptor* d) {
  return absl::StartsWith(d->full_name(), "google.protobuf.");
}

bool IsDuration(const FieldDescriptor* f) {
  return f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         f->message_type()->full_name() == "google.protobuf.Duration";
}

// Rewrites every duration string under `j` (a JSON object for `d`) to protobuf's form. Anything
// else that does not fit is left to the protobuf parser to report.
void NormalizeDurations(nlohmann::json* j, const Descriptor* d, ValidationErrors* errors,
                        bool* changed) {
  if (!j->is_object()) return;
  for (auto& [key, value] : j->items()) {
    const FieldDescriptor* f = FieldOf(d, key);
    if (f == nullptr || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    ValidationErrors::ScopedField field(errors, absl::StrCat(".", f->name()));
    if (f->is_map()) {
      const FieldDescriptor* v = f->message_type()->map_value();
      if (v->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || !value.is_object()) continue;
      for (auto& [k, item] : value.items()) {
        ValidationErrors::ScopedField entry(errors, absl::StrCat("[", k, "]"));
        NormalizeDurations(&item, v->message_type(), errors, changed);
      }
      continue;
    }
    if (IsDuration(f)) {
      if (!value.is_string()) continue;
      absl::StatusOr<absl::Duration> parsed =
          ParseDurationText(value.get_ref<const std::string&>());
      if (!parsed.ok()) {
        errors->AddError(parsed.status().message());
        continue;
      }
      std::string canonical = FormatDurationText(*parsed);
      if (canonical != value.get_ref<const std::string&>()) {
        value = canonical;
        *changed = true;
      }
      continue;
    }
    if (f->is_repeated() && value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) {
        ValidationErrors::ScopedField element(errors, absl::StrCat("[", i, "]"));
        NormalizeDurations(&value[i], f->message_type(), errors, changed);
      }
      continue;
    }
    NormalizeDurations(&value, f->message_type(), errors, changed);
  }
}

void NamedPaths(const nlohmann::json& j, const Descriptor* d, const std::string& prefix,
                google::protobuf::FieldMask* named) {
  for (const auto& [key, value] : j.items()) {
    const FieldDescriptor* f = FieldOf(d, key);
    if (f == nullptr) continue;
    std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() &&
        !IsWellKnown(f->message_type()) && value.is_object()) {
      NamedPaths(value, f->message_type(), path, named);
      continue;
    }
    named->add_paths(path);
  }
}

}  // namespace

absl::Status ParseJsonBody(const std::string& body, absl::string_view root,
                           google::protobuf::Message* m, google::protobuf::FieldMask* named) {
  if (body.size() > kMaxBodyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("request body too large: ", body.size(),
                                                   " bytes (limit ", kMaxBodyBytes, ")"));
  }
  if (absl::StripAsciiWhitespace(body).empty()) {
    return absl::InvalidArgumentError("request body must be a JSON object");
  }
  // RFC 8259: JSON text is UTF-8. The protobuf parser copies other bytes into string fields,
  // and a proto3 string that is not UTF-8 makes the stored message unparseable.
  for (size_t i = 0; i < body.size();) {
    size_t n = model::Utf8SequenceLength(absl::string_view(body).substr(i));
    if (n == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid JSON body: not UTF-8 (byte 0x",
          absl::Hex(static_cast<unsigned char>(body[i]), absl::kZeroPad2), " at offset ", i, ")"));
    }
    i += n;
  }
  // Malformed JSON is left to the protobuf parser, whose message names the problem.
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string rewritten;
  const std::string* text = &body;
  if (j.is_object()) {
    ValidationErrors errors;
    ValidationErrors::ScopedField field(&errors, root);
    bool changed = false;
    NormalizeDurations(&j, m->GetDescriptor(), &errors, &changed);
    if (!errors.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid JSON body: ", errors.message()));
    }
    if (changed) {
      rewritten = j.dump();
      text = &rewritten;
    }
  }
  pbjson::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  options.case_insensitive_enum_parsing = true;
  auto status = pbjson::JsonStringToMessage(*text, m, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON body: ", std::string(status.message())));
  }
  if (named != nullptr) NamedPaths(j, m->GetDescriptor(), "", named);
  return absl::OkStatus();
}

}  // namespace lb::rest
