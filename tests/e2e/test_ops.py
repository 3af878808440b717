"""Issue 11, Operations, end to end: weft's health and metrics endpoint
(--metrics-addr) with weft loaded, and a clean exit.

  - /healthz is 200; /readyz turns 200 once the programs are attached and
    the ring buffer was polled; unknown paths are 404, other methods 405;
  - /metrics is Prometheus text format 0.0.4: every line parses, every
    family has HELP and TYPE, counters end in _total, names start weft_;
    the kernel's counters, the pipeline's and the exporter's are there;
  - a curl to a test server makes a span, and the span counters move;
    exporting to a small OTLP sink moves the export counters;
  - scrapes make no span at either end (weft's end: its pid; the scraper's:
    the kernel marks clients of weft's own listening socket), on 127.0.0.1,
    dual-stack :PORT and [::1]:PORT, with both hook modes;
  - a port that is taken fails at start with one clear line;
  - after SIGTERM weft exits 0 and none of its BPF programs, links or maps
    is left, nothing is pinned, the port is closed.

    sudo python3 -m pytest -v tests/e2e/test_ops.py
"""
import errno
import glob
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

import e2e_lib as L

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
OPS_PATHS = ("/healthz", "/readyz", "/metrics", "/nope")

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*,?)?\})? (\S+)( -?[0-9]+)?$" % (NAME, LABEL, LABEL))
COMMENT_RE = re.compile(r"^# (HELP|TYPE) (%s) (.*)$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')

KERNEL_EVENTS = {"data_records", "close_records", "ringbuf_full", "user_memory_unreadable",
                 "header_over_window", "not_http", "undecodable_socket_call",
                 "own_export_connection", "own_endpoint_connection",
                 "tls_plaintext_without_socket", "go_h2_handler_unplaced",
                 "h2_connection_given_up"}
FAMILIES = {
    "weft_build_info", "weft_ready", "weft_process_resident_memory_bytes",
    "weft_process_cpu_seconds_total", "weft_ringbuf_size_bytes", "weft_ringbuf_used_bytes",
    "weft_ringbuf_used_max_bytes", "weft_kernel_events_total", "weft_records_total",
    "weft_records_filtered_total", "weft_spans_total", "weft_spans_output_total",
    "weft_spans_unsampled_total", "weft_connections_open", "weft_agent_events_total",
    "weft_links_total", "weft_links_waited_total", "weft_spans_held_total",
    "weft_link_misses_total", "weft_link_miss_late_max_seconds", "weft_spans_suppressed_total",
    "weft_telemetry_exchanges_total", "weft_own_connection_errors_total",
    "weft_go_binaries_total", "weft_go_binaries_probed_total",
    "weft_go_binaries_stripped_total", "weft_export_enabled", "weft_export_spans_in_total",
    "weft_export_spans_exported_total", "weft_export_spans_rejected_total",
    "weft_export_spans_dropped_total", "weft_export_requests_total",
    "weft_export_responses_total", "weft_go_h2_handlers_total",
}


# ----------------------------------------------------------------- helpers


def get(url, method="GET", timeout=5):
    """(status, headers, body) of one request on a new connection."""
    req = urllib.request.Request(url, method=method)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def parse_exposition(text):
    """{family: {"type", "help", "samples": {(name, labels): value}}}; fails
    the test at the first line the 0.0.4 text format does not allow."""
    fams, order = {}, []
    assert text.endswith("\n"), "the exposition must end with a newline"
    for line in text.split("\n")[:-1]:
        m = COMMENT_RE.match(line)
        if m:
            kind, name, rest = m.groups()
            f = fams.setdefault(name, {"samples": {}})
            assert kind.lower() not in f, "second %s for %s" % (kind, name)
            assert not f["samples"], "%s of %s after its samples" % (kind, name)
            f[kind.lower()] = rest
            if name not in order:
                order.append(name)
            continue
        assert not line.startswith("#"), "not a HELP/TYPE comment: %r" % line
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line of the text format: %r" % line
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        float(value)  # raises on a malformed number
        fam = fams.get(name)
        assert fam and "help" in fam and "type" in fam, "sample before HELP/TYPE: %r" % line
        key = (name, tuple(sorted(LABEL_RE.findall(labels))))
        assert key not in fam["samples"], "duplicate sample: %r" % line
        fam["samples"][key] = float(value)
    for name in order:
        f = fams[name]
        assert "help" in f and "type" in f, "%s lacks HELP or TYPE" % name
        assert f["type"] in ("counter", "gauge"), (name, f["type"])
        assert name.startswith("weft_"), name
        assert name.endswith("_total") == (f["type"] == "counter"), \
            "%s: counters and only counters end in _total" % name
        assert f["samples"], "%s has no sample" % name
    return fams


def value(fams, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in fams[name]["samples"], "no sample %s%s" % (name, labels)
    return fams[name]["samples"][key]


def scrape(base):
    st, hdr, body = get(base + "/metrics")
    assert st == 200, (st, body)
    assert hdr["Content-Type"].startswith("text/plain; version=0.0.4"), hdr["Content-Type"]
    return parse_exposition(body)


def wait_ready(base, timeout=20):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = get(base + "/readyz")
            if last[0] == 200:
                return last
        except OSError as e:
            last = e
        time.sleep(0.1)
    pytest.fail("/readyz never 200: %r" % (last,), pytrace=False)


def wait_metric(base, pred, timeout=5):
    end = time.monotonic() + timeout
    while True:
        fams = scrape(base)
        if pred(fams) or time.monotonic() > end:
            return fams
        time.sleep(0.2)


def bpf_objects(pid):
    """{"prog": ids, "link": ids, "map": ids} that weft holds open now."""
    out = {"prog": set(), "link": set(), "map": set()}
    for fd in glob.glob("/proc/%d/fd/*" % pid):
        try:
            target = os.readlink(fd)
            if not target.startswith("anon_inode:bpf"):  # bpf-prog, bpf-map, bpf_link
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, os.path.basename(fd))) as f:
                info = f.read()
        except OSError:
            continue
        for kind in out:
            m = re.search(r"^%s_id:\s+(\d+)" % kind, info, re.M)
            if m:
                out[kind].add(int(m.group(1)))
    return out


