"""Issue 13 end to end: weft's own HTTP/2 framing and HPACK decoding
(user/h2.c, hpack.c) on real cleartext HTTP/2 with prior knowledge.

tests/apps/goh2 (golang.org/x/net v0.17.0, built with Go 1.19 and 1.26):
a server that speaks HTTP/2 from its first byte (http2.Server.ServeConn,
no HTTP/1 in front: its SETTINGS go out before it reads the preface, it
reads frame headers and payloads in separate calls) and a client that runs
many requests at once over ONE connection (x/net's http2.Transport), so
streams interleave, HPACK's dynamic table carries context headers from
stream to stream, and request and response bodies come as DATA frames
larger than what weft copies of a socket call.

    sudo python3 -m pytest -q tests/e2e/test_h2c.py

Checked field by field per request (matched by its ?i=N): method, path,
query, status, network.protocol.version "2", peer ports, the trace id and
parent the request's own headers carried (B3 and traceparent alternating),
duration at least the server's delay; with no headers, the server span as
the child of the client span of the same stream (rule 2: matched by the
TCP sequence number of the stream's HEADERS frame); and the exit line
"weft: http2:" shows no connection out of step and no HPACK error.
Also curl --http2 on http:// (Upgrade: h2c, 101, then HTTP/2 on the same
connection) against tests/apps/gotls -proto h2c, and grpc-go over h2c
(tests/apps/gogrpc: unary, failing, server-streaming; rpc.* attributes).
And a connection opened before weft started (goh2 load -warm), taken up
from the middle: test_connection_older_than_weft.
"""
import os
import re
import subprocess
import time

import pytest

import e2e_lib as L
import link_lib as LL
from conftest import start

# (server toolchain, client toolchain)
PAIRS = [("go1.26", "go1.19"), ("go1.19", "go1.26")]
PAIR_IDS = ["server-%s-client-%s" % p for p in PAIRS]
TRACE16 = "4bf92f3577b34da6"	# first half of every trace id the client sends
N, CONC, MS = 40, 8, 20
SPAN_WAIT = float(os.environ.get("WEFT_E2E_H2_SPAN_WAIT", "10"))
# weft's exit detaches the uprobes of every Go binary it probed on the node
# (goprobes_free: one bpf_link destroy per probe); with other tests' Go
# services running that took 56 s here (load average 8-10 on 2 CPUs). This
# file checks the exit line, not how fast weft exits.
STOP_WAIT = float(os.environ.get("WEFT_E2E_H2_STOP_WAIT", "180"))


def goh2(ver):
    exe = os.path.join(L.APPS, ver, "goh2")
    if not os.access(exe, os.X_OK):
        pytest.fail("%s missing: run tests/apps/build.sh" % exe, pytrace=False)
    return exe


def serve(procs, ver):
    return start(lambda: procs.add(LL.Proc([goh2(ver), "serve", "-addr", "127.0.0.1:0"],
                                           service="h2srv", what="goh2 serve %s" % ver)))


def load(ver, url, *args):
    """Run the client to the end: (pid, {i: (status, local port)})."""
    env = {k: v for k, v in L.NO_PROXY_ENV.items() if not k.startswith("OTEL_")}
    env["OTEL_SERVICE_NAME"] = "h2cli"
    cmd = [goh2(ver), "load"] + list(args) + [url]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    if p.returncode != 0:
        pytest.fail("client failed (rc %s): %s\n%s" % (p.returncode, " ".join(cmd),
                                                      err.decode()[-2000:]), pytrace=False)
    got = {}
    for line in out.decode().splitlines():
        i, status, port = line.split()
        got[int(i)] = (int(status), int(port))
    assert len(got) == int(args[args.index("-n") + 1]), out.decode()
    return p.pid, got


def by_i(spans):
    """Spans by the request index in their query (i=N&...)."""
    res = {}
    for s in spans:
        m = re.match(r"i=(\d+)&", L.attrs(s).get("url.query", ""))
        if m:
            res.setdefault(int(m.group(1)), []).append(s)
    return res


