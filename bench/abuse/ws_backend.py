#!/usr/bin/env python3
"""A WebSocket echo backend for bench/abuse_bench.sh (standard library only).

    ws_backend.py --ready-file FILE

Listens on a free port of 127.0.0.1 and writes {"port": N, "pid": P} to FILE. A request with
"Upgrade: websocket" gets a proper 101 (with Sec-WebSocket-Accept: HAProxy rejects a 101
without it), then every byte received is sent back as it came, with blocking writes: when the
client stops reading, the echo stops reading too (backpressure reaches the client through the
proxy, if the proxy lets it). Frames are not parsed. Any other request gets 200 "ws backend".
One thread per connection; runs until SIGTERM or SIGINT.

The project's test backend (//tests/test_common:backend_main) also echoes after an Upgrade,
but its 101 has no Sec-WebSocket-Accept, so HAProxy answers 502 to it.
"""
import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def serve(conn):
    try:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk or len(buf) > 65536:
                return
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"upgrade", b"").lower() != b"websocket":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n"
                         b"ws backend\n")
            return
        key = headers.get(b"sec-websocket-key", b"")
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        if rest:
            conn.sendall(rest)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            conn.sendall(chunk)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready-file", required=True)
    args = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"port": ls.getsockname()[1], "pid": os.getpid()}, f)
    os.rename(tmp, args.ready_file)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
