"""Issue 4 end to end: a chain of services stitched into one correct trace.

As root, weft loaded, Jaeger v2 as the backend: every test drives a chain of
services with curl, then reads the trace back through Jaeger's query API
(/api/traces/{id}) and compares its tree exactly with the expected one:
parents, kinds, services, who made each span (weft, the OpenTelemetry SDK,
the sidecar through Zipkin), no span id twice, and children inside their
parents' time (link_lib.NEST_SLACK_US). The rules are those of user/link.h.

    python3 -m pytest tests/e2e/test_linking.py -v -rA   (-rA prints the trees)
"""
import os
import time

import pytest

import e2e_lib as L
import link_lib as LL
from conftest import start
from link_lib import N, chain_url, q

GO = ["go1.26", "go1.19"]
HEADER_VARIANTS = ["b3multi", "b3single", "traceparent", "none"]
# how long Jaeger may take to show all spans of a trace
JAEGER_WAIT = float(os.environ.get("WEFT_E2E_JAEGER_WAIT", "30"))


def ctx_headers(variant, tid, sid):
    if variant == "b3multi":
        return ["X-B3-TraceId: " + tid, "X-B3-SpanId: " + sid, "X-B3-Sampled: 1"]
    if variant == "b3single":
        return ["b3: %s-%s-1" % (tid, sid)]
    if variant == "traceparent":
        return ["traceparent: 00-%s-%s-01" % (tid, sid)]
    assert variant == "none"
    return []


@pytest.fixture
def netns_pair():
    ns = start(LL.NetnsPair)
    yield ns
    ns.close()


@pytest.fixture(scope="module")
def sdk():
    start(LL.ensure_sdk)


def export_args(jaeger, *extra):
    return ["--otlp-endpoint", jaeger.otlp, "--batch-timeout", "200"] + list(extra)


def trace_of_pid(w, pid, kind=None, timeout=10):
    """The trace id of the span weft printed for this process (no-header cases)."""
    def find(spans):
        return [s for s in spans if L.res(s).get("process.pid") == pid
                and (kind is None or s.get("kind") == kind)]
    w.wait_for(lambda ss: find(ss), timeout)
    got = find(w.spans())
    if len(got) != 1:
        pytest.fail("weft printed %d spans for pid %d (kind %s), expected 1:\n%s"
                    % (len(got), pid, kind, L.dump(w.spans())), pytrace=False)
    return got[0]["trace_id"]


def settle(jaeger, trace_id, expected, wefts=(), procs=None):
    """Wait until Jaeger has the expected number of spans of the trace (or the
    timeout), then stop weft (it flushes) and the services (the sidecars and
    the SDK service flush at SIGTERM), and read the trace once more, so that
    late duplicates show too."""
    jid = L.jaeger_id(trace_id)
    jaeger.wait_trace(jid, LL.count(expected), JAEGER_WAIT)
    for w in wefts:
        try:
            w.stop()
        except L.Failed:
            pass
    if procs is not None:
        procs.stop()
    time.sleep(1.0)
    return jaeger.trace(jid)


def assert_tree(jtrace, expected, title, wefts=(), procs=None, pids=()):
    """Fail unless the Jaeger trace is exactly the expected tree; the message
    shows both trees and what weft printed for the test's processes."""
    print("=== %s ===\n%s" % (title, LL.tree_report(jtrace, expected)))
    errs = LL.check_tree(jtrace, expected)
    if errs:
        pids = set(pids) | {p.pid for p in (procs.all if procs else [])}
        pytest.fail("%s: the trace in Jaeger is not the expected tree:\n  %s\n%s\n"
                    "--- weft's spans of the test's processes ---\n%s"
                    % (title, "\n  ".join(errs), LL.tree_report(jtrace, expected),
                       LL.weft_view(wefts, pids)), pytrace=False)


def chain_tree(b_origin="weft"):
    return N("a", "server", "weft",
             N("a", "client", "weft",
               N("b", "server", b_origin,
                 N("b", "client", b_origin,
                   N("c", "server", "weft")))))