def h2_counters(w):
    """The numbers of weft's exit line 'weft: http2: ...'."""
    line = next((ln for ln in w.err if ln.startswith("weft: http2:")), None)
    assert line, "no 'weft: http2:' line in weft's stderr:\n" + w.stderr()
    num = lambda pat: int(re.search(pat + r" (\d+)", line).group(1))
    return {"connections": num(r"connections"), "streams": num(r"streams"),
            "out of step": num(r"out of step"), "dropped": num(r"streams dropped"),
            "hpack": num(r"HPACK errors"), "undecoded": num(r"undecoded"),
            "bad": num(r"bad requests"), "line": line}


def expect_h2_counters(w, min_streams):
    c = h2_counters(w)
    assert c["out of step"] == 0 and c["dropped"] == 0 and c["hpack"] == 0 \
        and c["undecoded"] == 0 and c["bad"] == 0, c["line"]
    assert c["streams"] >= min_streams, c["line"]


def expect_stream_span(s, *, kind, i, srv, ports, method, status, pid):
    """The fields of one stream's span that do not depend on context."""
    a, e = L.attrs(s), L.check_span_format(s)
    port = ports[i][1]

    def eq(what, got, want):
        if got != want:
            e.append("%s = %r, want %r" % (what, got, want))
    eq("kind", s.get("kind"), kind)
    eq("process.pid", L.res(s).get("process.pid"), pid)
    eq("name", s.get("name"), method)
    eq("http.request.method", a.get("http.request.method"), method)
    eq("url.path", a.get("url.path"), "/echo")
    eq("url.query", a.get("url.query"), "i=%d&ms=%d" % (i, MS))
    eq("http.response.status_code", a.get("http.response.status_code"), status)
    eq("network.protocol.version", a.get("network.protocol.version"), "2")
    if kind == "server":
        eq("client.port", a.get("client.port"), port)
        eq("server.port", a.get("server.port"), srv.port)
        dur = s["end_time_unix_nano"] - s["start_time_unix_nano"]
        if dur < MS * 1_000_000:
            e.append("lasts %.3f ms, less than the server's %d ms delay" % (dur / 1e6, MS))
    else:
        eq("network.peer.port", a.get("network.peer.port"), srv.port)
        eq("url.full", a.get("url.full"), "http://127.0.0.1:%d/echo?i=%d&ms=%d" % (srv.port, i, MS))
    return e


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_multiplexed_context(weft, go_apps, procs, pair):
    """40 POSTs of 40000 bytes, 8 streams at a time on one connection, each
    with its own context (B3 on even i, traceparent on odd): one server
    span per stream with that context; no client spans (the client sent
    ids of its own making: rule 3)."""
    srv = serve(procs, pair[0])
    w = weft(ports=[srv.port])
    pid, ports = load(pair[1], srv.url("/echo"), "-c", str(CONC), "-n", str(N), "-ms", str(MS),
                      "-body", "40000", "-ctx", "alt", "-trace", TRACE16)
    w.wait_for(lambda sp: len(L.of_pid(sp, srv.pid, "server")) >= N, SPAN_WAIT)
    w.stop(timeout=STOP_WAIT)
    spans = w.spans()
    got = by_i(L.of_pid(spans, srv.pid, "server"))
    errors = []
    for i in range(N):
        ss = got.get(i, [])
        if len(ss) != 1:
            errors.append("request %d: %d server spans, want 1" % (i, len(ss)))
            continue
        s = ss[0]
        e = expect_stream_span(s, kind="server", i=i, srv=srv, ports=ports, method="POST",
                               status=200, pid=srv.pid)
        tid, sid = "%s%016x" % (TRACE16, i + 1), "a%015x" % (i + 1)
        if s.get("trace_id") != tid or s.get("parent_span_id") != sid:
            e.append("context %s/%s, want %s/%s (sent as %s)" % (
                s.get("trace_id"), s.get("parent_span_id"), tid, sid,
                "b3" if i % 2 == 0 else "traceparent"))
        errors += ["request %d: %s" % (i, x) for x in e]
    assert not L.of_pid(spans, pid, "client"), "client spans of a client that sent its own ids"
    L.assert_ok(errors, spans, what="server spans of multiplexed streams")
    expect_h2_counters(w, N)


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_multiplexed_linked(weft, go_apps, procs, pair):
    """40 GETs, 8 at a time on one connection, no context: a client span and
    a server span per stream, the server span the client span's child in
    its trace (rule 2, by the HEADERS frame's sequence number), nested in
    time."""
    srv = serve(procs, pair[0])
    w = weft(ports=[srv.port])
    pid, ports = load(pair[1], srv.url("/echo"), "-c", str(CONC), "-n", str(N), "-ms", str(MS),
                      "-ctx", "none")
    w.wait_for(lambda sp: len(L.of_pid(sp, srv.pid, "server")) >= N
               and len(L.of_pid(sp, pid, "client")) >= N, SPAN_WAIT)
    w.stop(timeout=STOP_WAIT)
    spans = w.spans()
    srv_s, cli_s = by_i(L.of_pid(spans, srv.pid, "server")), by_i(L.of_pid(spans, pid, "client"))
    errors = []
    for i in range(N):
        ss, cs = srv_s.get(i, []), cli_s.get(i, [])
        if len(ss) != 1 or len(cs) != 1:
            errors.append("request %d: %d server and %d client spans, want 1 each"
                          % (i, len(ss), len(cs)))
            continue
        e = expect_stream_span(ss[0], kind="server", i=i, srv=srv, ports=ports, method="GET",
                               status=200, pid=srv.pid)
        e += expect_stream_span(cs[0], kind="client", i=i, srv=srv, ports=ports, method="GET",
                                status=200, pid=pid)
        if cs[0].get("parent_span_id"):
            e.append("client span has a parent %s: nothing started its trace" % cs[0]["parent_span_id"])
        if (ss[0].get("trace_id"), ss[0].get("parent_span_id")) != \
                (cs[0].get("trace_id"), cs[0].get("span_id")):
            e.append("server span %s/%s is not the child of its client span %s/%s" % (
                ss[0].get("trace_id"), ss[0].get("parent_span_id"),
                cs[0].get("trace_id"), cs[0].get("span_id")))
        e += L.expect_nested(cs[0], ss[0])
        errors += ["request %d: %s" % (i, x) for x in e]
    L.assert_ok(errors, spans, what="spans of multiplexed streams")
    expect_h2_counters(w, 2 * N)


