"""Issue 3 end to end: weft exports over OTLP/HTTP to a real Jaeger v2 (built
by scripts/install-jaeger.sh) while printing JSON lines; what Jaeger's query
API returns must be what weft printed, span by span.
"""
import time

import pytest

import e2e_lib as L
from conftest import start_server

TID_A = "5af7183fb1d4cf5f5af7183fb1d4cf5f"
SID_A = "6bd71dc6a8b1f36b"
TID_B = "00000000000000002f3bd5a4c8e1f0a9"  # sent as a 64-bit B3 id
SID_B = "7e3a93e1b2c4d5f6"


def test_jaeger_harness_selfcheck(jaeger):
    """No weft: an OTLP/JSON post shaped like weft's output must round-trip
    through Jaeger and satisfy compare_with_jaeger (checks the harness itself)."""
    now = time.time_ns()
    tid, sid, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "00f067aa0ba902b7"
    span = {
        "trace_id": tid, "span_id": sid, "parent_span_id": parent, "name": "GET",
        "kind": "server", "start_time_unix_nano": now, "end_time_unix_nano": now + 2_345_678,
        "status": "error", "status_message": "HTTP 503", "sampled": True,
        "attributes": {"http.request.method": "GET", "url.path": "/x",
                       "http.response.status_code": 503, "server.port": 8080},
        "resource": {"service.name": "selfcheck", "process.pid": 4242,
                     "process.executable.name": "selfcheck", "host.name": L.HOSTNAME},
    }

    def kv(k, v):
        return {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
    body = {"resourceSpans": [{
        "resource": {"attributes": [kv(k, v) for k, v in span["resource"].items()]},
        "scopeSpans": [{"scope": {"name": "weft", "version": "selfcheck"}, "spans": [{
            "traceId": tid, "spanId": sid, "parentSpanId": parent, "name": "GET", "kind": 2,
            "startTimeUnixNano": str(span["start_time_unix_nano"]),
            "endTimeUnixNano": str(span["end_time_unix_nano"]),
            "attributes": [kv(k, v) for k, v in span["attributes"].items()],
            "status": {"code": 2, "message": "HTTP 503"}}]}]}]}
    status, _ = jaeger.post_otlp_json(body)
    assert status == 200
    t = jaeger.wait_trace(tid, 1)
    assert t, "trace not found in Jaeger"
    L.assert_ok(L.compare_with_jaeger(span, t), [span])
    assert "selfcheck" in jaeger.services()
    # and the comparison does catch a difference
    bad = dict(span, name="POST")
    assert L.compare_with_jaeger(bad, t)


def test_export_matches_printed_spans(weft, jaeger, go_apps):
    """Go 1.26 server (OTEL_SERVICE_NAME set) calling a Python server, and
    curl: B3 128-bit, B3 64-bit, no context, an error status, keep-alive."""
    go = start_server("go1.26")
    py = start_server("python")
    try:
        w = weft(ports=[go.port, py.port],
                 args=["--otlp-endpoint", jaeger.otlp])
        c1 = L.curl(go.url("/hello?x=1"), headers=["X-B3-TraceId: " + TID_A,
                                                    "X-B3-SpanId: " + SID_A, "X-B3-Sampled: 1"])
        c2 = L.curl(py.url("/status/500"), headers=["X-B3-TraceId: " + TID_B[16:],
                                                     "X-B3-SpanId: " + SID_B])
        c3 = L.curl([go.url("/hello?k=1"), go.url("/status/404")])
        c4 = L.curl(go.url("/call?url=" + py.url("/hello")),
                    headers=["X-B3-TraceId: " + TID_A, "X-B3-SpanId: " + SID_A])
        # at least: 4 go server spans (c1, c3 x2, c4), 1 go client (c4), 2 py server
        w.wait_for(lambda s: len([x for x in s if L.res(x).get("process.pid") in (go.pid, py.pid)]) >= 7)
        rc = w.stop()
        assert rc == 0, w.stderr()
        spans = w.spans()
    finally:
        go.stop()
        py.stop()

    assert spans, "weft printed no spans"
    by_trace = {}
    for s in spans:
        by_trace.setdefault(s["trace_id"], []).append(s)
    # the traces we sent context for are there
    assert TID_A in by_trace and TID_B in by_trace, L.dump(spans)
    mine = [s for s in spans if L.res(s).get("process.pid") in (go.pid, py.pid)]
    assert len(L.of_pid(mine, go.pid, "server")) == 4, L.dump(spans)
    assert len(L.of_pid(mine, py.pid, "server")) == 2, L.dump(spans)
    assert len(L.of_pid(mine, go.pid, "client")) == 1, L.dump(spans)
    assert {s["resource"]["service.name"] for s in L.of_pid(mine, go.pid)} == {"weft-e2e-go126"}

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
            errs += L.compare_with_jaeger(s, t)
    services = set(jaeger.services())
    for s in spans:
        if s["resource"]["service.name"] not in services:
            errs.append("service %r not in Jaeger's /api/services %s"
                        % (s["resource"]["service.name"], sorted(services)))
    L.assert_ok(sorted(set(errs)), spans, what="Jaeger differs from weft's JSON")
