// Runs the xDS protocol fuzz target as an ordinary test: every file of the checked-in corpus,
// then deterministic mutations of it and random well-formed streams (fixed seeds), so
// `bazel test` checks the same invariants as a libFuzzer run (see xds_protocol_fuzz.cc).
#include "tests/fuzz/controller_xds/xds_protocol_fuzz.h"

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/xds/type_urls.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fuzz/controller_xds/xds_protocol_seeds.h"
#include "tests/fuzz/corpus_mutator.h"

namespace lb::fuzz {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryRequest;

constexpr int kMutations = 20000;
constexpr int kRandomStreams = 10000;
constexpr uint32_t kSeed = 20250214;

constexpr char kCorpus[] = "xds_protocol";

std::string RunInput(const std::string& input, std::set<std::string>* outcomes = nullptr) {
  return RunXdsProtocolInput(reinterpret_cast<const uint8_t*>(input.data()), input.size(),
                             outcomes);
}

TEST(XdsProtocolFuzzTest, CorpusIsCheckedIn) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  EXPECT_GE(corpus.size(), 15u) << "corpus dir: " << CorpusDir(kCorpus);
}

// The seeds are generated (xds_protocol_corpus_gen): the checked-in files must be what the
// generator writes today, so a change to the input format cannot leave the corpus meaningless.
TEST(XdsProtocolFuzzTest, CorpusMatchesGenerator) {
  std::map<std::string, std::string> corpus;
  for (CorpusFile& f : LoadCorpus(kCorpus)) corpus[f.name] = std::move(f.data);
  for (const auto& [name, bytes] : XdsProtocolSeeds()) {
    auto it = corpus.find(name);
    ASSERT_NE(it, corpus.end()) << name << " is not checked in; run xds_protocol_corpus_gen";
    EXPECT_TRUE(it->second == bytes) << name << " differs from the generator's; run "
                                     << "xds_protocol_corpus_gen";
  }
}

TEST(XdsProtocolFuzzTest, EveryCorpusFile) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  std::set<std::string> outcomes;
  RunCorpus(corpus, [&outcomes](const std::string& input) { return RunInput(input, &outcomes); });
  // The corpus reaches every kind of behaviour, so the invariants are not checked vacuously.
  EXPECT_THAT(outcomes, ::testing::IsSupersetOf({
                            "sotw response lds/cds",
                            "sotw response eds/rds",
                            "sotw no response",
                            "sotw error InvalidArgument",
                            "sotw unknown type",
                            "sotw parse error",
                            "sotw ack",
                            "sotw nack",
                            "sotw stale nonce",
                            "sotw push",
                            "sotw push nothing",
                            "sotw wildcard",
                            "sotw legacy wildcard",
                            "sotw star on eds/rds",
                            "sotw grpc flavour",
                            "sotw flavour learnt late",
                            "sotw node ignored",
                            "sotw new stream",
                            "sotw huge name list",
                            "sotw duplicate names",
                            "delta response",
                            "delta no response",
                            "delta error InvalidArgument",
                            "delta unknown type",
                            "delta ack",
                            "delta nack",
                            "delta stale nonce",
                            "delta push",
                            "delta push nothing",
                            "delta wildcard",
                            "delta legacy wildcard",
                            "delta wildcard off",
                            "delta unsubscribe",
                            "delta removed_resources",
                            "delta initial versions",
                            "delta initial versions suppressed",
                            "delta initial versions ignored",
                            "delta grpc flavour",
                            "delta flavour learnt late",
                            "delta node ignored",
                            "delta new stream",
                            "delta huge name list",
                        }));
}

TEST(XdsProtocolFuzzTest, EdgeInputs) {
  EXPECT_EQ(RunInput(""), "");
  EXPECT_EQ(RunInput(std::string(1, '\0')), "");
  EXPECT_EQ(RunInput(std::string(1, '\1')), "");
  EXPECT_EQ(RunInput(std::string(4096, '\0')), "");  // Many empty SotW requests: rejected.
  EXPECT_EQ(RunInput(std::string(4096, '\1')), "");
  EXPECT_EQ(RunInput(std::string(4096, '\xff')), "");
  EXPECT_EQ(RunInput(std::string(10, '\0') + std::string(20, '\x80')), "");  // Endless varint.
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  EXPECT_EQ(RunInput(all_bytes), "");
  EXPECT_EQ(RunInput(std::string(1, '\1') + all_bytes), "");
}

