#!/usr/bin/python3
"""The controller following a Kubernetes cluster (bench/k8s_bench.sh runs this; standard
library only). Two measurements against tests/k8s/fake_apiserver.py (HTTPS + token):

  latency  --changes times: one EndpointSlice write at the API server moves Service `bench`
           from backend A to backend B (and back), then GETs through the proxy as fast as
           possible until B answers: the time from just before the write to that answer is
           change-to-routed (p50/p90/p99/max).
  scale    --services Services labelled lb/sync=true, each with one EndpointSlice of --pods
           endpoints, in the API server before the controller starts: time until the
           controller's model holds them all, its CPU for that, RSS after, idle CPU over 10 s
           (watches and bookmarks), and CPU and time for --churn slice updates.

Usage: k8s_bench.py BIN_DIR FAKE_APISERVER_PY WORK_DIR [--changes N] [--services N] [--pods N]
                    [--churn N]
Prints one JSON line per measurement and then the tables.
"""

import argparse
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util  # noqa: E402  (Poller, cpu_ticks)

TOKEN = "k8s-bench-token"


def wait_for(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = fn()
            if value:
                return value
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def read_json(path):
    with open(path) as f:
        return json.load(f)


class Procs:
    def __init__(self, work):
        self.work = work
        self.procs = []

    def start(self, name, argv):
        log = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


class Fake:
    def __init__(self, procs, fake_py, bin_dir, name, extra=()):
        work = os.path.join(procs.work, name)
        os.makedirs(work, exist_ok=True)
        subprocess.run([os.path.join(bin_dir, "make_test_certs"), work], check=True,
                       stdout=subprocess.DEVNULL)
        ready = os.path.join(work, "ready.json")
        self.proc = procs.start(name, [
            "/usr/bin/python3", fake_py, "--ready_file=" + ready,
            "--cert=" + os.path.join(work, "apiserver.crt"),
            "--key=" + os.path.join(work, "apiserver.key"), "--token=" + TOKEN,
            "--plain_port=0", *extra])
        wait_for(lambda: os.path.exists(ready), 30, name + " ready file")
        info = read_json(ready)
        self.plain = info["plain_port"]
        self.kubeconfig = os.path.join(work, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                       "clusters": [{"name": "fake", "cluster": {
                           "server": info["url"],
                           "certificate-authority": os.path.join(work, "k8s-ca.crt")}}],
                       "users": [{"name": "fake", "user": {"token": TOKEN}}],
                       "contexts": [{"name": "fake",
                                     "context": {"cluster": "fake", "user": "fake"}}]}, f)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.plain}{path}", data=data,
                                     method=method)
        req.add_header("Authorization", "Bearer " + TOKEN)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")

    def apply(self, objs):
        return self.call("POST", "/__fake/objects", {"items": objs})


def service(name, labels=None):
    meta = {"name": name, "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP",
                                "targetPort": "http"}]}}


def endpoint_slice(name, svc, port, ips):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "default",
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True, "serving": True,
                                                             "terminating": False}}
                          for ip in ips],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}


def start_controller(procs, bin_dir, name, kubeconfig):
    work = os.path.join(procs.work, name)
    os.makedirs(work, exist_ok=True)
    ready = os.path.join(work, "ready.json")
    p = procs.start(name, [
        os.path.join(bin_dir, "controller"), "--grpc_listen=127.0.0.1:0",
        "--rest_listen=127.0.0.1:0", "--ready_file=" + ready, "--data_dir=" + work + "/data",
        "--log_level=warn", "--kubernetes", "--kubeconfig=" + kubeconfig])
    wait_for(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 60,
             name + " ready file")
    info = read_json(ready)
    return p, info["grpc_port"], info["rest_port"]


class Backend(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"Hello from {self.server.name}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def start_backend(name):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    server.daemon_threads = True
    server.name = name
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))] if v else None


