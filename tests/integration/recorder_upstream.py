#!/usr/bin/env python3
"""A scripted HTTP/1.1 server for test_recorder_proxy.sh: each path behaves in one way a real server
may, so that the recorder's proxy is seen handling it. Usage: recorder_upstream.py PORT LOGFILE.
Every request is logged as "conn=N index=I METHOD PATH te=... cl=... len=..." (N counts connections,
I the requests on one connection).

  /ka        200 "ka conn=N index=I", keep-alive
  /drop      the first request of a connection: 200 "fresh"; later ones: the connection is closed
             without an answer (a keep-alive connection the server dropped as the request came)
  /idle-close  200 "ka", then the server closes the connection (its keep-alive timeout) and logs
             "conn=N closed"
  /echo      200 "len=L te=T cl=C": the body length and the framing the proxy sent
  /head      200 with Content-Length 5 ("head!", not sent for HEAD)
  /204 /304  no body
  /close     200 with Connection: close, the body delimited by the end of the connection
  /early     103 Early Hints, then 200 "final"
  /bighead   a 300 KiB response header
  /sse       Server-Sent Events (text/event-stream, chunked): "data: one", then it waits (up to 20 s)
             for the file LOGFILE.go-sse, then "data: two" and the last chunk; logs "conn=N sse done"
  /trickle   a long-poll answered in two parts, the body delimited by the end of the connection:
             "first part", LOGFILE.go-trickle awaited, "second part"; logs "conn=N trickle done"
  /big?N     N bytes of "x" with a Content-Length, sent 64 KiB at a time
"""
import socket
import socketserver
import sys
import os
import threading
import time

LOG_LOCK = threading.Lock()
COUNTER = [0]


def read_request(f):
    line = f.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += f.read(size)
            f.readline()
    elif "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    return method, path, headers, body


def await_go(name):
    deadline = time.time() + 20
    while not os.path.exists(f"{sys.argv[2]}.go-{name}") and time.time() < deadline:
        time.sleep(0.05)


def log_line(line):
    with LOG_LOCK, open(sys.argv[2], "a") as log:
        log.write(line + "\n")


class Handler(socketserver.StreamRequestHandler):
    def send(self, status, body=b"", extra="", length=True):
        head = f"HTTP/1.1 {status}\r\n{extra}"
        if length:
            head += f"Content-Length: {len(body)}\r\n"
        self.wfile.write(head.encode() + b"\r\n" + body)
        self.wfile.flush()

    def handle(self):
        with LOG_LOCK:
            COUNTER[0] += 1
            conn = COUNTER[0]
        index = 0
        while True:
            req = read_request(self.rfile)
            if req is None:
                return
            index += 1
            method, path, headers, body = req
            with LOG_LOCK, open(sys.argv[2], "a") as log:
                log.write(f"conn={conn} index={index} {method} {path} te={headers.get('transfer-encoding', '-')} "
                          f"cl={headers.get('content-length', '-')} len={len(body)}\n")
            if path == "/drop":
                if index > 1:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send("200 OK", b"fresh")
            elif path == "/idle-close":
                self.send("200 OK", b"ka")
                self.connection.shutdown(socket.SHUT_WR)
                with LOG_LOCK, open(sys.argv[2], "a") as log:
                    log.write(f"conn={conn} closed\n")
                return
            elif path == "/echo":
                self.send("200 OK", f"len={len(body)} te={headers.get('transfer-encoding', '-')} "
                          f"cl={headers.get('content-length', '-')}".encode())
            elif path == "/head":
                self.send("200 OK", b"" if method == "HEAD" else b"head!", "Content-Length: 5\r\n", length=False)
            elif path in ("/204", "/304"):
                self.send(path[1:] + (" No Content" if path == "/204" else " Not Modified"), length=False)
            elif path == "/close":
                self.send("200 OK", b"until the end", "Connection: close\r\n", length=False)
                return
            elif path == "/early":
                self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
                self.wfile.flush()
                self.send("200 OK", b"final")
            elif path == "/sse":
                self.send("200 OK", b"", "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                          "Cache-Control: no-cache\r\n", length=False)
                for event in (b"data: one\n\n", None, b"data: two\n\n", b""):
                    if event is None:
                        await_go("sse")
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                    self.wfile.flush()
                log_line(f"conn={conn} sse done")
            elif path == "/trickle":
                self.send("200 OK", b"first part;", "Content-Type: application/json\r\nConnection: close\r\n", length=False)
                await_go("trickle")
                self.wfile.write(b"second part")
                self.wfile.flush()
                log_line(f"conn={conn} trickle done")
                return
            elif path.startswith("/big?"):
                size = int(path[5:])
                self.send("200 OK", b"", f"Content-Length: {size}\r\n", length=False)
                piece = b"x" * 65536
                while size > 0:
                    self.wfile.write(piece[:size])
                    size -= min(size, len(piece))
                self.wfile.flush()
            elif path == "/bighead":
                self.send("200 OK", b"x", "X-Big: " + "b" * (300 * 1024) + "\r\n")
            else:
                self.send("200 OK", f"ka conn={conn} index={index}".encode())


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
