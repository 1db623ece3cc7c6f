#!/usr/bin/env python3
"""Hostile and rogue peers of the loadctl control protocol, for the hardening tests.

Usage:
  control_peer.py flood HOST PORT COUNT HOLD_SECONDS [LENGTH]
      opens COUNT connections, each announcing a LENGTH-byte frame (default 64 MiB; 5 bytes:
      length + hello type) and sending nothing more; holds them HOLD_SECONDS, then closes them. Prints
      "opened N closed_by_peer M" (connections the peer closed while held).
  control_peer.py claim HOST PORT ID TOKEN
      connects as agent ID with TOKEN (an agent's hello) and prints the controller's first
      answer: "welcome", "reject REASON" or "closed".
  control_peer.py hold HOST PORT COUNT
      opens COUNT idle connections and holds them until stdin closes; prints "opened N".
"""
import select
import socket
import struct
import sys
import time

from fake_controller import PROTOCOL_VERSION, frame, hello, read_frame


def flood(host: str, port: int, count: int, hold: float, length: int) -> int:
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(struct.pack("<IB", length, 1))  # announce LENGTH bytes, send 5
            socks.append(s)
        except OSError:
            pass
    deadline = time.monotonic() + hold
    closed = set()
    poller = select.poll()  # select() cannot watch fds above 1023
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    while time.monotonic() < deadline and len(closed) < len(socks):
        for fd, _ in poller.poll(200):
            s = by_fd[fd]
            try:
                if not s.recv(4096):
                    closed.add(s)
                    poller.unregister(fd)
            except OSError:
                closed.add(s)
                poller.unregister(fd)
    print(f"opened {len(socks)} closed_by_peer {len(closed)}", flush=True)
    for s in socks:
        s.close()
    return 0


def connect(host: str, port: int) -> socket.socket:
    for attempt in range(20):  # a refused connect right after start-up is retried
        try:
            return socket.create_connection((host, port), timeout=5)
        except ConnectionRefusedError:
            if attempt == 19:
                raise
            print(f"connect {host}:{port} refused, retrying", file=sys.stderr, flush=True)
            time.sleep(0.1)
    raise AssertionError


def claim(host: str, port: int, agent_id: int, token: str) -> int:
    with connect(host, port) as s:
        s.sendall(frame(1, hello(token, agent_id, PROTOCOL_VERSION)))
        try:
            msg_type, payload = read_frame(s)
        except (EOFError, OSError):
            print("closed", flush=True)
            return 0
        if msg_type == 2:
            print("welcome", flush=True)
        elif msg_type == 3:
            (n,) = struct.unpack_from("<I", payload, 0)
            print("reject " + payload[4:4 + n].decode(errors="replace"), flush=True)
        else:
            print(f"type {msg_type}", flush=True)
    return 0


def hold(host: str, port: int, count: int) -> int:
    socks = []
    for _ in range(count):
        try:
            socks.append(socket.create_connection((host, port), timeout=2))
        except OSError:
            break
    print(f"opened {len(socks)}", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()
    return 0


def main() -> int:
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "flood":
        length = int(sys.argv[6]) if len(sys.argv) > 6 else 64 * 1024 * 1024
        return flood(host, port, int(sys.argv[4]), float(sys.argv[5]), length)
    if cmd == "claim":
        return claim(host, port, int(sys.argv[4]), sys.argv[5])
    if cmd == "hold":
        return hold(host, port, int(sys.argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