def latency(args, procs):
    fake = Fake(procs, args.fake_py, args.bin_dir, "fake-latency")
    ports = {"A": start_backend("A"), "B": start_backend("B")}
    fake.apply([{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                 "metadata": {"name": "lb"}, "spec": {"controller": "lb.dev/ingress"}},
                service("bench"),
                {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                 "metadata": {"name": "bench", "namespace": "default"},
                 "spec": {"ingressClassName": "lb", "rules": [{"http": {"paths": [
                     {"path": "/", "pathType": "Prefix", "backend": {"service": {
                         "name": "bench", "port": {"number": 80}}}}]}}]}},
                endpoint_slice("bench-pods", "bench", ports["A"], ["127.0.0.1"])])
    _, grpc, rest = start_controller(procs, args.bin_dir, "controller-latency", fake.kubeconfig)
    req = urllib.request.Request(f"http://127.0.0.1:{rest}/v1/routes/default", method="DELETE")
    urllib.request.urlopen(req, timeout=10).read()
    ready = os.path.join(procs.work, "proxy.ready")
    procs.start("proxy", [os.path.join(args.bin_dir, "proxy"), f"--controller=127.0.0.1:{grpc}",
                          "--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0", "--workers=1",
                          "--ready_file=" + ready, "--log_level=warn"])
    wait_for(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 30, "proxy")
    poller = bench_util.Poller(read_json(ready)["port"])
    wait_for(lambda: poller.get()[1].startswith(b"Hello from A"), 60, "the route to A")

    samples, api_ms, misses = [], [], 0
    current = "A"
    for i in range(args.changes):
        target = "B" if current == "A" else "A"
        want = f"Hello from {target}".encode()
        # Each slice write is one pod replaced by another: the old endpoint goes, the new one
        # comes, in one event.
        t0 = time.perf_counter()
        fake.apply([endpoint_slice("bench-pods", "bench", ports[target], ["127.0.0.1"])])
        t_api = time.perf_counter()
        routed = False
        while time.perf_counter() - t0 < 10:
            try:
                _, body = poller.get()
            except OSError:
                continue
            if body.startswith(want):
                routed = True
                break
        t1 = time.perf_counter()
        if routed:
            samples.append((t1 - t0) * 1000)
            api_ms.append((t_api - t0) * 1000)
            current = target
        else:
            misses += 1
    r = {"measure": "latency", "changes": args.changes, "routed": len(samples),
         "not_routed": misses, "p50_ms": pct(samples, 50), "p90_ms": pct(samples, 90),
         "p99_ms": pct(samples, 99), "max_ms": max(samples) if samples else None,
         "api_write_p50_ms": pct(api_ms, 50)}
    print(json.dumps(r), flush=True)
    return r


def rss_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def model_counts(rest):
    with urllib.request.urlopen(f"http://127.0.0.1:{rest}/v1/clusters", timeout=60) as resp:
        body = json.loads(resp.read())
    clusters = body.get("clusters", body if isinstance(body, list) else [])
    owned = [c for c in clusters if c.get("owner") == "kubernetes"]
    return len(owned), sum(len(c.get("endpoints", [])) for c in owned)


