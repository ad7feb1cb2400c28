#!/usr/bin/env bash
# Abuse benchmark: the same attacks against our proxy, tuned nginx and HAProxy side by side,
# each in front of the same three local test backends. Prints a table per attack; it is not a
# test and asserts nothing. See docs/abuse-benchmark.md.
#
#   bench/abuse_bench.sh [--ours BIN] [--controller BIN] [--backend BIN] [--duration 10]
#                        [--workers 1] [--attacks 1,2,3,4,5,6,7,8] [--proxies ours,nginx,haproxy]
#                        [--no-pin] [--json FILE] [--keep]
#
# Needs nginx, haproxy, wrk and python3 (standard library only): bazel/install_deps.sh installs
# them. Without --ours/--controller/--backend it builds //proxy:proxy, //controller:controller
# and //tests/test_common:backend_main with bazel (-c opt). The binaries are copied into the run
# directory, so a concurrent build cannot swap them mid-run. Our proxy runs with its default
# limits (only --workers, --drain_timeout=1s and --log_level=warn are given); it is configured
# through the controller's REST resource API (/v1).
#
# Every proxy balances round robin over the same three test backends (and sends /ws to a
# WebSocket echo backend). Attacks (each bounded in time, loopback only, ports picked free; a
# fresh proxy process per attack and proxy):
#  1. one GET that the backend answers after 60 s, then pipelined GETs written non-blocking on
#     the same connection for --duration seconds (at most 1 GiB): bytes the proxy read;
#  2. a WebSocket (Upgrade) to an echo backend, written as fast as possible, never read;
#  3. a GET of a 100 MB response that is never read, held --duration seconds;
#  4. 100 GETs answered with a head and a first chunk, then nothing for 60 s; the clients
#     close; the proxy's upstream connections still open 5 s later;
#  5. each proxy under ulimit -n 256; 1,000 idle client connections held --duration seconds;
#  6. slowloris: 1,000 connections, a header byte each every 2 s, for max(--duration, 15) s;
#  7. 3,000 clients, one GET each, then idle: (RSS after - RSS before) / 3,000;
#  8. wrk -t1 -c16 for --duration seconds; after a third of it, kill -9 of one of the three
#     backends (restarted on its port before the next proxy starts): requests that failed.
# Per attack and proxy: RSS before / peak / after (sum of VmRSS over the proxy's processes,
# sampled every 100 ms), CPU seconds during the attack (utime+stime from /proc/PID/stat), and
# how many of a normal client's GETs (a new connection every 200 ms) were served during and
# after the attack; in the notes, what the attack saw, and the proxy's CPU after the attack
# when it keeps busy once the attacker has gone.
#
# Pinning (default with --workers 1 on 2+ cores): the proxy under test on CPU 1, everything
# else (backends, controller, attacker, normal client, wrk) on CPU 0. Safety valves: an attack stops
# writing when the proxy's RSS passes 1.5 GiB, and the proxy is killed above 3 GiB (both
# reported). Takes about 6 minutes with the defaults. Everything it starts is stopped on exit,
# whatever the cause; an interrupted run (Ctrl-C) still prints the attacks that finished.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

