"""Hostile traffic, end to end with weft loaded (issue 15): what an attacker,
a broken client or a dying process sends to a traced HTTP port. Each test
starts its own weft, compares the spans with what the real servers (Python's
http.server, the Go net/http server of tests/apps/goserver) actually
answered, and checks weft's exit statistics and a clean exit (0, no
sanitizer or crash report):

* 64 KiB header blocks and 100 000 tiny headers (window 16 KiB: a span
  marked weft.request.head_truncated, counted);
* NUL bytes and invalid UTF-8 in the request line, header names and values:
  the JSON lines and the OTLP export stay valid UTF-8 (U+FFFD);
* header names that look like B3 and invalid B3/traceparent values: a new
  trace, never a child of the bad ids; the invalid ones counted;
* request smuggling shapes (CL+TE, two Content-Lengths, "chunked,
  identity", obs-fold): spans only for what the server answered;
* HTTP-looking bytes inside a binary protocol, TLS on an HTTP port: no spans;
* 10 000 concurrent connections: every span, bounded RSS, map entries freed;
* no response, processes SIGKILLed mid-request: no made-up status;
* fd reuse: a closed fd reopened at once to another server.

  sudo python3 -m pytest -q tests/e2e/test_hostile.py
"""
import os
import re
import resource
import signal
import socket
import selectors
import subprocess
import sys
import time

import pytest

import e2e_lib as L
import hostile_lib as H
from conftest import HOOK_MODES, start_server

TID = "80f198ee56343ba864fe8b2a57d3eff7"
SID = "e457b5a2e4d86bd1"
FFFD = "\ufffd"
# weft detaches its uprobes at exit (one per probed Go binary and site):
# seconds on a busy machine, not a hang
STOP_TIMEOUT = 90


@pytest.fixture
def hweft(request, weft_bin):
    """Factory: hweft(args) starts weft (JSON, stdout kept as bytes) and
    waits until it traces; stopped at teardown, described on failure."""
    runs = []

    def start(args, env=None):
        w = H.RawWeft(list(args), env=env)
        runs.append(w)
        try:
            w.wait_ready()
        except L.Failed as e:
            pytest.fail(str(e), pytrace=False)
        return w
    yield start
    for w in runs:
        try:
            w.stop()
        except L.Failed:
            pass
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for w in runs:
            print(w.describe()[-20000:])


@pytest.fixture(scope="module")
def servers(go_apps):
    """A Go (1.26) and a Python server for the module, by kind."""
    made = {k: start_server(k) for k in ("go1.26", "python")}
    yield made
    for s in made.values():
        s.stop()


def ports(*servers):
    out = []
    for s in servers:
        out += ["-P", str(s.port)]
    return out


def finish(w):
    """Stop weft (SIGINT); assert it exited cleanly; its exit statistics."""
    t = time.monotonic()
    w.stop(timeout=STOP_TIMEOUT)
    print("weft stopped in %.1f s" % (time.monotonic() - t))
    errs = H.clean_exit_errors(w)
    assert not errs, "weft did not exit cleanly:\n  " + "\n  ".join(errs) + "\n" + w.stderr()
    st = H.exit_stats(w)
    print("weft exit statistics:", st)
    return st


def spans_of(w, *servers, pids=()):
    """weft's spans on these servers' ports or of these pids (all with none
    given): see marks_of."""
    ports_ = {s if isinstance(s, int) else s.port for s in servers}
    out = []
    for s in w.spans():
        a = L.attrs(s)
        if (not ports_ and not pids) or a.get("server.port") in ports_ or \
                a.get("network.peer.port") in ports_ or L.res(s).get("process.pid") in pids:
            out.append(s)
    return out


def server_spans(spans, srv, peer_port=None):
    return [s for s in L.of_pid(spans, srv.pid, "server")
            if peer_port is None or L.attrs(s).get("network.peer.port") == peer_port]


def marks_of(*servers, pids=()):
    """Substrings of the JSON lines of spans on these servers' ports or of
    these pids: other tests' traffic on the machine may share weft's
    output (a port filter matches that port in every network namespace)."""
    out = []
    for s in servers:
        port = s if isinstance(s, int) else s.port
        out += ['"server.port":%d,' % port, '"network.peer.port":%d,' % port]
    out += ['"process.pid":%d,' % p for p in pids]
    return out


def wait_quiet(w, marks, settle=0.6, timeout=8):
    """Until no new span line with one of marks came for settle seconds
    (a server span may wait 100 ms for its client's)."""
    end = time.monotonic() + timeout
    n, last = -1, time.monotonic()
    while time.monotonic() < end:
        k = sum(1 for line in list(w.out) if any(m in line for m in marks))
        if k != n:
            n, last = k, time.monotonic()
        elif time.monotonic() - last >= settle:
            return
        time.sleep(0.1)


def check_formats(spans):
    errs = []
    for s in spans:
        errs += ["%s: %s" % (s.get("span_id"), e) for e in L.check_span_format(s)]
    L.assert_ok(errs, spans, what="malformed spans")


# ------------------------------------------------------------ big headers


