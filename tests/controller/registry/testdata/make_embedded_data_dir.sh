#!/bin/bash
# Writes main_embedded_endpoints.db: the SQLite store of a controller built before per-endpoint
# keys (every cluster value embeds its endpoints), for migration_test.cc. Run once with that
# build's binary; the checked-in file was made with main at 6f4ce3e:
#   tests/controller/registry/testdata/make_embedded_data_dir.sh /work/main/bazel-bin/controller/controller
set -euo pipefail
controller=${1:?usage: $0 CONTROLLER_BINARY}
out=$(cd "$(dirname "$0")" && pwd)/main_embedded_endpoints.db
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$controller" --data_dir "$dir/data" --grpc_listen 127.0.0.1:0 --rest_listen 127.0.0.1:0 \
  --ready_file "$dir/ready" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$dir/ready" ] && break; sleep 0.1; done
port=$(sed 's/.*"rest_port":\([0-9]*\).*/\1/' "$dir/ready")
api="http://127.0.0.1:$port"
post() { curl -sS --max-time 5 -o /dev/null -w '%{http_code}\n' -X POST -d "$2" "$api$1"; }
# backend (bootstrapped) gets two endpoints through the seed API; "api" gets three, one
# draining with labels; "empty" has none.
post /config '{"action":"add","ip":"10.0.0.1","port":8080}'
post /config '{"action":"add","ip":"10.0.0.2","port":8080}'
post /v1/clusters '{"name":"api","lb_policy":"ROUND_ROBIN"}'
post /v1/clusters/api/endpoints '{"address":"10.1.0.3","port":80,"weight":3}'
post /v1/clusters/api/endpoints '{"address":"::1","port":81,"zone":"z1","labels":{"tier":"gold"}}'
post /v1/clusters/api/endpoints '{"address":"web.internal","port":82,"admin_state":"DRAINING"}'
post /v1/clusters '{"name":"empty"}'
kill -TERM "$pid"
wait "$pid" || true
# A clean stop checkpoints the WAL into the database file.
cp "$dir/data/lb.db" "$out"
echo "wrote $out"