def run_chain(weft, jaeger, procs, a, b, c, variant, title):
    w = weft(ports=[a.port, b.port, c.port], args=export_args(jaeger))
    tid, sid = LL.rand_hex(16), LL.rand_hex(8)
    r = start(LL.curl, chain_url(a, b, c), ctx_headers(variant, tid, sid))
    assert r.code == 200, r.headers
    if variant == "none":
        # rule 6: curl's client span is the root of a new trace
        tid = trace_of_pid(w, r.pid, "client")
        expected = {"": [N("curl", "client", "weft", chain_tree())]}
    else:
        # rule 3: curl made span id `sid` itself: no span for it, a(server)'s
        # parent is sid; rules 1, 4 and 2 below it
        expected = {sid: [chain_tree()]}
    t = settle(jaeger, tid, expected, [w], procs)
    assert_tree(t, expected, title, [w], procs, [r.pid])


# ------------------------------------------------------ harness self-check


def test_tree_compare_selfcheck():
    """No weft: check_tree accepts the right tree and catches a wrong parent,
    a wrong service, a missing span, a duplicate and a child outside its
    parent's time."""
    def span(sid, parent, svc, kind, start, dur, scope="weft"):
        return {"spanID": sid, "operationName": "GET", "startTime": start, "duration": dur,
                "references": [{"refType": "CHILD_OF", "spanID": parent}] if parent else [],
                "tags": [{"key": "span.kind", "value": kind},
                         {"key": "otel.scope.name", "value": scope}],
                "processID": svc}

    def trace(*spans):
        return {"traceID": "t", "spans": list(spans),
                "processes": {x: {"serviceName": x} for x in ("a", "b", "s")}}
    good = [span("01", "ff", "a", "server", 100, 1000), span("02", "01", "a", "client", 200, 700),
            span("03", "02", "b", "server", 300, 500), span("04", "ff", "s", "server", 90, 1100, "")]
    want = {"ff": [N("a", "server", "weft", N("a", "client", "weft", N("b", "server", "weft"))),
                   N("s", "server", "zipkin")]}
    assert LL.check_tree(trace(*good), want) == []
    bad_parent = good[:2] + [span("03", "01", "b", "server", 300, 500)] + good[3:]
    assert LL.check_tree(trace(*bad_parent), want)
    bad_service = good[:2] + [span("03", "02", "a", "server", 300, 500)] + good[3:]
    assert LL.check_tree(trace(*bad_service), want)
    assert LL.check_tree(trace(*good[:3]), want)
    assert LL.check_tree(trace(*(good + [good[2]])), want)
    late = good[:2] + [span("03", "02", "b", "server", 300, 2000)] + good[3:]
    assert any("not inside" in e for e in LL.check_tree(trace(*late), want))
    assert LL.check_tree(None, want) == ["no trace in Jaeger"]


# ------------------------------------------------------------- the chain


@pytest.mark.parametrize("variant", HEADER_VARIANTS)
@pytest.mark.parametrize("ver", GO)
def test_chain_go(weft, jaeger, go_apps, procs, ver, variant):
    """curl -> a -> b -> c, all Go (one toolchain), with each kind of context."""
    a, b, c = (start(procs.go, ver, n) for n in "abc")
    run_chain(weft, jaeger, procs, a, b, c, variant, "chain %s %s" % (ver, variant))


@pytest.mark.parametrize("variant", ["b3multi", "none"])
def test_chain_python_in_the_middle(weft, jaeger, go_apps, procs, variant):
    """curl -> a (Go 1.26) -> b (Python, thread per request) -> c (Go 1.26)."""
    a = start(procs.go, "go1.26", "a")
    b = start(procs.python, "b")
    c = start(procs.go, "go1.26", "c")
    run_chain(weft, jaeger, procs, a, b, c, variant, "chain python-b %s" % variant)


# ---------------------------------------------------- OpenTelemetry SDK


