#!/usr/bin/env bash
# Side-by-side proxy benchmark: our proxy (with its controller) against tuned nginx, HAProxy
# and the seed's nginx+Lua balancer, on this machine, in one run. Prints a table; it is not a
# test and asserts nothing. See docs/proxy-benchmark.md.
#
#   bench/proxy_bench.sh [--workers N] [--duration 10s] [--connections 50] [--rounds 3]
#                        [--adds 50] [--policy random|round_robin] [--no-pin]
#                        [--baseline PROXY_BINARY] [--base_flags "FLAGS"] [--profile] [--skip-install]
#                        [--skip-build] [--keep]
#
# --baseline runs another build of our proxy (e.g. the previous commit's bazel-bin/proxy/proxy)
# as one more peer, "ours-base", fed by the same controller, so a change is measured against the
# code before it in the same run. --base_flags adds flags to ours-base only: with the same binary
# as --baseline, it measures a flag against the defaults in one run (e.g. --base_flags
# "--idle_warm_max=100000" with --connections 600).
#
# What it does:
#  1. installs what is missing (wrk, nginx, its Lua module, lua-resty-core, lua-cjson, haproxy,
#     python3, and the project's build dependencies), builds //controller and //proxy;
#  2. starts 4 nginx backends on 127.0.0.1:1111-1114 (:1114 "web_new" is used only by step 4),
#     the seed's nginx+Lua balancer on :18080 (backends registered through its /config on
#     :19091), tuned nginx on :18082, HAProxy on :18081 (servers added on its admin socket with
#     pool-max-conn), and our controller + proxy (backends registered through the controller's
#     REST /config), every proxy with N workers (nginx worker_processes, HAProxy nbthread,
#     our --workers);
#  3. per round and proxy (order rotated each round): a 2 s wrk warm-up, then
#     `wrk -t1 -cC -dD --latency` while reading the proxy's CPU time (utime+stime of all its
#     processes and threads, /proc/PID/stat) before and after -> CPU microseconds per request;
#     the table shows the median over rounds;
#  4. add-to-routed latency: POST add of 127.0.0.1:1114 to the /config API, then GET through
#     the proxy as fast as possible until "Hello from web_new" answers; then del; repeated
#     --adds times, for our controller+proxy and for the seed's nginx+Lua;
#  5. stops everything it started (on any exit).
#
# Pinning (default with --workers 1): every proxy runs on CPU 1, and wrk, the backends and our
# controller on CPU 0, so the proxy under test has a core to itself and does not compete with
# its load generator. With --workers 2 (or --no-pin) nothing is pinned.
#
# Sessions: every proxy runs in a session of its own. nginx and HAProxy get one by daemonizing
# (setsid); ours is started under setsid(1). With the kernel's autogroup scheduling
# (kernel.sched_autogroup_enabled=1, Debian's default), CPU is shared fairly between sessions,
# not threads: a proxy left in the script's session shares one share with wrk. That tripled our
# 2-worker p99 before it was fixed (docs/proxy-benchmark.md).
#
# bench/proxy_bench.sh --edge [ARGS] runs bench/edge_bench.sh (TLS and HTTP/2 rows) instead.
set -euo pipefail

if [ "${1:-}" = --edge ]; then shift; exec "$(dirname "$0")/edge_bench.sh" "$@"; fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
util="$here/bench_util.py"

