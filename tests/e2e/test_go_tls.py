"""Issue 13 end to end: Go HTTPS (crypto/tls) and HTTP/2 (h2 by ALPN, h2c)
traced like plaintext HTTP/1.1, with no configuration.

The services and clients are tests/apps/gotls, built with Go 1.19 and 1.26,
plain, stripped (-s -w: no symbols, no DWARF), PIE and CGO (tls_lib.BUILDS).
The certificates come from a CA made with openssl in the test. Each test
runs over -proto h1 (HTTPS, HTTP/1.1 only), h2 (HTTPS, h2 negotiated by
ALPN, net/http's bundled HTTP/2) and h2c (cleartext HTTP/2, x/net's), with
the client sending B3, traceparent or no context. The client is gotls too
(same binary as the server).

    sudo python3 -m pytest -q tests/e2e/test_go_tls.py [-k 'go1.26-stripped and h2']
    WEFT_E2E_GO_BUILDS=go1.26-stripped,go1.19-plain ...   (only those builds)

Checked field by field: kind, method, url.path, status, url.scheme,
network.protocol.version ("1.1" or "2"), addresses and ports of both ends,
user agent, resource, times, trace id and parent from the headers sent
(rule 3: the client made that span id, so it has no span), the server span
as the child of the client span when there is no header (rule 2), and the
stitched tree of a chain client -> a -> b -> c read back from Jaeger, with
a and b calling out from their /call handler forwarding NO header
(in-process links, rule 1) or copying the incoming context (rule 4).
"""
import os
import time

import pytest

import e2e_lib as L
import link_lib as LL
import tls_lib as T
from conftest import start
from link_lib import N, q

PROTOS = ["h1", "h2", "h2c"]
VERSION = {"h1": "1.1", "h2": "2", "h2c": "2"}
WIRE_PROTO = {"h1": "HTTP/1.1", "h2": "HTTP/2.0", "h2c": "HTTP/2.0"}
# net/http's User-Agent per protocol (x/net's h2c Transport says 2.0 too)
UA = {"h1": "Go-http-client/1.1", "h2": "Go-http-client/2.0", "h2c": "Go-http-client/2.0"}


def scheme_of(proto):
    return "http" if proto == "h2c" else "https"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return start(T.Certs, tmp_path_factory.mktemp("tls"))


def serve(procs, exe, proto, certs, name, extra=()):
    cmd = [exe, "serve", "-addr", "127.0.0.1:0", "-name", name, "-proto", proto,
           "-cert", certs.cert, "-key", certs.key, "-ca", certs.ca] + list(extra)
    return start(lambda: procs.add(LL.Proc(cmd, service=name, what="%s %s" % (exe, name))))


def url(srv, proto, path):
    return "%s://127.0.0.1:%d%s" % (scheme_of(proto), srv.port, path)


def get(exe, proto, certs, target, n=1, ctx=()):
    return start(T.run_client, [exe, "get", "-proto", proto, "-ca", certs.ca, "-n", str(n)]
                 + list(ctx) + [target])


# ------------------------------------------------------- harness self-check


@pytest.mark.parametrize("build", T.BUILDS, ids=T.BUILD_IDS)
def test_harness_without_weft(go_apps, procs, certs, build):
    """No weft: every build of gotls answers over each protocol, with the
    CA made here, and the client gets what it asked for (h2 by ALPN, not a
    fall-back to HTTP/1.1)."""
    exe = start(T.app, *build, "gotls")
    for proto in PROTOS:
        srv = serve(procs, exe, proto, certs, "harness-" + proto)
        r = get(exe, proto, certs, url(srv, proto, "/hello"), n=2)
        assert [x[:3] for x in r.lines] == [["200", WIRE_PROTO[proto], "5"]] * 2, r.lines
        assert len(set(r.ports)) == 1, "two connections for two requests: %s" % r.lines


# ---------------------------------------------------------- one exchange


