#!/usr/bin/env python3
"""The "normal client" of bench/abuse_bench.sh (standard library only).

    probe.py --port P --out FILE [--interval 0.2] [--timeout 2] [--max-seconds 120]

Every --interval seconds it starts one plain `GET / HTTP/1.1` on a new connection to
127.0.0.1:P (in its own thread, so a hanging attempt does not delay the next one) and appends
one JSON line to FILE when that attempt ends:

    {"t": <CLOCK_MONOTONIC at the start>, "ok": true|false, "ms": <duration>, "err": "..."}

"ok" means a complete 200 response (by Content-Length, or up to the close) arrived within
--timeout seconds. It runs until SIGTERM/SIGINT or --max-seconds, then waits for the attempts
still running (each is bounded by --timeout) and exits.
"""
import argparse
import json
import re
import signal
import socket
import threading
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: probe\r\nUser-Agent: abuse-bench-probe\r\nConnection: close\r\n\r\n"


def attempt(port, timeout):
    """One GET on a fresh connection. Returns (ok, error text)."""
    deadline = time.monotonic() + timeout
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        return False, f"connect: {e.__class__.__name__}"
    try:
        s.sendall(REQUEST)
        buf = b""
        while b"\r\n\r\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, "timeout (head)"
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                return False, "closed before head" if not buf else "closed in head"
            buf += chunk
            if len(buf) > 1 << 20:
                return False, "head too large"
        head, _, body = buf.partition(b"\r\n\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        if not m:
            return False, "not HTTP"
        status = int(m.group(1))
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        length = int(m.group(1)) if m else None
        while length is None or len(body) < length:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, "timeout (body)"
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                if length is None:
                    break
                return False, "closed in body"
            body += chunk
        if status != 200:
            return False, f"status {status}"
        return True, ""
    except socket.timeout:
        return False, "timeout"
    except OSError as e:
        return False, f"{e.__class__.__name__}"
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    args = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lock = threading.Lock()
    out = open(args.out, "a", buffering=1)

    def run_one(t0):
        ok, err = attempt(args.port, args.timeout)
        rec = {"t": t0, "ok": ok, "ms": round((time.monotonic() - t0) * 1000, 2), "err": err}
        with lock:
            out.write(json.dumps(rec) + "\n")

    threads = []
    start = time.monotonic()
    next_t = start
    while not stop.is_set() and time.monotonic() - start < args.max_seconds:
        t0 = time.monotonic()
        th = threading.Thread(target=run_one, args=(t0,), daemon=True)
        th.start()
        threads.append(th)
        threads = [x for x in threads if x.is_alive()]
        next_t += args.interval
        stop.wait(max(0.0, next_t - time.monotonic()))
    for th in threads:
        th.join(args.timeout + 1)
    out.close()


if __name__ == "__main__":
    main()