def test_64k_header_block(hweft, servers):
    """A 64 KiB header block (four times the 16 KiB window): the span comes
    out with what the window held (path, status the server sent) marked
    weft.request.head_truncated, counted by kernel and agent; the next
    request on the same connection is followed again."""
    go, py = servers["go1.26"], servers["python"]
    w = hweft(ports(go, py))
    pad = ["X-Pad-%02d: %s" % (i, "p" * 1040) for i in range(64)]
    big = H.request("GET", "/hello?big=1", ["Host: x", "User-Agent: big-head"] + pad)
    assert len(big) > 64 * 1024
    after = H.request("GET", "/hello?after=1", ["Host: x", "User-Agent: after"])
    seen = {}
    for srv in (go, py):
        s = H.connect(srv.port)
        s.sendall(big)
        r1 = H.read_all(s, 2, until=lambda d: d.endswith(b"hello"))
        s.sendall(after)
        r2 = H.read_all(s, 2, until=lambda d: d.endswith(b"hello"))
        seen[srv.kind] = (s.getsockname()[1], H.parse_responses(r1), H.parse_responses(r2))
        s.close()
    w.wait_for(lambda sp: all(len(server_spans(sp, srv)) >= 2 for srv in (go, py)))
    wait_quiet(w, marks_of(go, py))
    st = finish(w)
    spans = spans_of(w, go, py)
    check_formats(spans)
    errs = []
    for srv in (go, py):
        lport, c1, c2 = seen[srv.kind]
        assert c1 == [200] and c2 == [200], "%s answered %r, %r" % (srv.kind, c1, c2)
        ss = server_spans(spans, srv, lport)
        if len(ss) != 2:
            errs.append("%s: %d server spans, expected 2" % (srv.kind, len(ss)))
            continue
        a0, a1 = L.attrs(ss[0]), L.attrs(ss[1])
        if (a0.get("url.query"), a0.get("http.response.status_code"),
                a0.get("weft.request.head_truncated")) != ("big=1", 200, 1):
            errs.append("%s: the big request's span: %r" % (srv.kind, a0))
        if (a1.get("url.query"), a1.get("http.response.status_code"),
                a1.get("user_agent.original")) != ("after=1", 200, "after") \
                or "weft.request.head_truncated" in a1:
            errs.append("%s: the request after it: %r" % (srv.kind, a1))
    L.assert_ok(errs, spans)
    # each big head is seen twice (client and server side), by both halves
    assert st["header blocks over window (kernel)"] >= 4, st
    assert st["header blocks over window (agent)"] >= 4, st


def test_100k_tiny_headers(hweft, servers):
    """100 000 header lines of 6 bytes (600 KB): weft parses the window's
    worth and stops; the span (if any) carries the status the server really
    sent (Python refuses more than 100 headers with 431; Go takes them)."""
    go, py = servers["go1.26"], servers["python"]
    w = hweft(ports(go, py))
    req = H.request("GET", "/hello?tiny=1", ["Host: x"] + ["X: %d" % (i % 10) for i in range(100000)])
    seen = {}
    for srv in (go, py):
        reply, lport = H.exchange(srv.port, req, idle=3, expect=1)
        seen[srv.kind] = (lport, H.parse_responses(reply))
    w.wait_for(lambda sp: all(server_spans(sp, srv, seen[srv.kind][0]) for srv in (go, py)), 5)
    wait_quiet(w, marks_of(go, py))
    st = finish(w)
    spans = spans_of(w, go, py)
    check_formats(spans)
    print("servers answered:", seen)
    errs = []
    for srv in (go, py):
        lport, codes = seen[srv.kind]
        ss = server_spans(spans, srv, lport)
        got = [L.attrs(s).get("http.response.status_code") for s in ss]
        # Python answers 431 after reading 8 KiB, before the head ends:
        # weft has no request for it (an orphan response, counted)
        if got not in ([], codes[:1]):
            errs.append("%s answered %r, weft's server spans say %r" % (srv.kind, codes, got))
        for s in ss:
            if L.attrs(s).get("weft.request.head_truncated") != 1:
                errs.append("%s: span not marked head_truncated" % srv.kind)
        # this process's client spans: no status but the one it read
        for s in L.of_pid(spans, os.getpid(), "client"):
            a = L.attrs(s)
            if a.get("network.peer.port") == srv.port and \
                    a.get("http.response.status_code") not in (None,) + tuple(codes[:1]):
                errs.append("%s: client span status %r, read %r"
                            % (srv.kind, a.get("http.response.status_code"), codes))
    L.assert_ok(errs, spans)
    assert seen["go1.26"][1] == [200], seen
    assert len(server_spans(spans, go, seen["go1.26"][0])) == 1, "Go's 200 made no span"
    assert st["header blocks over window (agent)"] >= 2, st
    if not server_spans(spans, py, seen["python"][0]):
        assert st["orphan responses"] >= 1, st


def test_response_read_after_peer_reset(hweft, servers):
    """Python's server answers 431 to an 18 KB head after reading 8 KiB of it
    and closes with the rest unread (an RST); the client reads the 431 a
    moment later. Its client span must carry 431: the RST closed TCP at
    once, with the response still queued, and the close record says how
    many bytes were unread, so the close waits for their read."""
    py = servers["python"]
    w = hweft(ports(py))
    req = H.request("GET", "/hello?reset=1", ["Host: x"] + ["X: %d" % (i % 10) for i in range(3000)])
    s = H.connect(py.port)
    s.sendall(req)
    time.sleep(0.3)
    codes = H.parse_responses(H.read_all(s, 1))
    s.close()
    wait_quiet(w, marks_of(py))
    st = finish(w)
    spans = spans_of(w, py)
    assert codes == [431], codes
    cs = [s for s in L.of_pid(spans, os.getpid(), "client")
          if L.attrs(s).get("network.peer.port") == py.port]
    assert [L.attrs(s).get("http.response.status_code") for s in cs] == [431], L.dump(cs)
    assert st["closes after unread bytes"] >= 1, st


