"""Issue 13 end to end: gRPC (google.golang.org/grpc v1.58.3) over TLS (h2
by ALPN) and over cleartext HTTP/2 (h2c), traced with no configuration.

The services and clients are tests/apps/gogrpc (service weft.test.Echo:
unary Hello, server-streaming Count; no protoc), built with Go 1.19 and
1.26, plain, stripped, PIE and CGO (tls_lib.BUILDS); the certificates come
from a CA made with openssl in the test. The client sends B3 or traceparent
as metadata, or nothing.

    sudo python3 -m pytest -q tests/e2e/test_grpc.py [-k 'go1.26-stripped and tls']
    WEFT_E2E_GO_BUILDS=go1.26-stripped,go1.19-plain ...   (only those builds)

Checked field by field, per stream: kind, name ("weft.test.Echo/Hello"),
http.request.method POST, url.path "/weft.test.Echo/Hello", :status 200,
rpc.system "grpc", rpc.service, rpc.method, rpc.grpc.status_code (from the
trailers), network.protocol.version "2", url.scheme, ports of both ends,
user agent, resource, times; trace id and parent from the metadata sent
(rule 3: the client made that span id, so it has no span), the server span
as the child of the client's span without metadata (rule 2); and the
stitched tree of a chain client -> a (gRPC) -> b (gRPC) -> c (HTTPS or
HTTP/1.1, gotls) read back from Jaeger, a and b propagating nothing or
copying the incoming metadata (rule 4).
"""
import concurrent.futures
import os
import re
import time

import pytest

import e2e_lib as L
import link_lib as LL
import tls_lib as T
from conftest import start
from link_lib import N

SERVICE = "weft.test.Echo"
TRANSPORTS = ["tls", "h2c"]
GRPC_UA = "grpc-go/1.58.3"
# codes the OpenTelemetry gRPC conventions make a server span an error
SERVER_ERROR_CODES = {2, 4, 12, 13, 14, 15}


def scheme_of(transport):
    return "https" if transport == "tls" else "http"


def target(srv, transport):
    return "%s://127.0.0.1:%d" % ("grpcs" if transport == "tls" else "grpc", srv.port)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return start(T.Certs, tmp_path_factory.mktemp("grpc"))


def serve(procs, exe, transport, certs, name, nxt=None, extra=()):
    cmd = [exe, "serve", "-addr", "127.0.0.1:0", "-name", name, "-ca", certs.ca] + list(extra)
    if transport == "tls":
        cmd += ["-cert", certs.cert, "-key", certs.key]
    if nxt:
        cmd += ["-next", nxt]
    return start(lambda: procs.add(LL.Proc(cmd, service=name, what="%s %s" % (exe, name))))


def call(exe, srv, transport, certs, method="Hello", n=0, code=0, reps=1, ctx=()):
    return start(T.run_client, [exe, "call", "-ca", certs.ca, "-method", method, "-n", str(n),
                                "-code", str(code), "-reps", str(reps)]
                 + list(ctx) + [target(srv, transport)])


def expect_grpc(span, *, kind, method, code, srv, r, transport, exe, service):
    """One gRPC span (per stream) field by field. Returns errors."""
    path = "/%s/%s" % (SERVICE, method)
    error = code != 0 if kind == "client" else code in SERVER_ERROR_CODES
    common = dict(version="2", scheme=scheme_of(transport), name="%s/%s" % (SERVICE, method),
                  rpc=(SERVICE, method, code), method="POST", path=path, status=200,
                  t0=r.t0, t1=r.t1, user_agent=GRPC_UA, error=error, server_port=srv.port)
    if kind == "server":
        return T.expect_span(span, kind="server", pid=srv.pid, exe=os.path.basename(exe),
                             service=service, peer_port=r.ports[0], **common)
    return T.expect_span(span, kind="client", pid=r.pid, exe=r.exe, service=r.service,
                         peer_port=srv.port, url="%s://127.0.0.1:%d%s" % (
                             scheme_of(transport), srv.port, path), **common)


# ------------------------------------------------------- harness self-check


