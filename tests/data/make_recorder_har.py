#!/usr/bin/env python3
"""Makes tests/data/recorder_site.har: headless Chromium browses tests/data/recorder_site (served by
nginx at the given URL) and the requests it reports through the DevTools protocol
(--remote-debugging-pipe: Network.requestWillBeSent / requestWillBeSentExtraInfo / responseReceived)
are written as HAR 1.2, the fields DevTools' own "Save all as HAR" fills (startedDateTime from the
request's wallTime, request method/url/httpVersion/headers/postData, response status and content
mimeType, _resourceType). The page is loaded, then page2.html 1.5 s later.

How the committed fixture was made (once; the test only reads it):
    scripts/nginx_target.sh start /tmp/harsite 18481   # with server.conf as in test_recorder_har.sh
    tests/data/make_recorder_har.py http://127.0.0.1:18481/site/ > tests/data/recorder_site.har
Usage: make_recorder_har.py BASE_URL [CHROMIUM]
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

base = sys.argv[1].rstrip("/") + "/"
chromium = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/chromium"

to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()
profile = tempfile.mkdtemp(prefix="har-profile.")


def child_fds():
    os.dup2(to_chrome_r, 3)
    os.dup2(from_chrome_w, 4)


proc = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
     "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"],
    pass_fds=(3, 4), preexec_fn=child_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_chrome_r)
os.close(from_chrome_w)
reader = os.fdopen(from_chrome_r, "rb")
buffered = b""
next_id = 0
events = []


def send(method, params=None, session=None):
    global next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
    return next_id


def receive(deadline):
    """The next message, or None after `deadline`."""
    global buffered
    import select
    while b"\0" not in buffered:
        left = deadline - time.time()
        if left <= 0 or not select.select([reader], [], [], left)[0]:
            return None
        chunk = os.read(from_chrome_r, 1 << 16)
        if not chunk:
            return None
        buffered += chunk
    message, buffered = buffered.split(b"\0", 1)
    return json.loads(message)


def call(method, params=None, session=None):
    wanted = send(method, params, session)
    deadline = time.time() + 20
    while True:
        message = receive(deadline)
        if message is None:
            sys.exit("no answer to " + method)
        if message.get("id") == wanted:
            if "error" in message:
                sys.exit(method + ": " + json.dumps(message["error"]))
            return message.get("result", {})
        events.append(message)


def pump(seconds):
    deadline = time.time() + seconds
    while True:
        message = receive(deadline)
        if message is None:
            return
        events.append(message)


target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
call("Network.enable", {}, session)
call("Network.setCacheDisabled", {"cacheDisabled": True}, session)
call("Page.enable", {}, session)
call("Page.navigate", {"url": base + "index.html"}, session)
pump(3)
call("Page.navigate", {"url": base + "page2.html"}, session)
pump(3)
proc.terminate()
proc.wait(10)

requests, extra, responses = {}, {}, {}
for e in events:
    p = e.get("params", {})
    if e.get("method") == "Network.requestWillBeSent":
        requests[p["requestId"]] = p
    elif e.get("method") == "Network.requestWillBeSentExtraInfo":
        extra[p["requestId"]] = p
    elif e.get("method") == "Network.responseReceived":
        responses[p["requestId"]] = p

entries = []
for rid, r in sorted(requests.items(), key=lambda kv: kv[1]["wallTime"]):
    req = r["request"]
    if not req["url"].startswith("http"):
        continue
    headers = (extra.get(rid) or {}).get("headers") or req.get("headers", {})
    resp = (responses.get(rid) or {}).get("response", {})
    started = datetime.datetime.fromtimestamp(r["wallTime"], datetime.timezone.utc)
    entry = {
        "_resourceType": r.get("type", "Other").lower(),
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": 0,
        "request": {
            "method": req["method"], "url": req["url"], "httpVersion": resp.get("protocol", "http/1.1"),
            "headers": [{"name": k, "value": v} for k, v in headers.items()],
            "queryString": [], "cookies": [], "headersSize": -1, "bodySize": len(req.get("postData", "")),
        },
        "response": {
            "status": resp.get("status", 0), "statusText": resp.get("statusText", ""),
            "httpVersion": resp.get("protocol", "http/1.1"), "headers": [], "cookies": [],
            "content": {"size": 0, "mimeType": resp.get("mimeType", "")},
            "redirectURL": "", "headersSize": -1, "bodySize": -1,
        },
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
    }
    if "postData" in req:
        entry["request"]["postData"] = {"mimeType": headers.get("Content-Type", ""), "text": req["postData"]}
    entries.append(entry)

version = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()
json.dump({"log": {"version": "1.2", "creator": {"name": "make_recorder_har.py (DevTools protocol)", "version": "1"},
                   "browser": {"name": "Chromium", "version": version},
                   "pages": [], "entries": entries}}, sys.stdout, indent=2)
print()
