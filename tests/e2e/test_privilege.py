"""Privilege, end to end with weft loaded (issue 15, "Privilege"):

* after attaching, every thread of weft holds only the capabilities it still
  uses (CapEff = CapPrm = the kept set, CapBnd too when weft may reduce it,
  CapInh = CapAmb = 0, NoNewPrivs = 1), read from /proc/<weft>/task/*/status,
  and everything still works after the drop: a Go binary started later (run
  as uid 65534 from a mode-0700 file, its service name only in its
  environment) gets its uprobes, its resource is read from /proc, the
  exporter sends, weft's own connections are told to the kernel, the
  counters are read from the maps, /metrics answers;
  three starting sets: all of root's; the bounding set without SYS_ADMIN;
  the chart's five without CAP_SETPCAP (the bounding set cannot shrink);
* no secret leaves weft: a query with sig= and a user-listed parameter, a
  proxy-style absolute target with userinfo, Authorization, Cookie and a
  request body, checked in the JSON output and in what the OTLP exporter
  sent;
* weft never writes into traced processes: under strace, no ptrace,
  process_vm_writev/readv or pidfd_getfd, no exec, no /proc/PID/mem, no
  file opened for writing at all, while uprobes are attached;
* weft refuses files another user could swap (a world-writable directory,
  an OTEL_* variable, a file of another uid) before it loads anything.

  sudo python3 -m pytest -v tests/e2e/test_privilege.py
"""
import http.server
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

import e2e_lib as L

NOBODY = 65534
CAP = {"dac_read_search": 2, "setpcap": 8, "sys_ptrace": 19, "sys_admin": 21,
       "perfmon": 38, "bpf": 39}
SECRETS = [b"SIGSECRET", b"TOKENSECRET", b"GOOGSECRET", b"PASSURL", b"PASSHDR",
           b"COOKIESECRET", b"BODYSECRET", b"puser"]


def mask(*names):
    return sum(1 << CAP[n] for n in names)


