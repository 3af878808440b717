"""Helpers for weft's end-to-end tests: processes (weft, servers, curl, Jaeger)
and field-by-field span checks. Imported by conftest.py and the test modules.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "build")
WEFT = os.environ.get("WEFT_BIN", os.path.join(BUILD, "weft"))
APPS = os.environ.get("WEFT_APPS", os.path.join(BUILD, "apps"))
PYSERVER = os.path.join(REPO, "tests", "apps", "pyserver.py")
JAEGER = os.environ.get("WEFT_JAEGER_BIN", "/opt/weft-test/bin/jaeger")
JAEGER_CONFIG = os.path.join(REPO, "tests", "e2e", "jaeger-config.yaml")
CURL = os.environ.get("CURL", "curl")

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
HOSTNAME = socket.gethostname()

# How long to wait for spans to show up after the traffic, before stopping weft
# (weft flushes the rest at SIGINT anyway).
SPAN_WAIT = float(os.environ.get("WEFT_E2E_SPAN_WAIT", "5"))
# Slack for comparing weft's timestamps with wall-clock times taken here.
CLOCK_SLACK_NS = 50_000_000
# Slack for client/server nesting (one clock, one machine).
NEST_SLACK_NS = 1_000_000

NO_PROXY_ENV = {k: v for k, v in os.environ.items()
                if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def exe_name(pid):
    return os.path.basename(os.readlink("/proc/%d/exe" % pid))


class Failed(Exception):
    pass


class _LineReader(threading.Thread):
    def __init__(self, stream, sink, on_line=None):
        super().__init__(daemon=True)
        self.stream, self.sink, self.on_line = stream, sink, on_line

    def run(self):
        for raw in iter(self.stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.sink.append(line)
            if self.on_line:
                self.on_line(line)
        self.stream.close()


# --------------------------------------------------------------------- weft


# A sanitizer's report in weft's stderr (ASan, LeakSanitizer, UBSan).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "ERROR: UndefinedBehaviorSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer",
                   "Sanitizer has encountered a fatal error")
# Set by tests/run.sh's e2e-asan step (WEFT_BIN = the ASan+UBSan weft): a weft
# the harness stopped must also have exited 0 (LeakSanitizer fails the exit).
SANITIZED = bool(os.environ.get("WEFT_E2E_SANITIZED"))
# How long stop() waits for weft to exit. Its exit detaches every uprobe of
# every Go binary on the node one at a time (~0.3 s each on this kernel), and
# ASan makes the rest slower: a sanitized run waits longer.
STOP_TIMEOUT = float(os.environ.get("WEFT_E2E_STOP_TIMEOUT", "120" if SANITIZED else "30"))


class Weft:
    """One weft process: `build/weft --output json ARGS...` (WEFT_BIN=)."""

    # every weft started, subclasses too: conftest checks each one's stderr
    # and exit for sanitizer reports after the test that started it
    started = []

    def __new__(cls, *a, **kw):
        w = super().__new__(cls)
        w.stop_signal = None
        Weft.started.append(w)
        return w

    def sanitizer_errors(self):
        """Why this (exited) weft fails a sanitized run: [] when it does not.
        Its stderr holds a sanitizer report; or, under WEFT_E2E_SANITIZED,
        the harness stopped it (SIGINT/SIGTERM) and it did not exit 0."""
        e = ["stderr: " + ln for ln in self.err if any(m in ln for m in SANITIZER_MARKS)]
        if e:
            i = next(i for i, ln in enumerate(self.err) if any(m in ln for m in SANITIZER_MARKS))
            e.append("--- report ---\n" + "\n".join(self.err[max(0, i - 2):i + 60]))
        rc = self.proc.returncode
        if SANITIZED and self.stop_signal is not None and rc not in (0, None):
            e.append("exit code %s after %s" % (rc, signal.Signals(self.stop_signal).name))
        return e

    def __init__(self, args, env=None, output="json"):
        self.cmd = [WEFT] + (["--output", output] if output else []) + list(args)
        self.out, self.err = [], []
        self.ready = threading.Event()
        self.rc = None
        e = dict(os.environ if env is None else env)
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=e)
        self._r1 = _LineReader(self.proc.stdout, self.out)
        self._r2 = _LineReader(self.proc.stderr, self.err, self._on_err)
        self._r1.start()
        self._r2.start()

    def _on_err(self, line):
        if line.startswith("weft: tracing"):
            self.ready.set()

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.ready.wait(0.05):
                return
            if self.proc.poll() is not None:
                self._r2.join(2)
                raise Failed("weft exited with %s before tracing:\n%s\n%s"
                             % (self.proc.returncode, " ".join(self.cmd), self.stderr()))
        self.kill()
        raise Failed("weft printed no 'weft: tracing' in %ss:\n%s\n%s"
                     % (timeout, " ".join(self.cmd), self.stderr()))

    def stderr(self):
        return "\n".join(self.err)

    def spans(self):
        """Spans printed so far (JSON lines of stdout). Non-JSON lines raise."""
        res = []
        for line in list(self.out):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise Failed("weft printed a line that is not JSON: %r (%s)" % (line[:300], e))
            if not isinstance(obj, dict):
                raise Failed("weft printed a JSON value that is not an object: %r" % line[:300])
            res.append(obj)
        return res

    def wait_for(self, pred, timeout=SPAN_WAIT):
        end = time.monotonic() + timeout
        while True:
            try:
                if pred(self.spans()):
                    return True
            except Failed:
                return False
            if time.monotonic() >= end or self.proc.poll() is not None:
                return False
            time.sleep(0.05)

    def stop(self, sig=signal.SIGINT, timeout=None):
        """Stop weft (SIGINT by default); return its exit code."""
        timeout = STOP_TIMEOUT if timeout is None else timeout
        if self.proc.poll() is None:
            self.stop_signal = sig
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise Failed("weft did not exit within %ss of %s:\n%s"
                             % (timeout, signal.Signals(sig).name, self.stderr()))
        self._r1.join(5)
        self._r2.join(5)
        self.rc = self.proc.returncode
        return self.rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def counters(self):
        """'weft: name: N' / 'weft: name=N' lines of stderr, as {name: N}."""
        c = {}
        for line in self.err:
            if not line.startswith("weft: "):
                continue
            for m in re.finditer(r"([A-Za-z][\w .\-/]*?)\s*[:=]\s*(-?\d+)\b", line[6:]):
                c[m.group(1).strip()] = int(m.group(2))
        return c

    def describe(self):
        return ("weft command: %s\nexit code: %s\n--- stderr ---\n%s\n--- stdout (%d lines) ---\n%s"
                % (" ".join(self.cmd), self.rc, self.stderr(), len(self.out), "\n".join(self.out[-60:])))


# ------------------------------------------------------------------ servers


class Server:
    """A test HTTP server: kind is go1.19, go1.26 or python."""

    def __init__(self, kind, host="127.0.0.1", port=None, service_name=None, name=None,
                 exe=None):
        """exe: another copy of kind's goserver to run (a file of its own)."""
        self.kind, self.host = kind, host
        self.port = port or free_port(host)
        hp = "[%s]:%d" % (host, self.port) if ":" in host else "%s:%d" % (host, self.port)
        name = name or "e2e-" + kind
        if kind == "python":
            cmd = [sys.executable, PYSERVER, "-addr", hp, "-name", name]
        else:
            cmd = [exe or os.path.join(APPS, kind, "goserver"), "-addr", hp, "-name", name]
            if not os.access(cmd[0], os.X_OK):
                raise Failed("%s missing: run tests/apps/build.sh" % cmd[0])
        env = dict(NO_PROXY_ENV)
        env.pop("OTEL_SERVICE_NAME", None)
        if service_name:
            env["OTEL_SERVICE_NAME"] = service_name
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        line = _readline_timeout(self.proc.stdout, 20)
        if not line.startswith(b"ready "):
            self.stop()
            raise Failed("server %s did not start: %r %s" % (cmd, line, self.proc.stderr.read()[-2000:]))
        self.exe = exe_name(self.pid)
        self.service = service_name or self.exe
        self.base = "http://%s" % hp

    def url(self, path):
        return self.base + path

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _readline_timeout(stream, timeout):
    box = []
    t = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else b""


