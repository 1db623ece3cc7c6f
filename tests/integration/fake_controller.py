#!/usr/bin/env python3
"""A minimal loadctl controller for handshake tests of `loadagent --listen`.

Usage: fake_controller.py HOST PORT TOKEN [--id N] [--version V] [--raw BYTES] [--hold SECONDS]

Dials the agent, sends hello (or --raw bytes), and prints the agent's first answer as one line:
  hello id=N token=T host=H      the agent accepted us
  reject REASON                  the agent refused us
  closed                         the agent closed without a frame
With --hold, keeps the accepted connection open that many seconds (answering heartbeats) before
closing, so a second controller can find the agent busy. Exit status 0 unless the connection fails.
"""
import argparse
import socket
import struct
import sys
import time

MAGIC = b"LOADCTL"
PROTOCOL_VERSION = 6  # src/control/messages.hpp kProtocolVersion (5: hello ends with host facts, a controller sends none; 6: abort, stop reason)
TYPES = {1: "hello", 2: "welcome", 3: "reject", 11: "heartbeat"}


def string(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def frame(msg_type: int, payload: bytes) -> bytes:
    return struct.pack("<IB", len(payload) + 1, msg_type) + payload


def hello(token: str, agent_id: int, version: int) -> bytes:
    return (string(MAGIC) + struct.pack("<I", version) + string(token.encode()) + struct.pack("<I", agent_id)
            + string(b"fake-controller") + struct.pack("<I", 4242) + string(b"test"))


def read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame(sock: socket.socket):
    length, msg_type = struct.unpack("<IB", read_exact(sock, 5))
    return msg_type, read_exact(sock, length - 1)


class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def u32(self) -> int:
        (value,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        return value

    def str(self) -> str:
        n = self.u32()
        value = self.data[self.pos:self.pos + n]
        self.pos += n
        return value.decode(errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("token")
    parser.add_argument("--id", type=int, default=0)
    parser.add_argument("--version", type=int, default=PROTOCOL_VERSION)
    parser.add_argument("--raw")
    parser.add_argument("--hold", type=float, default=0)
    args = parser.parse_args()

    sock = socket.create_connection((args.host, args.port), timeout=15)
    if args.raw is not None:
        sock.sendall(args.raw.encode())
    else:
        sock.sendall(frame(1, hello(args.token, args.id, args.version)))
    try:
        msg_type, payload = read_frame(sock)
    except (EOFError, ConnectionResetError):
        print("closed", flush=True)
        return 0
    r = Reader(payload)
    if msg_type == 1:
        magic, version, token, agent_id, host = r.str(), r.u32(), r.str(), r.u32(), r.str()
        print(f"hello id={agent_id} token={token} host={host} magic={magic} version={version}", flush=True)
    elif msg_type == 3:
        print(f"reject {r.str()}", flush=True)
    else:
        print(f"unexpected {TYPES.get(msg_type, msg_type)}", flush=True)
    deadline = time.monotonic() + args.hold
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            msg_type, _ = read_frame(sock)
            if msg_type == 11:
                sock.sendall(frame(11, b""))
        except socket.timeout:
            sock.sendall(frame(11, b""))
        except (EOFError, ConnectionResetError):
            print("closed", flush=True)
            return 0
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
