#!/usr/bin/env bash
# The controller on its two stores, side by side in one run: SQLite (embedded) and a 3-member
# etcd on loopback with two controllers. Prints tables; asserts nothing. See docs/etcd.md.
#
#   bench/ha_bench.sh [--writes 500] [--adds 100] [--failovers 5] [--skip-install] [--skip-build]
#                     [--keep]
#
#   writes      --writes sequential adds, then as many dels, through REST /config: writes/s,
#               latency per write
#   add-to-routed   --adds times: POST add of a new backend, then GET through a proxy until it
#               answers (bench_util.py add-latency); the proxy follows the controller written to
#               (SQLite) or the other controller (etcd: the write crosses etcd)
#   failover    --failovers times (etcd only): SIGKILL of the controller the proxy follows;
#               time until the proxy streams from the other one, and until an add written
#               through the survivor right after the kill is routed; the killed controller is
#               restarted between runs
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
util="$here/bench_util.py"
nwrites=500 nadds=100 nfailovers=5 skip_install=0 skip_build=0 keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --writes) nwrites=$2; shift ;;
    --adds) nadds=$2; shift ;;
    --failovers) nfailovers=$2; shift ;;
    --skip-install) skip_install=1 ;;
    --skip-build) skip_build=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ha_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
log() { printf '[ha_bench %s] %s\n' "$(date +%T)" "$*" >&2; }

[ "$skip_install" = 1 ] || bash "$root/bazel/install_deps.sh"
cd "$root"
if [ "$skip_build" = 0 ]; then
  bazel build //controller:controller //proxy:proxy >/tmp/ha_bench_build.log 2>&1 ||
    { tail -20 /tmp/ha_bench_build.log >&2; exit 1; }
