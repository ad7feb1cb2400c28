#!/usr/bin/env python3
"""Runs the abuse benchmark (called by bench/abuse_bench.sh; standard library only).

    run.py --dir RUNDIR --ours BIN --controller BIN --backend BIN [--duration 10]
           [--workers 1] [--attacks 1,2,3,4,5,6,7,8] [--proxies ours,nginx,haproxy]
           [--pin auto|yes|no] [--commit C]

Starts three test backends (//tests/test_common:backend_main; attack 8 kills the third, which
is restarted on its port before the next proxy starts), the WebSocket echo (ws_backend.py) and
our controller (configured through its REST /v1 API), then for every
attack and every proxy a fresh proxy process (ours fed by the controller, nginx and HAProxy
with the configs in bench/abuse/), a normal client (probe.py) and the attack (attacks.py),
while a sampler thread reads the proxy's processes in /proc every 100 ms. Prints a table per
attack.
Everything it starts is stopped when it returns, fails or gets SIGTERM/SIGINT.
"""
import argparse
import json
import os
import queue
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# id, attack name in attacks.py, title
ATTACKS = [
    (1, "pipeline", "slow upstream, then pipelined flood"),
    (2, "websocket", "WebSocket, client never reads"),
    (3, "slow-reader", "slow reader, 100 MB response"),
    (4, "head-stall", "upstream head then stall, client closes"),
    (5, "fd-exhaust", "fd exhaustion, ulimit -n 256"),
    (6, "slowloris", "slowloris"),
    (7, "idle-keepalive", "idle keep-alive connections"),
    (8, "kill-backend", "kill -9 of a backend under load"),
]