def check_exchanges(srv, runs, spans, proto, exe, service, path="/hello", status=200):
    """runs: [(fmt, client run, tid, sid)], each client making n requests on
    one connection, 0.3 s apart. Returns errors."""
    ss_all = L.of_pid(spans, srv.pid, "server")
    per_run, stray = T.by_run(ss_all, [r for _, r, _, _ in runs])
    cpids = {r.pid for _, r, _, _ in runs}
    errs = []
    others = [s for s in spans if s not in ss_all and not (s.get("kind") == "client" and
                                                           L.res(s).get("process.pid") in cpids)]
    if others:
        errs.append("%d spans that are neither the server's server spans nor the clients' "
                    "client spans" % len(others))
    if stray:
        errs.append("%d server spans outside every client's run" % len(stray))
    if not spans:
        errs.append("no span at all: neither the TLS plaintext nor the HTTP/2 frames were seen")
    for (fmt, r, tid, sid), ss in zip(runs, per_run):
        n = len(r.lines)
        cs = L.of_pid(spans, r.pid, "client")
        e = []
        if len(ss) != n:
            e.append("%d server spans for %d requests" % (len(ss), n))
        if fmt == "none" and len(cs) != n:
            e.append("%d client spans for %d requests" % (len(cs), n))
        common = dict(version=VERSION[proto], scheme=scheme_of(proto), method="GET",
                      path=path, status=status, t0=r.t0, t1=r.t1, user_agent=UA[proto])
        for i, x in enumerate(ss[:n]):
            e += ["server span %d: %s" % (i, m) for m in T.expect_span(
                x, kind="server", pid=srv.pid, exe=os.path.basename(exe), service=service,
                server_port=srv.port, peer_port=r.ports[i], **common)]
        for i, x in enumerate(cs[:n]):
            e += ["client span %d: %s" % (i, m) for m in T.expect_span(
                x, kind="client", pid=r.pid, exe=r.exe, service=r.service, server_port=srv.port,
                peer_port=srv.port, url=url(srv, proto, path), **common)]
        if len(ss) == n and (fmt != "none" or len(cs) == n):
            e += T.expect_context(ss, cs, fmt, tid, sid)
            if len({x["span_id"] for x in ss + cs}) != len(ss + cs):
                e.append("span ids are not unique")
        errs += ["%s: %s" % (fmt, m) for m in e]
    return errs


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("build", T.BUILDS, ids=T.BUILD_IDS)
def test_exchange(request, weft, go_apps, procs, certs, build, proto):
    """gotls get -n 2 (one connection) -> gotls serve /hello, once per
    context format (b3, traceparent, none), one weft for the three: two
    server spans per client run (and two client spans when the client sends
    no context)."""
    exe = start(T.app, *build, "gotls")
    srv = serve(procs, exe, proto, certs, "tls-srv")
    w = weft(ports=[srv.port])
    runs = []
    for fmt in T.CTX:
        tid, sid = LL.rand_hex(16), LL.rand_hex(8)
        r = get(exe, proto, certs, url(srv, proto, "/hello"), n=2, ctx=T.ctx_args(fmt, tid, sid))
        assert [x[:2] for x in r.lines] == [["200", WIRE_PROTO[proto]]] * 2, r.lines
        runs.append((fmt, r, tid, sid))
        time.sleep(0.3)
    want = {(srv.pid, "server"): 2 * len(runs)}
    want.update({(r.pid, "client"): 2 for fmt, r, _, _ in runs if fmt == "none"})
    T.wait_counts(w, want)
    stopped = T.stop_weft(w)
    spans = w.spans()
    errs = stopped + check_exchanges(srv, runs, spans, proto, exe, "tls-srv")
    if errs:
        pytest.fail(T.fail_report(w, spans, {srv.pid} | {r.pid for _, r, _, _ in runs}, errs,
                                  "%s %s" % ("-".join(build), proto)), pytrace=False)


@pytest.mark.parametrize("proto", PROTOS)
def test_status(request, weft, go_apps, procs, certs, proto):
    """/status/503 and /status/404 (Go 1.26, stripped): the status code,
    and error status where the HTTP conventions say (5xx on the server,
    4xx and 5xx on the client)."""
    exe = start(T.app, "go1.26", "stripped", "gotls")
    srv = serve(procs, exe, proto, certs, "tls-status")
    w = weft(ports=[srv.port])
    runs = []
    for code in (503, 404):
        r = get(exe, proto, certs, url(srv, proto, "/status/%d" % code))
        assert r.lines[0][0] == str(code), r.lines
        runs.append((code, r))
    T.wait_counts(w, {(srv.pid, "server"): 2, (runs[0][1].pid, "client"): 1,
                      (runs[1][1].pid, "client"): 1})
    stopped = T.stop_weft(w)
    spans = w.spans()
    errs = stopped
    for code, r in runs:
        ss, cs = L.of_pid(spans, srv.pid, "server"), L.of_pid(spans, r.pid, "client")
        ss = [s for s in ss if L.attrs(s).get("url.path") == "/status/%d" % code]
        if len(ss) != 1 or len(cs) != 1:
            errs.append("/status/%d: %d server spans, %d client spans (1 and 1 expected)"
                        % (code, len(ss), len(cs)))
            continue
        common = dict(version=VERSION[proto], scheme=scheme_of(proto), method="GET",
                      path="/status/%d" % code, status=code, t0=r.t0, t1=r.t1,
                      user_agent=UA[proto])
        errs += ["%d server: %s" % (code, e) for e in T.expect_span(
            ss[0], kind="server", pid=srv.pid, exe=os.path.basename(exe), service="tls-status",
            server_port=srv.port, peer_port=r.ports[0], **common)]
        errs += ["%d client: %s" % (code, e) for e in T.expect_span(
            cs[0], kind="client", pid=r.pid, exe=r.exe, service=r.service, server_port=srv.port,
            peer_port=srv.port, url=url(srv, proto, "/status/%d" % code), **common)]
        errs += ["%d: %s" % (code, e) for e in T.expect_context(ss, cs, "none", "", "")]
    if errs:
        pytest.fail(T.fail_report(w, spans, {srv.pid} | {r.pid for _, r in runs}, errs,
                                  "status %s" % proto), pytrace=False)


