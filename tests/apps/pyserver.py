#!/usr/bin/env python3
"""pyserver: Python's http.server playing a traced service in weft's e2e tests.

    python3 pyserver.py -addr 127.0.0.1:8080 -name svc

ThreadingHTTPServer (thread per connection), HTTP/1.1 so keep-alive and
pipelining work. Routes: /hello, /status/N, /chunked, /big (1 MiB, ?bytes=N),
/echo (any method), /slow?ms=N, /respctx (trace headers on the response), /call?url=U (urllib GET copying the x-b3-*
headers, responds with the downstream status), /exit (half a response, then
the process exits), /close (closes the connection unanswered).
Prints "ready HOST:PORT" on stdout once listening.
"""
import argparse
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESP_TRACE_ID = "bad0bad0bad0bad0bad0bad0bad0bad0"  # /respctx: context on the response
RESP_SPAN_ID = "bad1bad1bad1bad1"
PROPAGATED = ("x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid")
# No proxies, ever: the tests only talk to loopback.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pyserver"
    name = "pyserver"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_body(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", self.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(n) if n else b""

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        path = u.path
        if path == "/hello":
            return self.send_body(200, b"hello")
        if path.startswith("/status/"):
            try:
                code = int(path[len("/status/"):])
            except ValueError:
                return self.send_body(400, b"bad status")
            return self.send_body(code, b"status %d\n" % code)
        if path == "/chunked":
            parts = int(q.get("parts", ["5"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Served-By", self.name)
            self.end_headers()
            for i in range(parts):
                data = b"part %d\n" % i
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(0.005)
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path == "/big":
            n = int(q.get("bytes", [str(1 << 20)])[0])
            chunk = bytes(ord("a") + i % 26 for i in range(65536))
            body = (chunk * (n // len(chunk) + 1))[:n]
            return self.send_body(200, body, "application/octet-stream")
        if path == "/echo":
            return self.send_body(200, self.read_body(), "application/octet-stream")
        if path == "/slow":
            time.sleep(int(q.get("ms", ["0"])[0]) / 1000.0)
            return self.send_body(200, b"slow")
        if path == "/call":
            url = q.get("url", [""])[0]
            if not url:
                return self.send_body(400, b"missing url")
            req = urllib.request.Request(url)
            for h in PROPAGATED:
                v = self.headers.get(h)
                if v:
                    req.add_header(h, v)
            try:
                with OPENER.open(req, timeout=10) as resp:
                    return self.send_body(resp.status, resp.read())
            except urllib.error.HTTPError as e:
                return self.send_body(e.code, e.read())
            except OSError as e:
                return self.send_body(502, str(e).encode())
        if path == "/respctx":
            return self.send_body(200, b"respctx", extra=(
                ("X-B3-TraceId", RESP_TRACE_ID), ("X-B3-SpanId", RESP_SPAN_ID),
                ("X-B3-Sampled", "1"), ("b3", RESP_TRACE_ID + "-" + RESP_SPAN_ID + "-1"),
                ("traceparent", "00-%s-%s-01" % (RESP_TRACE_ID, RESP_SPAN_ID))))
        if path == "/exit":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            time.sleep(0.02)
            os._exit(3)
        if path == "/close":
            self.close_connection = True
            self.connection.close()
            return None
        return self.send_body(404, b"not found\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = route


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-addr", "--addr", default="127.0.0.1:8080")
    ap.add_argument("-name", "--name", default="pyserver")
    a = ap.parse_args()
    host, _, port = a.addr.rpartition(":")
    Handler.name = a.name
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    h, p = srv.server_address[:2]
    print("ready %s:%d" % (h, p), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