@pytest.mark.parametrize("build", T.BUILDS, ids=T.BUILD_IDS)
def test_harness_without_weft(go_apps, procs, certs, build):
    """No weft: every build of gogrpc answers unary and streaming calls over
    TLS and h2c with the CA made here, with the status codes asked for, one
    connection per client, and chains to gRPC and HTTPS."""
    exe = start(T.app, *build, "gogrpc")
    tls_exe = start(T.app, *build, "gotls")
    for tr in TRANSPORTS:
        srv = serve(procs, exe, tr, certs, "harness-" + tr)
        r = call(exe, srv, tr, certs, reps=2)
        assert [x[:3] for x in r.lines] == [["0", "Hello", "1"]] * 2, r.lines
        assert len(set(r.ports)) == 1, r.lines
        r = call(exe, srv, tr, certs, method="Count", n=4)
        assert r.lines[0][:3] == ["0", "Count", "4"], r.lines
        r = call(exe, srv, tr, certs, n=5, code=5)
        assert r.lines[0][:3] == ["5", "Hello", "0"], r.lines
    c = start(lambda: procs.add(LL.Proc([tls_exe, "serve", "-addr", "127.0.0.1:0", "-proto", "h2",
                                         "-cert", certs.cert, "-key", certs.key], what="c")))
    b = serve(procs, exe, "tls", certs, "b", "https://127.0.0.1:%d/hello" % c.port)
    a = serve(procs, exe, "h2c", certs, "a", target(b, "tls"))
    r = call(exe, a, "h2c", certs)
    assert r.lines[0][:3] == ["0", "Hello", "1"], r.lines


# ------------------------------------------------------------------ calls


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("build", T.BUILDS, ids=T.BUILD_IDS)
def test_calls(request, weft, go_apps, procs, certs, build, transport):
    """One weft, six clients, one after the other: unary Hello (2 calls on
    one connection) and server-streaming Count (n=4), each with B3,
    traceparent and no metadata. One server span per call (per stream)."""
    exe = start(T.app, *build, "gogrpc")
    srv = serve(procs, exe, transport, certs, "grpc-srv")
    w = weft(ports=[srv.port])
    runs = []
    for method, n, reps in (("Hello", 0, 2), ("Count", 4, 1)):
        for fmt in T.CTX:
            tid, sid = LL.rand_hex(16), LL.rand_hex(8)
            r = call(exe, srv, transport, certs, method=method, n=n, reps=reps,
                     ctx=T.ctx_args(fmt, tid, sid, grpc=True))
            assert [x[:3] for x in r.lines] == [["0", method, str(n or 1)]] * reps, r.lines
            runs.append((method, fmt, r, tid, sid))
            time.sleep(0.3)
    want = {(srv.pid, "server"): sum(len(r.lines) for _, _, r, _, _ in runs)}
    want.update({(r.pid, "client"): len(r.lines) for _, fmt, r, _, _ in runs if fmt == "none"})
    T.wait_counts(w, want)
    stopped = T.stop_weft(w)
    spans = w.spans()
    ss_all = L.of_pid(spans, srv.pid, "server")
    per_run, stray = T.by_run(ss_all, [r for _, _, r, _, _ in runs])
    cpids = {r.pid for _, _, r, _, _ in runs}
    errs = stopped
    if not spans:
        errs.append("no span at all: neither the TLS plaintext nor the HTTP/2 frames were seen")
    others = [s for s in spans if s not in ss_all and not (s.get("kind") == "client" and
                                                           L.res(s).get("process.pid") in cpids)]
    if others:
        errs.append("%d spans that are neither the server's server spans nor the clients' "
                    "client spans" % len(others))
    if stray:
        errs.append("%d server spans outside every client's run" % len(stray))
    for (method, fmt, r, tid, sid), ss in zip(runs, per_run):
        e = []
        cs = L.of_pid(spans, r.pid, "client")
        n = len(r.lines)
        if len(ss) != n:
            e.append("%d server spans for %d calls" % (len(ss), n))
        if fmt == "none" and len(cs) != n:
            e.append("%d client spans for %d calls" % (len(cs), n))
        for i, x in enumerate(ss[:n]):
            e += ["server span %d: %s" % (i, m) for m in expect_grpc(
                x, kind="server", method=method, code=0, srv=srv, r=r, transport=transport,
                exe=exe, service="grpc-srv")]
        for i, x in enumerate(cs[:n]):
            e += ["client span %d: %s" % (i, m) for m in expect_grpc(
                x, kind="client", method=method, code=0, srv=srv, r=r, transport=transport,
                exe=exe, service="grpc-srv")]
        if len(ss) == n and (fmt != "none" or len(cs) == n):
            e += T.expect_context(ss, cs, fmt, tid, sid)
        errs += ["%s %s: %s" % (method, fmt, m) for m in e]
    if errs:
        pytest.fail(T.fail_report(w, spans, {srv.pid} | cpids, errs,
                                  "%s %s" % ("-".join(build), transport)), pytrace=False)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_status(request, weft, go_apps, procs, certs, transport):
    """Hello asking for NOT_FOUND (5: an error for the client, not the
    server) and INTERNAL (13: an error for both), Go 1.26 stripped: :status
    200, rpc.grpc.status_code from the trailers."""
    exe = start(T.app, "go1.26", "stripped", "gogrpc")
    srv = serve(procs, exe, transport, certs, "grpc-status")
    w = weft(ports=[srv.port])
    runs = []
    for code in (5, 13):
        runs.append((code, call(exe, srv, transport, certs, n=code, code=code)))
        time.sleep(0.3)
    want = {(srv.pid, "server"): 2}
    want.update({(r.pid, "client"): 1 for _, r in runs})
    T.wait_counts(w, want)
    stopped = T.stop_weft(w)
    spans = w.spans()
    per_run, _ = T.by_run(L.of_pid(spans, srv.pid, "server"), [r for _, r in runs])
    errs = stopped
    for (code, r), ss in zip(runs, per_run):
        cs = L.of_pid(spans, r.pid, "client")
        if len(ss) != 1 or len(cs) != 1:
            errs.append("code %d: %d server spans, %d client spans (1 and 1 expected)"
                        % (code, len(ss), len(cs)))
            continue
        for kind, x in (("server", ss[0]), ("client", cs[0])):
            errs += ["code %d %s: %s" % (code, kind, m) for m in expect_grpc(
                x, kind=kind, method="Hello", code=code, srv=srv, r=r, transport=transport,
                exe=exe, service="grpc-status")]
        errs += ["code %d: %s" % (code, m) for m in T.expect_context(ss, cs, "none", "", "")]
    if errs:
        pytest.fail(T.fail_report(w, spans, {srv.pid} | {r.pid for _, r in runs}, errs,
                                  "status %s" % transport), pytrace=False)