@pytest.mark.parametrize("pair", PAIRS[:1], ids=PAIR_IDS[:1])
def test_error_status(weft, go_apps, procs, pair):
    """A 503 from the server: the server span and the client span are
    errors (HTTP semantic conventions), status 503 on both."""
    srv = serve(procs, pair[0])
    w = weft(ports=[srv.port])
    pid, _ = load(pair[1], srv.url("/status/503"), "-c", "2", "-n", "4", "-ctx", "none")
    w.wait_for(lambda sp: len(L.of_pid(sp, srv.pid, "server")) >= 4
               and len(L.of_pid(sp, pid, "client")) >= 4, SPAN_WAIT)
    w.stop(timeout=STOP_WAIT)
    spans = w.spans()
    both = L.of_pid(spans, srv.pid, "server") + L.of_pid(spans, pid, "client")
    errors = []
    if len(both) != 8:
        errors.append("%d spans, want 4 server and 4 client spans" % len(both))
    for s in both:
        a = L.attrs(s)
        if a.get("http.response.status_code") != 503 or s.get("status") != "error" \
                or a.get("error.type") != "503" or a.get("url.path") != "/status/503" \
                or a.get("network.protocol.version") != "2":
            errors.append("%s span: status %r %r, error.type %r, path %r, version %r" % (
                s.get("kind"), a.get("http.response.status_code"), s.get("status"),
                a.get("error.type"), a.get("url.path"), a.get("network.protocol.version")))
    L.assert_ok(errors, spans, what="503 spans")
    expect_h2_counters(w, 8)


