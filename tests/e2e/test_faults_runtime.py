"""Issue 15, faults at run time (weft loaded, as root):

- the ring buffer overflows under a burst (a 1 MiB ring, weft stopped with
  SIGSTOP while the burst is sent, so that the overflow is certain and not
  a matter of the machine's speed): the drops are counted, each request
  of the burst is a correct span or absent and accounted for by the drop
  counter, and weft recovers (every request after it is traced);
- a traced Go server is killed and started again from the same binary: the
  second instance's spans still link in process (the Go uprobes sit on the
  binary's inode, so they stay effective for the new process);
- a Go binary whose last process exited has its probes taken off (weft's
  sweep, every 10 s: the fds of its uprobe links are closed), and a new
  process of the same file gets them again;
- weft is restarted (SIGTERM, start again) while traffic flows: its BPF
  programs and maps are gone after the first exit, nothing is left pinned
  in /sys/fs/bpf, no request is traced twice across the two runs, and only
  requests in the gap between the runs are missing;
- SIGHUP does not kill weft: it says so and goes on tracing;
- a long run (a few thousand spans exported to Jaeger) ends with SIGTERM,
  exit 0 and, under the sanitizers (tests/run.sh step e2e-asan), no
  LeakSanitizer report (conftest.py checks every weft's stderr).

    sudo python3 -m pytest -x -q tests/e2e/test_faults_runtime.py
"""
import collections
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import e2e_lib as L
from conftest import start

# user/main.c's lines
RB_FULL = re.compile(r"^weft: drops: ring buffer full (\d+),")
GO_STATS = re.compile(r"Go binaries (\d+) \(probed (\d+), stripped (\d+)[,)]")
EXPORT_AT_EXIT = re.compile(r"^weft: export at exit: exported (\d+) of (\d+) spans, dropped (\d+)")
# the long run's length (seconds); longer under the sanitizers, where the
# leak check at exit is what it is for
LONG_RUN_S = float(os.environ.get("WEFT_E2E_LONG_RUN_S", "150" if L.SANITIZED else "30"))
# weft's exit detaches one uprobe at a time, ~0.3 s each here, and it
# probes every Go binary on the node: 15-20 s with the other tests' servers
STOP_S = 120


def last_int(w, rx):
    got = [int(m.group(1)) for m in (rx.match(ln) for ln in w.err) if m]
    return got[-1] if got else None


def server_spans_by_query(w, pid, key):
    """{N: [spans]} of the server spans of pid whose url.query is key=N."""
    out = {}
    for s in L.of_pid(w.spans(), pid, "server"):
        m = re.fullmatch(r"%s=(\d+)" % key, L.attrs(s).get("url.query", ""))
        if m:
            out.setdefault(int(m.group(1)), []).append(s)
    return out


def bpf_ids(pid):
    """The BPF program and map ids whose fds the process holds."""
    ids = set()
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                txt = f.read()
        except OSError:
            continue
        for kind in ("prog_id", "map_id"):
            m = re.search(r"^%s:\s*(\d+)" % kind, txt, re.M)
            if m:
                ids.add((kind.split("_")[0], int(m.group(1))))
    return ids


