"""Issue 9 end to end: the telemetry pipeline's own traffic is never traced,
and never joins a user's trace.

As root, weft loaded and tracing the whole node (as a new user runs it),
exporting OTLP to a real Jaeger v2 on the same node:
  - an idle node stays idle: weft's exports do not become spans of Jaeger
    receiving them (the feedback loop), by the path rule and, with
    --trace-telemetry, by weft's own 4-tuples alone;
  - the mesh demo with sidecars that report each span inline, from the
    request's handler: every trace is exactly the 8 expected spans;
  - a Go service with the OpenTelemetry SDK exporting spans and metrics
    every second: no span of an export request, and the service is rule 3
    (weft emits none of its spans) from its first span export on;
  - --trace-telemetry brings the export requests back, each in a trace of
    its own, client and collector ends linked.

    python3 -m pytest tests/e2e/test_telemetry.py -v -rA
"""
import os
import re
import time

import pytest

import e2e_lib as L
import link_lib as LL
from conftest import start

TELEMETRY_PATHS = ("/v1/traces", "/v1/metrics", "/v1/logs", "/api/v2/spans", "/api/v1/spans",
                   "/api/traces")
JAEGER_WAIT = float(os.environ.get("WEFT_E2E_JAEGER_WAIT", "30"))
IDLE_S = float(os.environ.get("WEFT_E2E_IDLE_S", "60"))


def whole_node(weft, jaeger, *extra):
    """weft with no filter, exporting to Jaeger every 500 ms (as in the report)."""
    return weft(args=["--otlp-endpoint", jaeger.otlp, "--batch-timeout", "500"] + list(extra))


def telemetry_counters(w):
    """(telemetry exchanges, far ends of weft's own connections skipped) from
    the final stats line."""
    for line in reversed(w.err):
        m = re.match(r"weft: telemetry: exchanges (\d+) \(.*\), far ends of weft's own export "
                     r"connections skipped (\d+)", line)
        if m:
            return int(m.group(1)), int(m.group(2))
    pytest.fail("weft printed no telemetry counters:\n%s" % w.stderr(), pytrace=False)


def is_telemetry_path(p):
    return any(p == t or p.endswith(t) for t in TELEMETRY_PATHS)


def weft_spans_in_jaeger(jaeger, t0_ns, t1_ns):
    """Every span weft exported that Jaeger holds for [t0, t1]."""
    out = []
    for t in jaeger.traces_between(t0_ns, t1_ns):
        for s in LL.spans_of(t):
            if s.origin == "weft" and t0_ns // 1000 <= s.start <= t1_ns // 1000:
                s.trace_id = t["traceID"]
                out.append(s)
    return out


def describe(spans):
    return "\n".join("  %s(%s) pid %s %s %s trace %s span %s parent %s"
                     % (s.service, s.kind, s.pid, s.name, s.path, s.trace_id, s.sid,
                        s.parent or "-") for s in spans) or "  (none)"


# ------------------------------------------------------------- idle node


@pytest.mark.parametrize("mode", ["default", "trace-telemetry"])
def test_idle_node_exports_nothing_of_its_own(weft, jaeger, go_apps, procs, mode):
    """One request seeds the export (weft only exports spans it has); then
    nothing happens on the node for IDLE_S (60 s; 20 s with --trace-telemetry).
    Jaeger must hold the seed's two spans and nothing else of weft's: without
    the fix every export became a jaeger server span, exported in turn, about
    two traces a second. With --trace-telemetry the path rule is off and only
    the 4-tuples weft gave the kernel keep the collector's end untraced."""
    idle = IDLE_S if mode == "default" else min(IDLE_S, 20.0)
    srv = start(procs.go, "go1.26", "seed")
    t0 = time.time_ns()
    w = whole_node(weft, jaeger, *(["--trace-telemetry"] if mode != "default" else []))
    r = start(LL.curl, srv.url("/hello"))
    assert r.code == 200
    time.sleep(idle)
    assert w.stop() == 0, w.stderr()
    t1 = time.time_ns()
    procs.stop()
    printed = w.spans()
    seed_pids = {r.pid, srv.pid}
    time.sleep(1.0)   # Jaeger's batch processor
    got = weft_spans_in_jaeger(jaeger, t0, t1)
    extra = [s for s in got if s.pid not in seed_pids]
    extra_printed = [s for s in printed if L.res(s).get("process.pid") not in seed_pids]
    tele, own = telemetry_counters(w)
    print("idle %s %.0fs: %d spans in Jaeger, %d printed; telemetry exchanges %d, own "
          "connections skipped %d" % (mode, idle, len(got), len(printed), tele, own))
    if extra or extra_printed:
        pytest.fail("weft traced something other than the seed on an idle node (%d in Jaeger, "
                    "%d printed):\n%s\n--- printed ---\n%s"
                    % (len(extra), len(extra_printed), describe(extra), L.dump(extra_printed)),
                    pytrace=False)
    seed = [s for s in got if s.pid in seed_pids]
    assert len(seed) == 2, "seed spans in Jaeger:\n%s" % describe(seed)
    # the collector's end of the export connection was seen and skipped
    assert own >= 1, w.stderr()


