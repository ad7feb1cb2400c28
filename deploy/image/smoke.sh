#!/usr/bin/env bash
# Smoke test of the image (deploy/image/build.sh): loads the archive into podman, starts the
# controller and the proxy from it the way deploy/kubernetes runs them (user 65532, read-only
# root file system, every capability dropped, no privilege escalation, data on a tmpfs), and does
# the seed's walkthrough against them: POST /config add and del, GET /config, requests through
# the proxy to two backends on the host's loopback, lbctl from the image, and a SIGTERM that the
# proxy answers by draining. Prints each step; exits 0 only if every check held.
#
#   deploy/image/smoke.sh [IMAGE.tar]   (default: build it to bazel-bin/deploy/lb-image.oci.tar)
#
# Needs root (podman's root mode; host networking so the containers reach the loopback
# backends). Installs podman with apt if missing. Not part of ./test.sh: see deploy/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
  echo "smoke.sh: needs root (podman root mode with host networking); run with sudo" >&2
  exit 1
fi
command -v podman >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
archive=${1:-}
if [ -z "$archive" ]; then
  archive=bazel-bin/deploy/lb-image.oci.tar
  deploy/image/build.sh "$archive"
fi
image=${LB_IMAGE:-localhost/lb:latest}
podman load -q -i "$archive" >/dev/null
podman image exists "$image" || { echo "smoke.sh: $archive did not load as $image" >&2; exit 1; }

work=$(mktemp -d /tmp/lb-smoke.XXXXXX)
names=()
backends=()
cleanup() {
  for n in "${names[@]}"; do podman rm -f -t 0 "$n" >/dev/null 2>&1 || true; done
  for p in "${backends[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for n in "${names[@]}"; do echo "--- logs of $n" >&2; podman logs "$n" >&2 2>&1 | tail -20; done
  exit 1
}
ok() { echo "ok: $*"; }

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

hardening=(--network host --read-only --cap-drop all --security-opt no-new-privileges
  --user 65532:65532)
suffix=$$
names+=("lb-smoke-controller-$suffix")
podman run -d --name "lb-smoke-controller-$suffix" "${hardening[@]}" \
  --tmpfs /var/lib/lb:rw,size=64m,uid=65532,gid=65532,mode=0700 "$image" \
  /usr/local/bin/controller --grpc_listen="127.0.0.1:$grpc" --rest_listen="127.0.0.1:$rest" \
  --data_dir=/var/lib/lb/data >/dev/null
names+=("lb-smoke-proxy-$suffix")
podman run -d --name "lb-smoke-proxy-$suffix" "${hardening[@]}" "$image" \
  /usr/local/bin/proxy --controller="127.0.0.1:$grpc" --listen="127.0.0.1:$traffic" \
  --admin_listen="127.0.0.1:$admin" --drain_timeout=5s >/dev/null

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
ok "controller /healthz 200 (running as $(podman inspect -f '{{.Config.User}}' "lb-smoke-controller-$suffix"), read-only root)"
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

lbctl_out=$(podman run --rm "${hardening[@]}" "$image" /usr/local/bin/lbctl \
  --controller="127.0.0.1:$grpc" list) || fail "lbctl list: $lbctl_out"
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

podman stop -t 20 "lb-smoke-proxy-$suffix" >/dev/null
podman logs "lb-smoke-proxy-$suffix" 2>&1 | grep -q 'proxy: drained' || fail "proxy did not log a clean drain on SIGTERM"
code=$(podman inspect -f '{{.State.ExitCode}}' "lb-smoke-proxy-$suffix")
[ "$code" = 0 ] || fail "proxy exit code $code after SIGTERM"
ok "proxy drained on SIGTERM and exited 0"
size=$(podman image inspect -f '{{.Size}}' "$image")
echo "image $image: $((size / 1000000)) MB unpacked, archive $(du -h "$archive" | cut -f1)"
echo "smoke: all checks passed"