def scale(args, procs):
    fake = Fake(procs, args.fake_py, args.bin_dir, "fake-scale",
                ["--history_limit=100000", "--max_body_bytes=67108864"])
    objs = []
    for s in range(args.services):
        name = f"svc-{s:04d}"
        objs.append(service(name, {"lb/sync": "true"}))
        objs.append(endpoint_slice(name + "-pods", name, 8080,
                                   [f"10.{s // 250}.{s % 250}.{p + 1}" for p in range(args.pods)]))
        if len(objs) >= 200:
            fake.apply(objs)
            objs = []
    if objs:
        fake.apply(objs)
    t0 = time.monotonic()
    proc, _, rest = start_controller(procs, args.bin_dir, "controller-scale", fake.kubeconfig)
    want = (args.services, args.services * args.pods)
    last = [None]

    def converged():
        last[0] = model_counts(rest)
        return last[0] == want
    wait_for(converged, 600, f"{want} (last {last[0]})")
    t_sync = time.monotonic() - t0
    ticks_sync = sum(bench_util.cpu_ticks([proc.pid]))
    mem = rss_kib(proc.pid)
    time.sleep(10)
    ticks_idle = sum(bench_util.cpu_ticks([proc.pid])) - ticks_sync
    # Churn: one endpoint of a different Service changes per write.
    t1 = time.monotonic()
    for i in range(args.churn):
        s = (i * 7) % args.services
        name = f"svc-{s:04d}"
        ips = [f"10.{s // 250}.{s % 250}.{p + 1}" for p in range(args.pods)]
        ips[0] = f"10.200.{i // 250}.{i % 250 + 1}"
        fake.apply([endpoint_slice(name + "-pods", name, 8080, ips)])
    last_ip = f"10.200.{(args.churn - 1) // 250}.{(args.churn - 1) % 250 + 1}"
    last_svc = f"svc-{((args.churn - 1) * 7) % args.services:04d}"

    def churn_applied():
        url = f"http://127.0.0.1:{rest}/v1/clusters/default.{last_svc}.80/endpoints"
        with urllib.request.urlopen(url, timeout=30) as resp:
            return last_ip in resp.read().decode()
    wait_for(churn_applied, 120, "the last churn write")
    t_churn = time.monotonic() - t1
    ticks_churn = sum(bench_util.cpu_ticks([proc.pid])) - ticks_sync - ticks_idle
    mem_after = rss_kib(proc.pid)
    hz = os.sysconf("SC_CLK_TCK")
    r = {"measure": "scale", "services": args.services, "pods": args.pods,
         "initial_sync_s": round(t_sync, 2), "initial_sync_cpu_s": round(ticks_sync / hz, 2),
         "rss_mib": round(mem.get("VmRSS", 0) / 1024, 1),
         "peak_rss_mib": round(mem.get("VmHWM", 0) / 1024, 1),
         "idle_cpu_pct": round(100 * ticks_idle / hz / 10, 2),
         "churn_writes": args.churn, "churn_s": round(t_churn, 2),
         "churn_cpu_s": round(ticks_churn / hz, 2),
         "rss_after_churn_mib": round(mem_after.get("VmRSS", 0) / 1024, 1)}
    print(json.dumps(r), flush=True)
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bin_dir")
    p.add_argument("fake_py")
    p.add_argument("work")
    p.add_argument("--changes", type=int, default=300)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10)
    p.add_argument("--churn", type=int, default=200)
    p.add_argument("--only", choices=["latency", "scale"], default=None)
    args = p.parse_args()
    procs = Procs(args.work)
    results = []
    try:
        if args.only in (None, "latency"):
            results.append(latency(args, procs))
            procs.stop_all()
            procs.procs = []
        if args.only in (None, "scale"):
            results.append(scale(args, procs))
    finally:
        procs.stop_all()
    print()
    for r in results:
        if r["measure"] == "latency":
            print(f"EndpointSlice change -> routed at the proxy, {r['routed']}/{r['changes']} "
                  f"changes: p50 {r['p50_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, "
                  f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms "
                  f"(the API write itself: p50 {r['api_write_p50_ms']:.1f} ms)")
        else:
            print(f"{r['services']} Services x {r['pods']} pods: initial sync "
                  f"{r['initial_sync_s']} s ({r['initial_sync_cpu_s']} CPU s), RSS "
                  f"{r['rss_mib']} MiB (peak {r['peak_rss_mib']}), idle CPU "
                  f"{r['idle_cpu_pct']} %, {r['churn_writes']} slice updates in "
                  f"{r['churn_s']} s ({r['churn_cpu_s']} CPU s), RSS after "
                  f"{r['rss_after_churn_mib']} MiB")


if __name__ == "__main__":
    main()
