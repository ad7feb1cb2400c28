#!/usr/bin/env bash
# Starts the system with its embedded defaults on a fresh Debian 12 machine: installs what is
# missing, builds, and runs the controller (gRPC/xDS on 127.0.0.1:18000, REST on
# 127.0.0.1:9091, data in ./lb-data). Extra arguments go to the controller. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")"
bash bazel/install_deps.sh
bazel build //controller:controller //cli:lbctl
exec bazel-bin/controller/controller "$@"
