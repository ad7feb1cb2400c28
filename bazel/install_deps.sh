#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the benchmarks need, if missing.
# Safe to run repeatedly; needs root or sudo only when something is missing.
set -euo pipefail
packages=(
  bazel-bootstrap bazel-rules-java bazel-platforms bazel-skylib
  g++ clang-14 libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libevent-dev libgtest-dev libgmock-dev libsqlite3-dev libspdlog-dev
  nlohmann-json3-dev libcli11-dev curl python3 libbenchmark-dev libhttp-parser-dev
  libssl-dev libnghttp2-dev openssl
  nghttp2-client  # nghttp and h2load: the HTTP/2 tests' clients and bench/proxy_bench.sh
  etcd-server golang-etcd-server-dev golang-github-gogo-protobuf-dev  # the etcd store: its protos
  golang-github-grpc-ecosystem-grpc-gateway-dev                       # and the tests' etcd
  nginx haproxy wrk  # the peers and the load generator of bench/abuse_bench.sh, bench/proxy_bench.sh
  python3-yaml  # tests/deploy: reads kubectl kustomize's output
)
# tests/deploy renders deploy/kubernetes with `kubectl kustomize`. Any kubectl will do (Debian's
# kubernetes-client is 1.20, kustomize 2; newer ones work too): install Debian's only when none is
# on PATH, since another package (e.g. Google's kubectl) may own /usr/bin/kubectl.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