def test_upgrade_h2c(weft, go_apps, procs):
    """curl --http2 on http://: HTTP/1.1 Upgrade: h2c, 101, then HTTP/2 on the
    same connection (tests/apps/gotls -proto h2c: x/net's h2c handler). The
    upgraded request is its 101 exchange (version 1.1); the requests after
    it are HTTP/2 streams (version 2); each server span the child of curl's
    client span (rule 2). Small frames only: the kernel side copies small
    chunks of an HTTP/1 connection whole, but marks a connection HTTP/2
    (every chunk up to 16 KiB) only when it starts with the preface."""
    exe = os.path.join(L.APPS, "go1.26", "gotls")
    if not os.access(exe, os.X_OK):
        pytest.fail("%s missing: run tests/apps/build.sh" % exe, pytrace=False)
    srv = start(lambda: procs.add(LL.Proc([exe, "serve", "-addr", "127.0.0.1:0", "-name", "up",
                                           "-proto", "h2c"], service="up", what="gotls h2c")))
    w = weft(ports=[srv.port])
    paths = ["/hello", "/status/404", "/hello"]
    p = subprocess.run(["curl", "-sS", "--http2", "-o", "/dev/null", "-o", "/dev/null", "-o",
                        "/dev/null", "-w", "%{http_version} %{response_code} %{local_port}\\n"]
                       + [srv.url(x) for x in paths], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=L.NO_PROXY_ENV,
                       timeout=30)
    lines = p.stdout.decode().split("\n")
    assert p.returncode == 0 and len(set(ln.split()[2] for ln in lines if ln)) == 1, \
        "curl: rc %d, %r %r" % (p.returncode, p.stdout, p.stderr)
    w.wait_for(lambda sp: len(L.of_pid(sp, srv.pid, "server")) >= 3
               and len([s for s in sp if s.get("kind") == "client"]) >= 3, SPAN_WAIT)
    w.stop(timeout=STOP_WAIT)
    spans = w.spans()
    ss = L.of_pid(spans, srv.pid, "server")
    cs = sorted((s for s in spans if s.get("kind") == "client"
                 and L.attrs(s).get("server.port") == srv.port),
                key=lambda s: s["start_time_unix_nano"])
    got = [(L.attrs(s).get("url.path"), L.attrs(s).get("http.response.status_code"),
            L.attrs(s).get("network.protocol.version")) for s in ss]
    want = [("/hello", 101, "1.1"), ("/status/404", 404, "2"), ("/hello", 200, "2")]
    errors = []
    if got != want:
        errors.append("server spans %r, want %r" % (got, want))
    if len(cs) != 3:
        errors.append("%d client spans of curl, want 3" % len(cs))
    else:
        for s, c in zip(ss, cs):
            if (s.get("trace_id"), s.get("parent_span_id")) != (c.get("trace_id"), c.get("span_id")):
                errors.append("server span %s is not the child of client span %s" % (
                    L.attrs(s).get("url.path"), L.attrs(c).get("url.path")))
    L.assert_ok(errors, spans, what="spans of an upgraded connection")
    expect_h2_counters(w, 4)


