#!/usr/bin/env bash
# Smoke test of the image (deploy/image/build.sh): unpacks the archive with umoci and runs the
# controller and the proxy from it with runc the way deploy/kubernetes runs them (user 65532,
# read-only root file system, no capabilities, no privilege escalation, writable tmpfs only for
# the data directory and /tmp), then does the seed's walkthrough against them: POST /config add
# and del, GET /config, requests through the proxy to two backends on the host's loopback,
# lbctl from the image, and a SIGTERM that the proxy answers by draining. Prints each step;
# exits 0 only if every check held.
#
#   deploy/image/smoke.sh [IMAGE.tar]   (default: build it to bazel-bin/deploy/lb-image.oci.tar)
#
# Needs root (runc). The containers share the host's network namespace so that they reach the
# loopback backends. Installs runc and umoci with apt if missing. runc rather than podman: podman
# sets RLIMIT_NPROC/NOFILE in the container, which fails inside a container or VM that may not
# (runc with the bundle's own limits works everywhere); `podman load -i IMAGE.tar` and
# `podman run` work where podman does. Not part of ./test.sh: see deploy/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
  echo "smoke.sh: needs root (runc); run with sudo" >&2
  exit 1
fi
need=()
command -v runc >/dev/null || need+=(runc)
command -v umoci >/dev/null || need+=(umoci)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
archive=${1:-}
if [ -z "$archive" ]; then
  archive=bazel-bin/deploy/lb-image.oci.tar
  deploy/image/build.sh "$archive"
fi

work=$(mktemp -d /tmp/lb-smoke.XXXXXX)
names=()
backends=()
cleanup() {
  for n in "${names[@]}"; do runc delete -f "$n" >/dev/null 2>&1 || true; done
  for p in "${backends[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for n in "${names[@]}"; do echo "--- log of $n" >&2; tail -20 "$work/$n.log" >&2 || true; done
  exit 1
}
ok() { echo "ok: $*"; }

mkdir "$work/layout"
tar -C "$work/layout" -xf "$archive"
ref=$(umoci ls --layout "$work/layout" | head -1)
umoci unpack --image "$work/layout:$ref" "$work/image" >/dev/null
ok "unpacked $ref from $archive"

# bundle NAME TMPFS_DIRS ARGS...: a runc bundle running ARGS from the shared, read-only rootfs,
# hardened as deploy/kubernetes runs it, with a tmpfs at each of the comma-separated TMPFS_DIRS.
bundle() {
  local name=$1 tmpfs=$2
  shift 2
  mkdir -p "$work/$name"
  python3 - "$work/image/config.json" "$work/$name/config.json" "$work/image/rootfs" "$tmpfs" "$@" <<'PY'
import json, sys
src, dst, rootfs, tmpfs, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
c = json.load(open(src))
p = c["process"]
p["args"] = args
p["terminal"] = False
p["noNewPrivileges"] = True
p["capabilities"] = {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
assert p["user"]["uid"] == 65532, p["user"]
c["root"] = {"path": rootfs, "readonly": True}
# The host's network namespace: the backends and the test's curl are on its loopback.
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
for d in filter(None, tmpfs.split(",")):
    c["mounts"].append({"destination": d, "type": "tmpfs", "source": "tmpfs",
                        "options": ["nosuid", "nodev", "mode=1777", "uid=65532", "gid=65532", "size=65536k"]})
json.dump(c, open(dst, "w"))
PY
}
# start NAME TMPFS_DIRS ARGS...: runs the container in the background, output in $work/NAME.log.
start() {
  local name=$1
  bundle "$@"
  names+=("$name")
  runc run -d -b "$work/$name" "$name" >"$work/$name.log" 2>&1 </dev/null || fail "runc run $name"
}

# Five free loopback ports: controller gRPC and REST, proxy traffic and admin, two backends.
read -r grpc rest traffic admin b1 b2 < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
)
# Two backends answering with their own port.
for port in "$b1" "$b2"; do
  python3 - "$port" <<'PY' &