# ----------------------------------------------------------------- chains


def run_chain(weft, jaeger, procs, certs, build, transport, fmts, propagate, title):
    exe = start(T.app, *build, "gogrpc")
    tls_exe = start(T.app, *build, "gotls")
    proto = "h2" if transport == "tls" else "h2c"
    extra = ["-propagate"] if propagate else []
    c = start(lambda: procs.add(LL.Proc(
        [tls_exe, "serve", "-addr", "127.0.0.1:0", "-name", "c", "-proto", proto,
         "-cert", certs.cert, "-key", certs.key], service="c", what="gotls c")))
    b = serve(procs, exe, transport, certs, "b",
              "%s://127.0.0.1:%d/hello" % (scheme_of(transport), c.port), extra)
    a = serve(procs, exe, transport, certs, "a", target(b, transport), extra)
    w = weft(ports=[a.port, b.port, c.port],
             args=["--otlp-endpoint", jaeger.otlp, "--batch-timeout", "200"])
    runs = []
    for fmt in fmts:
        tid, sid = LL.rand_hex(16), LL.rand_hex(8)
        r = call(exe, a, transport, certs, ctx=T.ctx_args(fmt, tid, sid, grpc=True))
        assert r.lines[0][:3] == ["0", "Hello", "1"], r.lines
        runs.append((fmt, r, tid, sid))
        time.sleep(0.3)
    tree = N("a", "server", "weft",
             N("a", "client", "weft",
               N("b", "server", "weft",
                 N("b", "client", "weft",
                   N("c", "server", "weft")))))
    pids = {a.pid, b.pid, c.pid} | {r.pid for _, r, _, _ in runs}
    T.check_chains(w, jaeger, procs, runs, tree, pids,
                   "%s %s %s" % (title, "-".join(build), transport))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("build", T.FORWARD_BUILDS, ids=T.FORWARD_IDS)
def test_chain(request, weft, jaeger, go_apps, procs, certs, build, transport):
    """client -> a Hello -> b Hello (gRPC, `transport`) -> c /hello (gotls:
    HTTPS h2 when transport is tls, HTTP/1.1 to an h2c-capable server when
    h2c), one build; a and b propagate nothing (in-process links only).
    Once per context format, one weft for the three; each trace in Jaeger
    must be exactly sid -> a(server) -> a(client) -> b(server) -> b(client)
    -> c(server), or with no metadata client(client) -> a(server) -> ...
    Two builds only: the probes of gRPC servers and clients are the same
    code in every build (grpc-go's release picks the stream id's path)."""
    run_chain(weft, jaeger, procs, certs, build, transport, T.CTX, False, "grpc chain")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("build", T.FORWARD_BUILDS, ids=T.FORWARD_IDS)