def bpftool_ids(kind):
    p = subprocess.run(["bpftool", "-j", kind, "show"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    return {o["id"] for o in json.loads(p.stdout or b"[]")}


def pinned():
    return sorted(p for p in glob.glob("/sys/fs/bpf/**", recursive=True) if p != "/sys/fs/bpf/")


def assert_nothing_left(held, pins_before, port, timeout=10):
    """weft's programs, links and maps are gone from the kernel (freed a
    moment after the last reference goes), nothing new is pinned, the
    endpoint's port is closed."""
    end = time.monotonic() + timeout
    while True:
        left = {k: held[k] & bpftool_ids(k) for k in held}
        if not any(left.values()) or time.monotonic() > end:
            break
        time.sleep(0.2)
    assert not any(left.values()), "left in the kernel after weft exited: %s" % left
    new_pins = [p for p in pinned() if p not in pins_before]
    assert not new_pins, "pinned after weft exited: %s" % new_pins
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


class Sink(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP intake that accepts everything (an empty protobuf
    ExportTraceServiceResponse is full success)."""
    protocol_version = "HTTP/1.1"
    requests = 0

    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Sink.requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def sink():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def pyserver(weft_bin):
    s = L.Server("python")
    yield s
    s.stop()


def ops_spans(w, ops_port):
    """Spans of a scrape: the endpoint's paths, or weft's port at either end."""
    out = []
    for s in w.spans():
        a = L.attrs(s)
        if (a.get("url.path") in OPS_PATHS or a.get("server.port") == ops_port or
                a.get("network.peer.port") == ops_port):
            out.append(s)
    return out


# ------------------------------------------------------------------- tests


def test_endpoints_metrics_and_clean_exit(weft, pyserver, sink, hooks):
    ops = L.free_port()
    base = "http://127.0.0.1:%d" % ops
    pins_before = pinned()
    # the test server's port and the endpoint's are traced; so would scrapes be
    w = weft(ports=[pyserver.port, ops], hooks=hooks,
             args=["--metrics-addr", "127.0.0.1:%d" % ops, "--otlp-endpoint", sink,
                   "--batch-timeout", "200"])
    assert any("health and metrics on 127.0.0.1:%d" % ops in l for l in w.err), w.stderr()

    st, _, body = wait_ready(base)
    assert body == "ready\n"
    st, hdr, body = get(base + "/healthz")
    assert (st, body) == (200, "ok\n")
    assert get(base + "/nope")[0] == 404
    assert get(base + "/metrics/")[0] == 404
    st, hdr, _ = get(base + "/metrics", method="POST")
    assert st == 405 and hdr["Allow"] == "GET, HEAD"
    st, _, body = get(base + "/metrics", method="HEAD")
    assert st == 200 and body == ""

    fams = scrape(base)
    missing = FAMILIES - set(fams)
    assert not missing, "families missing from /metrics: %s" % sorted(missing)
    events = {dict(l)["event"] for (_, l) in fams["weft_kernel_events_total"]["samples"]}
    assert events == KERNEL_EVENTS
    with open(os.path.join(L.REPO, "VERSION")) as f:
        version = f.read().strip()
    info = list(fams["weft_build_info"]["samples"].items())
    assert len(info) == 1 and dict(info[0][0][1])["version"] == version and info[0][1] == 1
    assert value(fams, "weft_ready") == 1
    assert value(fams, "weft_export_enabled") == 1
    assert value(fams, "weft_ringbuf_size_bytes") == 16 << 20
    assert 0 <= value(fams, "weft_ringbuf_used_bytes") <= 16 << 20
    assert value(fams, "weft_process_resident_memory_bytes") > 1 << 20
    spans0 = value(fams, "weft_spans_output_total")
    built0 = value(fams, "weft_spans_total")

    # one exchange with the test server: a span, counted, exported
    r = L.curl(pyserver.url("/hello"))
    assert r.transfers[0]["code"] == 200
    assert w.wait_for(lambda sp: any(L.attrs(s).get("url.path") == "/hello" for s in sp)), \
        w.describe()
    fams = wait_metric(base, lambda f: value(f, "weft_spans_output_total") >= spans0 + 2 and
                       value(f, "weft_export_spans_exported_total") >= 2)
    assert value(fams, "weft_spans_output_total") >= spans0 + 2  # curl's and the server's
    assert value(fams, "weft_spans_total") >= built0 + 2
    assert value(fams, "weft_kernel_events_total", event="data_records") > 0
    assert value(fams, "weft_export_spans_exported_total") >= 2
    assert value(fams, "weft_export_requests_total", result="ok") >= 1
    assert value(fams, "weft_export_responses_total", status_class="2xx") >= 1
    assert Sink.requests >= 1

    # many scrapes, by curl and by urllib: none becomes a span
    skipped0 = value(fams, "weft_kernel_events_total", event="own_endpoint_connection")
    n = 0
    for i in range(10):
        for p in ("/healthz", "/readyz", "/metrics", "/nope"):
            get(base + p)
            n += 1
    cr = L.curl([base + p for p in ("/healthz", "/readyz", "/metrics")] * 5, check=False)
    n += 1
    fams = wait_metric(base, lambda f: value(f, "weft_kernel_events_total",
                                             event="own_endpoint_connection") >= skipped0 + n)
    # every scraper connection was skipped by the kernel, as weft's own
    assert value(fams, "weft_kernel_events_total",
                 event="own_endpoint_connection") >= skipped0 + n
    time.sleep(0.5)
    leaked = ops_spans(w, ops)
    assert not leaked, "scrapes became spans:\n%s" % L.dump(leaked)
    assert [s for s in w.spans() if L.res(s).get("process.pid") == cr.pid] == []

    held = bpf_objects(w.proc.pid)
    assert held["prog"] and held["link"] and held["map"], held
    assert w.stop(signal.SIGTERM) == 0, w.stderr()
    assert_nothing_left(held, pins_before, ops)


@pytest.mark.parametrize("where", ["dual-stack", "ipv6"])
def test_other_addresses(weft, where):
    """:PORT answers on 127.0.0.1 and ::1 (one dual-stack socket); [::1]:PORT
    on ::1. IPv4 clients of the dual-stack socket are v4-mapped on weft's
    side, plain IPv4 on theirs: still skipped."""
    ops = L.free_port("::1")
    spec = ":%d" % ops if where == "dual-stack" else "[::1]:%d" % ops
    bases = ["http://[::1]:%d" % ops] + (["http://127.0.0.1:%d" % ops]
                                         if where == "dual-stack" else [])
    w = weft(ports=[ops], args=["--metrics-addr", spec])
    for base in bases:
        wait_ready(base)
        fams0 = scrape(base)
        skipped0 = value(fams0, "weft_kernel_events_total", event="own_endpoint_connection")
        for _ in range(5):
            assert get(base + "/healthz")[0] == 200
        fams = wait_metric(base, lambda f: value(f, "weft_kernel_events_total",
                                                 event="own_endpoint_connection") >= skipped0 + 6)
        assert value(fams, "weft_kernel_events_total",
                     event="own_endpoint_connection") >= skipped0 + 6, base
    time.sleep(0.5)
    assert not ops_spans(w, ops), L.dump(ops_spans(w, ops))
    assert w.stop(signal.SIGTERM) == 0, w.stderr()


def test_port_taken(weft_bin):
    """Another process has the port: weft says so in one line and exits 1,
    before it loads anything."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([weft_bin, "--metrics-addr", "127.0.0.1:%d" % port, "-o", "none"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert err.count("\n") == 1 and "Address already in use" in err and \
        "127.0.0.1:%d" % port in err, err
    assert "tracing" not in err


def test_bad_address_is_a_usage_error(weft_bin):
    p = subprocess.run([weft_bin, "--metrics-addr", "::1:9464"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 2 and "brackets" in p.stderr.decode(), p.stderr.decode()
