#!/usr/bin/env bash
# Starts the system with its embedded defaults on a fresh Debian 12 machine: installs what is
# missing, builds, then runs
#   the controller  gRPC/xDS on 127.0.0.1:18000, REST (seed /config API) on 127.0.0.1:9091,
#                   data in ./lb-data
#   one proxy       traffic on 0.0.0.0:8080, admin on 127.0.0.1:9901, fed by the controller.
# Ctrl-C (or SIGTERM) stops both; the proxy drains in-flight requests first.
set -euo pipefail
cd "$(dirname "$0")"
bash bazel/install_deps.sh
bazel build //controller:controller //proxy:proxy //cli:lbctl
bazel-bin/controller/controller "$@" &
controller=$!
trap 'kill -TERM $controller 2>/dev/null; wait $controller 2>/dev/null' EXIT
sleep 0.5
bazel-bin/proxy/proxy --controller=127.0.0.1:18000 &
proxy=$!
trap 'kill -TERM $proxy $controller 2>/dev/null; wait $proxy $controller 2>/dev/null' EXIT INT TERM
wait $proxy
