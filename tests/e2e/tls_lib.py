"""Helpers for the HTTPS / HTTP/2 / gRPC end-to-end tests (issue 13:
tests/e2e/test_go_tls.py, test_grpc.py): a self-signed CA made with the
openssl CLI, the Go test apps tests/apps/gotls and gogrpc in each build
variant (plain, stripped, PIE, CGO; tests/apps/build.sh), a client run that
records its pid, times and local ports, and field-by-field checks of HTTP/2
and gRPC spans on top of e2e_lib.expect_http_span.
"""
import os

import pytest
import shutil
import subprocess
import time

import e2e_lib as L
import link_lib as LL

# (Go toolchain, build variant): every toolchain plain and stripped, PIE and
# CGO with one toolchain each (the other combinations are built too).
# WEFT_E2E_GO_BUILDS=go1.26-stripped,go1.19-plain runs only those (a
# shorter suite); unset: all six.
BUILDS = [("go1.26", "plain"), ("go1.26", "stripped"), ("go1.19", "plain"),
          ("go1.19", "stripped"), ("go1.26", "pie"), ("go1.19", "cgo")]
_only = [x for x in os.environ.get("WEFT_E2E_GO_BUILDS", "").split(",") if x]
BUILDS = [b for b in BUILDS if not _only or "%s-%s" % b in _only]
BUILD_IDS = ["%s-%s" % b for b in BUILDS]
# the builds of the context-forwarding chains (fewer: what they add is rule 4)
FORWARD_IDS = [x for x in BUILD_IDS if x in ("go1.26-stripped", "go1.19-plain")]
FORWARD_BUILDS = [b for b, x in zip(BUILDS, BUILD_IDS) if x in FORWARD_IDS]
# Context formats a client sends; "none": no header (the trace starts at the
# client's span and the server span is its child, README Linking rules 6, 2).
CTX = ["b3", "traceparent", "none"]
# how long Jaeger may take to show all spans of a trace that weft printed
JAEGER_WAIT = float(os.environ.get("WEFT_E2E_JAEGER_WAIT", "30"))
# how long weft may take to print the spans of one test's traffic
SPAN_WAIT = float(os.environ.get("WEFT_E2E_TLS_SPAN_WAIT", "8"))


def app(ver, variant, name):
    """build/apps/VER/NAME[-VARIANT]; L.Failed when it was not built."""
    exe = os.path.join(L.APPS, ver, name if variant == "plain" else "%s-%s" % (name, variant))
    if not os.access(exe, os.X_OK):
        raise L.Failed("%s missing: run tests/apps/build.sh" % exe)
    return exe


# ------------------------------------------------------------ certificates