def test_chain_forwarding(request, weft, jaeger, go_apps, procs, certs, build, transport):
    """The chain of test_chain, a and b copying the incoming B3 /
    traceparent metadata onto their call (gogrpc -propagate), as mesh apps
    do: a(client) is a forwarder's span (rule 4), b(server) its child by
    the wire (rule 2). The same tree, without in-process links."""
    run_chain(weft, jaeger, procs, certs, build, transport, ["b3", "traceparent"], True,
              "grpc forwarding chain")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_concurrent_calls_never_misparented(weft, go_apps, procs, certs, transport):
    """Many callers at once through a (gRPC) -> b (gRPC), a forwarding no
    metadata: a's handlers share one client connection to b, whose
    loopyWriter batches several calls' HEADERS into one write. A call is
    then linked to no handler rather than to the wrong one (bpf/go_link.bpf.h,
    GO_ASKER_ONCE): every a(server) span has at most one a(client) child,
    every linked a(client) lies inside its parent's time, and every a(client)
    is a b(server) span's parent over the wire. Prints how many were linked."""
    exe = start(T.app, "go1.26", "stripped", "gogrpc")
    b = serve(procs, exe, transport, certs, "b")
    a = serve(procs, exe, transport, certs, "a", target(b, transport))
    w = weft(ports=[a.port, b.port])
    callers, reps = 6, 15
    with concurrent.futures.ThreadPoolExecutor(callers) as ex:
        runs = list(ex.map(lambda _: call(exe, a, transport, certs, reps=reps), range(callers)))
    for r in runs:
        assert [x[:3] for x in r.lines] == [["0", "Hello", "1"]] * reps, r.lines
    n = callers * reps
    T.wait_counts(w, {(a.pid, "server"): n, (a.pid, "client"): n, (b.pid, "server"): n})
    spans = w.spans()
    srv = {s["span_id"]: s for s in L.of_pid(spans, a.pid, "server")}
    cli = L.of_pid(spans, a.pid, "client")
    bsrv = L.of_pid(spans, b.pid, "server")
    errs, children = [], {}
    assert len(srv) == n and len(cli) == n and len(bsrv) == n, (len(srv), len(cli), len(bsrv))
    for c in cli:
        p = c.get("parent_span_id")
        if not p:
            continue
        s = srv.get(p)
        if s is None:
            errs.append("a(client) %s: parent %s is no a(server) span" % (c["span_id"], p))
            continue
        children[p] = children.get(p, 0) + 1
        if c["trace_id"] != s["trace_id"] or not (
                s["start_time_unix_nano"] <= c["start_time_unix_nano"]
                and c["end_time_unix_nano"] <= s["end_time_unix_nano"]):
            errs.append("a(client) %s: outside its parent %s" % (c["span_id"], p))
    errs += ["a(server) %s: %d a(client) children" % (p, k) for p, k in children.items() if k > 1]
    cids = {c["span_id"] for c in cli}
    errs += ["b(server) %s: parent %s is no a(client) span" % (s["span_id"], s.get("parent_span_id"))
             for s in bsrv if s.get("parent_span_id") not in cids]
    print("%s: %d of %d calls from a's handlers linked in process (the rest were "
          "written in one batch with another's)" % (transport, len(children), n))
    assert not errs, "\n".join(errs[:20])


# ------------------------------------- a connection older than weft


