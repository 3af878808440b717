"""Helpers for the linking tests (tests/e2e/test_linking.py, README "Linking"): the
services of a chain (Go, Python, the OpenTelemetry SDK service, the mesh
sidecar stand-in), optionally inside a network namespace; curl; two network
namespaces joined by veth; and trees of spans read from Jaeger's query API,
compared exactly with an expected tree.

Expected trees are written with N(service, kind, origin, *children), where
origin is "weft" (weft's spans), "sdk" (tests/apps/sdkserver.py) or
"zipkin" (the sidecar's spans, through Jaeger's zipkin receiver).
"""
import atexit
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

import e2e_lib as L

SDKSERVER = os.path.join(L.REPO, "tests", "apps", "sdkserver.py")
REQ_SDK = os.path.join(L.REPO, "tests", "e2e", "requirements-sdk.txt")
SDK_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter",
               "opentelemetry.propagators.b3")
# children must start and end inside their parent, within this (µs)
NEST_SLACK_US = 1000


def rand_hex(nbytes):
    while True:
        v = "%0*x" % (2 * nbytes, random.getrandbits(8 * nbytes))
        if v.strip("0"):
            return v


def q(url):
    """A URL as the value of a ?url= query parameter."""
    return urllib.parse.quote(url, safe="")


# ---------------------------------------------------------------- SDK install


def _sdk_importable():
    code = "; ".join("import " + m for m in SDK_MODULES)
    return subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def ensure_sdk():
    """Make sure the OpenTelemetry packages of requirements-sdk.txt import in
    this interpreter; pip-installs them when they do not (idempotent).
    Raises L.Failed with pip's output when that is impossible."""
    if _sdk_importable():
        return
    p = subprocess.run([sys.executable, "-m", "pip", "--version"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise L.Failed("the OpenTelemetry SDK is missing and pip is not available for %s:\n%s"
                       % (sys.executable, p.stdout.decode()[-2000:]))
    p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", REQ_SDK], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0 or not _sdk_importable():
        raise L.Failed("pip install -r %s failed (%s):\n%s"
                       % (REQ_SDK, p.returncode, p.stdout.decode()[-4000:]))


# ------------------------------------------------------------------ processes

_private_dir = []


def private_exe(path, name):
    """A copy of the executable `path` named `name` (unique to this run: its
    command name is what weft's -c matches, and other tests or benchmarks on
    the machine run build/apps/*/goserver too). Removed at exit."""
    if not _private_dir:
        _private_dir.append(tempfile.mkdtemp(prefix="weft-e2e-link-"))
        atexit.register(shutil.rmtree, _private_dir[0], True)
    d = os.path.join(_private_dir[0], os.path.basename(os.path.dirname(path)))
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, name)
    if not os.path.exists(dst):
        shutil.copy2(path, dst)
    return dst


def private_comms():
    """The command names private_exe gives the Go services and the sidecars."""
    return "lkgo%d" % os.getpid(), "lksc%d" % os.getpid()



class Proc:
    """A test service that prints "ready HOST:PORT" once listening (it is
    given port 0, so the kernel picks a free port). netns: run it inside
    that named network namespace (ip netns exec, which execs: the pid is the
    service's own)."""

    def __init__(self, cmd, *, service=None, env=None, netns=None, what=None):
        self.what = what or os.path.basename(cmd[0])
        self.netns = netns
        self.service = service
        e = dict(L.NO_PROXY_ENV)
        for k in list(e):
            if k.startswith("OTEL_"):
                del e[k]
        if service:
            e["OTEL_SERVICE_NAME"] = service
        e.update(env or {})
        self.cmd = (["ip", "netns", "exec", netns] if netns else []) + list(cmd)
        self.errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.errfile, env=e, start_new_session=True)
        self.pid = self.proc.pid
        line = L._readline_timeout(self.proc.stdout, 30).decode("utf-8", "replace").strip()
        m = re.match(r"^ready (\S+):(\d+)$", line)
        if not m:
            self.stop()
            raise L.Failed("%s did not start: %s\nstdout: %r\nstderr: %s"
                           % (self.what, " ".join(self.cmd), line, self.stderr()))
        self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
        self.base = "http://%s:%d" % (self.host, self.port)

    def url(self, path):
        return self.base + path

    def stderr(self):
        try:
            self.errfile.seek(0)
            return self.errfile.read().decode("utf-8", "replace")[-4000:]
        except (OSError, ValueError):
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM (the sidecar and the SDK service flush their spans on it),
        then SIGKILL after timeout. Only this process."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def describe(self):
        return "%s pid %d (%s) rc=%s\n%s" % (self.what, self.pid, " ".join(self.cmd),
                                             self.proc.poll(), self.stderr())