def log(msg):
    sys.stderr.write(f"[abuse_bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


# --- /proc ------------------------------------------------------------------------------------
def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def children(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        text = read_file(f"/proc/{pid}/task/{task}/children")
        if text:
            out.extend(int(x) for x in text.split())
    return out


def tree(root):
    """root and all its descendants that are alive."""
    seen, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in seen or not os.path.exists(f"/proc/{p}"):
            continue
        seen.append(p)
        todo.extend(children(p))
    return seen


def status_kb(pid, field):
    text = read_file(f"/proc/{pid}/status")
    if not text:
        return 0
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def cpu_ticks(pid):
    text = read_file(f"/proc/{pid}/stat")
    if not text:
        return 0
    rest = text[text.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])  # utime + stime (all threads)


def socket_inodes(pids):
    inodes = set()
    for p in pids:
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    link = os.readlink(f"/proc/{p}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            pass
    return inodes


def sockets_to(pids, ports):
    """TCP sockets held by `pids` whose remote port is in `ports` (any state): (count, summed
    send queues, summed receive queues)."""
    inodes = socket_inodes(pids)
    n = tx = rx = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        text = read_file(path) or ""
        for line in text.splitlines()[1:]:
            p = line.split()
            if len(p) > 9 and p[9] in inodes and int(p[2].rsplit(":", 1)[1], 16) in ports:
                n += 1
                t, r = p[4].split(":")
                tx += int(t, 16)
                rx += int(r, 16)
    return n, tx, rx


def client_sockets(pids, listen_port):
    """Connected TCP sockets held by `pids` on the proxy's own port (client connections)."""
    inodes = socket_inodes(pids)
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        text = read_file(path) or ""
        for line in text.splitlines()[1:]:
            p = line.split()
            if (len(p) > 9 and p[9] in inodes and p[3] != "0A"
                    and int(p[1].rsplit(":", 1)[1], 16) == listen_port):
                n += 1
    return n


def count_sockets_to(pids, ports):
    return sockets_to(pids, ports)[0]


def temp_file_bytes(pids, under):
    """Bytes in regular files under `under` that `pids` hold open (nginx's proxy_temp_path)."""
    total, seen = 0, set()
    for p in pids:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{p}/fd/{fd}")
                if link.startswith(under) and "/tmp/" in link[len(under):] and link not in seen:
                    seen.add(link)
                    total += os.stat(f"/proc/{p}/fd/{fd}").st_size
            except OSError:
                pass
    return total


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path="/", timeout=2.0):
    """Status of one GET (None on failure)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def wait_until(seconds, pred, interval=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return False


# --- processes ----------------------------------------------------------------------------------
class Procs:
    """Every process this run starts; stop_all() ends them (TERM, then KILL)."""

    def __init__(self, rundir):
        self.procs = []
        self.pidfile = open(os.path.join(rundir, "pids"), "a", buffering=1)

    def start(self, args, log_path, cpu=None, nofile=None, stdout=None, stdin=None):
        # Wrappers that exec (same PID), rather than a preexec_fn in a threaded process.
        if nofile:
            args = ["prlimit", f"--nofile={nofile}:{nofile}", "--"] + args
        if cpu is not None:
            args = ["taskset", "-c", ",".join(map(str, sorted(cpu)))] + args
        out = open(log_path, "ab")
        p = subprocess.Popen(args, stdout=stdout or out, stderr=out,
                             stdin=stdin or subprocess.DEVNULL)
        self.procs.append(p)
        self.pidfile.write(f"{p.pid}\n")
        return p

    @staticmethod
    def stop(p, grace=5.0, sig=signal.SIGTERM):
        if p.poll() is not None:
            return
        family = tree(p.pid)
        try:
            p.send_signal(sig)
        except OSError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        for pid in family:
            try:
                if os.path.exists(f"/proc/{pid}"):
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            p.wait(2)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p, grace=3.0)
        self.procs = []


# --- the proxies --------------------------------------------------------------------------------
class Proxy:
    def __init__(self, name, run):
        self.name, self.run = name, run
        self.proc = None
        self.port = None

    def pids(self):
        return tree(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self):
        if self.proc:
            Procs.stop(self.proc)
            self.proc = None

    def _wait_serving(self):
        wait_until(60, lambda: self.proc.poll() is not None or http_get(self.port) == 200, 0.1)
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode} "
                               f"(logs in {self.run.dir})")
        if http_get(self.port) != 200:
            raise RuntimeError(f"{self.name} does not serve on :{self.port} "
                               f"(logs in {self.run.dir})")


class Ours(Proxy):
    def start(self, tag, nofile=None):
        ready = os.path.join(self.run.dir, f"ours-{tag}.ready")
        self.proc = self.run.procs.start(
            [self.run.args.ours, f"--controller=127.0.0.1:{self.run.grpc_port}",
             "--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0",
             f"--workers={self.run.args.workers}", "--drain_timeout=1s",
             f"--ready_file={ready}", "--log_level=warn"],
            os.path.join(self.run.dir, f"ours-{tag}.log"), cpu=self.run.proxy_cpu, nofile=nofile)
        if not wait_until(60, lambda: os.path.exists(ready) and os.path.getsize(ready) > 0 or
                          self.proc.poll() is not None):
            raise RuntimeError("our proxy wrote no ready file")
        if self.proc.poll() is not None:
            raise RuntimeError(f"our proxy exited ({self.proc.returncode}); see ours-{tag}.log")
        self.port = json.load(open(ready))["port"]
        self._wait_serving()


def subst(template, out_path, values):
    text = open(os.path.join(HERE, template)).read()
    lines = []
    for line in text.splitlines():
        if not line.lstrip().startswith("#"):
            for k, v in values.items():
                line = line.replace(k, str(v))
        lines.append(line)
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Nginx(Proxy):
    def start(self, tag, nofile=None):
        prefix = os.path.join(self.run.dir, f"nginx-{tag}")
        os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
        self.port = free_port()
        conf = os.path.join(prefix, "nginx.conf")
        subst("nginx.conf", conf, {"PREFIX": prefix, "WORKERS": self.run.args.workers,
                                   "LISTEN_PORT": self.port,
                                   "BACKEND_1": self.run.backend_ports[0],
                                   "BACKEND_2": self.run.backend_ports[1],
                                   "BACKEND_3": self.run.backend_ports[2],
                                   "WS_BACKEND": self.run.ws_port})
        self.proc = self.run.procs.start(
            ["nginx", "-p", prefix, "-e", os.path.join(prefix, "error.log"), "-c", conf],
            os.path.join(prefix, "stderr.log"), cpu=self.run.proxy_cpu, nofile=nofile)
        self._wait_serving()


class Haproxy(Proxy):
    def start(self, tag, nofile=None):
        prefix = os.path.join(self.run.dir, f"haproxy-{tag}")
        os.makedirs(prefix, exist_ok=True)
        self.port = free_port()
        conf = os.path.join(prefix, "haproxy.cfg")
        # HAProxy refuses to start with a maxconn its descriptor limit cannot honour (2 per
        # connection; strict limits). Under the low limit of attack 5 it gets none and sizes
        # maxconn from the limit itself.
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        maxconn = "" if nofile else f"maxconn {min(10000, (limit - 200) // 2)}"
        subst("haproxy.cfg", conf, {"WORKERS": self.run.args.workers, "LISTEN_PORT": self.port,
                                    "MAXCONN": maxconn,
                                    "BACKEND_1": self.run.backend_ports[0],
                                    "BACKEND_2": self.run.backend_ports[1],
                                    "BACKEND_3": self.run.backend_ports[2],
                                   "WS_BACKEND": self.run.ws_port})
        self.proc = self.run.procs.start(["haproxy", "-db", "-f", conf],
                                         os.path.join(prefix, "haproxy.log"),
                                         cpu=self.run.proxy_cpu, nofile=nofile)
        self._wait_serving()


# --- sampling -----------------------------------------------------------------------------------
class Sampler(threading.Thread):
    """Every 100 ms: the proxy's processes' summed VmRSS and CPU ticks. Stops the attack's
    writes (SIGUSR1) above soft_kb and kills the proxy above hard_kb."""

    def __init__(self, proxy, soft_kb, hard_kb):
        super().__init__(daemon=True)
        self.proxy, self.soft_kb, self.hard_kb = proxy, soft_kb, hard_kb
        self.samples = []  # (t, rss_kb, ticks)
        self.halt = threading.Event()
        self.attack_pid = None
        self.valve = ""
        self.pids = proxy.pids()

    def sample(self):
        pids = self.proxy.pids() or self.pids
        self.pids = pids
        rss = sum(status_kb(p, "VmRSS") for p in pids)
        ticks = sum(cpu_ticks(p) for p in pids)
        return time.monotonic(), rss, ticks

    def run(self):
        while not self.halt.is_set():
            s = self.sample()
            self.samples.append(s)
            if s[1] > self.hard_kb and self.valve != "hard":
                self.valve = "hard"
                log(f"{self.proxy.name}: RSS {s[1] // 1024} MB over the hard cap: killing it")
                for p in self.pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
            elif s[1] > self.soft_kb and not self.valve and self.attack_pid:
                self.valve = "soft"
                log(f"{self.proxy.name}: RSS {s[1] // 1024} MB over the soft cap: attack stops writing")
                try:
                    os.kill(self.attack_pid, signal.SIGUSR1)
                except OSError:
                    pass
            self.halt.wait(0.1)

    def peak(self, t0, t1):
        vals = [r for t, r, _ in self.samples if t0 <= t <= t1]
        return max(vals) if vals else None

    def max_gap(self, t0, t1):
        ts = [t for t, _, _ in self.samples if t0 <= t <= t1]
        return round(max((b - a for a, b in zip(ts, ts[1:])), default=0.0), 2)

    def hwm_kb(self):
        return sum(status_kb(p, "VmHWM") for p in self.pids)


# --- one attack against one proxy -------------------------------------------------------------
class Run:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.procs = Procs(self.dir)
        self.backend_ports = []
        self.grpc_port = self.rest_port = None
        ncpu = os.cpu_count() or 1
        pin = args.pin
        if pin == "auto":
            pin = "yes" if args.workers == 1 and ncpu >= 2 else "no"
        self.pinned = pin == "yes"
        self.proxy_cpu = {1} if self.pinned else None
        if self.pinned:
            os.sched_setaffinity(0, {0})  # us, backends, controller, probe, attacks

    def start_backend(self, i, port=0):
        """Test backend web_i on `port` (0: the kernel picks). Returns (process, port)."""
        self.backend_starts += 1
        ready = os.path.join(self.dir, f"backend{i}-{self.backend_starts}.ready")
        p = self.procs.start([self.args.backend, f"--name=web_{i}", f"--port={port}",
                              f"--ready_file={ready}"],
                             os.path.join(self.dir, f"backend{i}.log"))
        if not wait_until(20, lambda: os.path.exists(ready) and os.path.getsize(ready) > 0
                          or p.poll() is not None) or p.poll() is not None:
            raise RuntimeError(f"test backend web_{i} did not start (port {port})")
        return p, json.load(open(ready))["port"]

    def ensure_victim(self):
        """Backend web_3, the one attack 8 kills, is up again (same port) before a proxy
        starts: every proxy begins with three live backends."""
        if self.victim.poll() is None:
            return
        self.victim, _ = self.start_backend(3, self.backend_ports[2])

    def start_common(self):
        self.backend_starts = 0
        for i in (1, 2, 3):
            p, port = self.start_backend(i)
            self.backend_ports.append(port)
        self.victim = p
        ready = os.path.join(self.dir, "ws_backend.ready")
        self.procs.start([sys.executable, os.path.join(HERE, "ws_backend.py"),
                          "--ready-file", ready], os.path.join(self.dir, "ws_backend.log"))
        if not wait_until(20, lambda: os.path.exists(ready)):
            raise RuntimeError("WebSocket backend did not start")
        self.ws_port = json.load(open(ready))["port"]
        ready = os.path.join(self.dir, "controller.ready")
        self.procs.start([self.args.controller, "--grpc_listen=127.0.0.1:0",
                          "--rest_listen=127.0.0.1:0", f"--data_dir={self.dir}/lb-data",
                          f"--ready_file={ready}", "--log_level=warn"],
                         os.path.join(self.dir, "controller.log"))
        if not wait_until(30, lambda: os.path.exists(ready) and os.path.getsize(ready) > 0):
            raise RuntimeError("controller did not start")
        info = json.load(open(ready))
        self.grpc_port, self.rest_port = info["grpc_port"], info["rest_port"]
        import urllib.error
        import urllib.request
        def call(method, path, body):
            req = urllib.request.Request(
                f"http://127.0.0.1:{self.rest_port}{path}", method=method,
                data=None if body is None else json.dumps(body).encode(),
                headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.read().decode()
            except urllib.error.HTTPError as e:
                raise RuntimeError(f"controller REST {method} {path}: {e.code} "
                                   f"{e.read().decode(errors='replace')}") from None
        # The resource API (README "Resource API"): cluster "backend" and the route "/" to it
        # exist on a first start; round robin like nginx's and HAProxy's configs, every other
        # setting at its default (retries 2, outlier detection on, no active health check).
        call("PATCH", "/v1/clusters/backend", {"lb_policy": "ROUND_ROBIN"})
        for port in self.backend_ports:
            call("POST", "/v1/clusters/backend/endpoints", {"address": "127.0.0.1", "port": port})
        # /ws to the WebSocket echo backend, as in nginx.conf and haproxy.cfg.
        call("POST", "/v1/clusters", {"name": "ws", "lb_policy": "ROUND_ROBIN",
                                      "endpoints": [{"address": "127.0.0.1",
                                                     "port": self.ws_port}]})
        call("POST", "/v1/routes", {"name": "ws", "hosts": ["*"], "path_prefix": "/ws",
                                    "cluster": "ws"})
        with open(os.path.join(self.dir, "cluster-backend.json"), "w") as f:
            f.write(call("GET", "/v1/clusters/backend", None))
        log(f"backends on {self.backend_ports}, WebSocket echo on {self.ws_port}, "
            f"controller grpc {self.grpc_port}")

    def proxy(self, name):
        return {"ours": Ours, "nginx": Nginx, "haproxy": Haproxy}[name](name, self)

    def attack_args(self, kind):
        d = self.args.duration
        base = ["--duration", str(d)]
        return base + {
            "pipeline": ["--cap-bytes", str(self.args.cap_mb << 20)],
            "websocket": ["--cap-bytes", str(self.args.cap_mb << 20)],
            "slow-reader": ["--size", str(100 << 20)],
            "head-stall": ["--conns", "100", "--after", "5"],
            "fd-exhaust": ["--conns", "1000"],
            "slowloris": ["--conns", "1000", "--interval", "2",
                          "--duration", str(max(d, 15))],
            "idle-keepalive": ["--conns", "3000", "--concurrency", "50"],
            "kill-backend": ["--conns", "16", "--victim-pid", str(self.victim.pid)],
        }[kind]

    def one(self, num, kind, title, name):
        tag = f"{num}-{kind}"
        nofile = 256 if kind == "fd-exhaust" else None
        proxy = self.proxy(name)
        res = {"attack": num, "kind": kind, "title": title, "proxy": name}
        t_begin = time.monotonic()
        try:
            self.ensure_victim()
            proxy.start(tag, nofile=nofile)
        except Exception as e:
            res["error"] = f"start: {e}"
            proxy.stop()
            return res
        for _ in range(3):
            http_get(proxy.port)
        time.sleep(0.5)
        pool_before = count_sockets_to(proxy.pids(), set(self.backend_ports))
        sampler = Sampler(proxy, self.args.soft_cap_mb << 10, self.args.hard_cap_mb << 10)
        sampler.start()
        probe_out = os.path.join(self.dir, f"probe-{tag}-{name}.jsonl")
        probe = self.procs.start([sys.executable, os.path.join(HERE, "probe.py"),
                                  "--port", str(proxy.port), "--out", probe_out,
                                  "--max-seconds", "120"],
                                 os.path.join(self.dir, f"probe-{tag}-{name}.log"))
        time.sleep(0.6)
        attack = self.procs.start(
            [sys.executable, os.path.join(HERE, "attacks.py"), kind, "--port", str(proxy.port)]
            + self.attack_args(kind),
            os.path.join(self.dir, f"attack-{tag}-{name}.log"),
            stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        sampler.attack_pid = attack.pid
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in attack.stdout] and None,
                         daemon=True).start()
        ev = {}
        extra = {}
        deadline = time.monotonic() + self.args.duration * 3 + 90
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                extra["error"] = "attack timed out"
                break
            try:
                line = lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                if attack.poll() is not None and lines.empty():
                    break
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            pids = proxy.pids() or sampler.pids
            now_ = time.monotonic()
            if e["ev"] in ("start", "end"):
                ev[e["ev"]] = e["t"]
                ev[e["ev"] + "_cpu"] = sum(cpu_ticks(p) for p in pids)
                ev[e["ev"] + "_rss"] = sum(status_kb(p, "VmRSS") for p in pids)
                ev[e["ev"] + "_seen"] = now_
            if e["ev"] == "stalled":
                extra["upstream_stalled"] = count_sockets_to(pids, set(self.backend_ports))
                extra["heads"] = e.get("heads")
            elif e["ev"] == "closed":
                ev["closed"] = e["t"]
            elif e["ev"] == "end" and kind == "head-stall":
                extra["upstream_after_close"] = count_sockets_to(pids, set(self.backend_ports))
                extra["clients_after_close"] = client_sockets(pids, proxy.port)
            elif e["ev"] == "holding":
                n, tx, rx = sockets_to(pids, set(self.backend_ports))
                extra["upstream_recvq"] = rx
                extra["temp_file_bytes"] = temp_file_bytes(pids, self.dir)
            elif e["ev"] == "measure":
                extra["rss_idle_kb"] = sum(status_kb(p, "VmRSS") for p in pids)
                extra["idle_conns"] = e.get("idle")
            elif e["ev"] == "result":
                e.pop("ev"), e.pop("t")
                extra.update(e)
            if e.get("wait"):
                try:
                    attack.stdin.write(b"go\n")
                    attack.stdin.flush()
                except OSError:
                    pass
        Procs.stop(attack, grace=3)
        t_end = ev.get("end", time.monotonic())
        # After the attack: probes started 0.5-3.5 s after its connections closed.
        after_from, after_to = t_end + 0.5, t_end + 0.5 + self.args.after
        while time.monotonic() < after_to + 0.1:
            time.sleep(0.1)
        Procs.stop(probe, grace=self.args.probe_timeout + 2)
        _, rss_after, ticks_after = sampler.sample()
        sampler.halt.set()
        sampler.join(2)
        hwm = sampler.hwm_kb()
        alive = proxy.proc is not None and proxy.proc.poll() is None
        proxy.stop()
        probes = []
        if os.path.exists(probe_out):
            probes = [json.loads(l) for l in open(probe_out) if l.strip()]
        t_start = ev.get("start", t_end)
        during = [p for p in probes if t_start <= p["t"] <= t_end]
        after = [p for p in probes if after_from <= p["t"] <= after_to]
        errs = {}
        for p in during + after:
            if not p["ok"]:
                errs[p["err"]] = errs.get(p["err"], 0) + 1
        # When the failed probes started, in seconds from the attack's end (negative: during).
        fail_at = [round(p["t"] - t_end, 1) for p in during + after if not p["ok"]]
        res.update({
            "rss_before_kb": ev.get("start_rss"),
            "rss_peak_kb": sampler.peak(t_start, after_to),
            "rss_after_kb": rss_after,
            "hwm_sum_kb": hwm,
            "cpu_s": ((ev["end_cpu"] - ev["start_cpu"]) / CLK_TCK
                      if "end_cpu" in ev and "start_cpu" in ev else None),
            "attack_s": round(t_end - t_start, 2),
            "during": [sum(p["ok"] for p in during), len(during)],
            "after": [sum(p["ok"] for p in after), len(after)],
            "probe_errors": errs,
            "probe_fail_at": fail_at,
            # The proxy's CPU from the attack's end to the end of the after-window (a proxy
            # that spins once the attacker has gone shows here), and the longest gap between
            # two RSS samples (100 ms apart unless this machine itself stalled).
            "cpu_after_s": (round((ticks_after - ev["end_cpu"]) / CLK_TCK, 2)
                            if "end_cpu" in ev else None),
            "max_sample_gap_s": sampler.max_gap(t_start, after_to),
            "pool_before": pool_before,
            "valve": sampler.valve,
            "proxy_alive_at_end": alive,
            "wall_s": round(time.monotonic() - t_begin, 1),
            **extra,
        })
        if kind == "idle-keepalive" and res.get("rss_idle_kb") and res["rss_before_kb"] \
                and extra.get("served"):
            res["bytes_per_conn"] = round(
                (res["rss_idle_kb"] - res["rss_before_kb"]) * 1024 / extra["served"])
        return res


# --- the table -----------------------------------------------------------------------------------
def mb(kb):
    return "-" if kb is None else f"{kb / 1024:.1f}"


def fmt_bytes(n):
    if n is None:
        return "?"
    if abs(n) >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if abs(n) >= 1 << 10:
        return f"{n / 1024:.0f} KB"
    return f"{n} B"


def notes(r):
    k = r["kind"]
    out = []
    if r.get("error"):
        out.append(f"ERROR {r['error']}")
    if k in ("pipeline", "websocket") and "written" in r:
        out.append(f"proxy read {fmt_bytes(r['read_by_proxy'])} of {fmt_bytes(r['written'])}"
                   f" written (last write at {r['last_write_s']} s)")
        if r.get("capped"):
            out.append("hit the write cap")
        if k == "websocket":
            out.append(f"echo unread at client {fmt_bytes(r['client_recvq'])}")
    elif k == "slow-reader" and "client_recvq" in r:
        out.append(f"in kernel queues: client {fmt_bytes(r['client_recvq'])} + proxy's send "
                   f"{fmt_bytes(r['proxy_sendq'])} + proxy's upstream receive "
                   f"{fmt_bytes(r.get('upstream_recvq'))}; proxy temp files "
                   f"{fmt_bytes(r.get('temp_file_bytes'))}")
    elif k == "head-stall" and "upstream_after_close" in r:
        out.append(f"upstream conns: {r['upstream_stalled']} while stalled "
                   f"({r.get('heads')} heads), {r['upstream_after_close']} 5 s after the "
                   f"clients closed (pool before: {r['pool_before']}); client sockets still "
                   f"held then: {r.get('clients_after_close')}")
    elif k in ("fd-exhaust", "slowloris") and "connected" in r:
        answers = ", ".join(f"{n}x {code}" for code, n in sorted(r.get("statuses", {}).items()))
        out.append(f"{r['connected']}/{r['conns']} connected within 3 s; at the end: "
                   f"{r['closed_by_proxy']} closed by the proxy, {r['answered']} answered"
                   f"{' (' + answers + ')' if answers else ''}, {r['still_open']} open")
    elif k == "kill-backend" and "requests" in r:
        errs = r.get("socket_errors") or {}
        out.append(f"{r['failed']} of {r['requests']} requests failed ({r['non2xx']} non-2xx, "
                   f"socket errors: {errs.get('connect', 0)} connect, {errs.get('read', 0)} read, "
                   f"{errs.get('write', 0)} write, {errs.get('timeout', 0)} timeout); "
                   f"latency p50 {r.get('p50')}, p99 {r.get('p99')}, max {r.get('max')}")
    elif k == "idle-keepalive" and "served" in r:
        if r.get("bytes_per_conn") is not None:
            out.append(f"{r['served']} idle: +{mb(r['rss_idle_kb'] - r['rss_before_kb'])} MB "
                       f"= {r['bytes_per_conn']} B/conn")
        else:
            out.append(f"{r['served']} served")
    if r.get("probe_errors"):
        errs = ", ".join(f"{n}x {e}" for e, n in sorted(r["probe_errors"].items()))
        at = r.get("probe_fail_at") or []
        when = f" (started {min(at):+g} to {max(at):+g} s from the attack's end)" if at else ""
        out.append(f"normal client failed: {errs}{when}")
    if (r.get("cpu_after_s") or 0) >= 0.5:
        out.append(f"CPU after the attack {r['cpu_after_s']:.2f} s")
    if (r.get("max_sample_gap_s") or 0) >= 1.0:
        out.append(f"the bench itself stalled up to {r['max_sample_gap_s']:g} s")
    if r.get("valve"):
        out.append(f"RSS valve: {r['valve']}")
    if r.get("proxy_alive_at_end") is False:
        out.append("PROXY DIED")
    return "; ".join(out)


def table(results):
    """One table per attack, a row per proxy, then the idle-connection summary."""
    hdr = ["proxy", "RSS before MB", "peak RSS MB", "RSS after MB", "VmHWM MB", "CPU s",
           "served during", "served after", "notes"]
    order = []
    for r in results:
        if r["attack"] not in order:
            order.append(r["attack"])
    for num in order:
        group = [r for r in results if r["attack"] == num]
        rows = []
        for r in group:
            rows.append([r["proxy"], mb(r.get("rss_before_kb")), mb(r.get("rss_peak_kb")),
                         mb(r.get("rss_after_kb")), mb(r.get("hwm_sum_kb")),
                         "-" if r.get("cpu_s") is None else f"{r['cpu_s']:.2f}",
                         "{}/{}".format(*r["during"]) if "during" in r else "-",
                         "{}/{}".format(*r["after"]) if "after" in r else "-",
                         notes(r)])
        widths = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(hdr)]
        line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
        print(f"Attack {num}: {group[0]['title']}")
        print()
        print(line(hdr))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for x in rows:
            print(line(x))
        print()
    idle = [r for r in results if r["kind"] == "idle-keepalive" and r.get("bytes_per_conn")]
    if idle:
        print("Memory per idle keep-alive connection (attack 7): " + ", ".join(
            f"{r['proxy']} {r['bytes_per_conn']} B" for r in idle))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--controller", required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--after", type=float, default=3)
    ap.add_argument("--probe-timeout", type=float, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--attacks", default="1,2,3,4,5,6,7,8")
    ap.add_argument("--proxies", default="ours,nginx,haproxy")
    ap.add_argument("--pin", default="auto", choices=["auto", "yes", "no"])
    ap.add_argument("--cap-mb", type=int, default=1024, help="bytes an attack writes at most")
    ap.add_argument("--soft-cap-mb", type=int, default=1536,
                    help="proxy RSS at which the attack stops writing")
    ap.add_argument("--hard-cap-mb", type=int, default=3072,
                    help="proxy RSS at which the proxy is killed")
    ap.add_argument("--commit", default="")
    args = ap.parse_args()

    with open(os.path.join(args.dir, "pgid"), "w") as f:
        f.write(f"{os.getpgid(0)}\n")
    run = Run(args)

    def on_signal(signum, _):
        # Once: the second TERM (from `timeout` forwarding the group's) must not cut the
        # clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    results = []
    wanted = {int(x) for x in args.attacks.split(",") if x}
    proxies = [p for p in args.proxies.split(",") if p]
    load0 = open("/proc/loadavg").read().split()[:3]
    try:
        run.start_common()
        for num, kind, title in ATTACKS:
            if num not in wanted:
                continue
            for name in proxies:
                log(f"attack {num} ({kind}) against {name}")
                r = run.one(num, kind, title, name)
                log(json.dumps(r))
                results.append(r)
                with open(os.path.join(args.dir, "results.jsonl"), "a") as f:
                    f.write(json.dumps(r) + "\n")
    except SystemExit:
        log("interrupted: stopping everything; the table has the attacks that finished")
        raise
    finally:
        run.procs.stop_all()
        report(args, run, results, load0)


def report(args, run, results, load0):
    load1 = open("/proc/loadavg").read().split()[:3]
    model = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    print()
    print(f"== abuse benchmark: {time.strftime('%Y-%m-%d %H:%M %Z')}, commit {args.commit or '?'}, "
          f"{os.cpu_count()} cores ({model}), workers={args.workers}, "
          f"pinning={'proxy on CPU 1, the rest on CPU 0' if run.pinned else 'none'}, "
          f"attack duration {args.duration:g} s; load average {' '.join(load0)} at the start, "
          f"{' '.join(load1)} at the end ==")
    print("RSS: sum of VmRSS over the proxy's processes, sampled every 100 ms (peak: from the "
          "attack's start to the end of the after-window); VmHWM: their summed high-water "
          "marks at the end (a fresh proxy per attack, so start-up included). CPU s: utime+stime of those "
          "processes during the attack. Served: plain GETs on new connections every 200 ms, "
          f"ok within {args.probe_timeout:g} s (after: those started 0.5-{0.5 + args.after:g} s "
          "after the attack's connections closed).")
    print()
    if results:
        table(results)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