# --------------------------------------------------------------------- curl


class CurlResult:
    pass


def curl(urls, headers=(), ua="weft-e2e/1.0", method=None, data_file=None, extra=(), timeout=60,
         check=True):
    """Run curl on one or more URLs (one connection, kept alive, when it can).

    Returns .pid, .exe, .transfers ([{code, local_port, remote_port, connects}]),
    .t0/.t1 (time.time_ns() around the run), .rc, .err."""
    if isinstance(urls, str):
        urls = [urls]
    cmd = [CURL, "-sS", "--noproxy", "*", "-A", ua,
           "-w", "%{http_code} %{local_port} %{remote_port} %{num_connects}\\n"]
    for h in headers:
        cmd += ["-H", h]
    if method:
        cmd += ["-X", method]
    if data_file:
        cmd += ["--data-binary", "@" + data_file, "-H", "Expect:"]
    cmd += list(extra)
    for u in urls:
        cmd += ["-o", "/dev/null", u]
    r = CurlResult()
    r.cmd = cmd
    r.t0 = time.time_ns()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=NO_PROXY_ENV)
    r.pid = p.pid
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    r.t1 = time.time_ns()
    r.rc, r.err = p.returncode, err.decode("utf-8", "replace")
    r.exe = os.path.basename(os.path.realpath(_which(CURL)))
    r.transfers = []
    for line in out.decode().splitlines():
        f = line.split()
        if len(f) == 4:
            r.transfers.append({"code": int(f[0]), "local_port": int(f[1]),
                                "remote_port": int(f[2]), "connects": int(f[3])})
    if check and r.rc != 0:
        raise Failed("curl failed (%s): %s\n%s" % (r.rc, " ".join(cmd), r.err))
    return r


