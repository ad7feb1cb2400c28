#!/usr/bin/env bash
# The controller following a Kubernetes cluster: the stand-in API server
# (tests/k8s/fake_apiserver.py, HTTPS + bearer token) → controller --kubernetes → proxy.
# Prints one JSON line per measurement and a summary; asserts nothing. See docs/kubernetes.md
# "Benchmark".
#
#   bench/k8s_bench.sh [--changes 300] [--services 1000] [--pods 10] [--churn 200]
#                      [--only latency|scale] [--skip-install] [--skip-build] [--keep]
#
#   latency  --changes EndpointSlice writes, each replacing the one pod of a Service by another
#            (backend A ↔ B): time from just before the write at the API server until the proxy
#            answers from the new pod (p50/p90/p99/max)
#   scale    --services Services (label lb/sync=true) × --pods endpoints, loaded before the
#            controller starts: time and controller CPU until the model holds them all, RSS,
#            idle CPU over 10 s, then --churn slice updates (time, CPU)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
args=() skip_install=0 skip_build=0 keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --changes|--services|--pods|--churn|--only) args+=("$1" "$2"); shift ;;
    --skip-install) skip_install=1 ;;
    --skip-build) skip_build=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "k8s_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

[ "$skip_install" = 1 ] || bash "$root/bazel/install_deps.sh"
cd "$root"
if [ "$skip_build" = 0 ]; then
  bazel build //controller:controller //proxy:proxy //tests/k8s:make_test_certs \
    >/tmp/k8s_bench_build.log 2>&1 || { tail -20 /tmp/k8s_bench_build.log >&2; exit 1; }
fi
bin_dir=$(bazel info bazel-bin 2>/dev/null || echo "$root/bazel-bin")
dir=$(mktemp -d /tmp/k8s-bench.XXXXXX)
mkdir -p "$dir/bin"
cp "$bin_dir/controller/controller" "$bin_dir/proxy/proxy" "$bin_dir/tests/k8s/make_test_certs" \
  "$dir/bin/"
cleanup() {
  local rc=$?
  if [ "$keep" = 1 ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== Kubernetes benchmark: fake API server -> controller --kubernetes -> proxy =="
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the start $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$here/k8s_bench.py" "$dir/bin" "$root/tests/k8s/fake_apiserver.py" "$dir" \
  "${args[@]}"
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
