#!/usr/bin/env bash
# Side-by-side edge benchmark: TLS and HTTP/2 termination by our proxy (certificate delivered by
# its controller over SDS) against nginx and HAProxy with the same certificate, on this machine,
# in one run. Prints a table; it is not a test and asserts nothing. See docs/edge-benchmark.md.
# `bench/proxy_bench.sh --edge ...` runs this script.
#
#   bench/edge_bench.sh [--workers N] [--duration 10] [--connections 50] [--rounds 3]
#                       [--key rsa|ecdsa] [--rows tls,h2] [--proxies ours,nginx,haproxy]
#                       [--proxy_bin FILE] [--perf_dir DIR]
#                       [--skip-install] [--skip-build] [--keep]
#
# --proxies: which proxies to measure (default all three; the table's ratios need the peers).
# --rows: which measurements to take: `tls` (tls-keepalive, tls-full, tls-resumed) and/or `h2`
# (default both). --proxy_bin: run this proxy binary instead of the one just built (to compare
# two builds of ours in one sitting). --perf_dir: record `perf record -g` of our proxy during
# each of its h2 measurements into DIR/ours-h2-ROUND.data (perf adds CPU: not a run to quote).
#
# Our proxy is configured the way a user would: a controller, `lbctl cluster create` and `add`
# for the backends, `lbctl cert add` for the certificate (delivered over SDS).
#
# Rows (each proxy in front of the same three nginx backends, HTTP/1.1 keep-alive upstream):
#   tls-keepalive   wrk -t1 -cC over HTTPS (HTTP/1.1, TLS 1.3): requests/s, p50/p99, CPU/request
#   tls-full        `openssl s_time -new -www /` (two in parallel): a new connection with a full
#                   handshake and one HTTP/1.1 request each; connections/s, CPU/connection
#   tls-resumed     the same with `-reuse` (session resumption; the client must read the
#                   response to receive a TLS 1.3 ticket, hence -www)
#   h2              h2load -c10 -m100 over TLS (ALPN h2): requests/s, p50/p99 from its
#                   per-request log, CPU/request
# CPU is the proxy's utime+stime over the measured interval (all its processes and threads)
# divided by the operations done. With --workers 1 every proxy runs on CPU 1 and the load
# generators, backends and our controller on CPU 0.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
util="$here/bench_util.py"

workers=1 duration=10 connections=50 rounds=3 key=rsa rows=tls,h2 proxy_bin= perf_dir= proxies=ours,nginx,haproxy
skip_install=0 skip_build=0 keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=$2; shift ;;
    --workers=*) workers=${1#*=} ;;
    --duration) duration=${2%s}; shift ;;
    --duration=*) duration=${1#*=}; duration=${duration%s} ;;
    --connections) connections=$2; shift ;;
    --connections=*) connections=${1#*=} ;;
    --rounds) rounds=$2; shift ;;
    --rounds=*) rounds=${1#*=} ;;
    --key) key=$2; shift ;;
    --key=*) key=${1#*=} ;;
    --rows) rows=$2; shift ;;
    --rows=*) rows=${1#*=} ;;
    --proxy_bin) proxy_bin=$2; shift ;;
    --proxy_bin=*) proxy_bin=${1#*=} ;;
    --perf_dir) perf_dir=$2; shift ;;
    --proxies) proxies=$2; shift ;;
    --proxies=*) proxies=${1#*=} ;;
    --perf_dir=*) perf_dir=${1#*=} ;;
    --skip-install) skip_install=1 ;;
    --skip-build) skip_build=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "edge_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $key in rsa|ecdsa) ;; *) echo "edge_bench: --key rsa|ecdsa" >&2; exit 2 ;; esac
row_tls=0 row_h2=0
for r in ${rows//,/ }; do
  case $r in
    tls) row_tls=1 ;;
    h2) row_h2=1 ;;
    *) echo "edge_bench: --rows takes tls and/or h2" >&2; exit 2 ;;
  esac