class Procs:
    """The processes of one test, all stopped at the end (even on failure)."""

    def __init__(self):
        self.all = []

    def add(self, p):
        self.all.append(p)
        return p

    def go(self, ver, service, host="127.0.0.1", netns=None, private=False):
        exe = os.path.join(L.APPS, ver, "goserver")
        if not os.access(exe, os.X_OK):
            raise L.Failed("%s missing: run tests/apps/build.sh" % exe)
        if private:
            exe = private_exe(exe, private_comms()[0])
        return self.add(Proc([exe, "-addr", "%s:0" % host, "-name", service],
                             service=service, netns=netns, what="goserver(%s) %s" % (ver, service)))

    def python(self, service, host="127.0.0.1", netns=None):
        return self.add(Proc([sys.executable, L.PYSERVER, "-addr", "%s:0" % host, "-name", service],
                             service=service, netns=netns, what="pyserver %s" % service))

    def sdk(self, service, otlp_traces_url, host="127.0.0.1", netns=None):
        return self.add(Proc([sys.executable, SDKSERVER, "-addr", "%s:0" % host, "-name", service,
                              "-otlp", otlp_traces_url],
                             service=service, netns=netns, what="sdkserver %s" % service))

    def sidecar(self, ver, name, upstream, zipkin_url, host="127.0.0.1", netns=None,
                private=False, report="batch"):
        """report: "batch" (a reporter goroutine) or "inline" (each span
        posted from its request's handler, right after proxying)."""
        exe = os.path.join(L.APPS, ver, "sidecar")
        if not os.access(exe, os.X_OK):
            raise L.Failed("%s missing: run tests/apps/build.sh" % exe)
        if private:
            exe = private_exe(exe, private_comms()[1])
        return self.add(Proc([exe, "-listen", "%s:0" % host, "-upstream", upstream, "-name", name,
                              "-zipkin", zipkin_url, "-report", report],
                             netns=netns, what="sidecar(%s) %s" % (ver, name)))

    def sdkgo(self, service, otlp_base, every="1s", host="127.0.0.1"):
        """tests/apps/sdkgo (Go 1.26 + the OpenTelemetry Go SDK): exports its
        spans and a metric over OTLP/HTTP to otlp_base every `every`."""
        exe = os.path.join(L.APPS, "go1.26", "sdkgo")
        if not os.access(exe, os.X_OK):
            raise L.Failed("%s missing: run tests/apps/build.sh" % exe)
        return self.add(Proc([exe, "-addr", "%s:0" % host, "-otlp", otlp_base, "-every", every,
                              "-name", service],
                             service=service, what="sdkgo %s" % service))

    def mesh(self, ver, zipkin_url, private=False, report="batch"):
        """The mesh demo's services: a, b, c (Go, one toolchain), each behind
        a sidecar stand-in reporting to zipkin_url; a calls b calls c through
        the sidecars. Returns the sidecars (sa, sb, sc); sa is the entry."""
        c = self.go(ver, "c", private=private)
        sc = self.sidecar(ver, "sidecar-c", c.base, zipkin_url, private=private, report=report)
        b = self.go(ver, "b", private=private)
        sb = self.sidecar(ver, "sidecar-b", b.base, zipkin_url, private=private, report=report)
        a = self.go(ver, "a", private=private)
        sa = self.sidecar(ver, "sidecar-a", a.base, zipkin_url, private=private, report=report)
        return sa, sb, sc

    def stop(self):
        for p in reversed(self.all):
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - cleanup goes on
                pass

    def describe(self):
        return "\n".join(p.describe() for p in self.all)