# ---------------------------------------------------------------- chains


def chain_tree():
    return N("a", "server", "weft",
             N("a", "client", "weft",
               N("b", "server", "weft",
                 N("b", "client", "weft",
                   N("c", "server", "weft")))))


def run_chain(weft, jaeger, procs, certs, build, proto, fmts, propagate, title, out=None):
    exe = start(T.app, *build, "gotls")
    extra = ["-propagate"] if propagate else []
    if out:
        extra += ["-out", out]
    c = serve(procs, exe, proto, certs, "c")
    b = serve(procs, exe, proto, certs, "b", extra=extra)
    a = serve(procs, exe, proto, certs, "a", extra=extra)
    w = weft(ports=[a.port, b.port, c.port],
             args=["--otlp-endpoint", jaeger.otlp, "--batch-timeout", "200"])
    target = url(a, proto, "/call?url=" + q(url(b, proto, "/call?url=" + q(url(c, proto, "/hello")))))
    runs = []
    for fmt in fmts:
        tid, sid = LL.rand_hex(16), LL.rand_hex(8)
        r = get(exe, proto, certs, target, ctx=T.ctx_args(fmt, tid, sid))
        assert r.lines[0][:3] == ["200", WIRE_PROTO[proto], "5"], r.lines
        runs.append((fmt, r, tid, sid))
        time.sleep(0.3)
    pids = {a.pid, b.pid, c.pid} | {r.pid for _, r, _, _ in runs}
    T.check_chains(w, jaeger, procs, runs, chain_tree(), pids,
                   "%s %s %s" % (title, "-".join(build), proto))


# HTTP/2 chains on two builds (the probes of HTTP/2 servers and clients
# are the same code in every build), every build for HTTP/1.1.
CHAIN_CASES = [pytest.param(b, p, id="%s-%s" % (i, p))
               for b, i in zip(T.BUILDS, T.BUILD_IDS) for p in PROTOS
               if p == "h1" or i in T.FORWARD_IDS]


@pytest.mark.parametrize("build,proto", CHAIN_CASES)
def test_chain(request, weft, jaeger, go_apps, procs, certs, build, proto):
    """client -> a /call -> b /call -> c /hello, all gotls of one build over
    one protocol; a and b forward NO header (in-process links only, rule
    1). Once per context format, one weft for the three: each trace in
    Jaeger must be exactly sid -> a(server) -> a(client) -> b(server) ->
    b(client) -> c(server), or with no context client(client) -> a(server)
    -> ..."""
    run_chain(weft, jaeger, procs, certs, build, proto, T.CTX, False, "chain")


@pytest.mark.parametrize("proto", ["h2", "h2c"])
@pytest.mark.parametrize("build", T.FORWARD_BUILDS, ids=T.FORWARD_IDS)
def test_chain_h2_servers_h1_calls(weft, jaeger, go_apps, procs, certs, build, proto):
    """The chain of test_chain, a and b serving HTTP/2 (`proto`) and
    calling out over HTTP/1.1 (-out h1), forwarding no header: each
    handler's call is the child of its stream's server span in process,
    the handler goroutine being tied to its stream (README, "In-process
    links on Go HTTP/2 servers"). The same tree."""
    run_chain(weft, jaeger, procs, certs, build, proto, T.CTX, False,
              "h2 servers calling over HTTP/1.1", out="h1")


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("build", T.FORWARD_BUILDS, ids=T.FORWARD_IDS)
def test_chain_forwarding(request, weft, jaeger, go_apps, procs, certs, build, proto):
    """The chain of test_chain, a and b copying the incoming B3 /
    traceparent headers onto their call (gotls -propagate), as mesh apps
    do: a(client) is a forwarder's span (rule 4), b(server) its child by
    the wire (rule 2). The same tree, without in-process links."""
    run_chain(weft, jaeger, procs, certs, build, proto, ["b3", "traceparent"], True,
              "forwarding chain")