class Certs:
    """A CA and a server certificate for 127.0.0.1 and localhost (ECDSA
    P-256, valid 2 days), made with the openssl CLI in `d`."""

    def __init__(self, d):
        if not shutil.which("openssl"):
            raise L.Failed("openssl missing (Debian package openssl; scripts/install-deps.sh --test)")
        d = str(d)
        self.ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
        self.cert, self.key = os.path.join(d, "srv.pem"), os.path.join(d, "srv.key")
        csr, ext = os.path.join(d, "srv.csr"), os.path.join(d, "srv.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        self._ssl(["req", "-x509"] + ec + ["-keyout", ca_key, "-out", self.ca, "-days", "2",
                   "-subj", "/CN=weft e2e CA", "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        self._ssl(["req"] + ec + ["-keyout", self.key, "-out", csr, "-subj", "/CN=localhost"])
        self._ssl(["x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key,
                   "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", ext])
        self._ssl(["verify", "-CAfile", self.ca, self.cert])

    @staticmethod
    def _ssl(args):
        p = subprocess.run(["openssl"] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise L.Failed("openssl %s: %s" % (" ".join(args), p.stdout.decode()[-2000:]))


# ------------------------------------------------------------------ clients


class ClientRun:
    pass


def run_client(cmd, timeout=30):
    """Run a client to completion: .pid, .t0/.t1 (time.time_ns() around it),
    .rc, .lines (stdout split), .err, .ports (local ports it printed last on
    each line), .exe and .service (its service.name: the executable's name,
    as it runs with no OTEL_SERVICE_NAME: a client that lives a few ms may
    be gone before weft reads /proc/PID/environ, which is another test)."""
    env = {k: v for k, v in L.NO_PROXY_ENV.items() if not k.startswith("OTEL_")}
    r = ClientRun()
    r.cmd, r.service = cmd, os.path.basename(cmd[0])
    r.t0 = time.time_ns()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    r.pid = p.pid
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    r.t1 = time.time_ns()
    r.rc, r.err = p.returncode, err.decode("utf-8", "replace")
    r.lines = [x.split() for x in out.decode("utf-8", "replace").splitlines() if x.strip()]
    r.ports = [int(x[-1]) for x in r.lines if x and x[-1].isdigit()]
    r.exe = os.path.basename(cmd[0])
    if r.rc != 0:
        raise L.Failed("client failed (rc %s): %s\nstdout: %s\nstderr: %s"
                       % (r.rc, " ".join(cmd), r.lines, r.err[-2000:]))
    return r


def ctx_args(fmt, tid, sid, grpc=False):
    """The client flags that send context `fmt` with trace tid, span sid."""
    if fmt == "b3":
        if grpc:
            return ["-b3", "%s-%s" % (tid, sid)]
        return ["-H", "X-B3-TraceId: " + tid, "-H", "X-B3-SpanId: " + sid,
                "-H", "X-B3-Sampled: 1"]
    if fmt == "traceparent":
        v = "00-%s-%s-01" % (tid, sid)
        return ["-traceparent", v] if grpc else ["-H", "traceparent: " + v]
    assert fmt == "none"
    return []


# -------------------------------------------------------------- span checks


def spans_of(spans, pid, kind):
    return L.of_pid(spans, pid, kind)


def by_run(spans, runs, slack_ns=100_000_000):
    """Split spans among client runs made one after the other (0.3 s apart):
    a span belongs to the run whose [t0, t1] (+- slack) holds its start.
    Returns ([spans of run 0, ...], spans of no run)."""
    got, rest = [[] for _ in runs], []
    for s in spans:
        st = s.get("start_time_unix_nano", 0)
        for i, r in enumerate(runs):
            if r.t0 - slack_ns <= st <= r.t1 + slack_ns:
                got[i].append(s)
                break
        else:
            rest.append(s)
    return got, rest


def stop_weft(w):
    """Stop weft (SIGINT); [] or the error (it did not exit in time, or
    exited non-zero). The spans it printed are still checked."""
    try:
        rc = w.stop()
    except L.Failed as e:
        return ["weft: %s" % str(e).splitlines()[0]]
    return [] if rc == 0 else ["weft exited with %s after SIGINT" % rc]


def wait_counts(w, want, timeout=SPAN_WAIT):
    """Wait until weft printed, for each (pid, kind) of `want`, at least that
    many spans (or the timeout). Returns True when all were there."""
    def done(spans):
        return all(len(L.of_pid(spans, pid, kind)) >= n for (pid, kind), n in want.items())
    return w.wait_for(done, timeout)


# errors of expect_http_span that the HTTP/2 and gRPC checks replace with their own
_REPLACED = ("name ", "network.protocol.version = ")


def expect_span(span, *, version, scheme, name=None, rpc=None, **kw):
    """expect_http_span (kind, method, path, status, addresses, ports,
    resource, times), plus: network.protocol.version `version` ("1.1" or
    "2"), url.scheme (server) or the scheme of url.full (client) `scheme`,
    the span name (`name`, default: expect_http_span's rule), and for gRPC
    (rpc = (service, method, code)) rpc.system "grpc", rpc.service,
    rpc.method, rpc.grpc.status_code. Returns errors."""
    errs = [e for e in L.expect_http_span(span, **kw)
            if not (e.startswith(_REPLACED) and (name is not None or
                                                 e.startswith(_REPLACED[1])))]
    a = L.attrs(span)

    def eq(what, got, want):
        if got != want:
            errs.append("%s = %r, expected %r" % (what, got, want))
    eq("network.protocol.version", a.get("network.protocol.version"), version)
    if name is not None:
        eq("name", span.get("name"), name)
    if kw["kind"] == "server":
        eq("url.scheme", a.get("url.scheme"), scheme)
    elif "url.full" in a and not str(a["url.full"]).startswith(scheme + "://"):
        errs.append("url.full %r is not a %s:// URL" % (a["url.full"], scheme))
    if rpc is not None:
        svc, method, code = rpc
        eq("rpc.system", a.get("rpc.system"), "grpc")
        eq("rpc.service", a.get("rpc.service"), svc)
        eq("rpc.method", a.get("rpc.method"), method)
        eq("rpc.grpc.status_code", a.get("rpc.grpc.status_code"), code)
        if "rpc.grpc.status_code" in a and (not isinstance(a["rpc.grpc.status_code"], int)
                                            or isinstance(a["rpc.grpc.status_code"], bool)):
            errs.append("rpc.grpc.status_code is not an integer")
    return errs


def expect_context(server_spans, client_spans, fmt, tid, sid):
    """Trace context: with a header, each server span is in trace tid, child
    of sid, and the client (which made sid itself: rule 3) has no span; with
    none, each server span is the child of the client span of the same
    exchange (rule 2), in its trace, and the client span is a root."""
    errs = []
    if fmt != "none":
        if client_spans:
            errs.append("%d client spans of a client that sent its own context (rule 3: none)"
                        % len(client_spans))
        for i, s in enumerate(server_spans):
            if s["trace_id"] != tid:
                errs.append("server span %d: trace_id %s, the request carried %s (%s)"
                            % (i, s["trace_id"], tid, fmt))
            if s["parent_span_id"] != sid:
                errs.append("server span %d: parent_span_id %r, the request carried span id %s (%s)"
                            % (i, s["parent_span_id"], sid, fmt))
            if not s["sampled"]:
                errs.append("server span %d not sampled, the request said sampled" % i)
        return errs
    if len(client_spans) != len(server_spans):
        return ["%d client spans for %d server spans" % (len(client_spans), len(server_spans))]
    for i, (c, s) in enumerate(zip(client_spans, server_spans)):
        if c["parent_span_id"]:
            errs.append("client span %d has parent %r: the client had no context"
                        % (i, c["parent_span_id"]))
        if s["parent_span_id"] != c["span_id"] or s["trace_id"] != c["trace_id"]:
            errs.append("server span %d (trace %s, parent %r) is not the child of client span %d "
                        "(trace %s, span %s)" % (i, s["trace_id"], s["parent_span_id"], i,
                                                 c["trace_id"], c["span_id"]))
        errs += ["exchange %d: %s" % (i, e) for e in L.expect_nested(c, s)]
    if len({s["trace_id"] for s in server_spans}) != len(server_spans):
        errs.append("exchanges without context share a trace")
    return errs


def fail_report(w, spans, pids, errs, what):
    """The message of a failed check: errors, weft's spans of the pids, and
    weft's stderr (its attach messages say whether it found the Go binary)."""
    mine = [s for s in spans if L.res(s).get("process.pid") in pids]
    return ("%s:\n  - %s\n--- weft's spans of the test's processes (%d of %d) ---\n%s\n"
            "--- weft stderr (last 40 lines) ---\n%s"
            % (what, "\n  - ".join(errs), len(mine), len(spans), L.dump(mine),
               "\n".join(w.err[-40:])))


# ---------------------------------------------------------- trees (Jaeger)


def settle(jaeger, w, traces, procs):
    """traces: [(trace id, expected forest)]. Wait until Jaeger holds as
    many spans of each trace as expected, or as weft printed for it if weft
    printed fewer after SPAN_WAIT (no point waiting for spans never made),
    then stop weft (it flushes) and the services, and read the traces once
    more so late duplicates show too. Returns (the Jaeger traces in order,
    weft's stop errors)."""
    def enough(spans):
        return all(len([s for s in spans if s.get("trace_id") == t]) >= LL.count(e)
                   for t, e in traces)
    w.wait_for(enough, SPAN_WAIT)
    spans = w.spans()
    for t, e in traces:
        printed = len([s for s in spans if s.get("trace_id") == t])
        if printed:
            jaeger.wait_trace(L.jaeger_id(t), min(LL.count(e), printed), JAEGER_WAIT)
    errs = stop_weft(w)
    procs.stop()
    time.sleep(1.0)
    return [jaeger.trace(L.jaeger_id(t)) for t, _ in traces], errs


def tree_errors(jtrace, expected):
    """[] when the Jaeger trace is exactly the expected tree; else the
    errors and both trees."""
    errs = LL.check_tree(jtrace, expected)
    if not errs:
        return []
    return errs + [LL.tree_report(jtrace, expected)]


def check_chains(w, jaeger, procs, runs, tree, pids, title):
    """runs: [(fmt, client run, tid, sid)] of one chain each. With a header
    the trace must be exactly {sid: [tree]} (rule 3: the client made sid,
    so it has no span); with none, {"": [client(client) -> tree]}, in the
    trace of the client's span. Fails the test with every difference."""
    import pytest
    traces, errs = [], []
    for fmt, r, tid, sid in runs:
        if fmt != "none":
            traces.append((fmt, tid, {sid: [tree]}))
            continue
        wait_counts(w, {(r.pid, "client"): 1})
        mine = L.of_pid(w.spans(), r.pid, "client")
        if len(mine) != 1:
            errs.append("none: %d client spans of the client (1 expected): no trace to look up"
                        % len(mine))
            continue
        traces.append((fmt, mine[0]["trace_id"],
                       {"": [LL.N(r.service, "client", "weft", tree)]}))
    got, stopped = settle(jaeger, w, [(t, e) for _, t, e in traces], procs)
    errs += stopped
    for (fmt, _, expected), jt in zip(traces, got):
        errs += ["%s: %s" % (fmt, x) for x in tree_errors(jt, expected)]
    if errs:
        pytest.fail("%s: the traces in Jaeger are not the expected trees:\n%s\n"
                    "--- weft's spans of the test's processes ---\n%s"
                    % (title, "\n".join(errs), LL.weft_view([w], set(pids))), pytrace=False)