def _which(prog):
    if os.sep in prog:
        return prog
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = os.path.join(d, prog)
        if os.access(p, os.X_OK):
            return p
    return prog


# -------------------------------------------------------------- span checks


def attrs(span):
    return span.get("attributes") or {}


def res(span):
    return span.get("resource") or {}


def of_pid(spans, pid, kind=None):
    return sorted((s for s in spans if res(s).get("process.pid") == pid
                   and (kind is None or s.get("kind") == kind)),
                  key=lambda s: s.get("start_time_unix_nano", 0))


def dump(spans):
    return "\n".join(json.dumps(s, sort_keys=True) for s in spans)


def check_span_format(span):
    """Field types and id formats every span must have. Returns a list of errors."""
    e = []
    tid, sid, pid = span.get("trace_id"), span.get("span_id"), span.get("parent_span_id")
    if not (isinstance(tid, str) and HEX32.match(tid)) or tid == "0" * 32:
        e.append("trace_id %r is not 32 lowercase hex, non-zero" % (tid,))
    if not (isinstance(sid, str) and HEX16.match(sid)) or sid == "0" * 16:
        e.append("span_id %r is not 16 lowercase hex, non-zero" % (sid,))
    if not (pid == "" or (isinstance(pid, str) and HEX16.match(pid) and pid != "0" * 16)):
        e.append("parent_span_id %r is neither '' nor 16 lowercase hex" % (pid,))
    if span.get("kind") not in ("server", "client"):
        e.append("kind %r" % (span.get("kind"),))
    if span.get("status") not in ("unset", "error"):
        e.append("status %r" % (span.get("status"),))
    if "status_message" in span and not isinstance(span["status_message"], str):
        e.append("status_message is not a string")
    if not isinstance(span.get("sampled"), bool):
        e.append("sampled %r is not a bool" % (span.get("sampled"),))
    st, en = span.get("start_time_unix_nano"), span.get("end_time_unix_nano")
    if not (isinstance(st, int) and isinstance(en, int)):
        e.append("start/end times are not integers: %r %r" % (st, en))
    elif not st < en:
        e.append("start_time %d is not before end_time %d" % (st, en))
    if not isinstance(span.get("name"), str) or not span.get("name"):
        e.append("name %r" % (span.get("name"),))
    if not isinstance(span.get("attributes"), dict):
        e.append("attributes is not an object")
    r = span.get("resource")
    if not isinstance(r, dict):
        e.append("resource is not an object")
    else:
        for k, t in (("service.name", str), ("process.pid", int),
                     ("process.executable.name", str), ("host.name", str)):
            if not isinstance(r.get(k), t) or isinstance(r.get(k), bool):
                e.append("resource[%s] = %r is not a %s" % (k, r.get(k), t.__name__))
    return e


