#include "controller/kubernetes/kube_config.h"

#include <yaml.h>

#include <initializer_list>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/net/address.h"
#include "common/process/flag_file.h"

namespace lb::kubernetes {
namespace {

// A YAML document as a tree: scalars, mappings (keys are scalars, in order) and sequences.
struct Node {
  enum class Kind { kScalar, kMap, kSeq };
  Kind kind = Kind::kScalar;
  std::string scalar;
  std::vector<std::pair<std::string, Node>> map;
  std::vector<Node> seq;

  const Node* Get(absl::string_view key) const {
    for (const auto& [k, v] : map) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

class YamlReader {
 public:
  explicit YamlReader(absl::string_view text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~YamlReader() { yaml_parser_delete(&parser_); }
  YamlReader(const YamlReader&) = delete;
  YamlReader& operator=(const YamlReader&) = delete;

  // The first document (an empty mapping for an empty stream).
  absl::StatusOr<Node> Document() {
    yaml_event_t event;
    // STREAM-START, then DOCUMENT-START or STREAM-END.
    for (int i = 0; i < 2; ++i) {
      if (absl::Status s = Next(&event); !s.ok()) return s;
      const yaml_event_type_t type = event.type;
      yaml_event_delete(&event);
      if (type == YAML_STREAM_END_EVENT) {
        Node empty;
        empty.kind = Node::Kind::kMap;
        return empty;
      }
    }
    if (absl::Status s = Next(&event); !s.ok()) return s;
    absl::StatusOr<Node> node = ParseFrom(&event, 0);
    yaml_event_delete(&event);
    return node;
  }

 private:
  absl::Status Next(yaml_event_t* event) {
    if (!yaml_parser_parse(&parser_, event)) {
      const char* problem = parser_.problem != nullptr ? parser_.problem : "syntax error";
      return absl::InvalidArgumentError(absl::StrCat("kubeconfig is not valid YAML: ", problem,
                                                     " at line ", parser_.problem_mark.line + 1,
                                                     " column ", parser_.problem_mark.column + 1));
    }
    return absl::OkStatus();
  }

  // The next item of a sequence or mapping, or nullopt at its end.
  absl::StatusOr<std::optional<Node>> Item(int depth) {
    yaml_event_t event;
    if (absl::Status s = Next(&event); !s.ok()) return s;
    const yaml_event_type_t type = event.type;
    if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&event);
      return std::optional<Node>();
    }
    absl::StatusOr<Node> node = ParseFrom(&event, depth + 1);
    yaml_event_delete(&event);
    if (!node.ok()) return node.status();
    return std::optional<Node>(std::move(*node));
  }

  // Like Parse, with the node's first event already read.
  absl::StatusOr<Node> ParseFrom(yaml_event_t* event, int depth) {
    if (depth > kMaxYamlDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig nests deeper than ", kMaxYamlDepth, " levels"));
    }
    Node node;
    switch (event->type) {
      case YAML_SCALAR_EVENT:
        node.scalar.assign(reinterpret_cast<const char*>(event->data.scalar.value),
                           event->data.scalar.length);
        return node;
      case YAML_ALIAS_EVENT:
        return absl::InvalidArgumentError("kubeconfig uses a YAML alias (*name): not supported");
      case YAML_SEQUENCE_START_EVENT:
        node.kind = Node::Kind::kSeq;
        while (true) {
          absl::StatusOr<std::optional<Node>> item = Item(depth);
          if (!item.ok()) return item.status();
          if (!item->has_value()) return node;
          node.seq.push_back(std::move(**item));
        }
      case YAML_MAPPING_START_EVENT:
        node.kind = Node::Kind::kMap;
        while (true) {
          absl::StatusOr<std::optional<Node>> key = Item(depth);
          if (!key.ok()) return key.status();
          if (!key->has_value()) return node;
          if ((*key)->kind != Node::Kind::kScalar) {
            return absl::InvalidArgumentError("kubeconfig has a mapping key that is not a string");
          }
          absl::StatusOr<std::optional<Node>> value = Item(depth);
          if (!value.ok()) return value.status();
          if (!value->has_value()) {
            return absl::InvalidArgumentError("kubeconfig: mapping key without a value");
          }
          node.map.emplace_back(std::move((*key)->scalar), std::move(**value));
        }
      default:
        return absl::InvalidArgumentError("kubeconfig: unexpected YAML structure");
    }
  }

  yaml_parser_t parser_;
};

absl::StatusOr<std::string> Scalar(const Node& parent, absl::string_view key,
                                   absl::string_view where) {
  const Node* n = parent.Get(key);
  if (n == nullptr) return std::string();
  if (n->kind != Node::Kind::kScalar) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: ", where, ".", key, " must be a string"));
  }
  return n->scalar;
}

// The entry of list `list` ("clusters", "users", "contexts") named `name`, and its body (key
// `body`: "cluster", "user", "context").
absl::StatusOr<const Node*> Named(const Node& root, absl::string_view list, absl::string_view body,
                                  absl::string_view name) {
  const Node* entries = root.Get(list);
  if (entries == nullptr || entries->kind != Node::Kind::kSeq) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig has no ", list, " list (needed for ", body, " \"", name, "\")"));
  }
  for (const Node& e : entries->seq) {
    if (e.kind != Node::Kind::kMap) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig: an entry of ", list, " is not a mapping"));
    }
    const Node* n = e.Get("name");
    if (n == nullptr || n->kind != Node::Kind::kScalar || n->scalar != name) continue;
    const Node* b = e.Get(body);
    if (b == nullptr || b->kind != Node::Kind::kMap) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig: ", body, " \"", name, "\" has no ", body, " mapping"));
    }
    return b;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("kubeconfig: no ", body, " named \"", name, "\" in ", list));
}