@pytest.mark.parametrize("export_seen", [False, True], ids=["sdk-export-unseen", "sdk-export-seen"])
def test_chain_sdk_in_the_middle(weft, jaeger, go_apps, procs, sdk, export_seen):
    """curl (B3 T/S0) -> a (Go) -> b (Python + OTel SDK, B3) -> c (Go).

    a copies x-b3-* (span S0) onto its call; the SDK extracts S0, so its
    SERVER span's parent is S0 and its CLIENT span injects its own id. weft:
    a(server) <- S0 (rule 3: curl made S0), a(client) child of a(server)
    (rule 4), nothing for b (rule 3: b makes its own spans, weft suppresses
    its client span and its server spans), c(server) <- the SDK's client span
    (rule 3 + rule 2). One trace: S0 -> {a(server) -> a(client),
    b(server,sdk) -> b(client,sdk) -> c(server)}.
    sdk-export-seen: weft also follows Jaeger's OTLP port, so it sees the SDK's
    own export requests (no context, from the exporter thread): still no
    weft span of b (rule 3: none at all for a process making its own)."""
    a = start(procs.go, "go1.26", "a")
    b = start(procs.sdk, "b", jaeger.otlp + "/v1/traces")
    c = start(procs.go, "go1.26", "c")
    ports = [a.port, b.port, c.port] + ([jaeger.ports["otlp_http"]] if export_seen else [])
    w = weft(ports=ports, args=export_args(jaeger))
    tid, sid = LL.rand_hex(16), LL.rand_hex(8)
    r = start(LL.curl, chain_url(a, b, c), ctx_headers("b3multi", tid, sid))
    assert r.code == 200, r.headers
    expected = {sid: [N("a", "server", "weft", N("a", "client", "weft")),
                      N("b", "server", "sdk", N("b", "client", "sdk", N("c", "server", "weft")))]}
    t = settle(jaeger, tid, expected, [w], procs)
    assert_tree(t, expected, "chain sdk-b b3multi", [w], procs, [r.pid])
    of_b = [s for s in w.spans() if L.res(s).get("process.pid") == b.pid]
    if of_b:
        pytest.fail("weft emitted %d spans of the SDK-instrumented process %d (rule 3: none by "
                    "default):\n%s" % (len(of_b), b.pid, LL.weft_view([w], {b.pid})), pytrace=False)


def test_chain_sdk_in_the_middle_no_header(weft, jaeger, go_apps, procs, sdk):
    """The same chain, curl sending nothing: a forwards no context, so the
    SDK starts a trace of its own (nothing weft can change: it cannot write
    headers). Expected: trace 1 = curl(client) -> a(server) -> a(client);
    trace 2 = b(server,sdk) -> b(client,sdk) -> c(server); no weft span of b."""
    a = start(procs.go, "go1.26", "a")
    b = start(procs.sdk, "b", jaeger.otlp + "/v1/traces")
    c = start(procs.go, "go1.26", "c")
    w = weft(ports=[a.port, b.port, c.port], args=export_args(jaeger))
    r = start(LL.curl, chain_url(a, b, c))
    assert r.code == 200, r.headers
    t1 = trace_of_pid(w, r.pid, "client")
    t2 = trace_of_pid(w, c.pid, "server")
    e1 = {"": [N("curl", "client", "weft", N("a", "server", "weft", N("a", "client", "weft")))]}
    e2 = {"": [N("b", "server", "sdk", N("b", "client", "sdk", N("c", "server", "weft")))]}
    jaeger.wait_trace(L.jaeger_id(t1), LL.count(e1), JAEGER_WAIT)
    tr2 = settle(jaeger, t2, e2, [w], procs)
    tr1 = jaeger.trace(L.jaeger_id(t1))
    assert t1 != t2, "one trace: %s" % LL.render(LL.spans_of(tr1))
    assert_tree(tr1, e1, "chain sdk-b none, trace 1 (weft)", [w], procs, [r.pid])
    assert_tree(tr2, e2, "chain sdk-b none, trace 2 (the SDK's)", [w], procs, [r.pid])
    of_b = [s for s in w.spans() if L.res(s).get("process.pid") == b.pid]
    if of_b:
        pytest.fail("weft emitted %d spans of the SDK-instrumented process %d:\n%s"
                    % (len(of_b), b.pid, LL.weft_view([w], {b.pid})), pytrace=False)


# ------------------------------------------------------------ mesh demo


