#!/usr/bin/env python3
"""The attacks of bench/abuse_bench.sh, one per process (standard library only).

    attacks.py ATTACK --port P [--duration S] [--conns N] [--cap-bytes B] [--size B]

ATTACK is one of: pipeline, websocket, slow-reader, head-stall, fd-exhaust, slowloris,
idle-keepalive, kill-backend (see docs/abuse-benchmark.md). Everything goes to 127.0.0.1:P, every loop is
bounded by a deadline.

It reports on stdout as JSON lines, with CLOCK_MONOTONIC times (comparable across processes):

    {"ev": "start", "t": ...}       the attack proper begins (set-up is done)
    {"ev": "<name>", "t": ..., "wait": true}
                                    a point where the caller measures the proxy; the attack
                                    waits (at most 10 s) for one line on stdin before going on
    {"ev": "end", "t": ...}         the attack's connections are closed
    {"ev": "result", ...}           what the attack saw (bytes written and accepted, ...)

SIGUSR1 stops writing (the caller's memory valve); SIGTERM ends the attack at once.
"""
import argparse
import errno
import fcntl
import json
import os
import select
import selectors
import signal
import socket
import struct
import sys
import time

SIOCINQ = 0x541B   # FIONREAD: unread bytes in our receive queue
SIOCOUTQ = 0x5411  # TIOCOUTQ: bytes in our send queue (unsent + unacknowledged)

stop_writing = False
terminate = False


def _on_usr1(*_):
    global stop_writing
    stop_writing = True


def _on_term(*_):
    global terminate, stop_writing
    terminate = stop_writing = True


def now():
    return time.monotonic()


def emit(ev, wait=False, **kw):
    rec = {"ev": ev, "t": now(), **kw}
    if wait:
        rec["wait"] = True
    sys.stdout.write(json.dumps(rec) + "\n")
    sys.stdout.flush()
    if wait:
        r, _, _ = select.select([sys.stdin], [], [], 10)
        if r:
            sys.stdin.readline()


def sleep_until(deadline):
    while not terminate:
        left = deadline - now()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


def ioctl_int(sock, req):
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), req, b"\0" * 4))[0]
    except OSError:
        return None


def tcp_queues(local_port, remote_port):
    """(tx_queue, rx_queue) of the socket 127.0.0.1:local_port <-> :remote_port, from
    /proc/net/tcp (the proxy's end of one of our connections), or (None, None)."""
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                p = line.split()
                lp = int(p[1].split(":")[1], 16)
                rp = int(p[2].split(":")[1], 16)
                if lp == local_port and rp == remote_port and p[3] != "0A":
                    tx, rx = p[4].split(":")
                    return int(tx, 16), int(rx, 16)
    except OSError:
        pass
    return None, None


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_head(sock, timeout):
    """Reads until the end of a response head (bounded). Returns (head bytes, extra)."""
    deadline = now() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 1 << 20:
        left = deadline - now()
        if left <= 0 or terminate:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    head, sep, extra = buf.partition(b"\r\n\r\n")
    return (head if sep else buf), extra


def flood(sock, payload, duration, cap):
    """Writes `payload` over and over, non-blocking, for `duration` seconds or until `cap`
    bytes; the stream stays aligned on payload boundaries. Returns (bytes written, seconds
    from the start to the last write that made progress)."""
    sock.setblocking(False)
    doubled = memoryview(payload * 2)
    size = len(payload)
    sent, t0 = 0, now()
    last_progress = 0.0
    deadline = t0 + duration
    while not stop_writing and sent < cap:
        left = deadline - now()
        if left <= 0:
            break
        off = sent % size
        try:
            n = sock.send(doubled[off:off + min(size, cap - sent)])
            sent += n
            last_progress = now() - t0
        except BlockingIOError:
            select.select([], [sock], [], min(left, 0.1))
        except OSError as e:
            return sent, last_progress, f"write: {errno.errorcode.get(e.errno, e)}"
    return sent, last_progress, ""


