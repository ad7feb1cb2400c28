#!/usr/bin/env bash
# Builds the controller and the xDS load benchmark, then runs it: SotW and delta side by side,
# each against a fresh controller, with the defaults (1000 streams, 100 clusters x 100
# endpoints, 50 changes 200 ms apart, a burst of 100). Extra arguments go to the benchmark, e.g.
#   tests/bench/run_xds_bench.sh --streams=200
#   tests/bench/run_xds_bench.sh --modes=delta --malloc_probe
# See docs/xds-benchmark.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build //controller //tests/bench:xds_load
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec bazel-bin/tests/bench/xds_load --controller_binary=bazel-bin/controller/controller "$@"