// Tokens that steer mutations towards interesting requests: type URLs, names, field tags of
// the request messages, varints.
const std::vector<std::string>& Dictionary() {
  static const auto* dict = [] {
    auto* d = new std::vector<std::string>{"*",
                                           "\x22",
                                           "\x12",
                                           "\x1a",
                                           "\x2a",
                                           "\x32",
                                           "\x0a",
                                           "\x3a",
                                           "\x00",
                                           "\x80\x01",
                                           "\xff\xff\xff\xff\x0f",
                                           "1",
                                           "2",
                                           "3",
                                           "gRPC",
                                           "envoy"};
    for (XdsType t : {kXdsCds, kXdsEds, kXdsLds, kXdsRds}) d->push_back(XdsTypeUrl(t));
    for (const std::string& n : XdsNamePool()) d->push_back(n);
    return d;
  }();
  return *dict;
}

// Random bytes overwrite rather than insert (op kinds, masks, lengths), and copies (e.g. of an
// op) are longer than the default and go anywhere.
MutationLimits Limits() {
  MutationLimits limits;
  limits.overwrite_byte = true;
  limits.max_duplicate = 48;
  limits.duplicate_in_place = false;
  return limits;
}

TEST(XdsProtocolFuzzTest, DeterministicMutations) {
  std::vector<CorpusFile> corpus = LoadCorpus(kCorpus);
  ASSERT_FALSE(corpus.empty());
  MutationRun run(kMutations, kSeed);
  run.limits = Limits();
  RunMutations(corpus, Dictionary(), run, [](const std::string& input) { return RunInput(input); });
}

// Random streams of well-formed requests (names from the pool and beyond, "*", nodes of both
// flavours, ACKs and NACKs of earlier responses, publications, reconnects): they reach deep
// states byte mutations rarely do.
class StreamGenerator {
 public:
  explicit StreamGenerator(std::mt19937& rng) : rng_(rng) {}