# ---------------------------------------------------- NUL, invalid UTF-8


UTF8_CASES = [
    # (label, request bytes, weft parses it)
    ("invalid UTF-8 in the target",
     b"GET /u/caf\xc3\xa9/\xff\xfe?q=\xc0\xaf HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\x80\xe2\x82\r\n\r\n",
     True),
    ("invalid UTF-8 in Host", b"GET /h HTTP/1.1\r\nHost: h\xe9te\r\n\r\n", True),
    ("NUL in the target", b"GET /n\x00ul HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("invalid UTF-8 in a header name", b"GET /hn HTTP/1.1\r\nHost: x\r\nX-\xff\xfe: v\r\n\r\n", False),
    ("NUL in a header name", b"GET /hn0 HTTP/1.1\r\nHost: x\r\nX\x00Y: v\r\n\r\n", False),
    ("NUL in a header value", b"GET /hv0 HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", False),
    ("NUL in the method", b"G\x00T /m HTTP/1.1\r\nHost: x\r\n\r\n", False),
]


def test_nul_and_invalid_utf8(hweft, servers):
    """Every string weft prints or exports is valid UTF-8 (ill-formed bytes
    become U+FFFD: OTLP requires it, and a collector may refuse a whole
    batch over one string); heads with NUL or a non-token byte in a name
    make no span and are counted as not HTTP."""
    go, py = servers["go1.26"], servers["python"]
    sink = H.Sink()
    try:
        w = hweft(ports(go, py) + ["--otlp-endpoint", sink.url, "--otlp-compression", "none",
                                   "--batch-timeout", "100"])
        sent = []
        for srv in (go, py):
            for label, req, parsed in UTF8_CASES:
                reply, lport = H.exchange(srv.port, req + b"", idle=0.3)
                sent.append((srv, label, parsed, lport, H.parse_responses(reply)))
        want = sum(1 for x in sent if x[2] and x[4])
        w.wait_for(lambda sp: sum(len(L.of_pid(sp, x.pid, "server")) for x in (go, py)) >= want)
        wait_quiet(w, marks_of(go, py))
        st = finish(w)
        time.sleep(0.3)
    finally:
        sink.stop()
    bad = w.invalid_utf8_lines()
    assert not bad, "weft printed JSON that is not UTF-8:\n" + "\n".join(bad)
    spans = spans_of(w, go, py)
    check_formats(spans)
    errs = []
    for srv, label, parsed, lport, codes in sent:
        ss = server_spans(spans, srv, lport)
        got = [L.attrs(s).get("http.response.status_code") for s in ss]
        if parsed and codes and got != codes[:1]:
            errs.append("%s, %s: server answered %r, spans say %r" % (srv.kind, label, codes, got))
        if not parsed and ss:
            errs.append("%s, %s: weft made a span of a head it must refuse" % (srv.kind, label))
        for s in ss:
            a = L.attrs(s)
            if label.endswith("target"):
                if a.get("url.path") != "/u/caf\u00e9/" + FFFD * 2 or \
                        a.get("url.query") != "q=" + FFFD * 2 or \
                        a.get("user_agent.original") != "ua" + FFFD * 2:
                    errs.append("%s, %s: %r" % (srv.kind, label, a))
            if label.endswith("Host") and a.get("server.address") != "h" + FFFD + "te":
                errs.append("%s, %s: server.address %r" % (srv.kind, label, a.get("server.address")))
    L.assert_ok(errs, spans)
    # what the exporter sent: every string field valid UTF-8, same text
    assert sink.bodies, "the OTLP sink got nothing"
    ospans, strings = [], []
    for b in sink.bodies:
        sp, st_ = H.otlp_spans(b)
        ospans += sp
        strings += st_
    for where, v in strings:
        try:
            v.decode("utf-8")
        except UnicodeDecodeError:
            errs.append("OTLP %s is not UTF-8: %r" % (where, v))
    paths = {sp["attrs"].get(b"url.path") for sp in ospans}
    if ("/u/caf\u00e9/" + FFFD * 2).encode() not in paths:
        errs.append("OTLP: no span with the repaired url.path; paths %r" % paths)
    L.assert_ok(errs, spans)
    n_refused = sum(1 for x in sent if not x[2])
    assert st["not HTTP"] >= n_refused, st
    assert len(w.spans()) == st["output"], st


# ------------------------------------------------------ invalid context


CTX_CASES = [
    # (label, headers, counted as invalid)
    ("x-b3-traceidx lookalike", ["x-b3-traceidx: " + TID, "x-b3-spanidx: " + SID], False),
    ("x-b3- prefixed lookalike", ["xx-b3-traceid: " + TID, "x-b3-spanid-: " + SID], False),
    ("b3 trace id 33 digits", ["X-B3-TraceId: " + TID + "0", "X-B3-SpanId: " + SID], True),
    ("b3 trace id 8 digits", ["X-B3-TraceId: " + TID[:8], "X-B3-SpanId: " + SID], True),
    ("b3 span id 15 digits", ["X-B3-TraceId: " + TID, "X-B3-SpanId: " + SID[:15]], True),
    ("b3 non-hex trace id", ["X-B3-TraceId: " + TID[:31] + "z", "X-B3-SpanId: " + SID], True),
    ("b3 non-hex span id", ["X-B3-TraceId: " + TID, "X-B3-SpanId: g" + SID[1:]], True),
    ("b3 all-zero trace id", ["X-B3-TraceId: " + "0" * 32, "X-B3-SpanId: " + SID], True),
    ("b3 all-zero span id", ["X-B3-TraceId: " + TID, "X-B3-SpanId: " + "0" * 16], True),
    ("b3 single, bad sampled flag", ["b3: %s-%s-x" % (TID, SID)], True),
    ("b3 single, wrong length", ["b3: %s-%s" % (TID[:20], SID)], True),
    ("traceparent version ff", ["traceparent: ff-%s-%s-01" % (TID, SID)], True),
    ("traceparent bad flags", ["traceparent: 00-%s-%s-0g" % (TID, SID)], True),
    ("traceparent zero parent", ["traceparent: 00-%s-%s-01" % (TID, "0" * 16)], True),
    ("traceparent upper-case", ["traceparent: 00-%s-%s-01" % (TID.upper(), SID)], True),
]


def test_invalid_trace_context(hweft, servers):
    """Look-alike names are no context; invalid B3 and traceparent values are
    ignored (the span starts a new trace, never a child of the bad ids) and
    counted once per request; "x-b3-traceid : v" (space before the colon) is
    a head weft refuses. A valid B3 request is the control. Go and Python
    servers; weft follows their pids only (one count per request, not one
    more for this process's client side)."""
    go, py = servers["go1.26"], servers["python"]
    w = hweft(["-p", str(go.pid), "-p", str(py.pid)])
    cases = CTX_CASES + [("space before the colon", ["x-b3-traceid : " + TID, "x-b3-spanid: " + SID],
                          None),
                         ("valid (control)", ["X-B3-TraceId: " + TID, "X-B3-SpanId: " + SID], False)]
    sent = []
    for srv in (go, py):
        for i, (label, hdrs, _) in enumerate(cases):
            req = H.request("GET", "/hello?case=%d" % i, ["Host: x", "Connection: close"] + hdrs)
            reply, lport = H.exchange(srv.port, req, idle=0.5)
            sent.append((srv, label, hdrs, lport, H.parse_responses(reply)))
    pids = (go.pid, py.pid)
    w.wait_for(lambda sp: sum(len(L.of_pid(sp, p)) for p in pids) >= 2 * len(cases) - 2)
    wait_quiet(w, marks_of(pids=pids))
    st = finish(w)
    spans = spans_of(w, pids=pids)
    check_formats(spans)
    errs = []
    counted_as = {c[0]: c[2] for c in cases}
    for srv, label, hdrs, lport, codes in sent:
        counted = counted_as[label]
        ss = server_spans(spans, srv, lport)
        if counted is None:      # refused head
            if ss:
                errs.append("%s, %s: a span of a head with whitespace before a colon: %r"
                            % (srv.kind, label, [L.attrs(s) for s in ss]))
            continue
        if len(ss) != 1 or L.attrs(ss[0]).get("http.response.status_code") != codes[0]:
            errs.append("%s, %s: server answered %r, spans %r"
                        % (srv.kind, label, codes, [L.attrs(s) for s in ss]))
            continue
        s = ss[0]
        if label.startswith("valid"):
            if (s["trace_id"], s["parent_span_id"]) != (TID, SID):
                errs.append("%s, control: not a child of the valid B3 context: %s %s"
                            % (srv.kind, s["trace_id"], s["parent_span_id"]))
        elif s["parent_span_id"] or TID[16:] in s["trace_id"] or TID[:16] in s["trace_id"]:
            errs.append("%s, %s: span %s/%s parent %r: a child of the invalid context"
                        % (srv.kind, label, s["trace_id"], s["span_id"], s["parent_span_id"]))
    L.assert_ok(errs, spans)
    want = 2 * sum(1 for c in CTX_CASES if c[2])
    assert st["invalid"] == want, "trace context: invalid %d, expected %d" % (st["invalid"], want)


# ---------------------------------------------------- smuggling shapes


def _chunked_then(next_req, cl):
    return H.request("POST", "/echo", ["Host: x", "Content-Length: %d" % cl,
                                       "Transfer-Encoding: chunked"], b"0\r\n\r\n" + next_req)


SMUGGLE = [
    # (label, bytes; one connection each)
    ("CL and TE, CL short", _chunked_then(H.request("GET", "/hello?n=1", ["Host: x"]), 3)),
    ("CL and TE, CL spans the next request",
     _chunked_then(H.request("GET", "/hello?n=2", ["Host: x"]), 40)),
    ("TE before CL", H.request("POST", "/echo", ["Host: x", "Transfer-Encoding: chunked",
                                                  "Content-Length: 4"], b"4\r\nabcd\r\n0\r\n\r\n")
     + H.request("GET", "/hello?n=3", ["Host: x"])),
    ("two Content-Lengths", H.request("POST", "/echo", ["Host: x", "Content-Length: 5",
                                                         "Content-Length: 40"],
                                       b"hello" + H.request("GET", "/hello?n=4", ["Host: x"]))),
    ("Transfer-Encoding: chunked, identity",
     H.request("POST", "/echo", ["Host: x", "Transfer-Encoding: chunked, identity"],
               b"5\r\nhello\r\n0\r\n\r\n") + H.request("GET", "/hello?n=5", ["Host: x"])),
    ("obs-fold", H.request("GET", "/hello?n=6", ["Host: x", "X-Folded: a", "  b"])
     + H.request("GET", "/hello?n=7", ["Host: x"])),
    ("bare LF line ends", b"GET /hello?n=8 HTTP/1.1\nHost: x\n\n"),
]


def test_request_smuggling_shapes(hweft, servers):
    """Every span weft makes is an exchange the server answered: same order,
    same status, no span for a request the server never saw as one (a body
    read as a request or a request read as a body)."""
    go, py = servers["go1.26"], servers["python"]
    w = hweft(ports(go, py))
    sent = []
    for srv in (go, py):
        for label, data in SMUGGLE:
            reply, lport = H.exchange(srv.port, data, idle=0.4)
            sent.append((srv, label, lport, H.parse_responses(reply)))
    wait_quiet(w, marks_of(go, py), settle=1.0)
    st = finish(w)
    spans = spans_of(w, go, py)
    check_formats(spans)
    errs, table = [], []
    for srv, label, lport, codes in sent:
        ss = server_spans(spans, srv, lport)
        got = [(L.attrs(s).get("url.path"), L.attrs(s).get("http.response.status_code"))
               for s in ss]
        table.append("%-7s %-40s server: %-16s weft: %r" % (srv.kind, label, codes, got))
        # in order, each span's status the next one the server sent
        i = 0
        for path, code in got:
            while i < len(codes) and codes[i] != code:
                i += 1
            if i == len(codes):
                errs.append("%s, %s: span %s %r is no response the server sent (%r)"
                            % (srv.kind, label, path, code, codes))
                break
            i += 1
        if len(got) > len(codes):
            errs.append("%s, %s: %d spans for %d responses" % (srv.kind, label, len(got), len(codes)))
    print("\n".join(table))
    L.assert_ok(errs, spans)
    # what weft must follow exactly (both servers take TE over CL)
    for srv, label, lport, codes in sent:
        if label.startswith(("CL and TE", "TE before CL", "bare LF")):
            got = [L.attrs(s).get("http.response.status_code")
                   for s in server_spans(spans, srv, lport)]
            if got != codes:
                errs.append("%s, %s: server answered %r, weft's spans %r"
                            % (srv.kind, label, codes, got))
    L.assert_ok(errs, spans)
    assert st["not HTTP"] >= 2, st  # two Content-Lengths, obs-fold: refused heads
    assert len(w.spans()) == st["output"], st


# ----------------------------------------------- binary protocols, TLS


def test_http_bytes_in_binary_protocol_and_tls(hweft, servers):
    """A length-prefixed binary protocol whose frames hold "GET / HTTP/1.1"
    (in the middle of a write, and as the start of one), and real TLS
    handshakes (openssl s_client, Python ssl) on the plain-HTTP ports: no
    spans; the servers' "400 Bad Request" to the garbage is an orphan
    response, counted, never a span."""
    go, py = servers["go1.26"], servers["python"]
    fr = H.Helper("frames")
    try:
        w = hweft(ports(go, py) + ["-P", str(fr.port)])
        req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        frame = len(b"\x01\x02" + req + b"\x03").to_bytes(4, "big") + b"\x01\x02" + req + b"\x03"
        # HTTP inside a frame, one write, to the HTTP servers and the frame server
        for port in (go.port, py.port, fr.port):
            H.exchange(port, frame * 3, idle=0.3)
        # the frame's payload starts a write: to the kernel it begins like a
        # request; the frame server echoes it as length, then payload
        H.exchange(fr.port, [len(req).to_bytes(4, "big"), req], pause=0.05, idle=0.3)
        tls = []
        for srv in (go, py):
            p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
                                "-servername", "x"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
            tls.append(p.returncode)
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                try:
                    with ctx.wrap_socket(s, server_hostname="x") as t:
                        t.sendall(req)
                except (ssl.SSLError, OSError) as e:
                    tls.append(type(e).__name__)
        wait_quiet(w, marks_of(go, py, fr.port))
        st = finish(w)
    finally:
        fr.stop()
    mine = {go.port, py.port, fr.port}
    spans = [s for s in spans_of(w) if L.attrs(s).get("server.port") in mine or
             L.attrs(s).get("network.peer.port") in mine]
    print("TLS clients ended with", tls)
    assert not spans, "spans made of binary or TLS traffic:\n" + L.dump(spans)
    # each server answered its garbage with 400: orphan responses, not spans
    assert st["orphan responses"] >= 2, st


def test_binary_protocol_taken_for_http2_stops_being_copied(hweft):
    """A binary protocol whose first write looks like an HTTP/2 HEADERS
    frame header (the kernel side's test for a connection open before
    weft started) makes the kernel side follow the connection and copy
    its writes whole. The agent never finds HTTP/2 frames in what comes
    next and gives the connection up after 16 chunks; it then asks the
    kernel side to stop copying it, and the hundreds of writes after that
    cost no record: both ends' sockets stopped, counted, no span."""
    sink = H.Helper("silent")
    try:
        w = hweft(["-P", str(sink.port)])
        with H.connect(sink.port) as s:
            # HEADERS (type 1), END_HEADERS, stream 1, 10 bytes of payload,
            # and 5 bytes more: a frame header to the kernel side, but no
            # frame boundary at the chunk's end to the agent
            s.sendall(b"\x00\x00\x0a\x01\x04\x00\x00\x00\x01" + b"\x82" * 10 + b"\xff" * 5)
            time.sleep(0.2)
            for _ in range(24):		# no frame walks to the end of these
                s.sendall(b"\xff" * 100)
                time.sleep(0.01)
            time.sleep(0.5)			# the agent gives up, and asks
            for _ in range(300):
                s.sendall(b"\xff" * 1000)
                time.sleep(0.002)
            time.sleep(0.3)
        time.sleep(0.5)
        st = finish(w)
    finally:
        sink.stop()
    line = next((ln for ln in w.err if ln.startswith("weft: http2:")), "")
    m = re.search(r"asked to stop copying them (\d+) \(stopped (\d+), table full (\d+)\)", line)
    assert m, "no stop figures in weft's http2 line:\n" + w.stderr()
    asked, stopped, full = (int(x) for x in m.groups())
    mid = next((ln for ln in w.err if ln.startswith("weft: http2 from the middle (")), "")
    print(line)
    print(mid)
    assert asked == 2 and stopped == 2 and full == 0, line
    # 2 sockets x (1 + 24) chunks before the stop, at most; then nothing
    # of the 300 x 2 calls after it (a read may join several writes)
    assert st["records"] < 150, st
    assert st["spans"] == 0, st


# ------------------------------------------------ 10k connections


# TCP states in which a socket has not yet passed TCP_CLOSE (a TIME-WAIT
# socket has: the kernel keeps only a small stand-in for it).
_OPEN_STATES = ("ESTAB", "CLOSE-WAIT", "FIN-WAIT-1", "FIN-WAIT-2", "LAST-ACK", "CLOSING")


def kernel_open(port):
    """Sockets to or from PORT on loopback the kernel has not closed, and a
    count per state, from ss."""
    out = subprocess.run(["ss", "-Htna", "( sport = :%d or dport = :%d )" % (port, port)],
                         capture_output=True, text=True, check=True).stdout
    states = {}
    for line in out.splitlines():
        st = line.split()[0] if line.split() else ""
        states[st] = states.get(st, 0) + 1
    return sum(v for k, v in states.items() if k in _OPEN_STATES), states


def test_10k_concurrent_connections(hweft, servers):
    """10 000 connections open at once (both ends traced: 20 000 sockets),
    one request each: every exchange a span on both sides, weft's
    connection table back to zero, RSS growth bounded."""
    go = servers["go1.26"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 10000
    if soft < want + 500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want + 500), hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    n = min(want, soft - 400)
    if n < want:
        print("RLIMIT_NOFILE hard limit %d: %d connections instead of %d" % (hard, n, want))
    w = hweft(ports(go) + ["--stats", "1"])
    rss0 = w.rss_kb()
    req = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
    socks, t0 = [], time.monotonic()
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", go.port), timeout=30)
            socks.append(s)
        sel = selectors.DefaultSelector()
        for s in socks:
            s.sendall(req)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, [b""])
        t_open = time.monotonic() - t0
        left, deadline = n, time.monotonic() + 60
        while left and time.monotonic() < deadline:
            for key, _ in sel.select(1):
                b = key.fileobj.recv(4096)
                key.data[0] += b
                if key.data[0].endswith(b"hello") or not b:
                    sel.unregister(key.fileobj)
                    left -= 1
        answered = n - left
        rss_peak = w.rss_kb()
    finally:
        for s in socks:
            s.close()
    t_all = time.monotonic() - t0
    assert left == 0, "%d of %d connections got no answer" % (left, n)

    def done(_):
        k = 0
        for line in list(w.out):
            if ('"process.pid":%d' % go.pid) in line and '"kind":"server"' in line:
                k += 1
        return k >= n
    w.wait_for(done, 30)
    # --stats lines until the close records are all in (one a second).
    # weft rightly follows a connection the kernel has not closed yet: in
    # one CI run 358 stayed open for 15 s, and whether the server had
    # closed them was not known. So the kernel is asked too.
    end, seen_lines = time.monotonic() + 15, len(H.periodic_stats(w))
    while time.monotonic() < end:
        time.sleep(0.5)
        ps = H.periodic_stats(w)
        if len(ps) >= seen_lines + 2 and ps[-1][1] <= 50 + kernel_open(go.port)[0]:
            break
    k_open, k_states = kernel_open(go.port)
    rss1 = w.rss_kb()
    print("--stats (spans, connections open):", H.periodic_stats(w)[-8:])
    print("sockets on port %d the kernel still has open: %d %s" % (go.port, k_open, k_states))
    open_after = H.periodic_stats(w)[-1][1]
    st = finish(w)
    # weft's own high-water mark: the 1 s samples of --stats can fall
    # before and after a burst that opens and closes within a second
    peak_open = H.peak_connections(w)
    assert peak_open is not None, "no '(peak N)' in weft's stats lines"
    spans = spans_of(w, go)
    ss = [s for s in spans if L.res(s).get("process.pid") == go.pid and s["kind"] == "server"]
    cs = [s for s in spans if L.res(s).get("process.pid") == os.getpid() and s["kind"] == "client"]
    print("connections %d (answered %d) in %.1f s (all open after %.1f s); server spans %d, "
          "client spans %d; weft connections open at peak %d, after the closes %d; "
          "weft VmRSS %d kB before, %d kB with all open, %d kB after (+%d kB)"
          % (n, answered, t_all, t_open, len(ss), len(cs), peak_open, open_after,
             rss0, rss_peak, rss1, rss1 - rss0))
    lost = st["ring buffer full"]
    assert len(ss) >= n - lost and len(cs) >= n - lost, st
    if not lost:
        assert len(ss) == n and len(cs) == n
    bad = [s for s in ss if L.attrs(s).get("http.response.status_code") != 200]
    assert not bad, L.dump(bad[:5])
    assert len({s["span_id"] for s in spans}) == len(spans), "duplicate span ids"
    assert open_after <= 50 + k_open, ("weft still follows %d connections after all closed "
                                       "(the kernel has %d open: %s)" % (open_after, k_open, k_states))
    # generous: about 5 KiB per connection followed at once is measured
    # (a window-sized head buffer per stream made it 35 KiB), and malloc
    # keeps the peak after the closes
    assert rss1 - rss0 < 10 * peak_open + 32 * 1024, \
        "weft RSS grew by %d kB for %d connections" % (rss1 - rss0, peak_open)
    assert rss1 < 512 * 1024, "weft RSS %d kB" % rss1
    assert st["closed before response"] == 0 and st["too many pipelined"] == 0, st