def bpf_id_exists(kind, i):
    return subprocess.run(["bpftool", kind, "show", "id", str(i)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def bpffs_entries():
    out = set()
    for d, dirs, files in os.walk("/sys/fs/bpf"):
        for n in dirs + files:
            out.add(os.path.join(d, n))
    return out


# ------------------------------------------------------------ ring buffer


def test_ring_buffer_overflow_counted_and_recovers(weft, fresh_server):
    """A burst while weft cannot read: the 1 MiB ring fills, the kernel side
    counts each record it could not write, and weft recovers."""
    srv = fresh_server("go1.26")
    w = weft(ports=[srv.port], args=["--ringbuf-mb", "1"])
    n = 3000
    pad = "X-Pad: " + "p" * 1024	# ~1.2 KiB per request record
    # code from the index: a request paired with another's response shows
    codes = [200 + i % 50 if 200 + i % 50 not in (204, 205) else 200 for i in range(n)]
    urls = [srv.url("/status/%d?b=%d" % (codes[i], i)) for i in range(n)]
    os.kill(w.proc.pid, signal.SIGSTOP)
    try:
        r = start(L.curl, urls, headers=[pad], timeout=120)
    finally:
        os.kill(w.proc.pid, signal.SIGCONT)
    assert [t["code"] for t in r.transfers] == codes
    # after the burst: new connections, every request traced
    after = [start(L.curl, srv.url("/hello?a=%d" % i)) for i in range(20)]
    assert all(a.transfers[0]["code"] == 200 for a in after)
    w.wait_for(lambda ss: len(server_spans_by_query(w, srv.pid, "a")) == 20, 20)
    time.sleep(1)
    assert w.stop(timeout=STOP_S) == 0
    drops = last_int(w, RB_FULL)
    burst = server_spans_by_query(w, srv.pid, "b")
    rec = server_spans_by_query(w, srv.pid, "a")
    print("burst of %d: %d server spans, ring buffer full %s; spans by process and kind: %s"
          % (n, len(burst), drops, sorted(collections.Counter(
              (L.res(s).get("process.executable.name"), s.get("kind")) for s in w.spans()).items())))
    assert drops is not None, w.stderr()
    assert drops > 0, "a 1 MiB ring buffer took %d requests of 1 KiB unread:\n%s" % (n, w.stderr())
    errs = []
    for i, ss in sorted(burst.items()):
        if len(ss) != 1:
            errs.append("request %d: %d server spans" % (i, len(ss)))
        got = L.attrs(ss[0])
        if got.get("url.path") != "/status/%d" % codes[i] or \
                got.get("http.response.status_code") != codes[i]:
            errs.append("request %d: span with path %r status %r, sent /status/%d"
                        % (i, got.get("url.path"), got.get("http.response.status_code"), codes[i]))
    L.assert_ok(errs[:20], what="burst spans not correct")
    # each request of the burst without a span lost at least one record
    missing = n - len(burst)
    assert missing <= drops, "%d requests of the burst have no span, only %d records " \
        "were counted lost:\n%s" % (missing, drops, w.stderr())
    assert sorted(rec) == list(range(20)) and all(len(v) == 1 for v in rec.values()), \
        "after the burst: spans for %s" % sorted(rec)


# --------------------------------------------------- traced Go restarted


def in_process_chain(w, go, py, tid, sid):
    """Errors of the chain curl -> go(/call) -> py for trace tid: go's server
    span under sid, its client span under that (the Go probes: traceparent
    is not copied onto the call), py's server span under the client span."""
    ss = [s for s in w.spans() if s.get("trace_id") == tid]
    gs = [s for s in ss if L.res(s).get("process.pid") == go.pid and s["kind"] == "server"]
    gc = [s for s in ss if L.res(s).get("process.pid") == go.pid and s["kind"] == "client"]
    ps = [s for s in w.spans() if L.res(s).get("process.pid") == py.pid and s["kind"] == "server"
          and s.get("parent_span_id") in {c["span_id"] for c in gc}]
    e = []
    if len(gs) != 1 or gs[0]["parent_span_id"] != sid:
        e.append("Go server spans of trace %s: %s" % (tid, [(s["span_id"], s["parent_span_id"]) for s in gs]))
        return e
    if len(gc) != 1 or gc[0]["parent_span_id"] != gs[0]["span_id"]:
        e.append("Go client spans of trace %s not under the server span %s: %s"
                 % (tid, gs[0]["span_id"], [(s["span_id"], s["parent_span_id"]) for s in gc]))
        return e
    if len(ps) != 1 or ps[0]["trace_id"] != tid:
        e.append("Python server span under Go's client span %s: %d" % (gc[0]["span_id"], len(ps)))
    return e


def chain_request(w, go, py):
    """One curl -> go /call -> py /hello request with a traceparent; the
    errors of its in-process chain (in_process_chain), [] when right."""
    tid, sid = os.urandom(16).hex(), os.urandom(8).hex()
    r = start(L.curl, go.url("/call?url=%s" % py.url("/hello")),
              headers=["traceparent: 00-%s-%s-01" % (tid, sid)])
    assert r.transfers[0]["code"] == 200
    w.wait_for(lambda ss: not in_process_chain(w, go, py, tid, sid), 10)
    return in_process_chain(w, go, py, tid, sid)


def test_traced_go_server_restarted(weft, fresh_server):
    go = fresh_server("go1.26")
    py = fresh_server("python")
    port = go.port
    w = weft(ports=[port, py.port])

    L.assert_ok(chain_request(w, go, py), w.spans(), what="first instance")
    first_pid = go.pid
    go.proc.kill()
    go.proc.wait()
    go = fresh_server("go1.26", port=port)
    assert go.pid != first_pid
    errs = []
    for _ in range(3):
        errs += chain_request(w, go, py)
    L.assert_ok(errs, w.spans(), what="second instance (pid %d, first %d)" % (go.pid, first_pid))
    assert w.stop(timeout=STOP_S) == 0
    m = GO_STATS.search(w.stderr())
    assert m, w.stderr()
    found, probed = int(m.group(1)), int(m.group(2))
    # one executable: probed once, its probes serving both processes
    assert probed >= 1 and found >= 1, w.stderr()
    print("goprobes at exit: Go binaries %d, probed %d" % (found, probed))


def _fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_exited_go_binary_probes_taken_off(weft, fresh_server, tmp_path):
    exe = str(tmp_path / "goexit")    # a file of its own: no other process runs it
    shutil.copy2(os.path.join(L.APPS, "go1.26", "goserver"), exe)
    py = fresh_server("python")
    go = fresh_server("go1.26", exe=exe)
    port = go.port
    w = weft(ports=[port, py.port], args=["-v"])

    L.assert_ok(chain_request(w, go, py), w.spans(), what="before the exit")
    before = _fds(w.proc.pid)
    go.stop()
    said = "Go binary %s runs no more: its probes are taken off" % exe
    deadline = time.monotonic() + 30
    while said not in w.stderr() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert said in w.stderr(), "no sweep of %s within 30 s:\n%s" % (exe, w.stderr()[-3000:])
    deadline = time.monotonic() + 15
    while _fds(w.proc.pid) >= before and time.monotonic() < deadline:
        time.sleep(0.2)
    after = _fds(w.proc.pid)
    # the link probes (2) at least; TLS ones too when the binary has them
    assert after <= before - 2, "weft's fds: %d before the exit, %d after the sweep" % (before, after)
    print("weft's fds: %d with the Go binary probed, %d after its exit" % (before, after))

    go = fresh_server("go1.26", exe=exe, port=port)
    # attached again from the exec event (a request sent before that has
    # no in-process link: the README's Linking section says so)
    again = "of pid %d: link probes attached" % go.pid
    deadline = time.monotonic() + 10
    while again not in w.stderr() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert again in w.stderr(), w.stderr()[-3000:]
    errs = []
    for _ in range(2):
        errs += chain_request(w, go, py)
    L.assert_ok(errs, w.spans(), what="a new process of the same file")
    assert w.stop(timeout=STOP_S) == 0
    m = re.search(r"taken off after their processes exited (\d+)\)", w.stderr())
    assert m and int(m.group(1)) >= 1, w.stderr()[-3000:]


# ---------------------------------------------------------- weft restarted


class Traffic:
    """Requests /hello?r=N sent until stopped: one sender on a kept-alive
    connection, one with a new connection per request. Each request's
    (N, monotonic start, monotonic end) is kept."""

    def __init__(self, port, per_s=40):
        self.port, self.per_s = port, per_s
        self.done, self.errors = [], []
        self.lock = threading.Lock()
        self.n = 0
        self.stopping = threading.Event()
        self.ts = [threading.Thread(target=self.run, args=(ka,), daemon=True) for ka in (True, False)]
        for t in self.ts:
            t.start()

    def next_n(self):
        with self.lock:
            self.n += 1
            return self.n

    def run(self, keepalive):
        conn = None
        while not self.stopping.is_set():
            i = self.next_n()
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/hello?r=%d" % i,
                             headers={} if keepalive else {"Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                if not keepalive:
                    conn.close()
                    conn = None
                with self.lock:
                    self.done.append((i, t0, time.monotonic()))
            except (OSError, http.client.HTTPException) as e:
                self.errors.append("%d: %s" % (i, e))
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(2.0 / self.per_s)

    def stop(self):
        self.stopping.set()
        for t in self.ts:
            t.join(15)


def test_weft_restarted_under_traffic(weft, fresh_server):
    srv = fresh_server("go1.26")
    pins_before = bpffs_entries()
    w1 = weft(ports=[srv.port])
    held = bpf_ids(w1.proc.pid)
    assert any(k == "prog" for k, _ in held) and any(k == "map" for k, _ in held), held
    traffic = Traffic(srv.port)
    try:
        time.sleep(4)
        gap0 = time.monotonic()
        assert w1.stop(signal.SIGTERM, timeout=STOP_S) == 0, w1.stderr()
        # what the first run held is gone (freed asynchronously: allow a moment)
        end = time.monotonic() + 15
        left = held
        while left and time.monotonic() < end:
            left = {(k, i) for k, i in left if bpf_id_exists(k, i)}
            time.sleep(0.2)
        stale_pins = bpffs_entries() - pins_before
        w2 = weft(ports=[srv.port])
        gap1 = time.monotonic()
        time.sleep(4)
    finally:
        traffic.stop()
    w2.wait_for(lambda ss: False, 2)	# let the last spans come
    assert w2.stop(signal.SIGTERM, timeout=STOP_S) == 0, w2.stderr()
    assert not left, "BPF objects of the first run still exist after its exit: %s" % sorted(left)
    assert not stale_pins, "left in /sys/fs/bpf: %s" % sorted(stale_pins)
    assert not traffic.errors, traffic.errors[:5]
    s1 = server_spans_by_query(w1, srv.pid, "r")
    s2 = server_spans_by_query(w2, srv.pid, "r")
    errs, in_gap, absent_in_gap = [], 0, 0
    for i, t0, t1 in traffic.done:
        n1, n2 = len(s1.get(i, [])), len(s2.get(i, []))
        if n1 + n2 > 1:
            errs.append("request %d traced %d times (first run %d, second %d)" % (i, n1 + n2, n1, n2))
        overlaps_gap = t1 >= gap0 and t0 <= gap1
        if overlaps_gap:
            in_gap += 1
            absent_in_gap += n1 + n2 == 0
        elif n1 + n2 == 0:
            errs.append("request %d (%.3f s before the first stop .. %.3f s after the second "
                        "start) has no span" % (i, gap0 - t0, t1 - gap1))
        elif t1 < gap0 and n1 != 1:
            errs.append("request %d, done before the first run stopped, is in the second's" % i)
        elif t0 > gap1 and n2 != 1:
            errs.append("request %d, sent after the second run started, is in the first's" % i)
    print("requests %d, in the gap %d (%.3f s; %d of them absent); first run %d spans, "
          "second %d" % (len(traffic.done), in_gap, gap1 - gap0, absent_in_gap, len(s1), len(s2)))
    L.assert_ok(errs[:30], what="requests across a weft restart")


# --------------------------------------------------------------- SIGHUP


def test_sighup_does_not_stop_weft(weft, fresh_server):
    srv = fresh_server("python")
    w = weft(ports=[srv.port])
    w.proc.send_signal(signal.SIGHUP)
    ok = w.wait_for(lambda ss: any("SIGHUP ignored" in ln for ln in w.err), 5)
    assert ok and w.proc.poll() is None, "after SIGHUP: rc %s\n%s" % (w.proc.poll(), w.stderr())
    r = start(L.curl, srv.url("/hello?h=1"))
    assert w.wait_for(lambda ss: 1 in server_spans_by_query(w, srv.pid, "h"), 10), \
        "no span after SIGHUP:\n" + w.stderr()
    assert r.transfers[0]["code"] == 200
    assert w.stop(timeout=STOP_S) == 0, w.stderr()


def test_signal_while_stdout_blocked_loses_nothing(weft_bin, fresh_server, tmp_path):
    """SIGHUPs that land while weft's write to a full stdout pipe blocks: no
    span line is cut or lost. (Without SA_RESTART the write failed with
    EINTR and stdio threw the rest of its buffer away: a line cut in the
    middle, the next span glued to it; seen in test_http under ASan.)"""
    srv = fresh_server("go1.26")
    n = 1500
    errf = open(str(tmp_path / "weft.err"), "w+b")
    p = subprocess.Popen([weft_bin, "-o", "json", "-P", str(srv.port)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=errf)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
    try:
        def err():
            errf.seek(0)
            return errf.read().decode("utf-8", "replace")
        end = time.monotonic() + 60
        while "weft: tracing" not in err():
            assert p.poll() is None and time.monotonic() < end, err()
            time.sleep(0.1)
        # ~2 spans of ~900 bytes per request, nobody reading: the 64 KiB
        # pipe fills at once and weft's main loop blocks in write()
        start(L.curl, [srv.url("/hello?h=%d" % i) for i in range(n)])
        time.sleep(1)
        for _ in range(5):
            p.send_signal(signal.SIGHUP)
            time.sleep(0.3)
        assert p.poll() is None, "weft died of SIGHUP:\n" + err()
        reader.start()
        time.sleep(3)
        p.send_signal(signal.SIGINT)
        rc = p.wait(STOP_S)
        reader.join(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    stderr = err()
    assert rc == 0, stderr
    assert "SIGHUP ignored" in stderr, stderr
    assert not any(m in stderr for m in L.SANITIZER_MARKS), stderr[-6000:]
    bad, seen = [], collections.Counter()
    for raw in lines:
        try:
            s = json.loads(raw)
        except ValueError:
            bad.append(raw[:300])
            continue
        if L.res(s).get("process.pid") == srv.pid and s.get("kind") == "server":
            m = re.fullmatch(r"h=(\d+)", L.attrs(s).get("url.query", ""))
            if m:
                seen[int(m.group(1))] += 1
    assert not bad, "%d lines are not JSON, e.g. %s" % (len(bad), bad[:3])
    drops = [int(m.group(1)) for m in (RB_FULL.match(ln) for ln in stderr.splitlines()) if m]
    missing = [i for i in range(n) if seen[i] == 0]
    twice = [i for i in range(n) if seen[i] > 1]
    print("%d requests: %d server spans, %d missing, ring buffer full %s"
          % (n, sum(seen.values()), len(missing), drops))
    assert not twice, twice[:20]
    assert not missing, "no span for %d requests (e.g. %s); ring buffer full %s" \
        % (len(missing), missing[:10], drops)


# ----------------------------------------------- long run, clean exit


def test_long_run_exits_clean(weft, jaeger, fresh_server):
    """Steady traffic for LONG_RUN_S seconds, exported to Jaeger; SIGTERM:
    exit 0, every span exported, no sanitizer report (conftest)."""
    go = fresh_server("go1.26")
    py = fresh_server("python")
    w = weft(ports=[go.port, py.port],
             args=["--otlp-endpoint", jaeger.otlp, "--batch-timeout", "200"], output="none")
    senders = [Traffic(go.port, per_s=30), Traffic(py.port, per_s=20)]
    try:
        time.sleep(LONG_RUN_S)
    finally:
        for t in senders:
            t.stop()
    time.sleep(2)
    rc = w.stop(signal.SIGTERM, timeout=STOP_S)
    sent = sum(len(t.done) for t in senders)
    m = [EXPORT_AT_EXIT.match(ln) for ln in w.err]
    m = [x for x in m if x]
    assert rc == 0, "weft exited with %s after SIGTERM:\n%s" % (rc, w.stderr()[-6000:])
    assert m, w.stderr()
    exported, spans_in, dropped = (int(x) for x in m[-1].groups())
    print("long run %.0f s: %d requests, spans %d, exported %d, dropped %d"
          % (LONG_RUN_S, sent, spans_in, exported, dropped))
    assert not any(t.errors for t in senders), [t.errors[:3] for t in senders]
    # a server span for each request, client spans for the Python client
    assert spans_in >= sent, "%d spans for %d requests:\n%s" % (spans_in, sent, w.stderr())
    assert exported == spans_in and dropped == 0, w.stderr()
    assert not any(mk in ln for ln in w.err for mk in L.SANITIZER_MARKS), w.stderr()[-6000:]