def grpc_call(ver, target, *args):
    """gogrpc call ... TARGET: (pid, output lines)."""
    exe = os.path.join(L.APPS, ver, "gogrpc")
    if not os.access(exe, os.X_OK):
        pytest.fail("%s missing: run tests/apps/build.sh" % exe, pytrace=False)
    env = {k: v for k, v in L.NO_PROXY_ENV.items() if not k.startswith("OTEL_")}
    p = subprocess.Popen([exe, "call"] + list(args) + [target], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate(timeout=60)
    if p.returncode != 0:
        pytest.fail("gogrpc call %s: rc %s\n%s" % (" ".join(args), p.returncode,
                                                  err.decode()[-2000:]), pytrace=False)
    return p.pid, out.decode().split()


@pytest.mark.parametrize("ver", ["go1.19", "go1.26"])
def test_grpc_h2c(weft, go_apps, procs, ver):
    """google.golang.org/grpc over h2c (tests/apps/gogrpc, grpc://): Huffman
    coded fields, the dynamic table, status in trailers. A unary call with
    B3 metadata, one failing with INTERNAL (13), a server-streaming call
    with traceparent: server spans named package.Service/Method with the
    rpc.* attributes, status by the gRPC conventions (13 is the server's
    error; OK is unset), context from the metadata; no client spans (the
    client sent its own ids: rule 3)."""
    exe = os.path.join(L.APPS, ver, "gogrpc")
    srv = start(lambda: procs.add(LL.Proc([exe, "serve", "-addr", "127.0.0.1:0", "-name", "g"],
                                          service="grpc-h2c", what="gogrpc %s" % ver)))
    w = weft(ports=[srv.port])
    target = "grpc://127.0.0.1:%d" % srv.port
    tid = "%s%016x" % (TRACE16, 77)
    calls = [
        (["-method", "Hello", "-b3", "%s-%016x" % (tid, 1)], "Hello", 0, "%016x" % 1),
        (["-method", "Hello", "-n", "13", "-code", "13", "-b3", "%s-%016x" % (tid, 2)],
         "Hello", 13, "%016x" % 2),
        (["-method", "Count", "-n", "4", "-traceparent", "00-%s-%016x-01" % (tid, 3)],
         "Count", 0, "%016x" % 3),
    ]
    for args, _, _, _ in calls:
        grpc_call(ver, target, *args)
    w.wait_for(lambda sp: len(L.of_pid(sp, srv.pid, "server")) >= 3, SPAN_WAIT)
    w.stop(timeout=STOP_WAIT)
    spans = w.spans()
    ss = L.of_pid(spans, srv.pid, "server")
    errors = []
    if len(ss) != 3:
        errors.append("%d server spans, want 3" % len(ss))
    for s, (_, method, code, parent) in zip(ss, calls):
        a = L.attrs(s)
        want = {"rpc.system": "grpc", "rpc.service": "weft.test.Echo", "rpc.method": method,
                "rpc.grpc.status_code": code, "url.path": "/weft.test.Echo/" + method,
                "http.request.method": "POST", "http.response.status_code": 200,
                "network.protocol.version": "2"}
        for k, v in want.items():
            if a.get(k) != v:
                errors.append("%s: %s = %r, want %r" % (method, k, a.get(k), v))
        if s.get("name") != "weft.test.Echo/" + method:
            errors.append("name %r" % s.get("name"))
        if (s.get("trace_id"), s.get("parent_span_id")) != (tid, parent):
            errors.append("%s: context %s/%s, want %s/%s" % (method, s.get("trace_id"),
                                                            s.get("parent_span_id"), tid, parent))
        if s.get("status") != ("error" if code == 13 else "unset"):
            errors.append("%s code %d: status %r" % (method, code, s.get("status")))
    L.assert_ok(errors, spans, what="gRPC server spans")
    expect_h2_counters(w, 3)


def mid_counters(w):
    """The numbers of weft's exit line 'weft: http2 from the middle ...'."""
    line = next((ln for ln in w.err if ln.startswith("weft: http2 from the middle")), None)
    assert line, "no 'weft: http2 from the middle' line in weft's stderr:\n" + w.stderr()
    num = lambda pat: int(re.search(pat + r" (\d+)", line).group(1))
    return {"connections": num(r"\): connections"), "synced": num(r"in step both ways"),
            "given up": num(r"given up"), "streams": num(r"; streams"),
            "by shape": num(r"taken by its value's shape"),
            "hidden": num(r"may have been B3 context, no span"), "line": line}


def go_fields_counters(w):
    """The numbers of weft's exit line 'weft: http2 from the middle, Go servers: ...'."""
    line = next((ln for ln in w.err if ln.startswith("weft: http2 from the middle, Go")), None)
    assert line, "no 'weft: http2 from the middle, Go servers' line:\n" + w.stderr()
    num = lambda pat: int(re.search(pat + r" (\d+)", line).group(1))
    return {"kept": num(r"own decoding"), "filled": num(r"filled in"),
            "ambiguous": num(r"ambiguous"), "records": num(r"decoded-fields records"),
            "line": line}


MID_CASES = [("traceparent", PAIRS[0]), ("traceparent", PAIRS[1]), ("none", PAIRS[0]),
             ("b3", PAIRS[1])]


@pytest.mark.parametrize("ctx,pair", MID_CASES,
                         ids=["%s-%s" % (c, PAIR_IDS[PAIRS.index(p)]) for c, p in MID_CASES])
def test_connection_older_than_weft(weft, go_apps, procs, ctx, pair):
    """A connection open before weft started (goh2 load -warm: 3 requests,
    then it waits while weft starts): its HPACK tables hold entries weft
    never saw. The kernel side takes it up at the first HEADERS frame, the
    agent finds the frame boundaries and decodes what it can (user/h2.c,
    h2_new_midstream). Go names every traceparent by the one before it, so
    its name stays unknown: taken by the value's shape, each server span
    carries the client's context; with no context, a client and a server
    span per stream, linked (rule 2, by stream id); with B3's multiple
    headers the ids' names are unknown and values of 16 or 32 hex digits
    could be them: h2.c keeps the server's requests until the fields the
    Go server decoded itself come (go_h2_fields, attached at the first
    such request: the requests before the probes are in place make no
    span), and the client's requests (its own) make none, counted."""
    srv = serve(procs, pair[0])
    env = {k: v for k, v in L.NO_PROXY_ENV.items() if not k.startswith("OTEL_")}
    cmd = [goh2(pair[1]), "load", "-warm", "3", "-c", "4", "-n", str(N // 2), "-ms", str(MS),
           "-ctx", ctx, "-trace", TRACE16, srv.url("/echo")]
    cli_pid, rc, out, err, w = L.run_after_warmup(
        cmd, "goh2: warm", lambda: weft(ports=[srv.port]), env=env)
    assert rc == 0, "client failed: %s" % err.decode()[-2000:]
    n = N // 2
    ports = {}
    for line in out.decode().splitlines():
        i, status, port = line.split()
        ports[int(i)] = (int(status), int(port))
    assert len(ports) == n, out.decode()
    if ctx == "b3":
        w.wait_for(lambda sp: len(L.of_pid(sp, srv.pid, "server")) >= n // 2, SPAN_WAIT)
        time.sleep(1)
    else:
        w.wait_for(lambda sp: len(L.of_pid(sp, srv.pid, "server")) >= n and
                   (ctx != "none" or len(L.of_pid(sp, cli_pid, "client")) >= n), SPAN_WAIT)
    w.stop(timeout=STOP_WAIT)
    spans = w.spans()
    srv_s, cli_s = by_i(L.of_pid(spans, srv.pid, "server")), by_i(L.of_pid(spans, cli_pid, "client"))
    mc = mid_counters(w)
    errors = []
    if mc["connections"] < 2 or mc["synced"] < 2 or mc["given up"]:
        errors.append("both ends' connection followed from the middle, in step: %s" % mc["line"])
    if any(i >= 1000 for i in list(srv_s) + list(cli_s)):
        errors.append("spans of the warm-up requests, sent before weft started")
    for i in range(n):
        ss, cs = srv_s.get(i, []), cli_s.get(i, [])
        if ctx == "b3" and not ss and not cs:
            continue	# (before the probes were in place: counted below)
        want_cs = 1 if ctx == "none" else 0
        if len(ss) != 1 or len(cs) != want_cs:
            errors.append("request %d: %d server and %d client spans, want 1 and %d"
                          % (i, len(ss), len(cs), want_cs))
            continue
        e = expect_stream_span(ss[0], kind="server", i=i, srv=srv, ports=ports, method="GET",
                               status=200, pid=srv.pid)
        if ctx in ("traceparent", "b3"):
            tid, sid = "%s%016x" % (TRACE16, i + 1), "a%015x" % (i + 1)
            if (ss[0].get("trace_id"), ss[0].get("parent_span_id")) != (tid, sid):
                e.append("context %s/%s, want %s/%s" % (ss[0].get("trace_id"),
                                                        ss[0].get("parent_span_id"), tid, sid))
        else:
            e += expect_stream_span(cs[0], kind="client", i=i, srv=srv, ports=ports,
                                    method="GET", status=200, pid=cli_pid)
            if (ss[0].get("trace_id"), ss[0].get("parent_span_id")) != \
                    (cs[0].get("trace_id"), cs[0].get("span_id")):
                e.append("server span is not the child of its client span")
        errors += ["request %d: %s" % (i, x) for x in e]
    if ctx == "traceparent" and mc["by shape"] < 2 * n:
        errors.append("traceparent of unknown name taken by shape %d times, want >= %d (both "
                      "ends): %s" % (mc["by shape"], 2 * n, mc["line"]))
    if ctx == "b3":
        gc = go_fields_counters(w)
        if mc["hidden"] < n:
            errors.append("the client's requests without a span for possible B3 context %d, "
                          "want >= %d: %s" % (mc["hidden"], n, mc["line"]))
        if len(srv_s) < n // 2 or gc["filled"] != len(srv_s) or gc["kept"] < n:
            errors.append("%d server spans filled in from the Go server's own decoding, want "
                          ">= %d; %s" % (len(srv_s), n // 2, gc["line"]))
    L.assert_ok(errors, spans, what="spans of a connection older than weft")