def accepted_report(sock, proxy_port, written):
    """How much of what we wrote the proxy has read out of its socket: written minus what is
    still in our send queue and in the proxy's receive queue."""
    local_port = sock.getsockname()[1]
    outq = ioctl_int(sock, SIOCOUTQ) or 0
    inq = ioctl_int(sock, SIOCINQ) or 0
    ptx, prx = tcp_queues(proxy_port, local_port)
    read_by_proxy = written - outq - (prx or 0)
    return {"written": written, "client_sendq": outq, "proxy_recvq": prx,
            "proxy_sendq": ptx, "client_recvq": inq, "read_by_proxy": read_by_proxy}


# --- 1. slow upstream, then a pipelined flood on the same connection --------------------------
def pipeline(a):
    s = connect(a.port)
    s.sendall(b"GET /slow?delay_ms=%d HTTP/1.1\r\nHost: abuse\r\n\r\n" % (a.slow_ms,))
    time.sleep(0.5)  # the proxy has sent it upstream and waits for the answer
    one = b"GET / HTTP/1.1\r\nHost: abuse\r\n\r\n"
    payload = one * (65536 // len(one))
    emit("start")
    t0 = now()
    written, last, err = flood(s, payload, a.duration, a.cap_bytes)
    sleep_until(t0 + a.duration)
    rep = accepted_report(s, a.port, written)
    s.close()
    emit("end")
    emit("result", **rep, last_write_s=round(last, 2), error=err,
         capped=written >= a.cap_bytes, stopped=stop_writing)


# --- 2. WebSocket client that never reads, writing as fast as it can --------------------------
def websocket(a):
    s = connect(a.port)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: abuse\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head, _ = read_head(s, 5)
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if b" 101 " not in head.split(b"\r\n", 1)[0] + b" ":
        emit("start")
        s.close()
        emit("end")
        emit("result", error=f"no 101: {status!r}")
        return
    emit("start")
    t0 = now()
    # Masked binary frames of 64 KiB (mask 0, so the payload reads as is); the echo backend
    # does not parse them, and neither do the proxies.
    frame = b"\x82\xff" + struct.pack(">Q", 65536) + b"\0\0\0\0" + b"x" * 65536
    written, last, err = flood(s, frame, a.duration, a.cap_bytes)
    sleep_until(t0 + a.duration)
    rep = accepted_report(s, a.port, written)
    s.close()
    emit("end")
    emit("result", **rep, last_write_s=round(last, 2), error=err,
         capped=written >= a.cap_bytes, stopped=stop_writing, status=status)


# --- 3. slow reader: a large response that is never read --------------------------------------
def slow_reader(a):
    s = connect(a.port)
    emit("start")
    t0 = now()
    s.sendall(b"GET /big?size=%d HTTP/1.1\r\nHost: abuse\r\n\r\n" % (a.size,))
    sleep_until(t0 + a.duration)
    inq = ioctl_int(s, SIOCINQ)
    ptx, prx = tcp_queues(a.port, s.getsockname()[1])
    emit("holding", wait=True)
    s.close()
    emit("end")
    emit("result", size=a.size, client_recvq=inq, proxy_sendq=ptx)


# --- many connections: non-blocking connects, bounded --------------------------------------
def open_many(port, n, timeout, first=b""):
    """Opens n connections at once (non-blocking). Returns (list of sockets, connected count,
    failed count). Connections still pending after `timeout` are kept: they may complete
    later (the proxy's accept queue was full)."""
    socks, pending = [], {}
    failed = 0
    sel = selectors.DefaultSelector()
    for _ in range(n):
        if terminate:
            break
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            failed += 1
            s.close()
            continue
        socks.append(s)
        pending[s.fileno()] = s
        sel.register(s, selectors.EVENT_WRITE)
    connected = 0
    deadline = now() + timeout
    while pending and now() < deadline and not terminate:
        for key, _ in sel.select(min(0.1, max(0, deadline - now()))):
            s = key.fileobj
            sel.unregister(s)
            del pending[s.fileno()]
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected += 1
                if first:
                    try:
                        s.send(first)
                    except OSError:
                        pass
            else:
                failed += 1
    sel.close()
    return socks, connected, failed


def closed_by_peer(socks):
    """Counts, without blocking: (closed by the peer, answered with bytes, still open, status
    codes of the answers)."""
    closed = answered = open_ = 0
    statuses = {}
    for s in socks:
        try:
            data = s.recv(4096, socket.MSG_DONTWAIT | socket.MSG_PEEK)
            if data:
                answered += 1
                code = data.split(b" ", 2)[1].decode(errors="replace") \
                    if data.startswith(b"HTTP/") and b" " in data else "?"
                statuses[code] = statuses.get(code, 0) + 1
            else:
                closed += 1
        except BlockingIOError:
            open_ += 1
        except OSError:
            closed += 1
    return closed, answered, open_, statuses


# --- 4. upstream sends a head, then stalls; the client closes ---------------------------------
def head_stall(a):
    emit("start")
    socks = []
    for i in range(a.conns):
        if terminate:
            break
        try:
            s = connect(a.port, 2)
            s.sendall(b"GET /stall?size=64&chunks=2&chunk_delay_ms=%d&i=%d HTTP/1.1\r\n"
                      b"Host: abuse\r\n\r\n" % (a.slow_ms, i))
            socks.append(s)
        except OSError:
            pass
    heads = 0
    deadline = now() + 5
    for s in socks:
        head, _ = read_head(s, max(0.05, deadline - now()))
        if head.startswith(b"HTTP/1.1 200"):
            heads += 1
    emit("stalled", wait=True, heads=heads)
    for s in socks:
        s.close()
    emit("closed")
    sleep_until(now() + a.after)
    emit("end", wait=True)
    emit("result", requests=a.conns, heads=heads)


# --- 5. descriptor exhaustion (the proxy runs with a low ulimit -n) ---------------------------
def fd_exhaust(a):
    emit("start")
    t0 = now()
    socks, connected, failed = open_many(a.port, a.conns, 3)
    sleep_until(t0 + a.duration)
    closed, answered, open_, statuses = closed_by_peer(socks)
    for s in socks:
        s.close()
    emit("end")
    emit("result", conns=a.conns, connected=connected, connect_failed=failed,
         closed_by_proxy=closed, answered=answered, still_open=open_, statuses=statuses)


# --- 6. slowloris: a header byte every few seconds --------------------------------------------
def slowloris(a):
    emit("start")
    t0 = now()
    socks, connected, failed = open_many(
        a.port, a.conns, 3, first=b"GET / HTTP/1.1\r\nHost: abuse\r\nX-Slow: ")
    alive = {s.fileno(): s for s in socks}
    dead = set()
    groups = 20  # each tick (interval / groups) one group sends its byte
    tick = a.interval / groups
    k = 0
    sent = 0
    while now() < t0 + a.duration and not terminate:
        for s in socks[k % groups::groups]:
            if s.fileno() in dead:
                continue
            try:
                s.send(b"a")
                sent += 1
            except BlockingIOError:
                pass
            except OSError:
                dead.add(s.fileno())
        k += 1
        time.sleep(min(tick, max(0, t0 + a.duration - now())))
    closed, answered, open_, statuses = closed_by_peer(socks)
    for s in socks:
        s.close()
    emit("end")
    emit("result", conns=a.conns, connected=connected, connect_failed=failed,
         bytes_trickled=sent, write_failed=len(dead), closed_by_proxy=closed,
         answered=answered, still_open=open_, statuses=statuses)


# --- 7. memory per idle keep-alive connection -------------------------------------------------
def idle_keepalive(a):
    """a.conns clients, at most a.concurrency at a time: connect, one GET, read the whole
    response, then stay open and idle."""
    req = b"GET / HTTP/1.1\r\nHost: abuse\r\n\r\n"
    sel = selectors.DefaultSelector()
    state = {}  # fd -> [sock, phase, buffer]
    idle, errors, started = [], 0, 0
    emit("start")
    deadline = now() + max(30.0, a.duration * 3)

    def launch():
        nonlocal started, errors
        started += 1
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", a.port))
        if err not in (0, errno.EINPROGRESS):
            errors += 1
            s.close()
            return
        state[s.fileno()] = [s, "connect", b""]
        sel.register(s, selectors.EVENT_WRITE)

    while (started < a.conns or state) and now() < deadline and not terminate:
        while started < a.conns and len(state) < a.concurrency:
            launch()
        for key, _ in sel.select(0.1):
            s = key.fileobj
            st = state[s.fileno()]
            try:
                if st[1] == "connect":
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                        raise OSError("connect failed")
                    s.send(req)  # small: fits the empty send buffer
                    st[1] = "read"
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("closed")
                st[2] += chunk
                head, sep, body = st[2].partition(b"\r\n\r\n")
                if sep:
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip())
                    if len(body) >= length:
                        sel.unregister(s)
                        del state[s.fileno()]
                        idle.append(s)
            except OSError:
                errors += 1
                sel.unregister(s)
                del state[s.fileno()]
                s.close()
    for st in state.values():
        st[0].close()
    sel.close()
    # Let the proxy settle (upstream connections back to its pool, buffers released).
    sleep_until(now() + 1.5)
    closed, answered, open_, _ = closed_by_peer(idle)
    emit("measure", wait=True, idle=len(idle), still_open=open_)
    sleep_until(now() + 0.5)
    for s in idle:
        s.close()
    emit("end")
    emit("result", conns=a.conns, served=len(idle), errors=errors, still_open=open_,
         closed_by_proxy=closed)