@pytest.mark.parametrize("ctx", ["b3", "none"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connection_older_than_weft(weft, go_apps, procs, certs, transport, ctx):
    """A gRPC client's connection made before weft started (gogrpc call
    -warm 3: three calls, then it waits while weft starts), then 12 unary
    calls with the same B3 metadata. grpc-go's encoder names :path and the
    B3 ids by the entries the warm-up calls added: weft cannot decode them
    from the wire (user/h2.c, partial HPACK), keeps each server request,
    attaches go_h2_fields to the (stripped, Go 1.26) server at the first,
    and fills the requests in from the fields grpc-go decoded itself
    (operateHeaders). Calls made while the probe is being attached make no
    span; every span made is right: path, rpc.*, grpc-status (the
    trailers' entry from before: filled in from what grpc-go's writer
    recorded), the B3 context. The client's calls carry ids it made (rule
    3): no client spans. With no context, the client's calls are filled
    in from what its own writer recorded: a client span per call made
    after its probes were in place, each server span its child (rule 2)."""
    srv_exe, cli_exe = T.app("go1.26", "stripped", "gogrpc"), T.app("go1.19", "plain", "gogrpc")
    srv = serve(procs, srv_exe, transport, certs, "older")
    tid, sid = "463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312"
    reps = 12
    env = {k: v for k, v in L.NO_PROXY_ENV.items() if not k.startswith("OTEL_")}
    cmd = [cli_exe, "call", "-ca", certs.ca, "-reps", str(reps), "-warm", "3", "-gap", "50"] + \
        (["-b3", "%s-%s" % (tid, sid)] if ctx == "b3" else []) + [target(srv, transport)]
    cli_pid, rc, out, err, w = L.run_after_warmup(
        cmd, "gogrpc: warm", lambda: weft(ports=[srv.port]), env=env)
    assert rc == 0, "client failed: %s" % err.decode()[-2000:]
    w.wait_for(lambda sp: len(L.of_pid(sp, srv.pid, "server")) >= reps // 2 and
               (ctx == "b3" or len(L.of_pid(sp, cli_pid, "client")) >= reps // 2), 10)
    time.sleep(1)
    w.stop(timeout=180)
    spans = w.spans()
    ss, cs = L.of_pid(spans, srv.pid, "server"), L.of_pid(spans, cli_pid, "client")
    by_id = {s.get("span_id"): s for s in cs}
    errors = []
    if len(ss) < reps // 2:
        errors.append("%d server spans of %d calls, want at least %d" % (len(ss), reps, reps // 2))
    first = {min(x, key=lambda s: s["start_time_unix_nano"])["span_id"] for x in (ss, cs) if x}
    for s in ss + cs:
        a = L.attrs(s)
        want = {"url.path": "/%s/Hello" % SERVICE, "rpc.system": "grpc", "rpc.service": SERVICE,
                "rpc.method": "Hello", "http.request.method": "POST",
                "http.response.status_code": 200, "network.protocol.version": "2",
                "rpc.grpc.status_code": 0, "server.port": srv.port}
        if s.get("kind") == "server":
            want["url.scheme"] = scheme_of(transport)
        if s["span_id"] in first and "rpc.grpc.status_code" not in a:
            # the probes are attached one after the other: the first call
            # filled in may have sent its trailers before the writer's was
            del want["rpc.grpc.status_code"]
        for k, v in want.items():
            if a.get(k) != v:
                errors.append("%s span %s: %s = %r, want %r" % (s.get("kind"), s.get("span_id"),
                                                               k, a.get(k), v))
        if s.get("name") != "%s/Hello" % SERVICE:
            errors.append("span %s: name %r" % (s.get("span_id"), s.get("name")))
    for s in ss:
        if ctx == "b3":
            if (s.get("trace_id"), s.get("parent_span_id")) != (tid, sid):
                errors.append("span %s: context %s/%s, want %s/%s" % (
                    s.get("span_id"), s.get("trace_id"), s.get("parent_span_id"), tid, sid))
        elif s.get("parent_span_id") and (s.get("parent_span_id") not in by_id or
                                          by_id[s.get("parent_span_id")].get("trace_id") !=
                                          s.get("trace_id")):
            errors.append("server span %s has a parent that is no client span of this "
                          "connection" % s.get("span_id"))
    if ctx == "none":
        # a call the client made before its probes were in place has no
        # client span; its server span is then a root
        # (and the other way round: the probes of the two processes are
        # attached apart)
        children = [s.get("parent_span_id") for s in ss if s.get("parent_span_id")]
        if len(set(children)) != len(children) or len(set(children) & set(by_id)) < reps // 2:
            errors.append("client spans %s, server spans' parents %s: want at least %d "
                          "client spans with one server child each"
                          % (sorted(by_id), sorted(children), reps // 2))
    if ctx == "b3" and cs:
        errors.append("client spans of a client that sent ids of its own making")
    if ctx == "none" and len(cs) < reps // 2:
        errors.append("%d client spans of %d calls, want at least %d" % (len(cs), reps, reps // 2))
    line = next((ln for ln in w.err if ln.startswith("weft: http2 from the middle, Go")), "")
    m = re.search(r"filled in (\d+).*grpc-go wrote (\d+)", line)
    if not m or int(m.group(1)) + int(m.group(2)) < len(ss) + len(cs):
        errors.append("blocks filled in from grpc-go's decoding or writing fewer than the "
                      "spans: %r" % line)
    L.assert_ok(errors, spans, what="gRPC spans of a connection older than weft")