def expect_http_span(span, *, kind, method, path, status, pid, exe, service,
                     server_port, peer_port, query=None, server_addr="127.0.0.1",
                     peer_addr="127.0.0.1", user_agent=None, t0=None, t1=None,
                     error=None, min_duration_ns=0, url=None):
    """Check one span field by field. Returns a list of mismatches ([] = all good).

    kind: "server" (peer = the client) or "client" (peer = the server).
    error: expected status error (default: 5xx on server, >=4xx on client)."""
    e = check_span_format(span)
    a, r = attrs(span), res(span)

    def eq(what, got, want):
        if got != want:
            e.append("%s = %r, expected %r" % (what, got, want))

    eq("kind", span.get("kind"), kind)
    name = span.get("name", "")
    if name != method and not name.startswith(method + " /"):
        e.append("name %r is neither %r nor %r + ' /route'" % (name, method, method))
    eq("http.request.method", a.get("http.request.method"), method)
    if kind == "server" or "url.path" in a:
        eq("url.path", a.get("url.path"), path)
    if query is None:
        if "url.query" in a:
            e.append("url.query %r present, the request had none" % a["url.query"])
    elif kind == "server" or "url.path" in a:
        eq("url.query", a.get("url.query"), query)
    if kind == "client" and "url.full" in a and url is not None:
        eq("url.full", a.get("url.full"), url)
    if kind == "client" and "url.path" not in a and "url.full" not in a:
        e.append("client span has neither url.path nor url.full")
    if status is None:
        if "http.response.status_code" in a:
            e.append("http.response.status_code %r present, no response was sent"
                     % a["http.response.status_code"])
    else:
        eq("http.response.status_code", a.get("http.response.status_code"), status)
    eq("server.address", a.get("server.address"), server_addr)
    eq("server.port", a.get("server.port"), server_port)
    eq("network.peer.address", a.get("network.peer.address"), peer_addr)
    eq("network.peer.port", a.get("network.peer.port"), peer_port)
    if kind == "server":
        eq("client.address", a.get("client.address"), peer_addr)
        eq("client.port", a.get("client.port"), peer_port)
        if user_agent is not None:
            eq("user_agent.original", a.get("user_agent.original"), user_agent)
    elif user_agent is not None and "user_agent.original" in a:
        eq("user_agent.original", a.get("user_agent.original"), user_agent)
    eq("network.protocol.version", a.get("network.protocol.version"), "1.1")
    for k, v in a.items():
        if k.endswith(".port") or k == "http.response.status_code":
            if not isinstance(v, int) or isinstance(v, bool):
                e.append("attribute %s = %r is not an integer" % (k, v))
    if error is None:
        error = status is None or (status >= 500 if kind == "server" else status >= 400)
    eq("status", span.get("status"), "error" if error else "unset")
    eq("resource process.pid", r.get("process.pid"), pid)
    eq("resource process.executable.name", r.get("process.executable.name"), exe)
    eq("resource service.name", r.get("service.name"), service)
    eq("resource host.name", r.get("host.name"), HOSTNAME)
    st, en = span.get("start_time_unix_nano"), span.get("end_time_unix_nano")
    if isinstance(st, int) and isinstance(en, int):
        if t0 is not None and st < t0 - CLOCK_SLACK_NS:
            e.append("start_time %d is %.3f ms before the request was made"
                     % (st, (t0 - st) / 1e6))
        if t1 is not None and en > t1 + CLOCK_SLACK_NS:
            e.append("end_time %d is %.3f ms after the client had finished"
                     % (en, (en - t1) / 1e6))
        if en - st < min_duration_ns:
            e.append("duration %.3f ms is shorter than %.3f ms"
                     % ((en - st) / 1e6, min_duration_ns / 1e6))
    return e