@pytest.mark.parametrize("ver", GO)
def test_mesh_demo(weft, jaeger, go_apps, procs, ver):
    """curl -> sidecar-a -> a -> sidecar-b -> b -> sidecar-c -> c. The
    sidecars make a span per request (Zipkin v2 to Jaeger) and point the B3
    headers at it; a, b, c copy only x-b3-traceid/spanid/parentspanid; curl
    sends nothing and is not traced (weft -c GOSERVER -c SIDECAR)."""
    zipkin = jaeger.zipkin + "/api/v2/spans"
    sa, sb, sc = start(procs.mesh, ver, zipkin, private=True)
    sidecar_pids = {sa.pid, sb.pid, sc.pid}
    # -c: the command names of goserver and sidecar, copied under names of
    # this run only (other goservers on the machine stay out)
    go_comm, sc_comm = LL.private_comms()
    w = weft(args=["-c", go_comm, "-c", sc_comm] + export_args(jaeger))
    r = start(LL.curl, chain_url(sa, sb, sc))
    assert r.code == 200, r.headers
    tid, sa_span = r.headers.get("x-sidecar-trace-id"), r.headers.get("x-sidecar-span-id")
    assert tid and sa_span, r.headers
    expected = LL.mesh_tree()
    t = settle(jaeger, tid, expected, [w], procs)
    assert_tree(t, expected, "mesh demo %s" % ver, [w], procs)
    roots = [s for s in LL.spans_of(t) if not s.parent]
    assert [s.sid for s in roots] == [sa_span], LL.render(LL.spans_of(t))
    mine = [s for s in w.spans() if L.res(s).get("process.pid") in sidecar_pids]
    if mine:
        pytest.fail("weft emitted %d spans of the sidecar processes (rule 3: none by "
                    "default):\n%s" % (len(mine), LL.weft_view([w], sidecar_pids)), pytrace=False)


# --------------------------------------------------------------- fan-out


@pytest.mark.parametrize("variant", ["b3multi", "none"])
def test_fanout(weft, jaeger, go_apps, procs, variant):
    """a (Go 1.26) /fanout: two goroutines call b and c concurrently. With
    b3multi the goroutines forward the incoming context (rule 4 finds the
    server span by it even without goroutine links); with none only the
    goroutine-creation links of rule 1 can give the parent."""
    a, b, c = (start(procs.go, "go1.26", n) for n in "abc")
    w = weft(ports=[a.port, b.port, c.port], args=export_args(jaeger))
    # weft attaches its goroutine-creation probes to a binary the first time
    # it sees a call it cannot place (README, Linking): that first fan-out
    # is a warm-up, not part of the checked trace.
    start(LL.curl, a.url("/fanout?url=%s&url=%s" % (q(b.url("/hello")), q(c.url("/hello")))), [])
    time.sleep(0.5)
    tid, sid = LL.rand_hex(16), LL.rand_hex(8)
    r = start(LL.curl, a.url("/fanout?url=%s&url=%s" % (q(b.url("/hello")), q(c.url("/hello")))),
              ctx_headers(variant, tid, sid))
    assert r.code == 200, r.headers
    inner = N("a", "server", "weft",
              N("a", "client", "weft", N("b", "server", "weft")),
              N("a", "client", "weft", N("c", "server", "weft")))
    if variant == "none":
        tid = trace_of_pid(w, r.pid, "client")
        expected = {"": [N("curl", "client", "weft", inner)]}
    else:
        expected = {sid: [inner]}
    t = settle(jaeger, tid, expected, [w], procs)
    assert_tree(t, expected, "fan-out %s" % variant, [w], procs, [r.pid])


# -------------------------------------------------------------- sampling


SAMPLING = {
    # case: (headers given T and S, exported?, extra weft args)
    "x-b3-sampled-0": (lambda t, s: ["X-B3-TraceId: " + t, "X-B3-SpanId: " + s,
                                     "X-B3-Sampled: 0"], False, []),
    "b3-single-0": (lambda t, s: ["b3: %s-%s-0" % (t, s)], False, []),
    "traceparent-00": (lambda t, s: ["traceparent: 00-%s-%s-00" % (t, s)], False, []),
    "x-b3-flags-1": (lambda t, s: ["X-B3-TraceId: " + t, "X-B3-SpanId: " + s,
                                   "X-B3-Flags: 1"], True, []),
    "x-b3-sampled-0-flags-1": (lambda t, s: ["X-B3-TraceId: " + t, "X-B3-SpanId: " + s,
                                             "X-B3-Sampled: 0", "X-B3-Flags: 1"], True, []),
    "x-b3-sampled-0-keep-unsampled": (lambda t, s: ["X-B3-TraceId: " + t, "X-B3-SpanId: " + s,
                                                    "X-B3-Sampled: 0"], True, ["--keep-unsampled"]),
}