def caps_of(pid):
    """{tid: {CapEff: int, ..., NoNewPrivs: int}} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                text = f.read()
        except OSError:
            continue
        d = {}
        for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            m = re.search(r"^%s:\s*([0-9a-f]+)$" % k, text, re.M)
            d[k] = int(m.group(1), 16)
        d["NoNewPrivs"] = int(re.search(r"^NoNewPrivs:\s*(\d)", text, re.M).group(1))
        d["comm"] = open("/proc/%d/task/%s/comm" % (pid, tid)).read().strip()
        out[int(tid)] = d
    return out


class Sink:
    """An OTLP/HTTP receiver on loopback that keeps every body it gets."""

    def __init__(self):
        bodies = self.bodies = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                bodies.append(self.rfile.read(n))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Go:
    """goserver on a chosen port; uid: run as that user (setpriv)."""

    def __init__(self, exe, port, name, uid=None, service=None):
        env = dict(L.NO_PROXY_ENV)
        env.pop("OTEL_SERVICE_NAME", None)
        if service:
            env["OTEL_SERVICE_NAME"] = service
        cmd = [exe, "-addr", "127.0.0.1:%d" % port, "-name", name]
        if uid is not None:
            cmd = ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups"] + cmd
        self.exe = exe
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.pid = self.proc.pid
        line = L._readline_timeout(self.proc.stdout, 20)
        if not line.startswith(b"ready "):
            self.stop()
            raise L.Failed("goserver %s did not start: %r" % (cmd, line))
        self.base = "http://127.0.0.1:%d" % port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PWeft(L.Weft):
    """L.Weft with a command of its own (setpriv or strace in front)."""

    def __init__(self, cmd):  # noqa: super().__init__ would start build/weft
        self.cmd = list(cmd)
        self.out, self.err = [], []
        self.ready = threading.Event()
        self.rc = None
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._r1 = L._LineReader(self.proc.stdout, self.out)
        self._r2 = L._LineReader(self.proc.stderr, self.err, self._on_err)
        self._r1.start()
        self._r2.start()


@pytest.fixture
def tmpdir_root():
    d = tempfile.mkdtemp(prefix="weft-e2e-priv-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, True)


def private_go(tmpdir):
    """A copy of the Go 1.26 goserver only uid 65534 can read and run."""
    src = os.path.join(L.APPS, "go1.26", "goserver")
    if not os.access(src, os.X_OK):
        pytest.fail("%s missing: run tests/apps/build.sh" % src, pytrace=False)
    d = os.path.join(tmpdir, "bin")
    os.mkdir(d, 0o755)
    exe = os.path.join(d, "privgo%d" % (os.getpid() % 100000))
    shutil.copy2(src, exe)
    os.chown(exe, NOBODY, NOBODY)
    os.chmod(exe, 0o700)
    return exe


def my_permitted():
    with open("/proc/self/status") as f:
        return int(re.search(r"^CapPrm:\s*([0-9a-f]+)$", f.read(), re.M).group(1), 16)


# start: how weft is started; keep: what it must hold afterwards; bnd: its
# bounding set afterwards (None: the kept set); probes: late Go uprobes work
STARTS = {
    "root": dict(prefix=[], keep=mask("sys_admin", "sys_ptrace", "dac_read_search"),
                 bnd=None, probes=True),
    "no-sys-admin": dict(prefix=["setpriv", "--inh-caps", "-all", "--bounding-set", "-sys_admin"],
                         keep=mask("bpf", "perfmon", "sys_ptrace", "dac_read_search"),
                         bnd=None, probes=False),
    "chart-five": dict(prefix=["setpriv", "--inh-caps", "-all", "--bounding-set",
                               "-all,+bpf,+perfmon,+sys_admin,+sys_ptrace,+dac_read_search"],
                       keep=mask("sys_admin", "sys_ptrace", "dac_read_search"),
                       bnd=mask("bpf", "perfmon", "sys_admin", "sys_ptrace", "dac_read_search"),
                       probes=True),
}


@pytest.mark.parametrize("start", list(STARTS))
def test_drop_and_trace(weft_bin, go_apps, tmpdir_root, start):
    st = STARTS[start]
    have = my_permitted()
    if start == "root" and have & mask("sys_admin") == 0:
        pytest.skip("this test's root has no CAP_SYS_ADMIN")
    keep = st["keep"] & have
    bnd = keep if st["bnd"] is None else st["bnd"] & have
    pa, pb, pm = L.free_port(), L.free_port(), L.free_port()
    sink = Sink()
    ca = os.path.join(tmpdir_root, "ca.pem")    # a file the path rule accepts
    with open(ca, "w") as f:
        f.write("not used over http\n")
    args = ["-v", "-P", str(pa), "-P", str(pb), "-P", str(sink.port),
            "--otlp-endpoint", "http://127.0.0.1:%d" % sink.port, "--otlp-compression", "none",
            "--otlp-ca", ca, "--batch-timeout", "200", "--metrics-addr", "127.0.0.1:%d" % pm,
            "--redact-query-param", "token"]
    w = PWeft(st["prefix"] + [weft_bin, "--output", "json"] + args)
    procs = []
    try:
        w.wait_ready()
        time.sleep(0.3)

        # -- the sets, thread by thread (the metrics endpoint's thread ran
        # before the drop, the exporter's started after it)
        threads = caps_of(w.proc.pid)
        assert len(threads) >= 3, threads
        bad = {t: d for t, d in threads.items()
               if (d["CapEff"], d["CapPrm"], d["CapBnd"], d["CapInh"], d["CapAmb"], d["NoNewPrivs"])
               != (keep, keep, bnd, 0, 0, 1)}
        assert not bad, ("threads whose sets are not eff=prm=%x bnd=%x inh=amb=0 nnp=1: %r\n%s"
                         % (keep, bnd, bad, w.describe()))
        assert any("capabilities after attach: kept" in l for l in w.err), w.describe()
        if bnd != keep:
            assert any("bounding set could not be reduced" in l for l in w.err), w.describe()

        # -- a Go binary started after the drop, of another user, unreadable
        # to others, its service name only in its environment
        exe = private_go(tmpdir_root)
        b = Go(os.path.join(L.APPS, "go1.26", "goserver"), pb, "b")
        procs.append(b)
        a = Go(exe, pa, "a", uid=NOBODY, service="priv-e2e-a")
        procs.append(a)
        time.sleep(0.5)
        for _ in range(2):
            L.curl(a.base + "/call?url=" + urllib.parse.quote(b.base + "/hello", safe=""))

        # -- secrets: a signed query, a user-listed parameter, credentials
        # in headers and a body; then a proxy-style absolute target
        body = os.path.join(tmpdir_root, "body")
        with open(body, "w") as f:
            f.write("password=BODYSECRET&card=BODYSECRET")
        L.curl(b.base + "/echo?sig=SIGSECRET&x=1&token=TOKENSECRET", method="POST",
               data_file=body, headers=["Cookie: session=COOKIESECRET",
                                        "Authorization: Bearer PASSHDR"])
        L.curl(b.base + "/hello", check=False,
               extra=["--request-target",
                      "http://puser:PASSURL@127.0.0.1:%d/p?X-Goog-Signature=GOOGSECRET&y=2" % pb])
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % pm, timeout=10).read()

        def done(spans):
            got = [s for s in spans if L.res(s).get("process.pid") in (a.pid, b.pid)]
            return len(got) >= 8
        w.wait_for(done, timeout=10)
        time.sleep(1.0)     # the exporter's batch (200 ms)
    finally:
        rc = w.stop()
        for p in procs:
            p.stop()
        sink.close()
    assert rc == 0, w.describe()
    spans = w.spans()

    # -- late Go attach, /proc reads
    sa = L.of_pid(spans, a.pid, "server")
    ca_ = L.of_pid(spans, a.pid, "client")
    assert len(sa) == 2 and len(ca_) == 2, L.dump(spans) + w.describe()
    for s in sa:
        assert L.res(s).get("service.name") == "priv-e2e-a", L.dump(sa)
        assert L.res(s).get("process.executable.path") == exe, L.dump(sa)
    attached = [l for l in w.err if "/proc/%d/exe" % a.pid in l and "link probes attached" in l]
    if st["probes"]:
        assert attached, "no uprobes on the Go binary started after the drop:\n" + w.describe()
        for c in ca_:
            assert c["parent_span_id"] in [s["span_id"] for s in sa], L.dump(sa + ca_)
    else:
        # without CAP_SYS_ADMIN the kernel (6.16+) refuses the uprobe
        assert not attached, w.describe()

    # -- redaction, in the JSON output
    def one(pid, kind, pred):
        got = [s for s in L.of_pid(spans, pid, kind) if pred(L.attrs(s))]
        assert len(got) == 1, (pid, kind, L.dump(L.of_pid(spans, pid)))
        return L.attrs(got[0])
    srv = one(b.pid, "server", lambda x: x.get("url.path") == "/echo")
    assert srv.get("url.query") == "sig=REDACTED&x=1&token=REDACTED", srv
    cli = [L.attrs(s) for s in spans if L.attrs(s).get("url.full", "").endswith("/echo?sig=REDACTED&x=1&token=REDACTED")]
    assert len(cli) == 1 and cli[0]["url.full"] == b.base + "/echo?sig=REDACTED&x=1&token=REDACTED", \
        L.dump(spans)
    srv = one(b.pid, "server", lambda x: x.get("url.path") == "/p")
    assert srv.get("url.query") == "X-Goog-Signature=REDACTED&y=2", srv
    cli = [L.attrs(s) for s in spans if "/p?X-Goog" in L.attrs(s).get("url.full", "")]
    assert len(cli) == 1 and cli[0]["url.full"] == \
        "http://REDACTED:REDACTED@127.0.0.1:%d/p?X-Goog-Signature=REDACTED&y=2" % pb, L.dump(spans)
    stdout = "\n".join(w.out).encode()
    for sec in SECRETS:
        assert sec not in stdout, "%r in weft's output:\n%s" % (sec, stdout.decode()[-4000:])

    # -- ... and in what was exported (uncompressed protobuf: strings as is)
    exported = b"".join(sink.bodies)
    assert b"sig=REDACTED&x=1&token=REDACTED" in exported, "nothing exported?\n" + w.describe()
    for sec in SECRETS:
        assert sec not in exported, "%r was exported" % sec

    # -- map reads and updates after the drop: counters, own connections,
    # the metrics endpoint (its thread dropped too)
    skipped = [int(m.group(1)) for l in w.err
               for m in [re.search(r"own export connections skipped (\d+)", l)] if m]
    assert skipped and skipped[-1] >= 1, w.describe()
    assert not any("could not be told to the kernel" in l for l in w.err), w.describe()
    assert b"weft_kernel_events_total" in metrics
    assert not any("warning" in l for l in w.err), w.describe()


def test_never_writes_into_traced_processes(weft_bin, go_apps, tmpdir_root):
    """strace -f over a run in which uprobes are attached to a Go binary:
    weft never ptraces, never uses process_vm_writev/readv or pidfd_getfd,
    never execs, opens no /proc/PID/mem and opens no file for writing at
    all (its output is the stdout it was given)."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    log = os.path.join(tmpdir_root, "strace.log")
    pb = L.free_port()
    calls = "ptrace,process_vm_writev,process_vm_readv,pidfd_getfd,execve,execveat,open,openat,openat2"
    w = PWeft(["strace", "-f", "-qq", "-e", "trace=" + calls, "-e", "signal=none", "-o", log,
               weft_bin, "--output", "json", "-v", "-P", str(pb)])
    g = None
    try:
        w.wait_ready(timeout=120)
        # a copy of its own: uprobes go on once per executable file, and
        # other goservers may be running this one already
        exe = os.path.join(tmpdir_root, "stracedgo")
        shutil.copy2(os.path.join(L.APPS, "go1.26", "goserver"), exe)
        g = Go(exe, pb, "straced")
        time.sleep(0.5)
        for _ in range(3):
            L.curl(g.base + "/call?url=" + urllib.parse.quote(g.base + "/hello", safe=""))
        w.wait_for(lambda s: len(L.of_pid(s, g.pid)) >= 6, timeout=10)
    finally:
        # weft is strace's child: the signal goes to it, strace follows
        try:
            with open("/proc/%d/task/%d/children" % (w.proc.pid, w.proc.pid)) as f:
                for pid in f.read().split():
                    os.kill(int(pid), signal.SIGINT)
            w.proc.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            pass
        w.stop()
        if g:
            g.stop()
    assert any("/proc/%d/exe" % g.pid in l and "link probes attached" in l for l in w.err), \
        "the run attached no uprobes:\n" + w.describe()
    with open(log) as f:
        lines = f.read().splitlines()
    assert lines, "strace wrote nothing"
    bad = []
    execs = 0
    for line in lines:
        m = re.match(r"^(\d+)\s+(\w+)\((.*)$", line)
        if not m:
            continue
        call, rest = m.group(2), m.group(3)
        if call in ("ptrace", "process_vm_writev", "process_vm_readv", "pidfd_getfd"):
            bad.append(line)
        elif call in ("execve", "execveat"):
            execs += 1
            if execs > 1:
                bad.append(line)
        elif call.startswith("open"):
            pm = re.search(r'"/proc/(\d+|self|thread-self)/([^"]*)"', rest)
            writes = re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", rest)
            if pm and (pm.group(2) == "mem" or pm.group(2).endswith("/mem")):
                bad.append(line)
            elif writes:    # weft writes no file at all (stdout is inherited)
                bad.append(line)
    assert not bad, "weft did what it must never do to another process:\n" + "\n".join(bad[:20])


