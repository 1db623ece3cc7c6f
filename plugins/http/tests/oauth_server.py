#!/usr/bin/env python3
"""OAuth 1.0 checking server for test_http_oauth.sh, written from RFC 5849 independently of the
plugin: consumer "key"/"secret"; POST /token (signed without a token) answers a token in XML as
Tsung's examples/http-oauth.xml expects; other requests must be signed with that token. A valid
signature gets 200, anything else 401. Prints "listening PORT", serves until killed."""
import base64, hashlib, hmac, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

CONSUMERS = {"key": "secret"}
TOKENS = {"tok1": "tsec1"}


def enc(s):
    return quote(s, safe="-._~")


def check(method, host, target, headers, body):
    auth = headers.get("Authorization", "")
    if not auth.startswith("OAuth "):
        return False
    oauth = {}
    for part in auth[6:].split(", "):
        k, _, v = part.partition("=")
        oauth[unquote(k)] = unquote(v.strip('"'))
    url = urlsplit(target)
    params = [(k, v) for k, v in oauth.items() if k != "oauth_signature"]
    params += parse_qsl(url.query, keep_blank_values=True)
    if headers.get("Content-Type", "") == "application/x-www-form-urlencoded":
        params += parse_qsl(body, keep_blank_values=True)
    norm = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in params))
    base = "&".join(enc(x) for x in (method, f"http://{host.lower()}{url.path}", norm))
    consumer = CONSUMERS.get(oauth.get("oauth_consumer_key"))
    token = oauth.get("oauth_token")
    if consumer is None or (token is not None and token not in TOKENS) or oauth.get("oauth_version") != "1.0":
        return False
    key = enc(consumer) + "&" + enc(TOKENS.get(token, ""))
    if oauth.get("oauth_signature_method") == "PLAINTEXT":
        return oauth.get("oauth_signature") == key
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    return oauth.get("oauth_signature") == base64.b64encode(digest).decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode() if length else ""
        ok = check(self.command, self.headers.get("Host", ""), self.path, self.headers, body)
        if ok and self.path.startswith("/token"):
            text = ("<tokenCreationResponse><tokenInfo><token>tok1</token>"
                    "<tokenSecret>tsec1</tokenSecret></tokenInfo></tokenCreationResponse>")
        else:
            text = "ok\n" if ok else "bad signature\n"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "text/xml" if ok else "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text.encode())

    do_GET = do_POST = do_PUT = handle_any

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