# --- 8. kill -9 of one backend under steady load ----------------------------------------------
def parse_wrk(text):
    """Requests, non-2xx/3xx answers, socket errors and latency percentiles from wrk's report."""
    import re
    out = {"requests": None, "non2xx": 0, "socket_errors": {}}
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                        map(int, m.groups())))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            out[key] = m.group(1)
    m = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", text, re.M)
    if m:
        out["max"] = m.group(1)
    return out


def kill_backend(a):
    """wrk (one thread, --conns keep-alive connections) for --duration seconds; after a third
    of it, SIGKILL to the backend process --victim-pid (one of the proxy's three). Every
    answer that is not 2xx/3xx and every socket error is a request a client saw fail."""
    import subprocess
    cmd = ["wrk", "-t1", f"-c{a.conns}", f"-d{max(1, int(round(a.duration)))}s", "--latency",
           f"http://127.0.0.1:{a.port}/"]
    emit("start")
    t0 = now()
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sleep_until(t0 + a.duration / 3)
    killed = False
    if not terminate:
        try:
            os.kill(a.victim_pid, signal.SIGKILL)
            killed = True
        except OSError as e:
            emit("kill-failed", error=str(e))
    emit("killed", at_s=round(now() - t0, 2))
    try:
        out, _ = wrk.communicate(timeout=a.duration + 30)
    except subprocess.TimeoutExpired:
        wrk.kill()
        out, _ = wrk.communicate()
    if terminate and wrk.poll() is None:
        wrk.kill()
    text = out.decode(errors="replace")
    emit("end")
    res = parse_wrk(text)
    failed = res["non2xx"] + sum(res["socket_errors"].values())
    emit("result", **res, failed=failed, killed=killed,
         error="" if res["requests"] is not None else f"wrk: {text[-300:]!r}")


ATTACKS = {
    "pipeline": pipeline,
    "websocket": websocket,
    "slow-reader": slow_reader,
    "head-stall": head_stall,
    "fd-exhaust": fd_exhaust,
    "slowloris": slowloris,
    "idle-keepalive": idle_keepalive,
    "kill-backend": kill_backend,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attack", choices=sorted(ATTACKS))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--cap-bytes", type=int, default=1 << 30)
    ap.add_argument("--size", type=int, default=100 << 20)
    ap.add_argument("--slow-ms", type=int, default=60000)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--after", type=float, default=5.0)
    ap.add_argument("--victim-pid", type=int, default=0)
    a = ap.parse_args()
    signal.signal(signal.SIGUSR1, _on_usr1)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        ATTACKS[a.attack](a)
    except Exception as e:  # reported, not raised: the caller prints what it can
        emit("end")
        emit("result", error=f"{e.__class__.__name__}: {e}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
