// lbctl cert add|update|list|get|delete: TLS certificates the proxies serve (SDS). The private
// key is read from a file and sent once; no answer carries it back.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/command_common.h"
#include "cli/commands.h"
#include "common/process/flag_file.h"

namespace lb::cli {
namespace {

// Largest certificate, key or OCSP file lbctl reads (the controller's limit).
constexpr size_t kMaxFileBytes = 256 * 1024;

// The file's bytes, or a usage error naming the flag.
absl::Status ReadSmallFile(absl::string_view flag, const std::string& path, std::string* out) {
  absl::StatusOr<std::string> data = process::ReadFlagFile(flag, path, kMaxFileBytes);
  if (!data.ok()) return data.status();
  *out = *std::move(data);
  return absl::OkStatus();
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

struct CertFlags {
  std::string name;
  std::string cert_file;
  std::string key_file;
  std::string ocsp_file;
  std::vector<std::string> sni;
  bool is_default = false;
  int64_t if_version = 0;

  // The request's certificate from the files; a usage error otherwise.
  absl::Status Build(lb::v1::Certificate* c) const {
    c->set_name(name);
    std::string data;
    if (absl::Status s = ReadSmallFile("cert", cert_file, &data); !s.ok()) return s;
    c->set_cert_chain(data);
    if (absl::Status s = ReadSmallFile("key", key_file, &data); !s.ok()) return s;
    c->set_private_key(data);
    if (!ocsp_file.empty()) {
      if (absl::Status s = ReadSmallFile("ocsp", ocsp_file, &data); !s.ok()) return s;
      c->set_ocsp_staple(data);
    }
    for (const std::string& flag : sni) {
      for (absl::string_view host : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
        c->add_sni(std::string(host));
      }
    }
    c->set_default_(is_default);
    return absl::OkStatus();
  }
};

void PrintWarnings(Session& s, const lb::v1::Certificate& c) {
  for (const std::string& w : c.warnings()) s.Warn(absl::StrCat("certificate ", c.name(), ": ", w));
}

int RunCertAdd(Session& s, const CertFlags& f, bool update) {
  lb::v1::Certificate cert;
  if (absl::Status st = f.Build(&cert); !st.ok()) return s.Usage(st.message());
  lb::v1::Certificate resp;
  grpc::Status st;
  if (update) {
    lb::v1::UpdateCertificateRequest req;
    *req.mutable_certificate() = std::move(cert);
    req.set_expected_version(f.if_version);
    st = s.Call(&Stub::UpdateCertificate, req, &resp);
  } else {
    lb::v1::CreateCertificateRequest req;
    *req.mutable_certificate() = std::move(cert);
    st = s.Call(&Stub::CreateCertificate, req, &resp);
  }
  if (!st.ok()) return s.Fail(st);
  PrintWarnings(s, resp);
  return s.Done(
      resp, absl::StrCat(update ? "updated" : "added", " certificate ", f.name, " for ",
                         resp.sni().empty() ? "-" : absl::StrJoin(resp.sni(), ","),
                         resp.default_() ? " (default)" : "", " (version ", resp.version(), ")\n"));
}

int RunCertList(Session& s) {
  lb::v1::ListCertificatesResponse resp;
  grpc::Status st = s.Call(&Stub::ListCertificates, lb::v1::ListCertificatesRequest(), &resp);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(resp) ? kExitOk : kExitRefused;
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "SNI", "DEFAULT", "NOT AFTER", "SUBJECT", "VERSION"}};
  for (const auto& c : resp.certificates()) {
    rows.push_back({c.name(), OrDash(absl::StrJoin(c.sni(), ",")), c.default_() ? "yes" : "no",
                    TimeText(c.info().not_after()), c.info().subject(), absl::StrCat(c.version())});
  }
  PrintTable(s.out(), rows);
  return kExitOk;
}

int RunCertGet(Session& s, const std::string& name) {
  lb::v1::GetCertificateRequest req;
  req.set_name(name);
  lb::v1::Certificate c;
  grpc::Status st = s.Call(&Stub::GetCertificate, req, &c);
  if (!st.ok()) return s.Fail(st);
  if (s.settings().json) return s.PrintJson(c) ? kExitOk : kExitRefused;
  const lb::v1::CertificateInfo& i = c.info();
  PrintTable(s.out(), {{"name:", c.name()},
                       {"sni:", OrDash(absl::StrJoin(c.sni(), ","))},
                       {"default:", c.default_() ? "yes" : "no"},
                       {"subject:", i.subject()},
                       {"issuer:", i.issuer()},
                       {"dns names:", OrDash(absl::StrJoin(i.dns_names(), ","))},
                       {"ip addresses:", OrDash(absl::StrJoin(i.ip_addresses(), ","))},
                       {"not before:", TimeText(i.not_before())},
                       {"not after:", TimeText(i.not_after())},
                       {"sha256:", i.sha256_fingerprint()},
                       {"chain length:", absl::StrCat(i.chain_length())},
                       {"ocsp staple:", c.ocsp_staple().empty() ? "no" : "yes"},
                       {"version:", absl::StrCat(c.version())}});
  PrintWarnings(s, c);
  return kExitOk;
}

int RunCertDelete(Session& s, const std::string& name, int64_t if_version) {
  lb::v1::DeleteCertificateRequest req;
  req.set_name(name);
  req.set_expected_version(if_version);
  lb::v1::DeleteCertificateResponse resp;
  grpc::Status st = s.Call(&Stub::DeleteCertificate, req, &resp);
  if (!st.ok()) return s.Fail(st);
  return s.Done(resp, absl::StrCat("deleted certificate ", name, "\n"));
}

void AddCertFlags(CLI::App* cmd, CertFlags* f, bool update) {
  cmd->add_option("NAME", f->name,
                  "Certificate name ([a-zA-Z0-9_.-], 1-128 characters, not starting with lb.)")
      ->required();
  cmd->add_option("--cert", f->cert_file, "PEM file: the certificate, then its intermediates")
      ->required();
  cmd->add_option("--key", f->key_file, "PEM file: the unencrypted private key")->required();
  cmd->add_option("--sni", f->sni,
                  "Host names to serve it for, comma-separated (exact or *.domain); default: "
                  "the certificate's DNS names")
      ->allow_extra_args(false);
  cmd->add_flag("--default", f->is_default,
                "Serve it to clients without SNI or with an unknown name (one certificate only)");
  cmd->add_option("--ocsp", f->ocsp_file, "DER OCSP response to staple (optional)");
  if (update) {
    AddIfVersionFlag(cmd, &f->if_version, "certificate");
  }
}

struct CertCommands : CommandGroup {
  CertFlags add;
  CertFlags update;
  std::string get_name;
  std::string delete_name;
  int64_t delete_if_version = 0;
};

}  // namespace

