#!/usr/bin/env python3
"""sdkserver: a Python http.server service instrumented by hand with the
OpenTelemetry SDK and the B3 (multi-header) propagator, for weft's linking
tests (rule 3: a process that makes its own spans).

    python3 sdkserver.py -addr 127.0.0.1:8080 -otlp http://127.0.0.1:4318/v1/traces

service.name is OTEL_SERVICE_NAME (else -name). Per request: the B3 context
is extracted from the request headers, a SERVER span is started (child of
that context, or the root of a new trace) and ended once the response is
written. /call?url=U makes a GET to U inside a CLIENT span, with that span's
B3 headers injected (its own span id, as any SDK does), and answers with the
downstream status and body. /hello answers 200 "hello". Every request is
sampled (ALWAYS_ON: see main()), so X-B3-Sampled: 1 goes downstream. Spans go to Jaeger
over OTLP/HTTP (protobuf) from a BatchSpanProcessor (exported every 100 ms
and at SIGTERM/SIGINT, before the process exits).

Needs the packages of tests/e2e/requirements-sdk.txt. Prints "ready HOST:PORT"
on stdout once listening.
"""
import argparse
import os
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.b3 import B3MultiFormat
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROPAGATOR = B3MultiFormat()
tracer = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sdkserver"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_body(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        carrier = {k.lower(): v for k, v in self.headers.items()}
        ctx = PROPAGATOR.extract(carrier)
        u = urllib.parse.urlsplit(self.path)
        with tracer.start_as_current_span("GET " + u.path, context=ctx, kind=SpanKind.SERVER,
                                          attributes={"http.request.method": "GET",
                                                      "url.path": u.path}) as span:
            code = self.route(u)
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))

    def route(self, u):
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/hello":
            self.send_body(200, b"hello")
            return 200
        if u.path == "/call":
            url = q.get("url", [""])[0]
            if not url:
                self.send_body(400, b"missing url")
                return 400
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT,
                                              attributes={"http.request.method": "GET",
                                                          "url.full": url}) as span:
                headers = {}
                PROPAGATOR.inject(headers)
                req = urllib.request.Request(url, headers=headers)
                try:
                    with OPENER.open(req, timeout=10) as resp:
                        code, body = resp.status, resp.read()
                except urllib.error.HTTPError as e:
                    code, body = e.code, e.read()
                except OSError as e:
                    code, body = 502, str(e).encode()
                span.set_attribute("http.response.status_code", code)
                if code >= 400:
                    span.set_status(Status(StatusCode.ERROR))
            self.send_body(code, body)
            return code
        self.send_body(404, b"not found\n")
        return 404


def main():
    global tracer
    ap = argparse.ArgumentParser()
    ap.add_argument("-addr", "--addr", default="127.0.0.1:8080")
    ap.add_argument("-name", "--name", default="sdkserver")
    ap.add_argument("-otlp", "--otlp", default="http://127.0.0.1:4318/v1/traces",
                    help="OTLP/HTTP traces endpoint (used as is)")
    a = ap.parse_args()
    name = os.environ.get("OTEL_SERVICE_NAME") or a.name
    # ALWAYS_ON, not the default ParentBased: the B3 propagator reads a missing
    # X-B3-Sampled (callers that copy only the ids, as mesh apps do) as "not
    # sampled", and this service must report its spans whatever its caller sent.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}), sampler=ALWAYS_ON)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=a.otlp, timeout=5),
                                                   schedule_delay_millis=100))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("sdkserver")

    host, _, port = a.addr.rpartition(":")
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    h, p = srv.server_address[:2]
    print("ready %s:%d" % (h, p), flush=True)
    srv.serve_forever()
    provider.shutdown()  # exports what is left
    return 0


if __name__ == "__main__":
    sys.exit(main())
