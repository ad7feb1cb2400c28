#!/usr/bin/env python3
"""Helpers for bench/proxy_bench.sh (standard library only).

  bench_util.py cpu PID...                 "utime stime" in clock ticks of the PIDs, all their
                                           threads and all their child processes, summed
  bench_util.py haproxy SOCKET CMD         one command on HAProxy's admin socket; prints the answer
  bench_util.py wrk FILE                   parses wrk --latency output into one JSON line
  bench_util.py add-latency ...            add-to-routed latency (see add_latency below)
  bench_util.py table RESULTS.jsonl ...    prints the comparison table
  bench_util.py callgrind-groups FILE       callgrind self costs grouped by area
  bench_util.py perf-split SCRIPT US       `perf script -F ip,sym,dso` samples split by system call
  bench_util.py h2load OUT LOG             h2load's summary and per-request --log-file -> JSON
  bench_util.py stime FILE...              `openssl s_time` outputs -> {"connections", "seconds"}
  bench_util.py edge-table RESULTS.jsonl   the table of bench/edge_bench.sh
  bench_util.py writes NAME URL N OUT      N seed /config adds then dels: writes/s, latency
  bench_util.py failover NAME PID URL PROXY_PORT ADMIN_PORT NEW_PORT OUT
                                           SIGKILL of a controller -> proxy on the survivor URL
  bench_util.py ha-table WRITES ADDS FAILOVER  the tables of bench/ha_bench.sh
"""
import json
import os
import re
import socket
import statistics
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # Fields after the name: state(3) ppid(4) ... utime(14) stime(15).
    return int(rest[1]), (int(rest[11]), int(rest[12]))


def cpu_ticks(roots):
    """(utime, stime) in clock ticks of the processes in `roots` and all their descendants
    (threads included: /proc/PID/stat of a process sums its threads)."""
    children = {}
    ticks = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        s = _stat(int(name))
        if s is None:
            continue
        children.setdefault(s[0], []).append(int(name))
        ticks[int(name)] = s[1]
    user = system = 0
    seen, todo = set(), [int(p) for p in roots]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        u, s = ticks.get(p, (0, 0))
        user += u
        system += s
        todo.extend(children.get(p, []))
    return user, system


def haproxy(sock_path, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall((cmd + "\n").encode())
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out.decode().strip()


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return None
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000}[m.group(2)]


def parse_wrk(path):
    text = open(path).read()
    r = {"rps": None, "requests": None, "p50_ms": None, "p99_ms": None, "non2xx": 0,
         "socket_errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+" + pct + r"%\s+(\S+)", text, re.M)
        if m:
            r[key] = _ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["socket_errors"] = sum(int(x) for x in m.groups())
    return r


