#!/usr/bin/env python3
"""A hostile HTTP target for resource-limit tests. Prints "listening PORT" once bound (port 0).
GET /endless : 200 with a close-delimited body that never ends
GET /drip    : 200, Content-Length 4, one body byte per second
GET /silent  : 200, Content-Length 10, one byte, then silence for 30 s
POST /stall-reset : the first one reads no body for 1.5 s, then resets the connection; later
               ones read the body (Content-Length) and answer 200 "ok"
Anything else: 200 "ok" (keep-alive)."""
import socket
import struct
import sys
import threading
import time


stalled = threading.Event()


def read_body(conn, head, buf):
    """Reads and drops the request body; returns what follows it in buf."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if len(buf) >= length:
        return buf[length:]
    length -= len(buf)
    while length > 0:
        data = conn.recv(min(length, 1 << 20))
        if not data:
            raise OSError("closed in the body")
        length -= len(data)
    return b""


def serve(conn):
    conn.settimeout(60)
    try:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1].decode()
            if path.startswith("/endless"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                chunk = b"x" * 65536
                while True:
                    conn.sendall(chunk)
            elif path.startswith("/drip"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
                for _ in range(4):
                    time.sleep(1)
                    conn.sendall(b"d")
            elif path.startswith("/stall-reset") and not stalled.is_set():
                stalled.set()
                time.sleep(1.5)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            elif path.startswith("/stall-reset"):
                buf = read_body(conn, head, buf)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            elif path.startswith("/silent"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\ns")
                time.sleep(30)
                return
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print("listening", srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