# ------------------------------------------------------- mesh demo, inline


@pytest.mark.parametrize("ver", ["go1.26", "go1.19"])
def test_mesh_demo_inline_reports(weft, jaeger, go_apps, procs, ver):
    """curl -> sidecar-a -> a -> sidecar-b -> b -> sidecar-c -> c, each sidecar
    posting its Zipkin span to Jaeger from the request's handler, right after
    proxying; weft traces the whole node, Jaeger included. 20 requests: each
    trace is exactly the 8 spans of the demo (3 sidecars' own + 5 of weft's),
    never with a jaeger server span for POST /api/v2/spans."""
    zipkin = jaeger.zipkin + "/api/v2/spans"
    sa, sb, sc = start(procs.mesh, ver, zipkin, report="inline")
    w = whole_node(weft, jaeger)
    expected = LL.mesh_tree()
    tids = []
    for _ in range(20):
        r = start(LL.curl, LL.chain_url(sa, sb, sc))
        assert r.code == 200, r.headers
        tids.append(r.headers.get("x-sidecar-trace-id"))
        assert tids[-1], r.headers
    for tid in tids:
        jaeger.wait_trace(L.jaeger_id(tid), LL.count(expected), JAEGER_WAIT)
    assert w.stop() == 0, w.stderr()
    procs.stop()
    time.sleep(1.0)   # late duplicates would show now
    bad = []
    for i, tid in enumerate(tids):
        t = jaeger.trace(L.jaeger_id(tid))
        errs = LL.check_tree(t, expected, nest_weft_only=True)
        if errs:
            bad.append("request %d, trace %s: %s\n%s" % (i, tid, "; ".join(errs),
                                                        LL.tree_report(t, expected)))
    tele, _ = telemetry_counters(w)
    print("mesh inline %s: %d of %d traces exact; telemetry exchanges %d"
          % (ver, len(tids) - len(bad), len(tids), tele))
    if bad:
        pytest.fail("%d of %d traces are not the demo's 8 spans:\n%s"
                    % (len(bad), len(tids), "\n".join(bad[:3])), pytrace=False)
    # 60 reports, both ends each (the reports go out one connection per
    # sidecar, kept alive): all seen, none traced
    assert tele >= 2 * 60, w.stderr()
    printed = [s for s in w.spans() if is_telemetry_path(L.attrs(s).get("url.path", ""))]
    assert not printed, L.dump(printed)


# ------------------------------------------------ an SDK exporting next door


def sdk_round(weft, jaeger, procs, extra):
    """The Go SDK service exporting spans and metrics every second, weft on
    the whole node: one request, time for its first span export, then ten
    requests. Returns (weft, the SDK proc, t0, t_measured, t1)."""
    sdk = start(procs.sdkgo, "sdk-telemetry", jaeger.otlp, "1s")
    t0 = time.time_ns()
    w = whole_node(weft, jaeger, *extra)
    start(LL.curl, sdk.url("/hello"))
    time.sleep(2.5)                     # its first span export has gone out
    tm = time.time_ns()
    for _ in range(10):
        r = start(LL.curl, sdk.url("/hello"))
        assert r.code == 200
        time.sleep(0.3)
    time.sleep(2.5)                     # the last exports of the ten
    assert w.stop() == 0, w.stderr()
    t1 = time.time_ns()
    procs.stop()
    time.sleep(1.0)
    return w, sdk, t0, tm, t1