fi
bin_dir=$(bazel info bazel-bin 2>/dev/null || echo "$root/bazel-bin")
dir=$(mktemp -d /tmp/ha-bench.XXXXXX)
mkdir -p "$dir/tmp" "$dir/bin"
cp "$bin_dir/controller/controller" "$bin_dir/proxy/proxy" "$dir/bin/"
pids=()
cleanup() {
  local rc=$?
  set +e
  [ -f "$dir/backends.pid" ] && kill "$(cat "$dir/backends.pid")" 2>/dev/null
  kill "${pids[@]}" 2>/dev/null
  sleep 0.3
  kill -9 "${pids[@]}" 2>/dev/null
  if [ "$keep" = 1 ]; then log "kept $dir"; else rm -rf "$dir"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sed -e "/^[[:space:]]*#/!{s#PREFIX#$dir#g; s#WORKERS#1#g; }" "$here/peers/backends.conf" >"$dir/backends.conf"
nginx -p "$dir" -e "$dir/backends-stderr.log" -c "$dir/backends.conf"
wait_for 10 curl -sf http://127.0.0.1:1111/ || { echo "backends did not start" >&2; exit 1; }

start_controller() {  # start_controller NAME FLAGS...: sets ctl_pid ctl_grpc ctl_rest
  local name=$1; shift
  rm -f "$dir/$name.ready"
  "$dir/bin/controller" --grpc_listen="127.0.0.1:${grpc_fixed:-0}" \
    --rest_listen="127.0.0.1:${rest_fixed:-0}" --ready_file="$dir/$name.ready" \
    --log_level=warn "$@" >>"$dir/$name.log" 2>&1 &
  ctl_pid=$!
  pids+=($ctl_pid)
  wait_for 30 test -s "$dir/$name.ready" || { echo "controller $name did not start" >&2; exit 1; }
  ctl_grpc=$(json_field "$dir/$name.ready" grpc_port)
  ctl_rest=$(json_field "$dir/$name.ready" rest_port)
}
start_proxy() {  # start_proxy NAME CONTROLLERS: sets px_pid px_port px_admin
  "$dir/bin/proxy" --controller="$2" --listen=127.0.0.1:0 --admin_listen=127.0.0.1:0 \
    --workers=1 --ready_file="$dir/$1.ready" --log_level=warn \
    --controller_keepalive_time=1s --controller_keepalive_timeout=1s >"$dir/$1.log" 2>&1 &
  px_pid=$!
  pids+=($px_pid)
  wait_for 30 test -s "$dir/$1.ready" || { echo "proxy $1 did not start" >&2; exit 1; }
  px_port=$(json_field "$dir/$1.ready" port)
  px_admin=$(json_field "$dir/$1.ready" admin_port)
}
register() {  # register REST_PORT: the three backends
  for i in 1 2 3; do
    curl -sf -X POST -d "{\"action\":\"add\",\"ip\":\"127.0.0.1\",\"port\":111$i}" \
      "http://127.0.0.1:$1/config" >/dev/null
  done
}

writes=$dir/writes.jsonl adds=$dir/adds.jsonl failovers=$dir/failover.jsonl

# --- SQLite ---------------------------------------------------------------------------------
log "sqlite: one controller, one proxy"
start_controller sqlite --data_dir="$dir/sqlite-data"
sq_pid=$ctl_pid sq_rest=$ctl_rest
register "$sq_rest"
start_proxy sq-proxy "127.0.0.1:$ctl_grpc"
wait_for 30 sh -c "curl -sf http://127.0.0.1:$px_port/ | grep -q 'Hello from web_'"
python3 "$util" writes sqlite "http://127.0.0.1:$sq_rest/config" "$nwrites" "$writes" >/dev/null
python3 "$util" add-latency sqlite "http://127.0.0.1:$sq_rest/config" "$px_port" 1114 \
  "$nadds" 5 "$adds" >/dev/null
kill "$px_pid" "$sq_pid"

# --- etcd -----------------------------------------------------------------------------------
log "etcd: 3 members, two controllers, one proxy following controller A (writes go to B)"
cluster="" endpoints=""
declare -a client_ports peer_ports
for i in 0 1 2; do
  client_ports[$i]=$(free_port) peer_ports[$i]=$(free_port)
  cluster+="${cluster:+,}m$i=http://127.0.0.1:${peer_ports[$i]}"
  endpoints+="${endpoints:+,}127.0.0.1:${client_ports[$i]}"
done
for i in 0 1 2; do
  etcd --name "m$i" --data-dir "$dir/etcd/m$i" \
    --listen-client-urls "http://127.0.0.1:${client_ports[$i]}" \
    --advertise-client-urls "http://127.0.0.1:${client_ports[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
    --initial-cluster "$cluster" --initial-cluster-token ha-bench \
    --max-txn-ops 10240 --log-level warn --logger zap --log-outputs "$dir/etcd-m$i.log" &
  pids+=($!)
done
for i in 0 1 2; do
  wait_for 30 sh -c "curl -sf http://127.0.0.1:${client_ports[$i]}/health | grep -q true" ||
    { echo "etcd m$i not healthy" >&2; exit 1; }
done
etcd_flags=(--store=etcd --etcd_endpoints="$endpoints" --etcd_prefix=/ha-bench/)
start_controller ctl-a "${etcd_flags[@]}"
a_pid=$ctl_pid a_grpc=$ctl_grpc a_rest=$ctl_rest
start_controller ctl-b "${etcd_flags[@]}"
b_pid=$ctl_pid b_grpc=$ctl_grpc b_rest=$ctl_rest
register "$b_rest"
start_proxy etcd-proxy "127.0.0.1:$a_grpc,127.0.0.1:$b_grpc"
wait_for 30 sh -c "curl -sf http://127.0.0.1:$px_port/ | grep -q 'Hello from web_'"
python3 "$util" writes etcd-3 "http://127.0.0.1:$b_rest/config" "$nwrites" "$writes" >/dev/null
python3 "$util" add-latency etcd-3 "http://127.0.0.1:$b_rest/config" "$px_port" 1114 \
  "$nadds" 5 "$adds" >/dev/null

for run in $(seq "$nfailovers"); do
  # The proxy follows A; kill A, write through B.
  python3 "$util" failover "run $run" "$a_pid" "http://127.0.0.1:$b_rest/config" "$px_port" \
    "$px_admin" 1114 "$failovers" >/dev/null
  curl -sf -X POST -d '{"action":"del","ip":"127.0.0.1","port":1114}' \
    "http://127.0.0.1:$b_rest/config" >/dev/null || true
  wait "$a_pid" 2>/dev/null || true
  # Restart A on its ports, then move the proxy back to it (restart the proxy).
  grpc_fixed=$a_grpc rest_fixed=$a_rest start_controller ctl-a "${etcd_flags[@]}"
  a_pid=$ctl_pid
  kill "$px_pid"; wait "$px_pid" 2>/dev/null || true
  start_proxy etcd-proxy "127.0.0.1:$a_grpc,127.0.0.1:$b_grpc"
  wait_for 30 sh -c "curl -sf http://127.0.0.1:$px_port/ | grep -q 'Hello from web_'"
done

echo
echo "== HA benchmark: SQLite vs a 3-member etcd on loopback =="
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 "$util" ha-table "$writes" "$adds" "$failovers"