ours="" controller="" backend="" duration=10 workers=1 attacks=1,2,3,4,5,6,7,8
proxies=ours,nginx,haproxy pin=auto json="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --ours) ours=$2; shift ;;
    --ours=*) ours=${1#*=} ;;
    --controller) controller=$2; shift ;;
    --controller=*) controller=${1#*=} ;;
    --backend) backend=$2; shift ;;
    --backend=*) backend=${1#*=} ;;
    --duration) duration=$2; shift ;;
    --duration=*) duration=${1#*=} ;;
    --workers) workers=$2; shift ;;
    --workers=*) workers=${1#*=} ;;
    --attacks) attacks=$2; shift ;;
    --attacks=*) attacks=${1#*=} ;;
    --proxies) proxies=$2; shift ;;
    --proxies=*) proxies=${1#*=} ;;
    --no-pin) pin=no ;;
    --json) json=$2; shift ;;
    --json=*) json=${1#*=} ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "abuse_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
log() { printf '[abuse_bench %s] %s\n' "$(date +%T)" "$*" >&2; }
# Debian puts nginx and haproxy in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

for tool in nginx haproxy wrk python3 prlimit taskset setsid timeout; do
  command -v "$tool" >/dev/null ||
    { echo "abuse_bench: $tool is missing (bash bazel/install_deps.sh installs it)" >&2; exit 1; }
done

# --- binaries -------------------------------------------------------------------------------
if [ -z "$ours" ] || [ -z "$controller" ] || [ -z "$backend" ]; then
  cd "$root"
  log "building //proxy:proxy //controller:controller //tests/test_common:backend_main"
  build_log=$(mktemp /tmp/abuse_bench_build.XXXXXX)
  if ! bazel build -c opt //proxy:proxy //controller:controller //tests/test_common:backend_main \
      >"$build_log" 2>&1; then
    grep -E '^ERROR' "$build_log" | head -20 >&2 || true
    echo "abuse_bench: build failed (log: $build_log)" >&2
    exit 1
  fi
  rm -f "$build_log"
  bin_dir=$(bazel info -c opt bazel-bin 2>/dev/null || echo "$root/bazel-bin")
  [ -n "$ours" ] || ours=$bin_dir/proxy/proxy
  [ -n "$controller" ] || controller=$bin_dir/controller/controller
  [ -n "$backend" ] || backend=$bin_dir/tests/test_common/backend_main
fi
for b in "$ours" "$controller" "$backend"; do
  [ -x "$b" ] || { echo "abuse_bench: $b is not an executable" >&2; exit 1; }
done
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
if [ -n "$(git -C "$root" status --porcelain -- proxy controller 2>/dev/null)" ]; then
  commit="$commit+dirty"
fi

# --- descriptors: attacks 5-7 open up to 3,000 connections at once --------------------------
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" 2>/dev/null || true
if [ "$(ulimit -n)" -lt 8192 ]; then
  log "warning: ulimit -n is $(ulimit -n) (hard $hard); attacks 6 and 7 need about 8,000"
fi

# --- run --------------------------------------------------------------------------------------
dir=$(mktemp -d /tmp/abuse-bench.XXXXXX)
chmod 755 "$dir"  # nginx's workers (user nobody when started as root) write temp files in it
mkdir -p "$dir/bin"
cp "$ours" "$dir/bin/proxy"
cp "$controller" "$dir/bin/controller"
cp "$backend" "$dir/bin/backend_main"
runner="" printed=0
cleanup() {
  local rc=$?
  set +e
  trap - INT TERM
  if [ -n "$runner" ]; then
    # run.py leads its own process group (setsid): every process of the run is in it.
    local pgid
    pgid=$(cat "$dir/pgid" 2>/dev/null || echo "$runner")
    if [ -n "$pgid" ] && [ "$pgid" -gt 1 ] && [ "$pgid" != "$(ps -o pgid= $$ | tr -d ' ')" ]; then
      kill -TERM -- "-$pgid" 2>/dev/null
      for _ in $(seq 100); do
        kill -0 -- "-$pgid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL -- "-$pgid" 2>/dev/null
    fi
    kill -KILL "$runner" 2>/dev/null
    # Anything recorded that escaped the group.
    while read -r p; do kill -KILL "$p" 2>/dev/null; done < "$dir/pids" 2>/dev/null
    # Interrupted: the table of the attacks that finished, if run.py got to print it.
    [ "$printed" = 1 ] || cat "$dir/table.txt" 2>/dev/null
  fi
  if [ "$keep" = 1 ] || [ "$rc" != 0 ]; then log "run directory kept: $dir"; else rm -rf "$dir"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "run directory $dir; our binaries from $(dirname "$ours"); commit $commit"
# A hard limit on the whole run, so that it can never hang.
setsid timeout -k 10 900 python3 "$here/abuse/run.py" --dir "$dir" --ours "$dir/bin/proxy" \
  --controller "$dir/bin/controller" --backend "$dir/bin/backend_main" \
  --duration "$duration" --workers "$workers" --attacks "$attacks" --proxies "$proxies" \
  --pin "$pin" --commit "$commit" >"$dir/table.txt" &
runner=$!
rc=0
wait "$runner" || rc=$?
cat "$dir/table.txt"
printed=1
if [ -n "$json" ] && [ -f "$dir/results.jsonl" ]; then cp "$dir/results.jsonl" "$json"; fi
exit $rc