@pytest.mark.parametrize("case", list(SAMPLING))
def test_sampling(weft, jaeger, go_apps, procs, case):
    """curl -> a -> b (Go 1.26; a copies no sampling header: b's decision
    comes from rule 2). Then a control request (X-B3-Sampled: 1). Once the
    control trace is in Jaeger and weft has flushed, Jaeger must hold the
    tested trace (complete) or no span of it, and no other trace of a/b."""
    hdrs, exported, extra = SAMPLING[case]
    sa, sb = "a-" + case, "b-" + case  # services of this test only
    a = start(procs.go, "go1.26", sa)
    b = start(procs.go, "go1.26", sb)
    w = weft(ports=[a.port, b.port], args=export_args(jaeger, *extra))
    url = a.url("/call?url=" + q(b.url("/hello")))
    tid, sid = LL.rand_hex(16), LL.rand_hex(8)
    r = start(LL.curl, url, hdrs(tid, sid))
    assert r.code == 200, r.headers
    ctid, csid = LL.rand_hex(16), LL.rand_hex(8)
    r = start(LL.curl, url, ctx_headers("b3multi", ctid, csid))
    assert r.code == 200, r.headers
    tree = N(sa, "server", "weft", N(sa, "client", "weft", N(sb, "server", "weft")))
    control = settle(jaeger, ctid, {csid: [tree]}, [w], procs)
    assert_tree(control, {csid: [tree]}, "sampling %s: control trace" % case, [w], procs)
    got = jaeger.trace(L.jaeger_id(tid))
    if exported:
        assert_tree(got, {sid: [tree]}, "sampling %s" % case, [w], procs)
    else:
        assert got is None, ("%s: the trace is not sampled, yet Jaeger has:\n%s"
                             % (case, LL.render(LL.spans_of(got))))
    found = jaeger.get("/api/traces?service=%s&limit=100&lookback=1h" % sa).get("data") or []
    ids = sorted(x.get("traceID") for x in found)
    want = sorted(L.jaeger_id(x) for x in ([tid, ctid] if exported else [ctid]))
    assert ids == want, "traces of service %s in Jaeger: %s, expected %s" % (sa, ids, want)


# --------------------------------------------------- two nodes (netns)


@pytest.mark.parametrize("mode", ["headers", "derived"])
def test_two_nodes(weft, jaeger, go_apps, netns_pair, procs, mode):
    """Two network namespaces joined by veth: curl and a (Go 1.26) in ns1,
    b (Go 1.26) in ns2, one weft per namespace (--netns), both exporting to
    the same Jaeger on the host's loopback (weft runs in the root namespace).
    curl sends B3 T/S0 (rule 3: no span; a(server) <- S0 by rule 2).
    headers: b(server) <- S0 (the header span id), a(client) under a(server);
    derived: a(client) has a derived id and b(server)'s parent is that id."""
    ns = netns_pair
    a = start(procs.go, "go1.26", "a", host=ns.ADDR1, netns=ns.ns[0])
    b = start(procs.go, "go1.26", "b", host=ns.ADDR2, netns=ns.ns[1])
    w1 = weft(args=["--netns", ns.paths[0], "--link-mode", mode] + export_args(jaeger))
    w2 = weft(args=["--netns", ns.paths[1], "--link-mode", mode] + export_args(jaeger))
    tid, sid = LL.rand_hex(16), LL.rand_hex(8)
    r = start(LL.curl, a.url("/call?url=" + q(b.url("/hello"))),
              ctx_headers("b3multi", tid, sid), netns=ns.ns[0])
    assert r.code == 200, r.headers
    if mode == "headers":
        expected = {sid: [N("a", "server", "weft", N("a", "client", "weft")),
                          N("b", "server", "weft")]}
    else:
        expected = {sid: [N("a", "server", "weft",
                            N("a", "client", "weft", N("b", "server", "weft")))]}
    t = settle(jaeger, tid, expected, [w1, w2], procs)
    assert_tree(t, expected, "two nodes, --link-mode %s" % mode, [w1, w2], procs, [r.pid])
    # each weft saw only its own namespace's processes
    pids1 = {L.res(s).get("process.pid") for s in w1.spans()}
    pids2 = {L.res(s).get("process.pid") for s in w2.spans()}
    assert b.pid not in pids1 and a.pid not in pids2, (pids1, pids2)