def test_sdk_exports_not_traced(weft, jaeger, go_apps, procs):
    """No trace contains a span of an export request, at either end; weft
    emits none of the SDK service's own spans once it has exported spans
    (rule 3, decided by that export), and the SDK's spans are in Jaeger."""
    w, sdk, t0, tm, t1 = sdk_round(weft, jaeger, procs, [])
    printed = w.spans()
    tele_printed = [s for s in printed if is_telemetry_path(L.attrs(s).get("url.path", ""))]
    assert not tele_printed, "weft printed spans of export requests:\n%s" % L.dump(tele_printed)
    of_sdk = [s for s in printed if L.res(s).get("process.pid") == sdk.pid
              and s["start_time_unix_nano"] >= tm]
    assert not of_sdk, ("weft emitted spans of the SDK service after its first span export "
                        "(rule 3):\n%s" % L.dump(of_sdk))
    tele, _ = telemetry_counters(w)
    # >= 4 trace and 6 metric exports in the run, both ends of each
    assert tele >= 2 * 8, w.stderr()
    traces = jaeger.traces_between(t0, t1)
    in_jaeger = []
    sdk_spans = 0
    for t in traces:
        for s in LL.spans_of(t):
            s.trace_id = t["traceID"]
            if s.origin == "weft" and (is_telemetry_path(s.path) or s.service == "jaeger"):
                in_jaeger.append(s)
            if s.service == "sdk-telemetry" and s.scope == "sdkgo":
                sdk_spans += 1
    assert not in_jaeger, "Jaeger holds spans of the telemetry pipeline:\n%s" % describe(in_jaeger)
    assert sdk_spans >= 11, "the SDK's own spans: %d in Jaeger" % sdk_spans


def test_trace_telemetry_brings_them_back(weft, jaeger, go_apps, procs):
    """--trace-telemetry: the SDK's exports become spans, the exporter's client
    span the root of a trace of its own and Jaeger's server span its child
    (rule 2); weft's own exports still do not (every jaeger server span of an
    export has the SDK's client span as parent)."""
    w, sdk, t0, tm, t1 = sdk_round(weft, jaeger, procs, ["--trace-telemetry"])
    printed = w.spans()
    jpid = jaeger.proc.pid
    by_id = {s["span_id"]: s for s in printed}
    clients = [s for s in printed if L.res(s).get("process.pid") == sdk.pid
               and s["kind"] == "client" and is_telemetry_path(L.attrs(s).get("url.path", ""))]
    servers = [s for s in printed if L.res(s).get("process.pid") == jpid
               and s["kind"] == "server" and is_telemetry_path(L.attrs(s).get("url.path", ""))]
    paths = {L.attrs(s).get("url.path") for s in servers}
    assert {"/v1/traces", "/v1/metrics"} <= paths, L.dump(servers)
    assert clients, "no client span of the SDK's exports:\n%s" % L.dump(printed[-40:])
    for s in clients:
        assert not s["parent_span_id"], "an export joined a trace:\n%s" % L.dump([s])
    orphans = [s for s in servers if by_id.get(s["parent_span_id"], {}).get("kind") != "client"
               or L.res(by_id[s["parent_span_id"]]).get("process.pid") != sdk.pid]
    assert not orphans, ("jaeger server spans of exports not parented to the SDK's client span "
                         "(weft's own exports traced?):\n%s" % L.dump(orphans))
    tele, own = telemetry_counters(w)
    assert tele == len(clients) + len(servers), w.stderr()
    assert own >= 1, w.stderr()
    # and they are exported like any span
    got = weft_spans_in_jaeger(jaeger, t0, t1)
    assert any(s.pid == jpid and s.path == "/v1/traces" for s in got), describe(got[:40])