class CurlRun:
    pass


def curl(url, headers=(), netns=None, timeout=30):
    """One GET with curl (no proxy), optionally inside a network namespace.
    Returns .pid, .code, .headers (response, lower-case names), .rc, .err."""
    cmd = (["ip", "netns", "exec", netns] if netns else []) + [
        L.CURL, "-sS", "--noproxy", "*", "-A", "weft-e2e-link/1.0", "-D", "-", "-o", "/dev/null",
        "-w", "\\n%{http_code}\\n", "--max-time", str(timeout)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    r = CurlRun()
    r.cmd = cmd
    r.t0 = time.time_ns()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=L.NO_PROXY_ENV)
    r.pid = p.pid
    try:
        out, err = p.communicate(timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    r.t1 = time.time_ns()
    r.rc, r.err = p.returncode, err.decode("utf-8", "replace")
    lines = out.decode("utf-8", "replace").replace("\r", "").split("\n")
    r.code = int(lines[-2]) if len(lines) >= 2 and lines[-2].isdigit() else 0
    r.headers = {}
    for x in lines:
        if ":" in x and not x.startswith("HTTP/"):
            k, v = x.split(":", 1)
            r.headers[k.strip().lower()] = v.strip()
    if r.rc != 0:
        raise L.Failed("curl failed (%s): %s\n%s" % (r.rc, " ".join(cmd), r.err))
    return r


# ------------------------------------------------------- network namespaces


class NetnsPair:
    """Two network namespaces joined by a veth pair: ADDR1/30 in ns[0],
    ADDR2/30 in ns[1], loopback up in both. close() removes them (the veth
    pair goes with them); it is safe to call twice."""

    ADDR1, ADDR2 = "10.231.0.1", "10.231.0.2"

    def __init__(self):
        tag = "%x%03x" % (os.getpid() & 0xffff, random.getrandbits(12))
        self.ns = ["weft-e2e-%s-n1" % tag, "weft-e2e-%s-n2" % tag]
        self.veth = ["wl%sa" % tag[-8:], "wl%sb" % tag[-8:]]
        self.paths = ["/var/run/netns/" + n for n in self.ns]
        self.made = []
        try:
            for n in self.ns:
                self._ip("netns", "add", n)
                self.made.append(n)
            self._ip("link", "add", self.veth[0], "netns", self.ns[0], "type", "veth",
                     "peer", "name", self.veth[1], "netns", self.ns[1])
            for n, dev, addr in ((self.ns[0], self.veth[0], self.ADDR1),
                                 (self.ns[1], self.veth[1], self.ADDR2)):
                self._ip("-n", n, "addr", "add", addr + "/30", "dev", dev)
                self._ip("-n", n, "link", "set", dev, "up")
                self._ip("-n", n, "link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    @staticmethod
    def _ip(*args):
        p = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise L.Failed("ip %s: %s" % (" ".join(args), p.stdout.decode().strip()))

    def close(self):
        for n in reversed(self.made):
            subprocess.run(["ip", "netns", "del", n], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        self.made = []
        # a veth pair left in the root namespace by a half-done set-up
        subprocess.run(["ip", "link", "del", self.veth[0]], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


# ------------------------------------------------------- trees from Jaeger


def N(service, kind, origin="weft", *children):
    """An expected span: service.name, kind (server/client), origin, children."""
    return (service, kind, origin, tuple(children))


class JSpan:
    def __init__(self, j, jtrace):
        self.sid = j["spanID"]
        refs = [r for r in j.get("references") or [] if r.get("refType") == "CHILD_OF"]
        self.parents = [r.get("spanID") for r in refs]
        self.parent = self.parents[0] if self.parents else ""
        self.name = j.get("operationName")
        self.start = int(j.get("startTime") or 0)
        self.end = self.start + int(j.get("duration") or 0)
        tags = {t["key"]: t.get("value") for t in j.get("tags") or []}
        self.tags = tags
        self.kind = str(tags.get("span.kind", "?"))
        scope = str(tags.get("otel.scope.name") or tags.get("otel.library.name") or "")
        self.scope = scope
        if "weft" in scope:
            self.origin = "weft"
        elif scope == "sdkserver":
            self.origin = "sdk"
        else:
            self.origin = "zipkin"
        proc = (jtrace.get("processes") or {}).get(j.get("processID")) or {}
        self.service = proc.get("serviceName", "?")
        ptags = {t["key"]: t.get("value") for t in proc.get("tags") or []}
        self.pid = ptags.get("process.pid")
        if self.pid is not None:
            try:
                self.pid = int(self.pid)
            except ValueError:
                pass
        self.path = tags.get("url.path") or tags.get("http.path") or ""


def spans_of(jtrace):
    return [JSpan(j, jtrace) for j in (jtrace or {}).get("spans") or []]


def _canon_expected(n):
    service, kind, origin, children = n
    return "%s/%s/%s(%s)" % (service, kind, origin,
                             ",".join(sorted(_canon_expected(c) for c in children)))


def _canon_got(s, kids):
    return "%s/%s/%s(%s)" % (s.service, s.kind, s.origin,
                             ",".join(sorted(_canon_got(c, kids) for c in kids.get(s.sid, []))))


def _tree(spans):
    ids = {s.sid for s in spans}
    kids, roots = {}, {}
    for s in spans:
        if s.parent and s.parent in ids:
            kids.setdefault(s.parent, []).append(s)
        else:
            roots.setdefault(s.parent, []).append(s)
    for v in list(kids.values()) + list(roots.values()):
        v.sort(key=lambda s: (s.start, s.service, s.kind))
    return kids, roots


def chain_url(a, b, c):
    """a's /call of b's /call of c's /hello: a chain of three services."""
    return a.url("/call?url=" + q(b.url("/call?url=" + q(c.url("/hello")))))


def mesh_tree():
    """The mesh demo's trace: each sidecar's own span, weft's server span of
    the app behind it, and the app's client span to the next sidecar."""
    return {"": [
        N("sidecar-a", "server", "zipkin",
          N("a", "server", "weft", N("a", "client", "weft")),
          N("sidecar-b", "server", "zipkin",
            N("b", "server", "weft", N("b", "client", "weft")),
            N("sidecar-c", "server", "zipkin",
              N("c", "server", "weft"))))]}


def render(spans):
    """The tree as indented text, one span a line."""
    kids, roots = _tree(spans)
    t0 = min((s.start for s in spans), default=0)
    out = []

    def walk(s, depth):
        out.append("%s%s(%s) [%s] span %s pid %s %s  +%dus..+%dus"
                   % ("  " * depth, s.service, s.kind, s.origin, s.sid, s.pid, s.path,
                      s.start - t0, s.end - t0))
        for c in kids.get(s.sid, []):
            walk(c, depth + 1)
    for parent in sorted(roots):
        out.append("parent %s:" % (parent or "(none: trace root)"))
        for s in roots[parent]:
            walk(s, 1)
    return "\n".join(out)


def render_expected(roots):
    out = []

    def walk(n, depth):
        out.append("%s%s(%s) [%s]" % ("  " * depth, n[0], n[1], n[2]))
        for c in n[3]:
            walk(c, depth + 1)
    for parent in sorted(roots, key=lambda p: p or ""):
        out.append("parent %s:" % (parent or "(none: trace root)"))
        for n in roots[parent]:
            walk(n, 1)
    return "\n".join(out)


def count(roots):
    def c(n):
        return 1 + sum(c(x) for x in n[3])
    return sum(c(n) for ns in roots.values() for n in ns)


def check_tree(jtrace, expected_roots, nest_weft_only=False):
    """Compare a Jaeger trace with the expected forest, exactly.

    expected_roots: {parent span id ('' or None: no parent): [N(...), ...]},
    the spans whose parent is not in the trace, grouped by that parent.
    Checks: the same tree shape (service, kind, origin of every span, its
    children), no span id twice, every span has at most one parent, and every
    child starts inside its parent and, when weft made it, ends inside it
    (NEST_SLACK_US). Returns errors.
    nest_weft_only: check nesting only where weft made the child or the
    parent (two sidecar spans are timed by the sidecars themselves, and a
    sidecar that takes its end time late, when probes are being attached
    to its binary, is no fault of weft's)."""
    errs = []
    spans = spans_of(jtrace)
    if not spans:
        return ["no trace in Jaeger"]
    seen = {}
    for s in spans:
        seen[s.sid] = seen.get(s.sid, 0) + 1
        if len(s.parents) > 1:
            errs.append("span %s has %d CHILD_OF references" % (s.sid, len(s.parents)))
    errs += ["span id %s appears %d times" % (k, v) for k, v in sorted(seen.items()) if v > 1]
    kids, roots = _tree(spans)
    got = {p: sorted(_canon_got(s, kids) for s in ss) for p, ss in roots.items()}
    want = {(p or ""): sorted(_canon_expected(n) for n in ns) for p, ns in expected_roots.items()}
    if got != want:
        errs.append("tree differs (%d spans, %d expected)" % (len(spans), count(expected_roots)))
    by_id = {s.sid: s for s in spans}
    for s in spans:
        p = by_id.get(s.parent)
        if p is None:
            continue
        if nest_weft_only and "weft" not in (s.origin, p.origin):
            continue
        # A stand-in sidecar takes its span's end after relaying the
        # response; preempted there (2 CPUs, GC), it ends after the caller
        # that already has the response (sidecar-c 11 ms past sidecar-b,
        # once in a suite run). Its end is its own clock's, not weft's claim:
        # only a weft child's end is held to its parent's.
        late_end = s.end > p.end + NEST_SLACK_US and s.origin == "weft"
        if s.start < p.start - NEST_SLACK_US or late_end:
            errs.append("%s(%s) %s [%d, %d] is not inside its parent %s(%s) %s [%d, %d]"
                        % (s.service, s.kind, s.sid, s.start, s.end, p.service, p.kind, p.sid,
                           p.start, p.end))
    return errs


def weft_view(wefts, pids):
    """What weft printed (JSON lines) for these processes, one span a line:
    where its spans went when the tree in Jaeger is wrong."""
    out = []
    for i, w in enumerate(wefts):
        try:
            spans = w.spans()
        except L.Failed as e:
            out.append("weft #%d: %s" % (i, e))
            continue
        for sp in sorted(spans, key=lambda x: x.get("start_time_unix_nano", 0)):
            r = L.res(sp)
            if r.get("process.pid") not in pids:
                continue
            out.append("weft #%d: %s(%s) pid %s trace %s span %s parent %s %s%s" % (
                i, r.get("service.name"), sp.get("kind"), r.get("process.pid"), sp.get("trace_id"),
                sp.get("span_id"), sp.get("parent_span_id") or "-", L.attrs(sp).get("url.path", ""),
                "" if sp.get("sampled", True) else " (unsampled)"))
    return "\n".join(out) or "(weft printed no span of these processes)"


def tree_report(jtrace, expected_roots):
    return ("--- got (Jaeger) ---\n%s\n--- expected ---\n%s"
            % (render(spans_of(jtrace)) if jtrace else "(no trace)",
               render_expected(expected_roots)))