workers=1 duration=10s connections=50 rounds=3 adds=50 policy=random pin=auto
profile=0 skip_install=0 skip_build=0 keep=0 baseline="" base_flags=""
while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=$2; shift ;;
    --workers=*) workers=${1#*=} ;;
    --duration) duration=$2; shift ;;
    --duration=*) duration=${1#*=} ;;
    --connections) connections=$2; shift ;;
    --connections=*) connections=${1#*=} ;;
    --rounds) rounds=$2; shift ;;
    --rounds=*) rounds=${1#*=} ;;
    --adds) adds=$2; shift ;;
    --adds=*) adds=${1#*=} ;;
    --policy) policy=$2; shift ;;
    --policy=*) policy=${1#*=} ;;
    --no-pin) pin=no ;;
    --baseline) baseline=$2; shift ;;
    --baseline=*) baseline=${1#*=} ;;
    --base_flags) base_flags=$2; shift ;;
    --base_flags=*) base_flags=${1#*=} ;;
    --profile) profile=1 ;;
    --skip-install) skip_install=1 ;;
    --skip-build) skip_build=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "proxy_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $policy in
  random) nginx_policy="random;"; haproxy_balance="random(1)"; our_policy=RANDOM ;;
  round_robin) nginx_policy=""; haproxy_balance="roundrobin"; our_policy=ROUND_ROBIN ;;
  *) echo "proxy_bench: --policy random|round_robin" >&2; exit 2 ;;
esac
if [ "$pin" = auto ]; then
  if [ "$workers" = 1 ] && [ "$(nproc)" -ge 2 ]; then pin=yes; else pin=no; fi
fi
if [ "$pin" = yes ]; then
  on_proxy_cpu=(taskset -c 1) on_aux_cpu=(taskset -c 0)
else
  on_proxy_cpu=() on_aux_cpu=()
