"""Issue 12 end to end: weft exports Zipkin v2 JSON (--exporter zipkin) to a
real Jaeger v2's Zipkin receiver while printing JSON lines; what Jaeger's
query API returns must be what weft printed, span by span (as
test_export.py checks for OTLP). Then the same batching, retry and drop
accounting as OTLP against a tiny fake Zipkin server on loopback (503 then
202: retried, delivered once; nobody listening: every span counted as
dropped), and weft's own Zipkin exports are never traced.

    python3 -m pytest -v tests/e2e/test_export_zipkin.py

What changes on the way through Zipkin (the format, not weft): every tag is
a string (so are integer attributes, and resource attributes that the
receiver moves back to the process), the endpoints come back as net.host.*,
net.peer.* and peer.service tags, and the error status also keeps the
`error` tag's text (the status message) as a span tag next to Jaeger's own
error=true.
"""
import gzip
import http.server
import json
import re
import threading
import time

import pytest

import e2e_lib as L
from conftest import start_server

TID_A = "5af7183fb1d4cf5f5af7183fb1d4cf5f"
SID_A = "6bd71dc6a8b1f36b"
TID_B = "00000000000000002f3bd5a4c8e1f0a9"  # sent as a 64-bit B3 id
SID_B = "7e3a93e1b2c4d5f6"
TID_C = "0af7651916cd43dd8448eb211c80319c"
SID_C = "b7ad6b7169203331"
# A User-Agent no well-behaved client sends: quotes, a backslash, a tab (the
# one control character a header value may hold), well-formed UTF-8, and
# bytes that are not UTF-8 (a cut 3-byte sequence, a lone continuation byte,
# an overlong form, 0xff).
HOSTILE_UA = (b'evil "ua" \\ \tx caf\xc3\xa9 \xe2\x82( \x80 \xc0\xaf \xff end'
              .decode("utf-8", "surrogateescape"))


def zipkin_url(jaeger):
    return jaeger.zipkin + "/api/v2/spans"


def tag_values(tags):
    """Jaeger tags as {key: [values]} (a key may come twice: `error`)."""
    out = {}
    for t in tags or []:
        out.setdefault(t["key"], []).append(L._tag_value(t))
    return out