done
if [ -n "$proxy_bin" ] && [ ! -x "$proxy_bin" ]; then
  echo "edge_bench: --proxy_bin $proxy_bin is not an executable" >&2; exit 2
fi
if [ "$workers" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  on_proxy_cpu=(taskset -c 1) on_aux_cpu=(taskset -c 0) pin=yes
else
  on_proxy_cpu=() on_aux_cpu=() pin=no
fi
log() { printf '[edge_bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# --- 1. install and build -------------------------------------------------------------------
if [ "$skip_install" = 0 ]; then
  bash "$root/bazel/install_deps.sh"  # nginx, haproxy, wrk, nghttp2-client (h2load), openssl
fi
cd "$root"
targets=(//controller:controller //proxy:proxy //cli:lbctl)
if [ "$skip_build" = 0 ]; then
  log "building ${targets[*]}"
  if ! bazel build "${targets[@]}" >/tmp/edge_bench_build.log 2>&1; then
    grep -E '^ERROR' /tmp/edge_bench_build.log | head -20 >&2 || true
    echo "edge_bench: build failed (log: /tmp/edge_bench_build.log)" >&2
    exit 1
  fi
fi
bin_dir=$(bazel info bazel-bin 2>/dev/null || echo "$root/bazel-bin")

dir=$(mktemp -d /tmp/edge-bench.XXXXXX)
mkdir -p "$dir/tmp" "$dir/bin" "$dir/certs"
cp "$bin_dir/controller/controller" "$bin_dir/cli/lbctl" "$dir/bin/"
cp "${proxy_bin:-$bin_dir/proxy/proxy}" "$dir/bin/proxy"
started_pids=()
pid_files=()
cleanup() {
  local rc=$?
  set +e
  for f in "${pid_files[@]}"; do [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
  for p in "${started_pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${started_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for f in "${pid_files[@]}"; do [ -f "$f" ] && kill -9 "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
  if [ "$keep" = 1 ]; then log "kept $dir"; else rm -rf "$dir"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for port in 1111 1112 1113 1114 18443 18444; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "edge_bench: 127.0.0.1:$port is already in use" >&2
    exit 1
  fi
done
wait_for() {  # wait_for SECONDS COMMAND...: retries COMMAND every 50 ms
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# --- 2. one certificate for every peer ------------------------------------------------------
c=$dir/certs
if [ "$key" = rsa ]; then keyopt=(-newkey rsa:2048); else keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); fi
openssl req -x509 -nodes -days 2 "${keyopt[@]}" -keyout "$c/ca.key" -out "$c/ca.crt" \
  -subj "/CN=edge bench CA" 2>/dev/null
openssl req -nodes "${keyopt[@]}" -keyout "$c/server.key" -out "$c/server.csr" \
  -subj "/CN=bench.test" 2>/dev/null
printf 'subjectAltName=DNS:bench.test,IP:127.0.0.1\n' >"$c/ext.cnf"
openssl x509 -req -in "$c/server.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
  -days 2 -extfile "$c/ext.cnf" -out "$c/server.crt" 2>/dev/null
cat "$c/server.crt" "$c/server.key" >"$c/server.pem"

subst() {
  sed -e "/^[[:space:]]*#/!{s#PREFIX#$dir#g; s#WORKERS#$workers#g; }" "$here/peers/$1" >"$dir/$1"
}
for f in backends.conf nginx-edge.conf haproxy-edge.cfg; do subst "$f"; done

log "run directory $dir; workers=$workers key=$key pinning=$pin"
pid_files+=("$dir/backends.pid" "$dir/nginx-edge.pid" "$dir/haproxy-edge.pid")
"${on_aux_cpu[@]}" nginx -p "$dir" -e "$dir/backends-stderr.log" -c "$dir/backends.conf"
"${on_proxy_cpu[@]}" nginx -p "$dir" -e "$dir/nginx-edge-stderr.log" -c "$dir/nginx-edge.conf"
"${on_proxy_cpu[@]}" haproxy -D -f "$dir/haproxy-edge.cfg"
wait_for 10 curl -sf http://127.0.0.1:1111/ || { echo "backends did not start" >&2; exit 1; }

# --- 3. our controller and proxy ------------------------------------------------------------
"${on_aux_cpu[@]}" "$dir/bin/controller" --grpc_listen=127.0.0.1:0 --rest_listen=127.0.0.1:0 \
  --data_dir="$dir/lb-data" --ready_file="$dir/controller.ready" --log_level=warn \
  >"$dir/controller.log" 2>&1 &
started_pids+=($!)
wait_for 30 test -s "$dir/controller.ready" || { echo "controller did not start" >&2; exit 1; }
grpc_port=$(json_field "$dir/controller.ready" grpc_port)
lbctl=("$dir/bin/lbctl" --controller="127.0.0.1:$grpc_port")
"${lbctl[@]}" cluster update backend --policy random >/dev/null  # The seed cluster.
for i in 1 2 3; do "${lbctl[@]}" add 127.0.0.1 "111$i" --cluster backend >/dev/null; done
"${lbctl[@]}" cert add bench --cert "$c/server.crt" --key "$c/server.key" \
  --sni bench.test --default >/dev/null
# setsid: a session of its own, as the daemonized peers have (proxy_bench.sh says why).
"${on_proxy_cpu[@]}" setsid "$dir/bin/proxy" --controller="127.0.0.1:$grpc_port" \
  --listen=127.0.0.1:0 --tls_listen=127.0.0.1:0 --admin_listen=127.0.0.1:0 \
  --workers="$workers" --ready_file="$dir/proxy.ready" --log_level=warn >"$dir/proxy.log" 2>&1 &
ours_pid=$!
started_pids+=($ours_pid)
wait_for 60 test -s "$dir/proxy.ready" || { echo "proxy did not start" >&2; exit 1; }
ours_port=$(json_field "$dir/proxy.ready" tls_port)
ours_admin=$(json_field "$dir/proxy.ready" admin_port)
# Upstream connections opened and requests sent on pooled ones, from our /stats.
upstream_counts() {
  curl -sf "http://127.0.0.1:$ours_admin/stats" |
    awk '$1 == "lb_proxy_upstream_connects_total" { c = $2 } $1 == "lb_proxy_upstream_reuses_total" { r = $2 } END { printf "%d %d\n", c, r }'
}

declare -A port_of=([ours]=$ours_port [nginx]=18443 [haproxy]=18444)
pids_of() {
  case $1 in
    ours) echo "$ours_pid" ;;
    nginx) cat "$dir/nginx-edge.pid" ;;
    haproxy) cat "$dir/haproxy-edge.pid" ;;
  esac
}
order=()
for p in ${proxies//,/ }; do
  case $p in
    ours|nginx|haproxy) order+=("$p") ;;
    *) echo "edge_bench: --proxies takes ours, nginx, haproxy" >&2; exit 2 ;;
  esac
done
for name in "${order[@]}"; do
  url="https://bench.test:${port_of[$name]}/"
  resolve=(--resolve "bench.test:${port_of[$name]}:127.0.0.1" --cacert "$c/ca.crt")
  wait_for 30 sh -c "curl -sf ${resolve[*]} $url | grep -q 'Hello from web_'" ||
    { echo "$name does not answer over TLS" >&2; exit 1; }
  wait_for 10 sh -c "curl -sf --http2 ${resolve[*]} -o /dev/null -w '%{http_version}' $url | grep -q '^2'" ||
    { echo "$name does not answer over HTTP/2" >&2; exit 1; }
  log "$name answers over TLS and HTTP/2"
done

# --- 4. measure -----------------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)
results=$dir/results.jsonl
record() {  # record TEST PROXY BEFORE AFTER OPS JSON-EXTRA
  python3 - "$@" "$clk_tck" >>"$results" <<'PY'
import json, sys
test, proxy, before, after, ops, extra, tck = sys.argv[1:8]
(u0, s0), (u1, s1) = [map(int, x.split()) for x in (before, after)]
us = ((u1 - u0) + (s1 - s0)) * 1e6 / int(tck)
r = json.loads(extra)
ops = int(ops)
r.update(test=test, proxy=proxy, ops=ops, cpu_us_per_op=us / ops if ops else None)
print(json.dumps(r))
PY
}
cpu() { python3 "$util" cpu $(pids_of "$1"); }  # shellcheck disable=SC2046
for round in $(seq "$rounds"); do
  for k in $(seq 0 $((${#order[@]} - 1))); do
    name=${order[$(((k + round - 1) % ${#order[@]}))]}
    port=${port_of[$name]}
    if [ "$row_tls" = 1 ]; then
      # TLS keep-alive, HTTP/1.1.
      "${on_aux_cpu[@]}" wrk -t1 -c"$connections" -d2s "https://127.0.0.1:$port/" >/dev/null
      before=$(cpu "$name")
      "${on_aux_cpu[@]}" wrk -t1 -c"$connections" -d"${duration}s" --latency \
        "https://127.0.0.1:$port/" >"$dir/wrk-$name-$round.txt"
      after=$(cpu "$name")
      w=$(python3 "$util" wrk "$dir/wrk-$name-$round.txt")
      n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"])' "$w")
      record tls-keepalive "$name" "$before" "$after" "$n" \
        "$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(json.dumps({"rps": r["rps"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "non2xx": r["non2xx"], "errors": r["socket_errors"]}))' "$w")"
      # Handshakes: full, then resumed.
      for mode in new reuse; do
        before=$(cpu "$name")
        clients=()
        for j in 1 2; do
          "${on_aux_cpu[@]}" openssl s_time -connect "127.0.0.1:$port" "-$mode" \
            -www / -time "$duration" >"$dir/stime-$name-$mode-$round-$j.txt" 2>&1 &
          clients+=($!)
        done
        wait "${clients[@]}" 2>/dev/null || true
        after=$(cpu "$name")
        s=$(python3 "$util" stime "$dir"/stime-"$name"-"$mode"-"$round"-*.txt)
        conns=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["connections"])' "$s")
        test_name=tls-full; [ "$mode" = reuse ] && test_name=tls-resumed
        record "$test_name" "$name" "$before" "$after" "$conns" \
          "{\"rps\": $(python3 -c "print($conns / $duration)")}"
      done
    fi
    # HTTP/2, 100 streams per connection.
    if [ "$row_h2" = 1 ]; then
      perf_pid=
      if [ -n "$perf_dir" ] && [ "$name" = ours ]; then
        mkdir -p "$perf_dir"
        "${on_aux_cpu[@]}" perf record -g -F 2000 -p "$ours_pid" -o "$perf_dir/ours-h2-$round.data" \
          >"$dir/perf-$round.log" 2>&1 &
        perf_pid=$!
      fi
      [ "$name" = ours ] && upstream_before=$(upstream_counts)
      before=$(cpu "$name")
      "${on_aux_cpu[@]}" h2load -t1 -c10 -m100 -D "$duration" --warm-up-time=1 \
        --log-file="$dir/h2load-$name-$round.log" "https://127.0.0.1:$port/" \
        >"$dir/h2load-$name-$round.txt" 2>&1 || true
      after=$(cpu "$name")
      if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
      if [ "$name" = ours ]; then
        read -r c0 r0 <<<"$upstream_before"
        read -r c1 r1 <<<"$(upstream_counts)"
        log "ours h2 round $round: $((c1 - c0)) upstream connects, $((r1 - r0)) reuses"
      fi
      h=$(python3 "$util" h2load "$dir/h2load-$name-$round.txt" "$dir/h2load-$name-$round.log")
      n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("requests", 0))' "$h")
      record h2 "$name" "$before" "$after" "$n" "$h"
    fi
    log "round $round $name done"
  done
done

echo
echo "== edge benchmark: workers=$workers key=$key pinning=$pin, ${duration}s per measurement, $rounds round(s), medians over rounds =="
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 "$util" edge-table "$results"