fi
log() { printf '[proxy_bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# --- 1. install and build -------------------------------------------------------------------
if [ "$skip_install" = 0 ]; then
  missing=()
  for p in wrk nginx libnginx-mod-http-lua lua-resty-core lua-cjson haproxy python3 curl; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  # python3 may come from elsewhere (pyenv); only ask apt when there is none at all.
  if command -v python3 >/dev/null 2>&1; then
    missing=("${missing[@]/python3/}")
  fi
  want=()
  for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
  if [ ${#want[@]} -gt 0 ]; then
    log "installing ${want[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${want[@]}" >/dev/null ||
      { apt-get update >/dev/null && apt-get install -y "${want[@]}" >/dev/null; }
  fi
  bash "$root/bazel/install_deps.sh"
fi
cd "$root"
if [ "$skip_build" = 0 ]; then
  log "building //controller:controller //proxy:proxy"
  if ! bazel build //controller:controller //proxy:proxy >/tmp/proxy_bench_build.log 2>&1; then
    grep -E '^ERROR' /tmp/proxy_bench_build.log | head -20 >&2 || true
    echo "proxy_bench: build failed (log: /tmp/proxy_bench_build.log)" >&2
    exit 1
  fi
fi
bin_dir=$(bazel info bazel-bin 2>/dev/null || echo "$root/bazel-bin")
for b in controller/controller proxy/proxy; do
  [ -x "$bin_dir/$b" ] || { echo "proxy_bench: $bin_dir/$b missing (build failed?)" >&2; exit 1; }
done

# --- 2. start everything --------------------------------------------------------------------
dir=$(mktemp -d /tmp/proxy-bench.XXXXXX)
mkdir -p "$dir/tmp" "$dir/bin"
# Private copies: other builds may replace bazel-bin while this runs.
cp "$bin_dir/controller/controller" "$bin_dir/proxy/proxy" "$dir/bin/"
if [ -n "$base_flags" ] && [ -z "$baseline" ]; then
  echo "proxy_bench: --base_flags needs --baseline" >&2; exit 2
fi
if [ -n "$baseline" ]; then
  [ -x "$baseline" ] || { echo "proxy_bench: --baseline $baseline is not an executable" >&2; exit 1; }
  cp "$baseline" "$dir/bin/proxy-base"
fi
started_pids=()
pid_files=()
cleanup() {
  local rc=$?
  set +e
  for f in "${pid_files[@]}"; do
    [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null
  done
  for p in "${started_pids[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${started_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    for f in "${pid_files[@]}"; do [ -f "$f" ] && kill -0 "$(cat "$f" 2>/dev/null)" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${started_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for f in "${pid_files[@]}"; do [ -f "$f" ] && kill -9 "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
  if [ "$keep" = 1 ]; then log "kept $dir"; else rm -rf "$dir"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in 1111 1112 1113 1114 18080 18081 18082 19091; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "proxy_bench: 127.0.0.1:$port is already in use (peers.sh or another bench running?)" >&2
    exit 1
  fi
done

subst() {
  # Comment lines are left alone (they name the placeholders).
  sed -e "/^[[:space:]]*#/!{s#PREFIX#$dir#g; s#WORKERS#$workers#g;" \
      -e "s#UPSTREAM_POLICY#$nginx_policy#g; s#BALANCE#$haproxy_balance#g; }" \
      "$here/peers/$1" > "$dir/$1"
}
for f in backends.conf seed-nginx-lua.conf nginx-tuned.conf haproxy.cfg; do subst "$f"; done

wait_for() {  # wait_for SECONDS COMMAND...: retries COMMAND every 50 ms
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

log "run directory $dir; workers=$workers policy=$policy pinning=$pin"
pid_files+=("$dir/backends.pid" "$dir/nginx.pid" "$dir/tuned.pid" "$dir/haproxy.pid")
"${on_aux_cpu[@]}" nginx -p "$dir" -e "$dir/backends-stderr.log" -c "$dir/backends.conf"
"${on_proxy_cpu[@]}" nginx -p "$dir" -e "$dir/seed-stderr.log" -c "$dir/seed-nginx-lua.conf"
"${on_proxy_cpu[@]}" nginx -p "$dir" -e "$dir/tuned-stderr.log" -c "$dir/nginx-tuned.conf"
"${on_proxy_cpu[@]}" haproxy -D -f "$dir/haproxy.cfg"
wait_for 10 curl -sf http://127.0.0.1:1111/ || { echo "backends did not start" >&2; exit 1; }
wait_for 10 curl -sf http://127.0.0.1:19091/config || { echo "seed nginx did not start" >&2; exit 1; }
wait_for 10 test -S "$dir/haproxy.sock" || { echo "haproxy did not start" >&2; exit 1; }
for i in 1 2 3; do
  curl -sf -X POST -d "{\"action\":\"add\",\"ip\":\"127.0.0.1\",\"port\":111$i}" \
    http://127.0.0.1:19091/config >/dev/null
  # Dynamic HAProxy servers get no idle-connection pool unless asked (pool-max-conn).
  python3 "$util" haproxy "$dir/haproxy.sock" \
    "add server backend/web_$i 127.0.0.1:111$i pool-max-conn 100 pool-purge-delay 10s" >/dev/null
  python3 "$util" haproxy "$dir/haproxy.sock" "enable server backend/web_$i" >/dev/null
done

"${on_aux_cpu[@]}" "$dir/bin/controller" --grpc_listen=127.0.0.1:0 --rest_listen=127.0.0.1:0 \
  --data_dir="$dir/lb-data" --ready_file="$dir/controller.ready" --log_level=warn \
  >"$dir/controller.log" 2>&1 &
started_pids+=($!)
wait_for 30 test -s "$dir/controller.ready" || { echo "controller did not start" >&2; exit 1; }
grpc_port=$(json_field "$dir/controller.ready" grpc_port)
rest_port=$(json_field "$dir/controller.ready" rest_port)
curl -sf -X PUT -d "{\"name\":\"backend\",\"lb_policy\":\"$our_policy\"}" \
  "http://127.0.0.1:$rest_port/v1/clusters/backend" >/dev/null
for i in 1 2 3; do
  curl -sf -X POST -d "{\"action\":\"add\",\"ip\":\"127.0.0.1\",\"port\":111$i}" \
    "http://127.0.0.1:$rest_port/config" >/dev/null
done

start_proxy() {  # start_proxy NAME [WRAPPER...]: our proxy; sets proxy_pid and proxy_port
  local name=$1; shift
  local binary="$dir/bin/proxy"
  local extra=()
  if [ "$name" = ours-base ]; then
    binary="$dir/bin/proxy-base"
    read -r -a extra <<<"$base_flags"
  fi
  rm -f "$dir/$name.ready"
  # setsid: a session of its own, as the daemonized peers have (see the header).
  "$@" setsid "$binary" --controller="127.0.0.1:$grpc_port" --listen=127.0.0.1:0 \
    --admin_listen=127.0.0.1:0 --workers="$workers" --drain_timeout=2s \
    --ready_file="$dir/$name.ready" --log_level=warn ${extra[@]+"${extra[@]}"} >"$dir/$name.log" 2>&1 &
  proxy_pid=$!
  started_pids+=($proxy_pid)
  wait_for 120 test -s "$dir/$name.ready" || { echo "proxy did not start" >&2; exit 1; }
  proxy_port=$(json_field "$dir/$name.ready" port)
  proxy_admin=$(json_field "$dir/$name.ready" admin_port)
  wait_for 60 sh -c "curl -sf http://127.0.0.1:$proxy_port/ | grep -q 'Hello from web_'" ||
    { echo "proxy $name never routed to the backends" >&2; exit 1; }
}
start_proxy ours "${on_proxy_cpu[@]}"
ours_pid=$proxy_pid ours_port=$proxy_port ours_admin=$proxy_admin

declare -A port_of=([ours]=$ours_port [nginx-tuned]=18082 [haproxy]=18081 [seed-nginx-lua]=18080)
order=(ours nginx-tuned haproxy seed-nginx-lua)
if [ -n "$baseline" ]; then
  start_proxy ours-base "${on_proxy_cpu[@]}"
  base_pid=$proxy_pid
  port_of[ours-base]=$proxy_port
  order=(ours ours-base nginx-tuned haproxy seed-nginx-lua)
fi
pids_of() {
  case $1 in
    ours) echo "$ours_pid" ;;
    ours-base) echo "$base_pid" ;;
    nginx-tuned) cat "$dir/tuned.pid" ;;
    haproxy) cat "$dir/haproxy.pid" ;;
    seed-nginx-lua) cat "$dir/nginx.pid" ;;
  esac
}
# Every proxy must answer from all three backends before it is measured.
for name in "${order[@]}"; do
  seen=$(for _ in $(seq 60); do curl -s "http://127.0.0.1:${port_of[$name]}/"; done | sort -u | tr '\n' ' ')
  log "$name answers: $seen"
done

# --- 3. throughput, latency, CPU per request ------------------------------------------------
clk_tck=$(getconf CLK_TCK)
results="$dir/results.jsonl"
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for k in $(seq 0 $((${#order[@]} - 1))); do
    name=${order[$(((k + round - 1) % ${#order[@]}))]}
    url="http://127.0.0.1:${port_of[$name]}/"
    "${on_aux_cpu[@]}" wrk -t1 -c"$connections" -d2s "$url" >/dev/null
    load1=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2046
    before=$(python3 "$util" cpu $(pids_of "$name"))
    "${on_aux_cpu[@]}" wrk -t1 -c"$connections" -d"$duration" --latency "$url" >"$dir/wrk-$name-$round.txt"
    after=$(python3 "$util" cpu $(pids_of "$name"))
    python3 - "$dir/wrk-$name-$round.txt" "$name" "$round" "$before" "$after" "$clk_tck" \
      "$load1" "$util" >>"$results" <<'PY'
import json, sys, importlib.util
path, name, rnd, before, after, tck, load1, util = sys.argv[1:9]
spec = importlib.util.spec_from_file_location("u", util); u = importlib.util.module_from_spec(spec)
spec.loader.exec_module(u)
r = u.parse_wrk(path)
(u0, s0), (u1, s1) = [map(int, x.split()) for x in (before, after)]
user_us, sys_us = (u1 - u0) * 1e6 / int(tck), (s1 - s0) * 1e6 / int(tck)
n = r["requests"]
r.update(proxy=name, round=int(rnd), cpu_s=(user_us + sys_us) / 1e6, load1=float(load1),
         cpu_us_per_req=(user_us + sys_us) / n if n else None,
         user_us_per_req=user_us / n if n else None, sys_us_per_req=sys_us / n if n else None)
print(json.dumps(r))
PY
    log "round $round $name: $(tail -1 "$results")"
  done
done
log "our proxy's counters: $(curl -s "http://127.0.0.1:$ours_admin/stats" | grep -v '^#' | sed 's/^lb_proxy_//' | tr '\n' ' ')"

# --- 4. add-to-routed latency ---------------------------------------------------------------
latency="$dir/latency.jsonl"
if [ "$adds" -gt 0 ]; then
  log "add-to-routed: $adds adds/dels through each /config API"
  python3 "$util" add-latency ours "http://127.0.0.1:$rest_port/config" \
    "$ours_port" 1114 "$adds" 5 "$latency" >/dev/null
  python3 "$util" add-latency seed-nginx-lua "http://127.0.0.1:19091/config" \
    18080 1114 "$adds" 5 "$latency" >/dev/null
fi

echo
echo "== proxy benchmark: workers=$workers policy=$policy pinning=$pin wrk -t1 -c$connections -d$duration, $rounds round(s) (medians over rounds; "best" = the least disturbed round) =="
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 "$util" table "$results" "$latency"

# --- optional: where the CPU goes -----------------------------------------------------------
# perf (software cpu-clock sampling, user and kernel) of our proxy, tuned nginx and HAProxy
# under the same wrk load, with syscalls and TCP segments per request; then callgrind (user
# space only, instruction counts) of our proxy under a light load.
if [ "$profile" = 1 ]; then
  command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
  command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null || true
  wrk_requests() {  # the request count of a wrk output file
    grep -oE '^ *[0-9]+ requests in' "$1" | grep -oE '[0-9]+'
  }
  pids_csv() {  # the PIDs of a proxy and its children, comma-separated
    local roots; roots=$(pids_of "$1")
    { echo "$roots"; for r in $roots; do pgrep -P "$r" || true; done; } | paste -sd, -
  }
  if command -v perf >/dev/null && perf record -o /dev/null -q -- true >/dev/null 2>&1; then
    for name in ours nginx-tuned haproxy; do
      url="http://127.0.0.1:${port_of[$name]}/"
      "${on_aux_cpu[@]}" wrk -t1 -c"$connections" -d2s "$url" >/dev/null
      # Sampling first, then syscall counting (both at once spoil the sampling).
      perf record -F 1999 -g -q -o "$dir/perf-$name.data" -p "$(pids_csv "$name")" -- sleep 8 \
        >/dev/null 2>&1 &
      perf_pid=$!
      # shellcheck disable=SC2046
      read -r u0 s0 < <(python3 "$util" cpu $(pids_of "$name"))
      "${on_aux_cpu[@]}" wrk -t1 -c"$connections" -d8s "$url" >"$dir/wrk-perf-$name.txt"
      # shellcheck disable=SC2046
      read -r u1 s1 < <(python3 "$util" cpu $(pids_of "$name"))
      wait "$perf_pid" || true
      reqs=$(wrk_requests "$dir/wrk-perf-$name.txt")
      us=$(python3 -c "print(($u1 - $u0 + $s1 - $s0) * 1e6 / $clk_tck / $reqs)")
      echo
      echo "== perf: $name under wrk -t1 -c$connections: $reqs requests, $(printf %.1f "$us") us CPU/request (user $(python3 -c "print(f'{($u1 - $u0) * 1e6 / $clk_tck / $reqs:.1f}')")) =="
      echo "-- by system call (outermost syscall frame of each sample; [top kernel functions]) --"
      perf script -i "$dir/perf-$name.data" -F ip,sym,dso 2>/dev/null >"$dir/perf-$name.txt"
      python3 "$util" perf-split "$dir/perf-$name.txt" "$us"
      echo "-- self time by symbol (user [.] and kernel [k]) --"
      perf report -i "$dir/perf-$name.data" --no-children -g none --percent-limit 0.7 \
        --sort dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -25 | cut -c1-160 || true
      if perf stat -e 'syscalls:sys_enter_*' -o /dev/null -- true >/dev/null 2>&1; then
        perf stat -e 'syscalls:sys_enter_*' -x, -o "$dir/sys-$name.txt" -p "$(pids_csv "$name")" \
          -- sleep 5 >/dev/null 2>&1 &
        sc=$!
        "${on_aux_cpu[@]}" wrk -t1 -c"$connections" -d5s "$url" >"$dir/wrk-sys-$name.txt"
        wait "$sc" || true
        reqs=$(wrk_requests "$dir/wrk-sys-$name.txt")
        python3 - "$dir/sys-$name.txt" "$reqs" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    f = line.strip().split(",")
    if len(f) > 2 and f[0].isdigit() and int(f[0]) > 0:
        rows.append((int(f[0]), f[2].replace("syscalls:sys_enter_", "")))
n = int(sys.argv[2])
rows.sort(reverse=True)
print(f"-- syscalls per request: {sum(c for c, _ in rows) / n:.2f} = " +
      " + ".join(f"{name} {c / n:.2f}" for c, name in rows if c / n >= 0.01))
PY
      fi
      # TCP segments on the whole machine per request (wrk, proxy and backends): 4 carry
      # data; pure ACKs on top are wake-ups and transmits somebody pays for.
      if command -v nstat >/dev/null; then
        nstat -n >/dev/null
        "${on_aux_cpu[@]}" wrk -t1 -c"$connections" -d5s "$url" >"$dir/wrk-nstat-$name.txt"
        nstat -z TcpOutSegs TcpExtTCPPureAcks TcpExtDelayedACKs TcpExtTCPHPAcks \
          TcpExtTCPAutoCorking >"$dir/nstat-$name.txt" 2>/dev/null || true
        reqs=$(wrk_requests "$dir/wrk-nstat-$name.txt")
        python3 - "$dir/nstat-$name.txt" "$reqs" <<'PY'
import sys
n = int(sys.argv[2])
vals = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 2 and f[1].isdigit():
        vals[f[0].replace("TcpExt", "")] = int(f[1]) / n
print("-- TCP per request (whole machine): " + ", ".join(f"{k} {v:.2f}" for k, v in vals.items()))
PY
      fi
    done
  else
    log "perf cannot sample here; only callgrind"
  fi
  log "profiling our proxy under callgrind (wrk -t1 -c10 -d15s)"
  start_proxy callgrind "${on_proxy_cpu[@]}" valgrind --tool=callgrind \
    --callgrind-out-file="$dir/callgrind.out" --dump-instr=no
  "${on_aux_cpu[@]}" wrk -t1 -c10 -d15s "http://127.0.0.1:$proxy_port/" >"$dir/wrk-callgrind.txt"
  kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true
  echo
  echo "== callgrind: our proxy, $(grep -oE '[0-9]+ requests in' "$dir/wrk-callgrind.txt") 15 s (instructions, user space, start-up included) =="
  echo "-- inclusive --"
  callgrind_annotate --auto=no --inclusive=yes "$dir/callgrind.out" 2>/dev/null |
    grep -E '^ *[0-9,]+ \( *[0-9.]+%\)' | head -45 | cut -c1-200 || true
  echo "-- self cost grouped by area --"
  callgrind_annotate --auto=no --threshold=100 "$dir/callgrind.out" 2>/dev/null >"$dir/callgrind-self.txt"
  python3 "$util" callgrind-groups "$dir/callgrind-self.txt"
  echo "-- self --"
  grep -E '^ *[0-9,]+ \( *[0-9.]+%\)' "$dir/callgrind-self.txt" | head -30 | cut -c1-200 || true
  if [ "$keep" = 1 ]; then log "profiles kept in $dir"; fi
fi