def expect_nested(client, server):
    """A client span and the server span of the same exchange, on one machine."""
    e = []
    cs, ce = client["start_time_unix_nano"], client["end_time_unix_nano"]
    ss, se = server["start_time_unix_nano"], server["end_time_unix_nano"]
    if ss < cs - NEST_SLACK_NS:
        e.append("server span starts %.3f ms before the client span" % ((cs - ss) / 1e6))
    if se > ce + NEST_SLACK_NS:
        e.append("server span ends %.3f ms after the client span" % ((se - ce) / 1e6))
    return e


def assert_ok(errors, spans=None, weft=None, what="span"):
    if errors:
        msg = "%s:\n  - %s" % (what, "\n  - ".join(errors))
        if spans is not None:
            msg += "\n--- spans ---\n" + dump(spans if isinstance(spans, list) else [spans])
        raise AssertionError(msg)


# ------------------------------------------------------------------- Jaeger


class Jaeger:
    def __init__(self, binary=JAEGER, config=JAEGER_CONFIG, logfile=None):
        self.ports = {k: free_port() for k in ("otlp_http", "otlp_grpc", "query_http",
                                               "query_grpc", "health", "zipkin")}
        env = dict(NO_PROXY_ENV)
        env.update({
            "WEFT_JAEGER_OTLP_HTTP": "127.0.0.1:%d" % self.ports["otlp_http"],
            "WEFT_JAEGER_OTLP_GRPC": "127.0.0.1:%d" % self.ports["otlp_grpc"],
            "WEFT_JAEGER_QUERY_HTTP": "127.0.0.1:%d" % self.ports["query_http"],
            "WEFT_JAEGER_QUERY_GRPC": "127.0.0.1:%d" % self.ports["query_grpc"],
            "WEFT_JAEGER_HEALTH": "127.0.0.1:%d" % self.ports["health"],
            "WEFT_JAEGER_ZIPKIN": "127.0.0.1:%d" % self.ports["zipkin"],
            # grpc-go looks up _grpc_config.<host> in DNS when it dials
            # (Jaeger dials its own localhost:4317): no queries off the machine
            "GRPC_ENABLE_TXT_SERVICE_CONFIG": "false",
        })
        self.otlp = "http://127.0.0.1:%d" % self.ports["otlp_http"]
        self.query = "http://127.0.0.1:%d" % self.ports["query_http"]
        self.zipkin = "http://127.0.0.1:%d" % self.ports["zipkin"]
        self.log = logfile or open(os.devnull, "wb")
        self.proc = subprocess.Popen([binary, "--config", config], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        end = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise Failed("jaeger exited with %s at start-up" % self.proc.returncode)
            try:
                self.get("/api/services")
                break
            except OSError:
                if time.monotonic() > end:
                    self.stop()
                    raise Failed("jaeger's query API did not answer within 120 s")
                time.sleep(0.2)

    def get(self, path, timeout=5):
        req = urllib.request.Request(self.query + path)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=timeout) as r:
            return json.loads(r.read())

    def post_otlp_json(self, body):
        req = urllib.request.Request(self.otlp + "/v1/traces", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=5) as r:
            return r.status, r.read()

    def services(self):
        return self.get("/api/services").get("data") or []

    def trace(self, trace_id):
        """The trace's spans as Jaeger's query API returns them, or None."""
        try:
            d = self.get("/api/traces/" + trace_id)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise
        data = d.get("data") or []
        return data[0] if data else None

    def traces_between(self, t0_ns, t1_ns, limit=5000):
        """Every trace, of every service, with a span in [t0_ns, t1_ns]
        (wall clock), as the query API returns them."""
        found = {}
        for svc in self.services():
            d = self.get("/api/traces?service=%s&start=%d&end=%d&limit=%d"
                         % (urllib.parse.quote(svc, safe=""), t0_ns // 1000, t1_ns // 1000 + 1,
                            limit), timeout=30)
            for t in d.get("data") or []:
                found[t["traceID"]] = t
        return list(found.values())

    def wait_trace(self, trace_id, nspans, timeout=20):
        end = time.monotonic() + timeout
        t = None
        while time.monotonic() < end:
            t = self.trace(trace_id)
            if t and len(t.get("spans", [])) >= nspans:
                time.sleep(0.3)  # let stragglers land, then read once more
                return self.trace(trace_id)
            time.sleep(0.2)
        return t

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def jaeger_id(hexid):
    """Jaeger's query API prints a trace id whose high 64 bits are zero in 16 digits."""
    return hexid[16:] if len(hexid) == 32 and hexid.startswith("0" * 16) else hexid