std::unique_ptr<CommandGroup> AddCertCommands(CLI::App* app, Runner* run) {
  auto commands = std::make_unique<CertCommands>();
  CertCommands* c = commands.get();
  CLI::App* cert_cmd = app->add_subcommand("cert", "Manage TLS certificates the proxies serve");
  cert_cmd->require_subcommand(1);
  cert_cmd->footer(
      "The private key is sent once and never shown again (no read returns it).\n"
      "Examples:\n  lbctl cert add web --cert web.crt --key web.key --sni www.example.com,"
      "example.com --default\n  lbctl cert list\n  lbctl cert get web\n"
      "  lbctl cert delete web");

  CLI::App* add_cmd = cert_cmd->add_subcommand("add", "Add a certificate and its key");
  AddCertFlags(add_cmd, &c->add, /*update=*/false);
  add_cmd->footer(
      "Examples:\n  lbctl cert add web --cert web.crt --key web.key\n"
      "  lbctl cert add api --cert api.crt --key api.key --sni api.example.com,*.api.example.com");
  add_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunCertAdd(s, c->add, /*update=*/false); }; });

  CLI::App* update_cmd =
      cert_cmd->add_subcommand("update", "Replace a certificate (e.g. renewed) and its key");
  AddCertFlags(update_cmd, &c->update, /*update=*/true);
  update_cmd->footer("Examples:\n  lbctl cert update web --cert web-2027.crt --key web-2027.key");
  update_cmd->callback(
      [c, run]() { *run = [c](Session& s) { return RunCertAdd(s, c->update, /*update=*/true); }; });

  CLI::App* list_cmd = cert_cmd->add_subcommand("list", "List certificates");
  list_cmd->footer("Examples:\n  lbctl cert list\n  lbctl cert list -o json");
  list_cmd->callback([run]() { *run = [](Session& s) { return RunCertList(s); }; });

  CLI::App* get_cmd = cert_cmd->add_subcommand("get", "Show one certificate (never its key)");
  get_cmd->add_option("NAME", c->get_name, "Certificate name")->required();
  get_cmd->footer("Examples:\n  lbctl cert get web\n  lbctl cert get web -o json");
  get_cmd->callback([c, run]() { *run = [c](Session& s) { return RunCertGet(s, c->get_name); }; });

  CLI::App* delete_cmd = cert_cmd->add_subcommand("delete", "Delete a certificate");
  delete_cmd->add_option("NAME", c->delete_name, "Certificate name")->required();
  AddIfVersionFlag(delete_cmd, &c->delete_if_version, "certificate");
  delete_cmd->footer("Examples:\n  lbctl cert delete web");
  delete_cmd->callback([c, run]() {
    *run = [c](Session& s) { return RunCertDelete(s, c->delete_name, c->delete_if_version); };
  });
  return commands;
}

}  // namespace lb::cli
