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
  chromium-headless-shell nodejs  # tests/ui: the web console in a real browser
  python3-yaml  # tests/deploy: reads kubectl kustomize's output
  python3-kubernetes  # tests/k8s: a real Kubernetes client against the fake API server
  libcurl4-openssl-dev libyaml-dev  # controller/kubernetes: the API server client, kubeconfig
)
# tests/deploy renders deploy/kubernetes with `kubectl kustomize`, and tests/k8s drives the fake
# API server with `kubectl get --raw` and `kubectl get -w`. Any kubectl will do (Debian's
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
# tests/ui drives the browser with npm's puppeteer-core (pinned; it downloads no browser: the
# test points it at Debian's chromium-headless-shell), installed once into LB_PUPPETEER.
command -v npm >/dev/null || {
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >/dev/null
}
puppeteer_dir="${LB_PUPPETEER:-/opt/lb-ui-test}"
puppeteer_version=22.15.0  # The last line for Node 18 (Debian 12's nodejs).
if [ "$(node -p "require('$puppeteer_dir/node_modules/puppeteer-core/package.json').version" 2>/dev/null)" != "$puppeteer_version" ]; then
  echo "installing puppeteer-core@$puppeteer_version into $puppeteer_dir" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "$puppeteer_dir")" ] && sudo="sudo"
  $sudo mkdir -p "$puppeteer_dir"
  PUPPETEER_SKIP_DOWNLOAD=1 $sudo npm install --prefix "$puppeteer_dir" --no-audit --no-fund \
    --loglevel=error "puppeteer-core@$puppeteer_version" >/dev/null
fi
# tests/k8s proves the fake API server against npm's @kubernetes/client-node too (pinned; its
# 1.x line is ESM on Node 20), installed once into LB_K8S_NODE_CLIENT.
k8s_node_dir="${LB_K8S_NODE_CLIENT:-/opt/lb-k8s-client-node}"
k8s_node_version=1.4.0
if [ "$(node -p "require('$k8s_node_dir/node_modules/@kubernetes/client-node/package.json').version" 2>/dev/null)" != "$k8s_node_version" ]; then
  echo "installing @kubernetes/client-node@$k8s_node_version into $k8s_node_dir" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "$k8s_node_dir")" ] && sudo="sudo"
  $sudo mkdir -p "$k8s_node_dir"
  $sudo npm install --prefix "$k8s_node_dir" --no-audit --no-fund --loglevel=error \
    "@kubernetes/client-node@$k8s_node_version" >/dev/null
fi