import http.server, sys
port = int(sys.argv[1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"backend {port}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
  backends+=($!)
done

suffix=$$
start "lb-smoke-controller-$suffix" /var/lib/lb,/tmp /usr/local/bin/controller \
  --grpc_listen="127.0.0.1:$grpc" --rest_listen="127.0.0.1:$rest" --data_dir=/var/lib/lb/data
start "lb-smoke-proxy-$suffix" "" /usr/local/bin/proxy --controller="127.0.0.1:$grpc" \
  --listen="127.0.0.1:$traffic" --admin_listen="127.0.0.1:$admin" --drain_timeout=5s

# get URL: prints "STATUS BODY" (body on one line); never waits more than 2 s.
get() { curl -s -m 2 -o "$work/body" -w '%{http_code}' "$1" 2>/dev/null || echo 000; }
# wait_for URL STATUS: polls for up to 30 s.
wait_for() {
  for _ in $(seq 1 150); do
    [ "$(get "$1")" = "$2" ] && return 0
    sleep 0.2
  done
  return 1
}
post() {
  curl -s -m 5 -o "$work/body" -w '%{http_code}' -X POST -d "$1" "http://127.0.0.1:$rest/config"
}

wait_for "http://127.0.0.1:$rest/healthz" 200 || fail "controller /healthz"
ok "controller /healthz 200 (uid 65532, read-only root, no capabilities)"
wait_for "http://127.0.0.1:$rest/readyz" 200 || fail "controller /readyz"
ok "controller /readyz 200"
wait_for "http://127.0.0.1:$admin/ready" 200 || fail "proxy /ready"
ok "proxy /ready 200"

for port in "$b1" "$b2"; do
  [ "$(post "{\"action\":\"add\",\"ip\":\"127.0.0.1\",\"port\":$port}")" = 200 ] || fail "add $port"
done
ok "POST /config add 127.0.0.1:$b1 and 127.0.0.1:$b2: 200"
[ "$(post "{\"action\":\"add\",\"ip\":\"127.0.0.1\",\"port\":$b1}")" = 200 ] &&
  [ "$(cat "$work/body")" = "Upstream already exist" ] || fail "duplicate add: $(cat "$work/body")"
ok "duplicate add: 200 Upstream already exist"
[ "$(get "http://127.0.0.1:$rest/config")" = 200 ] || fail "GET /config"
want="[\"127.0.0.1:$b1\",\"127.0.0.1:$b2\"]"
[ "$(tr -d ' \n' <"$work/body")" = "$want" ] || fail "GET /config: $(cat "$work/body"), want $want"
ok "GET /config $want"

# Through the proxy: both backends answer within 200 requests.
seen1="" seen2=""
for _ in $(seq 1 200); do
  if [ "$(get "http://127.0.0.1:$traffic/")" = 200 ]; then
    grep -q "backend $b1" "$work/body" && seen1=1
    grep -q "backend $b2" "$work/body" && seen2=1
  fi
  [ -n "$seen1" ] && [ -n "$seen2" ] && break
  sleep 0.05
done
[ -n "$seen1" ] && [ -n "$seen2" ] || fail "proxy did not reach both backends (b1=$seen1 b2=$seen2)"
ok "requests through the proxy reached both backends"

bundle "lb-smoke-lbctl-$suffix" "" /usr/local/bin/lbctl --controller="127.0.0.1:$grpc" list
names+=("lb-smoke-lbctl-$suffix")
lbctl_out=$(timeout 30 runc run -b "$work/lb-smoke-lbctl-$suffix" "lb-smoke-lbctl-$suffix" 2>&1 </dev/null) ||
  fail "lbctl list: $lbctl_out"
grep -q "127.0.0.1.*$b1" <<<"$lbctl_out" && grep -q "127.0.0.1.*$b2" <<<"$lbctl_out" ||
  fail "lbctl list: $lbctl_out"
ok "lbctl list (from the image) shows both endpoints"

[ "$(post "{\"action\":\"del\",\"ip\":\"127.0.0.1\",\"port\":$b1}")" = 200 ] || fail "del $b1"
[ "$(get "http://127.0.0.1:$rest/config")" = 200 ] &&
  [ "$(tr -d ' \n' <"$work/body")" = "[\"127.0.0.1:$b2\"]" ] || fail "GET /config after del: $(cat "$work/body")"
ok "POST /config del 127.0.0.1:$b1; GET /config [\"127.0.0.1:$b2\"]"
# Once the change reached the proxy, 20 requests in a row go to the remaining backend.
streak=0
for _ in $(seq 1 300); do
  if [ "$(get "http://127.0.0.1:$traffic/")" = 200 ] && grep -q "backend $b2" "$work/body"; then
    streak=$((streak + 1))
  else
    streak=0
  fi
  [ "$streak" -ge 20 ] && break
  sleep 0.02
done
[ "$streak" -ge 20 ] || fail "after del, requests still reach 127.0.0.1:$b1"
ok "after del, 20 requests in a row went to 127.0.0.1:$b2"

runc kill "lb-smoke-proxy-$suffix" TERM
for _ in $(seq 1 100); do
  runc state "lb-smoke-proxy-$suffix" 2>/dev/null | grep -q '"status": "stopped"' && break
  sleep 0.1
done
runc state "lb-smoke-proxy-$suffix" | grep -q '"status": "stopped"' || fail "proxy still runs 10 s after SIGTERM"
grep -q 'proxy: drained' "$work/lb-smoke-proxy-$suffix.log" || fail "proxy did not log a clean drain on SIGTERM"
ok "proxy drained on SIGTERM and stopped"
du_root=$(du -sm "$work/image/rootfs" | cut -f1)
echo "image $ref: ${du_root} MB unpacked, archive $(du -h "$archive" | cut -f1)"
echo "smoke: all checks passed"
