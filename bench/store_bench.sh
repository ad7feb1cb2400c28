#!/usr/bin/env bash
# Bytes written per endpoint add at 10, 1,000 and 10,000 endpoints per cluster, before and after
# per-endpoint keys, on SQLite and on a 1-member etcd (fresh for every run). Prints a table;
# asserts nothing. Results: docs/store-benchmark.md.
#
#   bench/store_bench.sh [--adds 50] [--sizes "10 1000 9950"] [--skip-etcd] [--skip-build]
#
#   "before" (embedded) replays the write path of main at 6f4ce3e (one value per cluster holding
#   every endpoint, rewritten by every add); "after" (keys) is the Registry of this tree. Both
#   run through the same Store code (tests/bench/store_bytes.cc). The last size is 9,950 so
#   that the adds end at 10,000, the cap per cluster.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
nadds=50 sizes="10 1000 9950" skip_etcd=0 skip_build=0
while [ $# -gt 0 ]; do
  case $1 in
    --adds) nadds=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --skip-etcd) skip_etcd=1 ;;
    --skip-build) skip_build=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "store_bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
log() { printf '[store_bench %s] %s\n' "$(date +%T)" "$*" >&2; }

cd "$root"
if [ "$skip_build" = 0 ]; then
  bazel build //tests/bench:store_bytes >/tmp/store_bench_build.log 2>&1 ||
    { tail -20 /tmp/store_bench_build.log >&2; exit 1; }
fi
tool="$(bazel info bazel-bin 2>/dev/null || echo "$root/bazel-bin")/tests/bench/store_bytes"
dir=$(mktemp -d /tmp/store-bench.XXXXXX)
etcd_pid=""
cleanup() {
  local rc=$?
  [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null
  rm -rf "$dir"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

results="$dir/results.jsonl"
for size in $sizes; do
  for layout in embedded keys; do
    log "sqlite $layout size $size"
    rm -rf "$dir/data" && mkdir -p "$dir/data"
    "$tool" --store=sqlite --data_dir="$dir/data" --layout="$layout" --size="$size" \
      --adds="$nadds" >>"$results"
    [ "$skip_etcd" = 1 ] && continue
    log "etcd $layout size $size"
    client=$(free_port) peer=$(free_port)
    rm -rf "$dir/etcd"
    etcd --name b --data-dir "$dir/etcd" \
      --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "b=http://127.0.0.1:$peer" --max-txn-ops 10240 \
      --log-level warn --logger zap --log-outputs "$dir/etcd.log" &
    etcd_pid=$!
    for _ in $(seq 300); do
      curl -sf "http://127.0.0.1:$client/health" 2>/dev/null | grep -q true && break
      sleep 0.1
    done
    "$tool" --store=etcd --etcd_endpoints="127.0.0.1:$client" --etcd_pid="$etcd_pid" \
      --etcd_metrics_port="$client" --layout="$layout" --size="$size" --adds="$nadds" >>"$results"
    kill "$etcd_pid" && wait "$etcd_pid" 2>/dev/null || true
    etcd_pid=""
  done
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["store"], r["layout"], r["size"]): r for r in rows}
def kb(v): return f"{v / 1024:,.1f} KiB"
print(f"Bytes per endpoint add ({rows[0]['adds']} adds after the cluster has N endpoints)\n")
print("| store | N | measure | before (embedded) | after (per-endpoint keys) | ratio |")
print("|---|---:|---|---:|---:|---:|")
for store in ("sqlite", "etcd"):
    for size in sorted({r["size"] for r in rows}):
        b, a = by.get((store, "embedded", size)), by.get((store, "keys", size))
        if not b or not a: continue
        measures = [("written to storage", "write_bytes_per_add")]
        measures.append(("lb.db growth", "file_growth_per_add") if store == "sqlite"
                        else ("db size in use growth", "etcd_db_growth_per_add"))
        measures.append(("ms per add", "ms_per_add"))
        for name, key in measures:
            bv, av = b[key], a[key]
            fmt = (lambda v: f"{v:.2f}") if key == "ms_per_add" else kb
            ratio = f"{bv / av:,.0f}x" if av > 0 else "-"
            print(f"| {store} | {size:,} | {name} | {fmt(bv)} | {fmt(av)} | {ratio} |")
PY