# ---------------------------------------- the kernel's table overflows


def test_connection_table_overflow_counted(hweft, servers):
    """More sockets than --max-connections (the kernel side's LRU table):
    the least recently used are pushed out, and each comes back with its
    next request as a new connection. Every request is still a span on
    both ends, and the agent counts each connection it lost that way."""
    go = servers["go1.26"]
    n, table = 300, 64          # 600 sockets (both ends traced), 64 slots
    w = hweft(ports(go) + ["--max-connections", str(table)])
    socks = []

    def round_(tag):
        for i, s in enumerate(socks):
            s.sendall(b"GET /hello?%s=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (tag, i))
            buf = b""
            while not buf.endswith(b"hello"):
                b = s.recv(4096)
                assert b, "connection %d closed" % i
                buf += b

    try:
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", go.port), timeout=10))
        round_(b"one")
        round_(b"two")     # every socket went out of the table meanwhile

        def done(_):
            return sum(1 for line in list(w.out)
                       if ('"process.pid":%d' % go.pid) in line and '"kind":"server"' in line) >= 2 * n
        w.wait_for(done, 30)
    finally:
        for s in socks:
            s.close()
    st = finish(w)
    spans = spans_of(w, go)
    ss = [sp for sp in spans if L.res(sp).get("process.pid") == go.pid and sp["kind"] == "server"]
    cs = [sp for sp in spans if L.res(sp).get("process.pid") == os.getpid() and sp["kind"] == "client"]
    lost = st["connections lost by the kernel side"]
    print("server spans %d, client spans %d of %d requests each; connections lost %d "
          "(requests with them %d)" % (len(ss), len(cs), 2 * n, lost, st["requests with them"]))
    assert st["ring buffer full"] == 0, st
    assert len(ss) == 2 * n and len(cs) == 2 * n, (len(ss), len(cs))
    for tag in ("one", "two"):
        got = {L.attrs(sp).get("url.query") for sp in ss
               if (L.attrs(sp).get("url.query") or "").startswith(tag + "=")}
        assert len(got) == n, "%s: %d distinct requests" % (tag, len(got))
    # about all 600 sockets left the 64-slot table between the rounds
    assert 2 * n - 4 * table <= lost <= 2 * n, st
    assert st["requests with them"] == 0, st   # each round was answered


# -------------------------------------- no response, killed mid-request


def _spawn_client(port, data, then_sleep):
    code = ("import socket,sys,time\n"
            "s=socket.create_connection(('127.0.0.1',%d))\n"
            "s.sendall(%r)\n"
            "print('sent',flush=True)\n"
            "time.sleep(%f)\n" % (port, data, then_sleep))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert L._readline_timeout(p.stdout, 10).startswith(b"sent")
    return p


def test_no_response_and_killed_mid_request(hweft, fresh_server, go_apps):
    """A server that never answers (client gives up; connection still open
    when weft stops), a server SIGKILLed while handling, clients SIGKILLed
    half way through a head and while waiting: each exchange ends as
    closed-before-response or incomplete, counted; no span carries a status
    the server did not send."""
    silent = H.Helper("silent")
    py = fresh_server("python")
    go = fresh_server("go1.26")
    victim = fresh_server("python")
    hang = None
    try:
        w = hweft(ports(py, go, victim) + ["-P", str(silent.port)])
        # 1. never answered, client closes after 300 ms
        s = H.connect(silent.port)
        gone_port = s.getsockname()[1]
        s.sendall(H.request("GET", "/never", ["Host: x"]))
        time.sleep(0.3)
        s.close()
        # 2. never answered, still open when weft stops
        hang = H.connect(silent.port)
        hang.sendall(H.request("GET", "/hang", ["Host: x"]))
        # 3. the server is SIGKILLed while it handles /slow
        k = H.connect(victim.port)
        k.sendall(H.request("GET", "/slow?ms=5000", ["Host: x"]))
        time.sleep(0.3)
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait()
        killed_reply = H.read_all(k, 2)
        k.close()
        # 4. clients SIGKILLed: half a head; a whole request, before the answer
        clients = {}
        for srv in (py, go):
            half = _spawn_client(srv.port, b"GET /half HTTP/1.1\r\nHost: x\r\nX-Pa", 30)
            whole = _spawn_client(srv.port, H.request("GET", "/slow?ms=600", ["Host: x"]), 30)
            time.sleep(0.2)
            for p in (half, whole):
                p.send_signal(signal.SIGKILL)
                p.wait()
            clients[srv.kind] = (half.pid, whole.pid)
        time.sleep(1.0)   # the /slow handlers answer into closed sockets
        wait_quiet(w, marks_of(py, go, victim, silent.port))
        st = finish(w)
    finally:
        if hang:
            hang.close()
        silent.stop()
    spans = spans_of(w, py, go, victim, silent.port)
    check_formats(spans)
    for s in spans:
        a = L.attrs(s)
        print("%-6s pid %-7s %-14s status %-4s %s %s" % (
            s["kind"], L.res(s).get("process.pid"), a.get("url.path"),
            a.get("http.response.status_code"), s["status"], s.get("status_message", "")))
    assert killed_reply == b"", "the killed server answered %r" % killed_reply
    errs = []
    for s in spans:
        a = L.attrs(s)
        path, code = a.get("url.path"), a.get("http.response.status_code")
        if path in ("/never", "/hang", "/half") and code is not None:
            errs.append("%s: status %r made up" % (path, code))
        if path == "/slow" and s["kind"] == "server" and L.res(s)["process.pid"] == victim.pid \
                and code is not None:
            errs.append("killed server: status %r made up" % code)
        if path == "/slow" and code not in (None, 200):
            errs.append("/slow: status %r" % code)
        if path == "/half":
            errs.append("a span of half a head: %r" % a)
        if code is None and s["status"] != "error":
            errs.append("%s: no response, but status %r" % (path, s["status"]))
    never = [s for s in spans if L.attrs(s).get("url.path") == "/never" and s["kind"] == "server"
             and L.attrs(s).get("network.peer.port") == gone_port]
    if never and L.attrs(never[0]).get("error.type") not in ("connection_closed", "connection_reset"):
        errs.append("/never: %r" % L.attrs(never[0]))
    L.assert_ok(errs, spans)
    # /never on both sides, the killed /slow on both, the killed clients' /slow
    assert st["closed before response"] >= 4, st
    # /hang on both sides: still waiting when weft stopped
    assert st["incomplete at exit"] >= 2, st


# ------------------------------------------------------------ fd reuse


@pytest.mark.parametrize("hooks", HOOK_MODES)
def test_fd_reuse_after_close(hweft, servers, hooks):
    """A connection is closed and the next socket, at once given the same fd
    number, connects to another server: every span names the right peer and
    path (the syscalls hooks find the socket by fd). Half the time the first
    connection is closed before its response is read."""
    go, py = servers["go1.26"], servers["python"]
    w = hweft(ports(go, py) + ["--hooks", hooks])
    rounds, reused = 25, 0
    for i in range(rounds):
        a = H.connect(go.port)
        fd = a.fileno()
        a.sendall(H.request("GET", "/hello?to=go&i=%d" % i, ["Host: go"]))
        if i % 2 == 0:
            H.read_all(a, 2, until=lambda d: d.endswith(b"hello"))
        a.close()
        b = H.connect(py.port)
        reused += b.fileno() == fd
        b.sendall(H.request("GET", "/hello?to=py&i=%d" % i, ["Host: py"]))
        H.read_all(b, 2, until=lambda d: d.endswith(b"hello"))
        b.close()
    assert reused == rounds, "fd numbers were reused %d times of %d" % (reused, rounds)
    w.wait_for(lambda sp: len(L.of_pid(sp, py.pid, "server")) >= rounds and
               len(L.of_pid(sp, os.getpid(), "client")) >= rounds * 3 // 2)
    wait_quiet(w, marks_of(go, py))
    st = finish(w)
    spans = spans_of(w, go, py)
    check_formats(spans)
    errs = []
    port_of = {"go": go.port, "py": py.port}
    for s in spans:
        a = L.attrs(s)
        q = dict(kv.split("=") for kv in (a.get("url.query") or "").split("&") if "=" in kv)
        to = q.get("to")
        if to not in port_of:
            errs.append("span without a known target: %r" % a)
            continue
        if s["kind"] == "client":
            if L.res(s).get("process.pid") != os.getpid() or a.get("network.peer.port") != port_of[to] \
                    or a.get("server.address") != to:
                errs.append("client span for %s: peer port %r, server.address %r"
                            % (to, a.get("network.peer.port"), a.get("server.address")))
        else:
            want_pid = go.pid if to == "go" else py.pid
            if L.res(s).get("process.pid") != want_pid or a.get("server.port") != port_of[to]:
                errs.append("server span for %s in pid %r, server.port %r"
                            % (to, L.res(s).get("process.pid"), a.get("server.port")))
    L.assert_ok(errs, spans)
    to_py = [s for s in spans if "to=py" in (L.attrs(s).get("url.query") or "")]
    assert len(to_py) == 2 * rounds, "%d spans of the %d requests to Python (both sides)" % (
        len(to_py), rounds)
    assert st["spans"] >= 3 * rounds, st