def test_refuses_files_others_could_swap(weft_bin, tmpdir_root):
    """Before loading anything: exit 1, one line naming the file and why."""
    open_dir = os.path.join(tmpdir_root, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    in_open = os.path.join(open_dir, "ca.pem")
    sticky = os.path.join(tmpdir_root, "sticky")
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    theirs = os.path.join(tmpdir_root, "token")
    for p in (in_open, theirs):
        with open(p, "w") as f:
            f.write("x\n")
    os.chown(theirs, NOBODY, NOBODY)
    env = dict(os.environ)
    cases = [
        (["--otlp-ca", in_open], {}, "directory %s is writable by everyone" % open_dir),
        ([], {"OTEL_EXPORTER_OTLP_CERTIFICATE": in_open}, "--otlp-ca"),
        (["--k8s-token-file", theirs], {}, "file %s is owned by uid %d" % (theirs, NOBODY)),
        (["--otlp-key", os.path.join(sticky, "missing.pem")], {}, "anyone could create it"),
    ]
    for args, extra, want in cases:
        e = dict(env)
        e.update(extra)
        t0 = time.monotonic()
        p = subprocess.run([weft_bin, "-o", "none", "-d", "1"] + args, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        err = p.stderr.decode()
        assert p.returncode == 1, (args, extra, p.returncode, err)
        assert "weft: refusing" in err and want in err, (args, extra, err)
        assert "tracing" not in err and time.monotonic() - t0 < 5, err