absl::StatusOr<bool> Bool(const Node& parent, absl::string_view key, absl::string_view where) {
  absl::StatusOr<std::string> s = Scalar(parent, key, where);
  if (!s.ok()) return s.status();
  const std::string v = absl::AsciiStrToLower(*s);
  if (v.empty() || v == "false") return false;
  if (v == "true") return true;
  return absl::InvalidArgumentError(
      absl::StrCat("kubeconfig: ", where, ".", key, " must be true or false, not \"", *s, "\""));
}

// Reads the scalar fields `keys` of `node` into `out` (pairs of key and destination).
absl::Status Fields(const Node& node, absl::string_view where,
                    std::initializer_list<std::pair<absl::string_view, std::string*>> keys) {
  for (const auto& [key, dest] : keys) {
    absl::StatusOr<std::string> v = Scalar(node, key, where);
    if (!v.ok()) return v.status();
    *dest = std::move(*v);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadReferenced(const std::string& base_dir, const std::string& path,
                                           absl::string_view field) {
  const std::string full =
      absl::StartsWith(path, "/") || base_dir.empty() ? path : absl::StrCat(base_dir, "/", path);
  absl::StatusOr<std::string> data = process::ReadFlagFile("kubeconfig", full, kMaxKubeConfigBytes);
  if (!data.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", data.status().message()));
  }
  return data;
}

// `path` (a file) or `data` (base64) of one PEM item; empty when neither is set.
absl::StatusOr<std::string> PemFrom(const std::string& base_dir, const std::string& path,
                                    const std::string& data, absl::string_view field) {
  if (!path.empty() && !data.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: both ", field, " and ", field, "-data are set"));
  }
  if (!path.empty()) return ReadReferenced(base_dir, path, field);
  if (data.empty()) return std::string();
  std::string decoded;
  if (!absl::Base64Unescape(data, &decoded) || decoded.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: ", field, "-data is not base64"));
  }
  return decoded;
}

absl::Status CheckServer(const std::string& server, absl::string_view where) {
  if (server.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no server"));
  }
  if (!absl::StartsWith(server, "https://") && !absl::StartsWith(server, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": server \"", server, "\" is not an https:// URL"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KubeConfigFile> ParseKubeConfig(absl::string_view yaml) {
  if (yaml.size() > kMaxKubeConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig is larger than ", kMaxKubeConfigBytes, " bytes"));
  }
  YamlReader reader(yaml);
  absl::StatusOr<Node> root = reader.Document();
  if (!root.ok()) return root.status();
  if (root->kind != Node::Kind::kMap) {
    return absl::InvalidArgumentError("kubeconfig is not a mapping");
  }
  KubeConfigFile out;
  absl::StatusOr<std::string> current = Scalar(*root, "current-context", "kubeconfig");
  if (!current.ok()) return current.status();
  if (current->empty()) return absl::InvalidArgumentError("kubeconfig has no current-context");
  out.context = *current;
  absl::StatusOr<const Node*> context = Named(*root, "contexts", "context", out.context);
  if (!context.ok()) return context.status();
  const std::string where_context = absl::StrCat("context \"", out.context, "\"");
  if (absl::Status s =
          Fields(**context, where_context, {{"cluster", &out.cluster}, {"user", &out.user}});
      !s.ok()) {
    return s;
  }
  if (out.cluster.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: ", where_context, " names no cluster"));
  }
  absl::StatusOr<const Node*> cluster = Named(*root, "clusters", "cluster", out.cluster);
  if (!cluster.ok()) return cluster.status();
  const std::string where_cluster = absl::StrCat("cluster \"", out.cluster, "\"");
  if (absl::Status s = Fields(**cluster, where_cluster,
                              {{"server", &out.server},
                               {"certificate-authority", &out.certificate_authority},
                               {"certificate-authority-data", &out.certificate_authority_data}});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<bool> insecure = Bool(**cluster, "insecure-skip-tls-verify", where_cluster);
  if (!insecure.ok()) return insecure.status();
  out.insecure_skip_tls_verify = *insecure;
  if (absl::Status s = CheckServer(out.server, absl::StrCat("kubeconfig: ", where_cluster));
      !s.ok()) {
    return s;
  }
  while (!out.server.empty() && out.server.back() == '/') out.server.pop_back();
  if (out.user.empty()) return out;  // Anonymous.
  absl::StatusOr<const Node*> user = Named(*root, "users", "user", out.user);
  if (!user.ok()) return user.status();
  const std::string where_user = absl::StrCat("user \"", out.user, "\"");
  for (absl::string_view unsupported : {"exec", "auth-provider", "username", "password"}) {
    if ((*user)->Get(unsupported) != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig: ", where_user, " uses ", unsupported,
                       ": not supported (use a token, tokenFile or a client certificate)"));
    }
  }
  if (absl::Status s = Fields(**user, where_user,
                              {{"token", &out.token},
                               {"tokenFile", &out.token_file},
                               {"client-certificate", &out.client_certificate},
                               {"client-certificate-data", &out.client_certificate_data},
                               {"client-key", &out.client_key},
                               {"client-key-data", &out.client_key_data}});
      !s.ok()) {
    return s;
  }
  if (!out.token.empty() && !out.token_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: ", where_user, " has both token and tokenFile"));
  }
  const bool has_cert = !out.client_certificate.empty() || !out.client_certificate_data.empty();
  const bool has_key = !out.client_key.empty() || !out.client_key_data.empty();
  if (has_cert != has_key) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: ", where_user, " has a client ",
                     has_cert ? "certificate without its key" : "key without its certificate"));
  }
  return out;
}

absl::StatusOr<ClusterConfig> LoadKubeConfig(const std::string& path, bool allow_insecure) {
  absl::StatusOr<std::string> text = process::ReadFlagFile("kubeconfig", path, kMaxKubeConfigBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<KubeConfigFile> file = ParseKubeConfig(*text);
  if (!file.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", file.status().message()));
  }
  const size_t slash = path.rfind('/');
  const std::string base_dir = slash == std::string::npos ? "" : path.substr(0, slash);
  ClusterConfig config;
  config.server = file->server;
  if (file->insecure_skip_tls_verify) {
    if (!allow_insecure) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": cluster \"", file->cluster,
          "\" sets insecure-skip-tls-verify; refused (the API server's identity would not be "
          "checked) unless --kubernetes_allow_insecure_skip_tls_verify"));
    }
    config.insecure_skip_tls_verify = true;
  }
  absl::StatusOr<std::string> ca =
      PemFrom(base_dir, file->certificate_authority, file->certificate_authority_data,
              "certificate-authority");
  if (!ca.ok()) return ca.status();
  config.ca_pem = std::move(*ca);
  absl::StatusOr<std::string> cert = PemFrom(base_dir, file->client_certificate,
                                             file->client_certificate_data, "client-certificate");
  if (!cert.ok()) return cert.status();
  config.client_cert_pem = std::move(*cert);
  absl::StatusOr<std::string> key =
      PemFrom(base_dir, file->client_key, file->client_key_data, "client-key");
  if (!key.ok()) return key.status();
  config.client_key_pem = std::move(*key);
  config.token = file->token;
  if (!file->token_file.empty()) {
    config.token_file = absl::StartsWith(file->token_file, "/") || base_dir.empty()
                            ? file->token_file
                            : absl::StrCat(base_dir, "/", file->token_file);
    // Readable now; re-read by the transport whenever it changes.
    absl::StatusOr<std::string> token = ReadReferenced("", config.token_file, "tokenFile");
    if (!token.ok()) return token.status();
  }
  return config;
}

absl::StatusOr<ClusterConfig> InClusterConfig(const std::string& sa_dir, const std::string& host,
                                              const std::string& port) {
  if (host.empty() || port.empty()) {
    return absl::FailedPreconditionError(
        "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are "
        "unset); pass --kubeconfig");
  }
  ClusterConfig config;
  config.server = absl::StrCat("https://", net::UriHost(host), ":", port);
  absl::StatusOr<std::string> ca =
      process::ReadFlagFile("kubernetes", absl::StrCat(sa_dir, "/ca.crt"), kMaxKubeConfigBytes);
  if (!ca.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("service account: ", ca.status().message()));
  }
  config.ca_pem = std::move(*ca);
  config.token_file = absl::StrCat(sa_dir, "/token");
  absl::StatusOr<std::string> token =
      process::ReadFlagFile("kubernetes", config.token_file, kMaxKubeConfigBytes);
  if (!token.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("service account: ", token.status().message()));
  }
  return config;
}

}  // namespace lb::kubernetes