  std::string Next() {
    const bool delta = Pick(2) == 1;
    XdsSnapshotSpec spec = RandomSpec();
    XdsInputBuilder b(delta, spec);
    const int ops = 1 + Pick(40);
    for (int i = 0; i < ops; ++i) {
      const int what = Pick(20);
      if (what < 12) {
        const uint8_t selector = static_cast<uint8_t>(Pick(3) == 0 ? Pick(128) : Pick(2) * 0x10);
        if (delta) {
          DeltaDiscoveryRequest r = DeltaRequest();
          Pick(3) == 0 ? b.Request(r) : b.Answer(selector, r);
        } else {
          DiscoveryRequest r = SotwRequest();
          Pick(4) == 0 ? b.Request(r) : b.Answer(selector, r);
        }
      } else if (what < 18) {
        // Mostly small changes: toggle a name or a revision.
        const int t = Pick(4);
        const uint8_t bit = static_cast<uint8_t>(1 << Pick(8));
        switch (Pick(4)) {
          case 0:
            spec.present[t] ^= bit;
            break;
          case 1:
            spec.revision[t] ^= bit;
            break;
          case 2:
            spec.grpc_cds_present ^= bit;
            break;
          case 3:
            spec = RandomSpec();
            break;
        }
        b.Publish(spec, Pick(4) == 0 ? static_cast<uint8_t>(Pick(256)) : 0, Pick(8) == 0);
      } else if (what < 19) {
        b.Reconnect();
      } else {
        b.Request(DiscoveryRequest());  // No type_url (parses in both variants).
      }
    }
    return b.bytes();
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  XdsSnapshotSpec RandomSpec() {
    XdsSnapshotSpec s;
    for (int t = 0; t < 4; ++t) {
      s.present[t] = static_cast<uint8_t>(Pick(256));
      s.revision[t] = static_cast<uint8_t>(Pick(4) == 0 ? Pick(256) : 0);
    }
    s.grpc_cds_present = Pick(2) == 0 ? s.present[kXdsCds] : static_cast<uint8_t>(Pick(256));
    return s;
  }

  std::string Type() {
    switch (Pick(24)) {
      case 0:
        return "type.googleapis.com/envoy.service.runtime.v3.Runtime";  // A type we do not serve.
      case 1:
        return "";
      default:
        return XdsTypeUrl(static_cast<XdsType>(Pick(4)));
    }
  }

  std::string Name() {
    switch (Pick(10)) {
      case 0:
        return "*";
      case 1:
        return absl::StrCat("missing-", Pick(3));
      default:
        return XdsNamePool()[Pick(8)];
    }
  }

  std::vector<std::string> Names(int max) {
    std::vector<std::string> out;
    for (int i = Pick(max + 1); i > 0; --i) out.push_back(Name());
    return out;
  }

  void MaybeNode(envoy::config::core::v3::Node* node, bool* set) {
    if (Pick(6) != 0) return;
    *set = true;
    node->set_id(absl::StrCat("node-", Pick(3)));
    node->set_user_agent_name(Pick(2) == 0 ? "envoy" : "gRPC C-core");
  }

  void MaybeError(google::rpc::Status* error) {
    switch (Pick(6)) {
      case 0:
        error->set_code(3);
        error->set_message(absl::StrCat("rejected ", Pick(3)));
        break;
      case 1:
        error->set_code(Pick(17));
        break;
      default:
        break;
    }
  }

  DiscoveryRequest SotwRequest() {
    DiscoveryRequest r;
    r.set_type_url(Type());
    for (const std::string& n : Names(5)) r.add_resource_names(n);
    bool node = false;
    MaybeNode(r.mutable_node(), &node);
    if (!node) r.clear_node();
    MaybeError(r.mutable_error_detail());
    if (r.error_detail().ByteSizeLong() == 0) r.clear_error_detail();
    return r;
  }

  DeltaDiscoveryRequest DeltaRequest() {
    DeltaDiscoveryRequest r;
    r.set_type_url(Type());
    for (const std::string& n : Names(4)) r.add_resource_names_subscribe(n);
    if (Pick(3) == 0) {
      for (const std::string& n : Names(3)) r.add_resource_names_unsubscribe(n);
    }
    if (Pick(5) == 0) {
      for (int i = Pick(4); i > 0; --i) {
        const int n = Pick(8);
        const XdsType t = static_cast<XdsType>(Pick(4));
        (*r.mutable_initial_resource_versions())[XdsNamePool()[n]] =
            Pick(3) == 0 ? "junk" : XdsResourceVersion(t, n, Pick(2), Pick(2) == 1);
      }
    }
    bool node = false;
    MaybeNode(r.mutable_node(), &node);
    if (!node) r.clear_node();
    MaybeError(r.mutable_error_detail());
    if (r.error_detail().ByteSizeLong() == 0) r.clear_error_detail();
    return r;
  }

  std::mt19937& rng_;
};

TEST(XdsProtocolFuzzTest, RandomStreams) {
  std::mt19937 rng(kSeed + 1);
  StreamGenerator gen(rng);
  std::set<std::string> outcomes;
  int failures = 0;
  for (int i = 0; i < kRandomStreams && failures < 5; ++i) {
    std::string input = gen.Next();
    std::string problem = RunInput(input, &outcomes);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << "stream " << i << ": " << problem << "\ninput: \"" << absl::CHexEscape(input)
                    << "\"";
    }
  }
  EXPECT_THAT(outcomes,
              ::testing::IsSupersetOf({"sotw ack", "sotw nack", "delta ack", "delta nack",
                                       "delta removed_resources", "sotw flavour learnt late"}));
}

}  // namespace
}  // namespace lb::fuzz