class Poller:
    """A keep-alive HTTP/1.1 client that is as quick as Python gets: one fixed request, a
    response read by Content-Length. Reconnects when the server closes."""

    REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self):
        for attempt in range(2):
            try:
                if self.sock is None:
                    self._connect()
                self.sock.sendall(self.REQUEST)
                return self._read()
            except (OSError, ConnectionError):
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt == 1:
                    raise
        return None

    def _read(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        length = int(m.group(1)) if m else 0
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            rest += chunk
        body, self.buf = rest[:length], rest[length:]
        if re.search(rb"(?i)\r\nconnection:\s*close", head):
            self.sock.close()
            self.sock = None
        status = int(head.split(b" ", 2)[1])
        return status, body


def post(url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, r.read()


def add_latency(name, config_url, proxy_port, new_port, count, timeout_s, out_path):
    """`count` times: POST add of 127.0.0.1:new_port to config_url (the seed's /config
    protocol), then GET through the proxy as fast as possible until an answer comes from
    web_new: the time from just before the POST to that answer is add-to-routed. Then POST
    del, and GET until 40 answers in a row are not from web_new (with 4 backends at random,
    a false "gone" has odds 0.75^40 = 1e-5) before the next add."""
    poller = Poller(proxy_port)
    samples, api_ms, after_api, polls, misses, errors = [], [], [], [], 0, 0
    body_new = b"Hello from web_new"
    for i in range(count):
        t0 = time.perf_counter()
        post(config_url, {"action": "add", "ip": "127.0.0.1", "port": new_port})
        t_api = time.perf_counter()
        n, routed = 0, False
        while time.perf_counter() - t0 < timeout_s:
            try:
                status, body = poller.get()
            except OSError:
                errors += 1
                continue
            n += 1
            if body.startswith(body_new):
                routed = True
                break
        t1 = time.perf_counter()
        if routed:
            samples.append((t1 - t0) * 1000)
            api_ms.append((t_api - t0) * 1000)
            after_api.append((t1 - t_api) * 1000)
            polls.append(n)
        else:
            misses += 1
        post(config_url, {"action": "del", "ip": "127.0.0.1", "port": new_port})
        streak, t2 = 0, time.perf_counter()
        while streak < 40 and time.perf_counter() - t2 < timeout_s:
            try:
                status, body = poller.get()
            except OSError:
                errors += 1
                continue
            streak = 0 if body.startswith(body_new) else streak + 1
        time.sleep(0.005)

    def pct(values, p):
        if not values:
            return None
        v = sorted(values)
        return v[min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1)]

    r = {"proxy": name, "adds": count, "routed": len(samples), "not_routed": misses,
         "p50_ms": pct(samples, 50), "p90_ms": pct(samples, 90), "p99_ms": pct(samples, 99),
         "max_ms": max(samples) if samples else None,
         "api_p50_ms": pct(api_ms, 50), "api_p99_ms": pct(api_ms, 99),
         "after_api_p50_ms": pct(after_api, 50), "after_api_p99_ms": pct(after_api, 99),
         "polls_p50": pct(polls, 50), "poll_errors": errors}
    with open(out_path, "a") as f:
        f.write(json.dumps(r) + "\n")
    print(json.dumps(r))


def fmt(v, nd=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def table(results_path, latency_path):
    rows = [json.loads(l) for l in open(results_path) if l.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["proxy"], []).append(r)

    def med(rs, key):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    agg = {}
    for name, rs in by.items():
        agg[name] = {
            "rounds": len(rs),
            "rps": med(rs, "rps"),
            "rps_best": max((r["rps"] for r in rs if r.get("rps") is not None), default=None),
            "p99_best": min((r["p99_ms"] for r in rs if r.get("p99_ms") is not None),
                            default=None),
            "p50_ms": med(rs, "p50_ms"),
            "p99_ms": med(rs, "p99_ms"),
            "cpu_us": med(rs, "cpu_us_per_req"),
            "user_us": med(rs, "user_us_per_req"),
            "sys_us": med(rs, "sys_us_per_req"),
            "non2xx": sum(r["non2xx"] for r in rs),
            "errors": sum(r["socket_errors"] for r in rs),
            "load": med(rs, "load1"),
        }
    base = agg.get("nginx-tuned", {}).get("cpu_us")
    hdr = ["proxy", "req/s", "best req/s", "p50 ms", "p99 ms", "best p99", "CPU us/req",
           "user+sys us", "CPU vs tuned", "non-2xx", "sock err", "rounds", "load1"]
    out = []
    for name in ("ours", "ours-base", "nginx-tuned", "haproxy", "seed-nginx-lua"):
        if name not in agg:
            continue
        a = agg[name]
        ratio = a["cpu_us"] / base if base and a["cpu_us"] is not None else None
        out.append([name, fmt(a["rps"], 0), fmt(a["rps_best"], 0), fmt(a["p50_ms"], 3),
                    fmt(a["p99_ms"], 3), fmt(a["p99_best"], 3),
                    fmt(a["cpu_us"], 1), fmt(a["user_us"], 1) + "+" + fmt(a["sys_us"], 1),
                    fmt(ratio, 2) + "x" if ratio else "-",
                    str(a["non2xx"]), str(a["errors"]), str(a["rounds"]), fmt(a["load"], 2)])
    widths = [max(len(h), *(len(r[i]) for r in out)) for i, h in enumerate(hdr)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(hdr))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in out:
        print(line(r))
    print()
    print("Per round [req/s, p99 ms, CPU us/req, load1]:")
    for name in ("ours", "ours-base", "nginx-tuned", "haproxy", "seed-nginx-lua"):
        if name in by:
            print(f"  {name:15s} " + "  ".join(
                f"[{fmt(r['rps'], 0)} {fmt(r['p99_ms'], 3)} {fmt(r['cpu_us_per_req'], 1)} "
                f"{fmt(r['load1'], 2)}]"
                for r in by[name]))
    if latency_path and os.path.exists(latency_path):
        lat = [json.loads(l) for l in open(latency_path) if l.strip()]
        if lat:
            print()
            hdr = ["proxy", "adds", "routed", "p50 ms", "p90 ms", "p99 ms", "max ms",
                   "API call p50/p99 ms", "after API p50/p99 ms", "polls p50"]
            rows = [[l["proxy"], str(l["adds"]), str(l["routed"]), fmt(l["p50_ms"], 2),
                     fmt(l["p90_ms"], 2), fmt(l["p99_ms"], 2), fmt(l["max_ms"], 2),
                     fmt(l["api_p50_ms"], 2) + " / " + fmt(l["api_p99_ms"], 2),
                     fmt(l["after_api_p50_ms"], 2) + " / " + fmt(l["after_api_p99_ms"], 2),
                     fmt(l["polls_p50"])] for l in lat]
            widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
            print("Add-to-routed (POST add -> first answer from the new backend):")
            print(line(hdr))
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
            for r in rows:
                print(line(r))


SYSCALL_FRAME = re.compile(
    r"(?:__x64_sys_|__do_sys_|__sys_|ksys_|do_)(writev|readv|read|write|recvfrom|sendto|recvmsg|"
    r"sendmsg|epoll_ctl|epoll_wait|epoll_pwait|ioctl|getsockopt|setsockopt|connect|accept4|"
    r"close|socket|futex|shutdown)\b")


def perf_split(script_path, cpu_us_per_req):
    """Reads `perf script -F ip,sym` output (one call chain per sample, innermost frame first)
    and splits the samples by the system call they are in (the outermost syscall frame), with
    "user" for samples outside the kernel; prints percent and microseconds per request. The
    top kernel self symbols inside each call follow."""
    import collections
    cats, tops, total, frames = collections.Counter(), {}, 0, []

    def flush():
        nonlocal total
        if not frames:
            return
        total += 1
        cat = None
        for name, kernel in reversed(frames):
            m = SYSCALL_FRAME.match(name)
            if m and kernel:
                cat = m.group(1)
                break
        if cat is None:
            cat = "(kernel, outside syscalls: irq, softirq, scheduler)" if frames[0][1] else "(user space)"
        cats[cat] += 1
        tops.setdefault(cat, collections.Counter())[frames[0][0]] += 1

    for line in open(script_path, errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            frames = []
            continue
        parts = line.strip().split(None, 1)
        if len(parts) < 2:
            continue
        kernel = "[kernel.kallsyms]" in parts[1]
        name = re.sub(r"\+0x[0-9a-f]+", "", parts[1].split(" (")[0])
        frames.append((name, kernel))
    flush()
    if not total:
        print("no samples")
        return
    for cat, n in cats.most_common():
        share = n / total
        if share < 0.005:
            continue
        top = ", ".join(f"{k} {100 * v / n:.0f}%" for k, v in tops[cat].most_common(3))
        print(f"  {100 * share:5.1f}%  {share * cpu_us_per_req:5.2f} us/req  {cat:12s}  [{top}]")
    print(f"  ({total} samples)")


CALLGRIND_GROUPS = [
    ("start-up (dynamic linker)", r"/elf/|dl-|_dl_"),
    ("HTTP/1 parsing (proxy/http/parser.cc)", r"parser\.cc|lb::http::"),
    ("libevent evbuffer and event::Buffer", r"evbuffer|Buffer::"),
    ("libevent loop, event add/del/new/free, timers; our FdWatcher/Timer wrappers",
     r"event_|evmap_|min_heap|LibeventFdWatcher|LibeventTimer|CreateTimer|WatchFd|libevent|"
     r"ToTimeval"),
    ("building heads (StrAppend, std::string)",
     r"StrAppend|AppendPieces|STLStringResize|basic_string|str_cat|StrCat"),
    ("malloc/free/new/delete", r"malloc|free|operator new|operator delete|_int_"),
    ("memcpy/memmove/memset/memcmp", r"memmove|memcpy|memset|memcmp"),
    ("proxy/server/worker.cc own code", r"worker\.cc|ClientConn|Worker::"),
    ("syscall wrappers", r"readv|writev|ioctl|epoll|cancellation"),
]


def callgrind_groups(self_listing):
    """Groups `callgrind_annotate --auto=no --threshold=100` (self cost per function) into
    the areas above."""
    rows = []
    for line in open(self_listing):
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if m:
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    if not rows:
        return
    total, rows = rows[0][0], rows[1:]
    acc = {name: 0 for name, _ in CALLGRIND_GROUPS}
    other = 0
    for cost, fn in rows:
        for name, pattern in CALLGRIND_GROUPS:
            if re.search(pattern, fn):
                acc[name] += cost
                break
        else:
            other += cost
    for name, cost in sorted(acc.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * cost / total:5.1f}%  {name}")
    print(f"  {100 * other / total:5.1f}%  other")


def parse_h2load(out_path, log_path):
    """h2load's summary (requests succeeded, status codes, errors) and, from its --log-file
    (one line per request: start time us, status, duration us), the latency percentiles."""
    text = open(out_path).read()
    r = {}
    m = re.search(r"finished in ([0-9.]+)(m?s), ([0-9.]+) req/s", text)
    if m:
        r["seconds"] = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
        r["rps"] = float(m.group(3))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored", text)
    if m:
        r["requests"] = int(m.group(4))
        r["failed"] = int(m.group(5)) + int(m.group(6))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    r["non2xx"] = sum(int(m.group(i)) for i in (2, 3, 4)) if m else None
    durations = []
    for line in open(log_path):
        f = line.split()
        if len(f) >= 3 and f[2].isdigit():
            durations.append(int(f[2]))
    durations.sort()
    if durations:
        pick = lambda p: durations[min(len(durations) - 1, int(p * len(durations)))] / 1000
        r["p50_ms"], r["p99_ms"] = pick(0.50), pick(0.99)
    return r


def parse_stime(paths):
    """Sums `openssl s_time` runs: "N connections in T real seconds" (the last such line of each
    output: with -reuse the first line is the initial full handshake's run)."""
    connections = 0
    seconds = 0.0
    for path in paths:
        found = re.findall(r"(\d+) connections in ([0-9.]+) real seconds", open(path).read())
        if found:
            connections += int(found[-1][0])
            seconds = max(seconds, float(found[-1][1]))
    return {"connections": connections, "seconds": seconds}


def edge_table(results_path):
    rows = [json.loads(l) for l in open(results_path) if l.strip()]
    by = {}
    for r in rows:
        by.setdefault((r["test"], r["proxy"]), []).append(r)

    def med(rs, key):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    tests = []
    for r in rows:
        if r["test"] not in tests:
            tests.append(r["test"])
    hdr = ["test", "proxy", "ops/s", "p50 ms", "p99 ms", "CPU us/op", "CPU vs best peer",
           "non-2xx/errors", "rounds"]
    out = []
    for t in tests:
        cpu = {p: med(rs, "cpu_us_per_op") for (tt, p), rs in by.items() if tt == t}
        peers = [v for p, v in cpu.items() if p != "ours" and v is not None]
        best = min(peers) if peers else None
        for p in ("ours", "nginx", "haproxy"):
            rs = by.get((t, p))
            if not rs:
                continue
            c = cpu[p]
            ratio = c / best if best and c is not None else None
            bad = sum((r.get("non2xx") or 0) + (r.get("errors") or 0) for r in rs)
            out.append([t, p, fmt(med(rs, "rps"), 0), fmt(med(rs, "p50_ms"), 3),
                        fmt(med(rs, "p99_ms"), 3), fmt(c, 1),
                        fmt(ratio, 2) + "x" if ratio else "-", str(bad), str(len(rs))])
    widths = [max(len(h), *(len(r[i]) for r in out)) for i, h in enumerate(hdr)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(hdr))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in out:
        print(line(r))


def _pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1)]


def writes(name, config_url, count, out_path):
    """`count` adds of distinct endpoints through the seed's /config API, one after another,
    then as many dels: writes per second and per-write latency."""
    lat = []
    t0 = time.perf_counter()
    for action in ("add", "del"):
        for i in range(count):
            t = time.perf_counter()
            post(config_url, {"action": action, "ip": "127.0.0.2", "port": 20000 + i})
            lat.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - t0
    r = {"setup": name, "writes": len(lat), "writes_per_s": len(lat) / elapsed,
         "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "max_ms": max(lat)}
    with open(out_path, "a") as f:
        f.write(json.dumps(r) + "\n")
    print(json.dumps(r))


def failover(name, pid, survivor_url, proxy_port, admin_port, new_port, out_path):
    """SIGKILLs the controller `pid` the proxy follows, then measures until the proxy reports a
    stream to another controller, and until an add made through `survivor_url` right after the
    kill is routed (answers from web_new)."""
    import signal
    poller = Poller(proxy_port)
    t0 = time.perf_counter()
    os.kill(int(pid), signal.SIGKILL)
    old = None
    connected_s = routed_s = None
    added = False
    while time.perf_counter() - t0 < 60 and (connected_s is None or routed_s is None):
        if not added:
            try:
                post(survivor_url, {"action": "add", "ip": "127.0.0.1", "port": int(new_port)})
                added = True
            except OSError:
                pass
        if connected_s is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/config_dump",
                                            timeout=2) as r:
                    src = json.load(r).get("source", {})
                if old is None:
                    old = src.get("controller")
                if src.get("connected") and src.get("streams", 0) >= 2:
                    connected_s = time.perf_counter() - t0
            except (OSError, ValueError):
                pass
        if routed_s is None and added:
            try:
                _, body = poller.get()
                if body.startswith(b"Hello from web_new"):
                    routed_s = time.perf_counter() - t0
            except OSError:
                pass
        time.sleep(0.002)
    r = {"setup": name, "reconnected_s": connected_s, "change_routed_s": routed_s}
    with open(out_path, "a") as f:
        f.write(json.dumps(r) + "\n")
    print(json.dumps(r))


def ha_table(writes_path, adds_path, failover_path):
    def rows(path):
        return [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []

    def show(hdr, out):
        widths = [max(len(h), *(len(r[i]) for r in out)) for i, h in enumerate(hdr)]
        line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
        print(line(hdr))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in out:
            print(line(r))
        print()

    w = rows(writes_path)
    if w:
        print("Writes through REST /config (sequential adds then dels):")
        show(["store", "writes", "writes/s", "p50 ms", "p99 ms", "max ms"],
             [[r["setup"], str(r["writes"]), fmt(r["writes_per_s"], 0), fmt(r["p50_ms"]),
               fmt(r["p99_ms"]), fmt(r["max_ms"])] for r in w])
    a = rows(adds_path)
    if a:
        print("Add-to-routed (POST add -> first answer from the new backend through the proxy):")
        show(["store", "adds", "routed", "p50 ms", "p90 ms", "p99 ms", "max ms"],
             [[r["proxy"], str(r["adds"]), str(r["routed"]), fmt(r["p50_ms"]),
               fmt(r["p90_ms"]), fmt(r["p99_ms"]), fmt(r["max_ms"])] for r in a])
    f = rows(failover_path)
    if f:
        print("Failover (SIGKILL of the controller the proxy follows):")
        show(["run", "proxy streaming from the survivor (s)", "change via survivor routed (s)"],
             [[r["setup"], fmt(r["reconnected_s"], 3), fmt(r["change_routed_s"], 3)] for r in f])


def main(argv):
    cmd = argv[1]
    if cmd == "cpu":
        print(*cpu_ticks(argv[2:]))
    elif cmd == "clk_tck":
        print(CLK_TCK)
    elif cmd == "haproxy":
        print(haproxy(argv[2], argv[3]))
    elif cmd == "wrk":
        print(json.dumps(parse_wrk(argv[2])))
    elif cmd == "add-latency":
        name, url, port, new_port, count, timeout_s, out = argv[2:9]
        add_latency(name, url, int(port), int(new_port), int(count), float(timeout_s), out)
    elif cmd == "perf-split":
        perf_split(argv[2], float(argv[3]))
    elif cmd == "callgrind-groups":
        callgrind_groups(argv[2])
    elif cmd == "h2load":
        print(json.dumps(parse_h2load(argv[2], argv[3])))
    elif cmd == "stime":
        print(json.dumps(parse_stime(argv[2:])))
    elif cmd == "edge-table":
        edge_table(argv[2])
    elif cmd == "writes":
        writes(argv[2], argv[3], int(argv[4]), argv[5])
    elif cmd == "failover":
        failover(*argv[2:9])
    elif cmd == "ha-table":
        ha_table(argv[2], argv[3], argv[4])
    elif cmd == "table":
        table(argv[2], argv[3] if len(argv) > 3 else None)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
