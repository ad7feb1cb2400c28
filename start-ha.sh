#!/usr/bin/env bash
# Starts a local high-availability setup on one machine: a 3-member etcd cluster, two
# controllers sharing it and one proxy that follows both. Installs what is missing, builds, then
# runs
#   etcd            members on 127.0.0.1:2379, :12379, :22379 (peers :2380, :12380, :22380),
#                   data in ./lb-etcd/m0..m2
#   controller A    gRPC/xDS 127.0.0.1:18000, REST 127.0.0.1:9091
#   controller B    gRPC/xDS 127.0.0.1:18001, REST 127.0.0.1:9092
#   one proxy       traffic on 0.0.0.0:8080, admin on 127.0.0.1:9901, --controller=A,B
# A write through either REST port reaches the proxy; kill either controller and the proxy
# moves to the other. Ctrl-C (or SIGTERM) stops everything. See docs/etcd.md.
set -euo pipefail
cd "$(dirname "$0")"
bash bazel/install_deps.sh
bazel build //controller:controller //proxy:proxy //cli:lbctl
pids=()
stop() {
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM
cluster=m0=http://127.0.0.1:2380,m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380
for i in 0 1 2; do
  client=$((2379 + i * 10000))
  peer=$((2380 + i * 10000))
  mkdir -p lb-etcd
  etcd --name "m$i" --data-dir "lb-etcd/m$i" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$cluster" --initial-cluster-token lb-local --max-txn-ops 10240 --log-level warn \
    --logger zap --log-outputs "lb-etcd/m$i.log" &
  pids+=($!)
done
endpoints=127.0.0.1:2379,127.0.0.1:12379,127.0.0.1:22379
for c in 0 1; do
  bazel-bin/controller/controller --store=etcd --etcd_endpoints="$endpoints" \
    --grpc_listen="127.0.0.1:$((18000 + c))" --rest_listen="127.0.0.1:$((9091 + c))" "$@" &
  pids+=($!)
done
sleep 1
bazel-bin/proxy/proxy --controller=127.0.0.1:18000,127.0.0.1:18001 &
pids+=($!)
wait -n "${pids[@]}"