def compare_zipkin_with_jaeger(span, jtrace, resources):
    """One weft JSON span against its copy in Jaeger, after Zipkin. Errors.

    resources: service name -> the distinct resources weft printed for it.
    The Zipkin receiver rebuilds one resource per service name per request
    (Zipkin has no resource), so where two processes share a name (two curl
    runs) Jaeger may show either one's process.pid, or lack an attribute
    only one of them has: then any of them will do."""
    e = []
    sid = span["span_id"]
    js = [s for s in jtrace.get("spans", []) if s.get("spanID") == sid]
    if len(js) != 1:
        return ["span %s found %d times in Jaeger's trace %s" % (sid, len(js), jtrace.get("traceID"))]
    j = js[0]

    def eq(what, got, want):
        if got != want:
            e.append("span %s: %s: jaeger has %r, weft printed %r" % (sid, what, got, want))

    eq("traceID", j.get("traceID"), L.jaeger_id(span["trace_id"]))
    eq("operationName", j.get("operationName"), span["name"])
    parents = [r for r in j.get("references") or [] if r.get("refType") == "CHILD_OF"]
    if span["parent_span_id"]:
        eq("parent (CHILD_OF)", [(r.get("traceID"), r.get("spanID")) for r in parents],
           [(L.jaeger_id(span["trace_id"]), span["parent_span_id"])])
    else:
        eq("parent (CHILD_OF)", parents, [])
    eq("startTime (us)", j.get("startTime"), span["start_time_unix_nano"] // 1000)
    dur = max(1, (span["end_time_unix_nano"] - span["start_time_unix_nano"]) // 1000)
    eq("duration (us)", j.get("duration"), dur)
    tags = tag_values(j.get("tags"))
    one = {k: v[-1] for k, v in tags.items()}
    eq("span.kind", one.get("span.kind"), span["kind"])
    a = span.get("attributes") or {}
    for k, v in a.items():
        if k not in one:
            e.append("span %s: attribute %s=%r missing in Jaeger" % (sid, k, v))
        else:
            eq("attribute " + k, one[k], str(v))   # Zipkin tags are strings
    if span["status"] == "error":
        msg = span.get("status_message", "")
        eq("error tags", sorted(tags.get("error", []), key=str), sorted([True, msg], key=str))
        eq("otel.status_code", one.get("otel.status_code"), "ERROR")
        if msg:
            eq("otel.status_description", one.get("otel.status_description"), msg)
    elif "error" in tags:
        e.append("span %s: Jaeger has error tags %r, weft printed status unset"
                 % (sid, tags["error"]))
    scope = one.get("otel.scope.name")
    if scope != "weft":
        e.append("span %s: otel.scope.name %r, not weft" % (sid, scope))
    # the endpoints, as the receiver turns them into tags
    eq("net.peer.ip (remoteEndpoint)", one.get("net.peer.ip"), a.get("network.peer.address"))
    eq("net.peer.port (remoteEndpoint)", one.get("net.peer.port"), a.get("network.peer.port"))
    if span["kind"] == "client":
        eq("peer.service (remoteEndpoint)", one.get("peer.service"), a.get("server.address"))
    else:
        eq("net.host.port (localEndpoint)", one.get("net.host.port"), a.get("server.port"))
    proc = (jtrace.get("processes") or {}).get(j.get("processID")) or {}
    r = span.get("resource") or {}
    eq("serviceName", proc.get("serviceName"), r.get("service.name"))
    ptags = {t["key"]: L._tag_value(t) for t in proc.get("tags") or []}
    alike = resources.get(r.get("service.name"), [r])
    for k, v in r.items():
        if k == "service.name":
            continue
        # the receiver moves the resource conventions it knows back to the
        # process; anything else stays a span tag
        got = ptags.get(k, one.get(k))
        if got is None:
            if all(k in x for x in alike):
                e.append("span %s: resource %s=%r missing in Jaeger" % (sid, k, v))
        elif got not in [str(x.get(k)) for x in alike]:
            eq("resource " + k, got, str(v))
    return e


def test_export_matches_printed_spans(weft, jaeger, go_apps):
    """Go 1.26 server (OTEL_SERVICE_NAME set) calling a Python server, and
    curl: B3 128-bit, B3 64-bit, W3C with tracestate, no context, error
    statuses, keep-alive, and a hostile User-Agent."""
    go = start_server("go1.26")
    py = start_server("python")
    try:
        w = weft(ports=[go.port, py.port],
                 args=["--exporter", "zipkin", "--zipkin-endpoint", zipkin_url(jaeger),
                       "--batch-timeout", "200"])
        L.curl(go.url("/hello?x=1"), headers=["X-B3-TraceId: " + TID_A,
                                               "X-B3-SpanId: " + SID_A, "X-B3-Sampled: 1"])
        L.curl(py.url("/status/500"), headers=["X-B3-TraceId: " + TID_B[16:],
                                                "X-B3-SpanId: " + SID_B])
        L.curl([go.url("/hello?k=1"), go.url("/status/404")])
        L.curl(go.url("/call?url=" + py.url("/hello")),
               headers=["X-B3-TraceId: " + TID_A, "X-B3-SpanId: " + SID_A])
        L.curl(py.url("/hello"), headers=["traceparent: 00-%s-%s-01" % (TID_C, SID_C),
                                          "tracestate: vendor=a,other=b"])
        L.curl(py.url("/hello?q=%22x%22"), ua=HOSTILE_UA)
        # 5 go server spans... at least: go server x4, go client x1, py server x4
        w.wait_for(lambda s: len([x for x in s if L.res(x).get("process.pid")
                                  in (go.pid, py.pid)]) >= 9)
        rc = w.stop()
        assert rc == 0, w.stderr()
        spans = w.spans()
    finally:
        go.stop()
        py.stop()

    assert spans, "weft printed no spans"
    assert "exporting Zipkin v2 JSON" in w.stderr(), w.stderr()
    m = re.search(r"weft: export at exit: exported (\d+) of (\d+) spans, dropped (\d+) .*"
                  r"; format zipkin", w.stderr())
    assert m, w.stderr()
    assert int(m.group(1)) == int(m.group(2)) == len(spans) and m.group(3) == "0", w.stderr()
    by_trace = {}
    for s in spans:
        by_trace.setdefault(s["trace_id"], []).append(s)
    assert TID_A in by_trace and TID_B in by_trace and TID_C in by_trace, L.dump(spans)
    mine = [s for s in spans if L.res(s).get("process.pid") in (go.pid, py.pid)]
    assert len(L.of_pid(mine, go.pid, "server")) == 4, L.dump(spans)
    assert len(L.of_pid(mine, py.pid, "server")) == 4, L.dump(spans)
    assert len(L.of_pid(mine, go.pid, "client")) == 1, L.dump(spans)
    assert any(s["status"] == "error" for s in mine), L.dump(spans)
    hostile = [s for s in mine if L.attrs(s).get("url.query") == 'q=%22x%22']
    assert len(hostile) == 1, L.dump(spans)
    # what weft printed for it, read as Python reads bytes that are not
    # UTF-8, is what Zipkin's JSON said: each bad sequence one U+FFFD
    assert L.attrs(hostile[0])["user_agent.original"] == \
        HOSTILE_UA.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), L.dump(hostile)

    resources = {}
    for s in spans:
        same = resources.setdefault(s["resource"]["service.name"], [])
        if s["resource"] not in same:
            same.append(s["resource"])
    errs = []
    for tid, ss in sorted(by_trace.items()):
        sampled = [s for s in ss if s.get("sampled", True)]
        t = jaeger.wait_trace(L.jaeger_id(tid), len(sampled))
        if not t:
            errs.append("trace %s (%d spans printed) not in Jaeger" % (tid, len(ss)))
            continue
        got = len(t.get("spans", []))
        if got != len(sampled):
            errs.append("trace %s: Jaeger has %d spans, weft printed %d sampled"
                        % (tid, got, len(sampled)))
        for s in sampled:
            errs += compare_zipkin_with_jaeger(s, t, resources)
        if tid == TID_C:
            ts = [tag_values(j.get("tags")).get("w3c.tracestate") for j in t["spans"]]
            if ["vendor=a,other=b"] not in ts:
                errs.append("trace %s: tracestate not in Jaeger: %r" % (tid, ts))
    services = set(jaeger.services())
    for s in spans:
        if s["resource"]["service.name"] not in services:
            errs.append("service %r not in Jaeger's /api/services %s"
                        % (s["resource"]["service.name"], sorted(services)))
    L.assert_ok(sorted(set(errs)), spans, what="Jaeger differs from weft's JSON")


# ------------------------------------------------------------ own exports


def telemetry_counters(w):
    for line in reversed(w.err):
        m = re.match(r"weft: telemetry: exchanges (\d+) \(.*\), far ends of weft's own export "
                     r"connections skipped (\d+)", line)
        if m:
            return int(m.group(1)), int(m.group(2))
    pytest.fail("weft printed no telemetry counters:\n%s" % w.stderr(), pytrace=False)


@pytest.mark.parametrize("mode", ["default", "trace-telemetry"])
def test_own_zipkin_exports_not_traced(weft, jaeger, go_apps, mode):
    """weft watches Jaeger's Zipkin port while exporting to it: none of its
    exports becomes a span of Jaeger receiving it. With --trace-telemetry
    the path rule (POST /api/v2/spans) is off and only the 4-tuples weft
    gave the kernel keep the collector's end untraced."""
    py = start_server("python")
    zport = jaeger.ports["zipkin"]
    try:
        w = weft(ports=[py.port, zport],
                 args=["--exporter", "zipkin", "--zipkin-endpoint", zipkin_url(jaeger),
                       "--batch-timeout", "100"]
                 + (["--trace-telemetry"] if mode != "default" else []))
        for i in range(5):   # five export rounds at least
            L.curl(py.url("/hello?round=%d" % i))
            time.sleep(0.4)
        assert w.stop() == 0, w.stderr()
        spans = w.spans()
    finally:
        py.stop()
    on_zipkin = [s for s in spans if zport in (L.attrs(s).get("server.port"),
                                               L.attrs(s).get("network.peer.port"))]
    assert not on_zipkin, "weft traced its own exports:\n" + L.dump(on_zipkin)
    assert len([s for s in spans if L.res(s).get("process.pid") == py.pid]) == 5, L.dump(spans)
    m = re.search(r"weft: export: spans in (\d+), exported (\d+).*requests (\d+),", w.stderr())
    assert m and int(m.group(3)) >= 3, w.stderr()
    _, own = telemetry_counters(w)
    assert own >= 1, w.stderr()


# ------------------------------------------------- faults, a fake Zipkin


class FakeZipkin:
    """POST /api/v2/spans on 127.0.0.1; script(n) -> (status, headers) for the
    n-th request. Keeps (time, status, headers, spans) per request."""

    def __init__(self, script, port=0):
        self.script, self.requests, self.lock = script, [], threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                spans = json.loads(body.decode("utf-8"))   # strict: valid UTF-8
                with fake.lock:
                    status, headers = fake.script(len(fake.requests))
                    fake.requests.append((time.monotonic(), status, dict(self.headers),
                                          self.path, spans))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/api/v2/spans" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def accepted_ids(self):
        with self.lock:
            return [s["id"] for _, st, _, _, spans in self.requests if 200 <= st < 300
                    for s in spans]


def export_stats(w):
    """(periodic/final 'export:' line counters, 'export at exit' counters)."""
    st = ex = None
    for line in w.err:
        m = re.match(r"weft: export: spans in (\d+), exported (\d+), rejected (\d+), dropped: "
                     r"queue full (\d+), errors (\d+), shutdown (\d+); requests (\d+), "
                     r"retries (\d+), failed requests (\d+); format (\w+)", line)
        if m:
            st = dict(zip(("in", "exported", "rejected", "queue", "errors", "shutdown",
                           "requests", "retries", "failed"), map(int, m.groups()[:9])),
                      format=m.group(10))
        m = re.match(r"weft: export at exit: exported (\d+) of (\d+) spans, dropped (\d+) "
                     r"\(queue full (\d+), errors (\d+), shutdown deadline (\d+)\), "
                     r"rejected (\d+); format (\w+)", line)
        if m:
            ex = dict(zip(("exported", "in", "dropped", "queue", "errors", "shutdown",
                           "rejected"), map(int, m.groups()[:7])), format=m.group(8))
    assert st and ex, w.stderr()
    return st, ex


def traffic(srv, n):
    for i in range(n):
        L.curl(srv.url("/hello?i=%d" % i))


def test_503_then_202_retried_once_delivered(weft, go_apps):
    """The first request is answered 503 with Retry-After: 1, the rest 202:
    the batch is sent again after a second, every span arrives exactly once,
    and the retry is counted."""
    fake = FakeZipkin(lambda n: (503, {"Retry-After": "1"}) if n == 0 else (202, {}))
    py = start_server("python")
    try:
        w = weft(ports=[py.port], args=["--exporter", "zipkin", "--zipkin-endpoint", fake.url,
                                        "--batch-timeout", "200"])
        traffic(py, 4)
        time.sleep(0.5)
        traffic(py, 2)
        deadline = time.monotonic() + 15
        while len(fake.accepted_ids()) < 12 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert w.stop() == 0, w.stderr()
        spans = w.spans()
    finally:
        py.stop()
        fake.close()
    assert len(spans) == 12, L.dump(spans)   # 6 x (curl client, server)
    ids = fake.accepted_ids()
    assert sorted(ids) == sorted(s["span_id"] for s in spans), (ids, L.dump(spans))
    assert len(ids) == len(set(ids))                       # exactly once
    st, ex = export_stats(w)
    assert st["format"] == ex["format"] == "zipkin"
    assert st["retries"] == 1 and st["failed"] == 1, w.stderr()
    assert ex["exported"] == ex["in"] == 12 and ex["dropped"] == 0, w.stderr()
    assert "HTTP 503" in w.stderr()
    first, again = fake.requests[0], fake.requests[1]
    assert again[4] == first[4], "the retry is not the same batch"
    assert again[0] - first[0] >= 0.9, "Retry-After not honoured"
    for _, _, headers, path, _ in fake.requests:
        assert path == "/api/v2/spans"
        assert headers["Content-Type"] == "application/json"
        assert headers["Content-Encoding"] == "gzip"
        assert headers["User-Agent"].startswith("weft/")
    # the spans are weft's, field by field where Zipkin has a field
    by_id = {s["id"]: s for _, st_, _, _, ss in fake.requests if st_ == 202 for s in ss}
    for s in spans:
        z = by_id[s["span_id"]]
        assert z["traceId"] == s["trace_id"] and z["name"] == s["name"]
        assert z["kind"] == s["kind"].upper()
        assert z.get("parentId", "") == s["parent_span_id"]
        assert z["timestamp"] == s["start_time_unix_nano"] // 1000
        assert z["localEndpoint"]["serviceName"] == s["resource"]["service.name"]
        assert z["tags"]["http.request.method"] == "GET"
        assert z["tags"]["process.pid"] == str(s["resource"]["process.pid"])


def test_collector_down_drops_counted(weft, go_apps):
    """Nobody listens on the Zipkin port: nothing is exported, every span weft
    produced is counted as dropped (queue full while it retries, the rest at
    the shutdown deadline), and the two counts add up exactly."""
    port = L.free_port()
    py = start_server("python")
    try:
        w = weft(ports=[py.port],
                 args=["--zipkin-endpoint", "http://127.0.0.1:%d/api/v2/spans" % port,
                       "--batch-size", "2", "--batch-timeout", "100", "--queue-batches", "1",
                       "--otlp-timeout", "500", "--stats", "1"])
        traffic(py, 8)
        time.sleep(2.5)
        assert w.stop() == 0, w.stderr()
        spans = w.spans()
    finally:
        py.stop()
    assert len(spans) == 16, L.dump(spans)
    st, ex = export_stats(w)
    assert ex["format"] == "zipkin"
    assert ex["exported"] == 0 and ex["rejected"] == 0, w.stderr()
    assert ex["in"] == len(spans) == ex["dropped"], w.stderr()
    assert ex["dropped"] == ex["queue"] + ex["errors"] + ex["shutdown"], w.stderr()
    assert ex["queue"] > 0 and ex["errors"] == 0, w.stderr()
    assert st["retries"] >= 1 and st["failed"] >= 1, w.stderr()
    # one line when the trouble starts, not one per attempt
    assert w.stderr().count(" failed: ") == 1, w.stderr()