def _tag_value(t):
    v = t.get("value")
    if t.get("type") == "int64":
        return int(v)
    if t.get("type") == "float64":
        return float(v)
    if t.get("type") == "bool":
        return v if isinstance(v, bool) else str(v).lower() == "true"
    return v


def compare_with_jaeger(span, jtrace):
    """Compare one weft JSON span with its copy in a Jaeger trace. Returns errors."""
    e = []
    sid = span["span_id"]
    js = [s for s in jtrace.get("spans", []) if s.get("spanID") == sid]
    if len(js) != 1:
        return ["span %s found %d times in Jaeger's trace %s" % (sid, len(js), jtrace.get("traceID"))]
    j = js[0]

    def eq(what, got, want):
        if got != want:
            e.append("span %s: %s: jaeger has %r, weft printed %r" % (sid, what, got, want))

    eq("traceID", j.get("traceID"), jaeger_id(span["trace_id"]))
    eq("operationName", j.get("operationName"), span["name"])
    parents = [r for r in j.get("references") or [] if r.get("refType") == "CHILD_OF"]
    if span["parent_span_id"]:
        eq("parent (CHILD_OF)", [(r.get("traceID"), r.get("spanID")) for r in parents],
           [(jaeger_id(span["trace_id"]), span["parent_span_id"])])
    else:
        eq("parent (CHILD_OF)", parents, [])
    eq("startTime (us)", j.get("startTime"), span["start_time_unix_nano"] // 1000)
    dur = (span["end_time_unix_nano"] - span["start_time_unix_nano"]) // 1000
    if abs((j.get("duration") or 0) - dur) > 1:
        eq("duration (us)", j.get("duration"), dur)
    tags = {t["key"]: _tag_value(t) for t in j.get("tags") or []}
    eq("span.kind", tags.get("span.kind"), span["kind"])
    for k, v in (span.get("attributes") or {}).items():
        if k not in tags:
            e.append("span %s: attribute %s=%r missing in Jaeger" % (sid, k, v))
        else:
            eq("attribute " + k, tags[k], v)
    if span["status"] == "error":
        eq("error tag", tags.get("error"), True)
        eq("otel.status_code", tags.get("otel.status_code"), "ERROR")
        if span.get("status_message"):
            eq("otel.status_description", tags.get("otel.status_description"),
               span["status_message"])
    else:
        if tags.get("error") is True:
            e.append("span %s: Jaeger marks it as error, weft printed status unset" % sid)
    scope = tags.get("otel.scope.name") or tags.get("otel.library.name") or ""
    if "weft" not in str(scope):
        e.append("span %s: instrumentation scope %r does not name weft" % (sid, scope))
    proc = (jtrace.get("processes") or {}).get(j.get("processID")) or {}
    r = span.get("resource") or {}
    eq("serviceName", proc.get("serviceName"), r.get("service.name"))
    ptags = {t["key"]: _tag_value(t) for t in proc.get("tags") or []}
    for k, v in r.items():
        if k == "service.name":
            continue
        if k not in ptags:
            e.append("span %s: resource %s=%r missing in Jaeger's process tags" % (sid, k, v))
        else:
            eq("resource " + k, ptags[k], v)
    return e


def run_after_warmup(cmd, marker, start, env=None):
    """Run a client that warms its connection up, prints `marker` on stderr
    and waits for a line on stdin (gogrpc call / goh2 load -warm); call
    start() meanwhile (starting weft), then let the client go on and wait
    for it. Returns (pid, rc, stdout, stderr, what start() returned)."""
    cli = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    try:
        warm, ln = [], ""
        deadline = time.time() + 30
        while time.time() < deadline:
            ln = cli.stderr.readline().decode()
            if not ln or ln.strip() == marker:
                break
            warm.append(ln)
        assert ln.strip() == marker, "client never warmed up: %s" % "".join(warm)
        started = start()
        out, err = cli.communicate(b"\n", timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    return cli.pid, cli.returncode, out, err, started
