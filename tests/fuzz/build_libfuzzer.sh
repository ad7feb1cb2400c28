#!/bin/sh
# Builds tests/fuzz/config_shim_fuzz.cc as a real coverage-guided libFuzzer binary with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer. Not part of the Bazel build (which uses gcc
# and runs the same target over the corpus as //tests/fuzz:config_shim_fuzz_test).
#
# Usage: tests/fuzz/build_libfuzzer.sh [OUTPUT]          (default /tmp/config_shim_fuzz)
# Then:  mkdir -p /tmp/cs_corpus && cp tests/fuzz/corpus/config_shim/* /tmp/cs_corpus/
#        /tmp/config_shim_fuzz -max_len=4096 -max_total_time=300 /tmp/cs_corpus
# Needs clang++ with compiler-rt's libFuzzer (Debian: clang + libclang-rt-*-dev) and the
# project's Debian -dev libraries; `bazel build //proto:lb_v1` provides the generated lb.pb.cc.
set -eu
cd "$(dirname "$0")/../.."
out=${1:-/tmp/config_shim_fuzz}
bazel build //proto:lb_v1 >/dev/null 2>&1
gen=bazel-bin/proto
# shellcheck disable=SC2046  # word splitting of pkg-config output is intended
clang++ -std=c++17 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I. -I"$gen" \
  tests/fuzz/config_shim_fuzz.cc \
  controller/rest/config_shim.cc controller/rest/rest_handler.cc \
  controller/registry/registry.cc controller/model/validation.cc \
  controller/store/sqlite_store.cc controller/api/auth.cc controller/api/status_map.cc \
  common/metrics/metrics.cc common/net/address.cc common/time/clock.cc \
  common/validation/validation_errors.cc "$gen/lb/v1/lb.pb.cc" \
  $(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format absl_synchronization \
      absl_time absl_flat_hash_set absl_hash) \
  -lprotobuf -lgrpc++ -lgrpc -lgpr -lsqlite3 -lpthread \
  -o "$out"
echo "built $out"
