# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Fault injection for the OTLP/HTTP exporter.

tests/tools/span_gen drives the real exporter (no BPF) against a fake
collector on 127.0.0.1 that answers as each test scripts it: retryable
errors, Retry-After, permanent errors, partial success, silence, absence.
Bodies are decoded with a small hand-written protobuf reader (only the
fields checked here), so no pip package is needed.

SPAN_GEN=path overrides the driver; WEFT_DOWN_SECONDS sets how long the
collector stays down in test_collector_down (default 20), WEFT_RSS_LIMIT_KB
its memory bound (default 64 MiB, 0 = unchecked, e.g. for an ASan build).
"""
import gzip
import http.server
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPAN_GEN = os.environ.get("SPAN_GEN", os.path.join(ROOT, "build", "tests", "span_gen"))
DOWN_SECONDS = int(os.environ.get("WEFT_DOWN_SECONDS", "20"))
# Peak RSS bound for test_collector_down; 0 skips it (ASan's quarantine).
RSS_LIMIT_KB = int(os.environ.get("WEFT_RSS_LIMIT_KB", str(64 * 1024)))


# --- protobuf wire format, just enough to read OTLP traces -----------------

def _varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Yields (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _varint(buf, i)
        elif wt == 1:
            val = struct.unpack_from("<Q", buf, i)[0]
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            val = bytes(buf[i:i + n])
            i += n
        elif wt == 5:
            val = struct.unpack_from("<I", buf, i)[0]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, val


def decode_kv(buf):
    key = value = None
    for num, _, val in fields(buf):
        if num == 1:
            key = val.decode()
        elif num == 2:
            for vn, _, v in fields(val):
                value = v.decode() if vn == 1 else v  # string_value / int_value
    return key, value


def decode_span(buf):
    s = {"attrs": {}, "parent": b"", "flags": 0, "kind": 0}
    names = {1: "trace_id", 2: "span_id", 4: "parent", 5: "name", 6: "kind",
             7: "start", 8: "end", 16: "flags"}
    for num, _, val in fields(buf):
        if num == 9:
            k, v = decode_kv(val)
            s["attrs"][k] = v
        elif num == 15:
            s["status"] = dict((n, v) for n, _, v in fields(val))
        elif num in names:
            s[names[num]] = val.decode() if num == 5 else val
    return s


def decode_request(buf):
    """ExportTraceServiceRequest -> [{"resource": {...}, "scopes": [...]}]."""
    out = []
    for num, _, rs in fields(buf):
        assert num == 1
        entry = {"resource": {}, "scopes": []}
        for rn, _, val in fields(rs):
            if rn == 1:
                for an, _, kv in fields(val):
                    if an == 1:
                        k, v = decode_kv(kv)
                        entry["resource"][k] = v
            elif rn == 2:
                scope = {"name": None, "version": None, "spans": []}
                for sn, _, sv in fields(val):
                    if sn == 1:
                        for n, _, v in fields(sv):
                            if n == 1:
                                scope["name"] = v.decode()
                            elif n == 2:
                                scope["version"] = v.decode()
                    elif sn == 2:
                        scope["spans"].append(decode_span(sv))
                entry["scopes"].append(scope)
        out.append(entry)
    return out


def _pb_bytes(num, data):
    out, n = bytearray([num << 3 | 2]), len(data)
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out) + data


def partial_success_body(rejected, message):
    """ExportTraceServiceResponse{partial_success{rejected_spans, error_message}}."""
    ps = bytes([1 << 3 | 0, rejected]) + _pb_bytes(2, message.encode())
    return _pb_bytes(1, ps)


# --- the fake collector ----------------------------------------------------

class Collector:
    """script(n) -> (status, headers, body) for the n-th request (0-based)."""

    def __init__(self, script, port=0):
        self.script = script
        self.requests = []   # (time, status, headers, decoded request or None)
        self.lock = threading.Lock()
        coll = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                raw = body
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(body)
                with coll.lock:
                    n = len(coll.requests)
                    status, headers, out = coll.script(n)
                    coll.requests.append((time.monotonic(), status,
                                          dict(self.headers), decode_request(raw)))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/v1/traces" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def accepted_span_ids(self):
        ids = []
        with self.lock:
            for _, status, _, req in self.requests:
                if 200 <= status < 300:
                    for rs in req:
                        for sc in rs["scopes"]:
                            ids += [int.from_bytes(s["span_id"], "big") for s in sc["spans"]]
        return ids


def always(status, headers=None, body=b""):
    return lambda n: (status, headers or {}, body)


def first_then_ok(k, status, headers=None, body=b""):
    return lambda n: (status, headers or {}, body) if n < k else (200, {}, b"")


_built = []


def run_gen(url, *args, timeout=120):
    """Runs span_gen to completion; returns (stats dict, stderr, seconds)."""
    if SPAN_GEN.startswith(os.path.join(ROOT, "build")) and not _built:
        # make is incremental: a span_gen older than the exporter is rebuilt
        r = subprocess.run(["make", "-s", "-C", ROOT, "build/tests/span_gen"])
        if r.returncode:
            pytest.fail("`make build/tests/span_gen` failed")
        _built.append(True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    t0 = time.monotonic()
    p = subprocess.run([SPAN_GEN, "--endpoint", url, *map(str, args)], env=env,
                       capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    stats = json.loads(p.stdout.strip().splitlines()[-1])
    return stats, p.stderr, took


def accounted(st):
    return (st["spans_exported"] + st["spans_rejected"] + st["spans_dropped_queue"]
            + st["spans_dropped_error"] + st["spans_dropped_shutdown"])


@pytest.fixture
def collector():
    made = []

    def make(script, port=0):
        c = Collector(script, port)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


# --- the tests ---------------------------------------------------------------

def test_body_is_gzipped_otlp(collector):
    c = collector(always(200))
    st, _, _ = run_gen(c.url, "--count", 12, "--resources", 2, "--batch-size", 12)
    assert st["spans_exported"] == 12 and st["requests"] == 1
    _, _, headers, req = c.requests[0]
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert [rs["resource"]["service.name"] for rs in req] == ["span-gen-0", "span-gen-1"]
    assert req[0]["resource"]["process.pid"] == 1000
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    for i, rs in enumerate(req):
        (scope,) = rs["scopes"]
        assert scope["name"] == "weft" and scope["version"] == version
        assert len(scope["spans"]) == 6
        for j, s in enumerate(scope["spans"]):
            n = 2 * j + i                     # span_gen's span index
            assert int.from_bytes(s["span_id"], "big") == n + 1
            assert s["trace_id"][0] == 0x77 and len(s["trace_id"]) == 16
            assert (s["parent"] != b"") == (n % 3 != 0)
            assert s["kind"] == (3 if n % 2 else 2)
            assert s["end"] - s["start"] == 250000
            assert s["flags"] == 1
            assert s["attrs"]["http.request.method"] == "GET"
            assert s["attrs"]["server.port"] == 8080


def test_uncompressed(collector):
    c = collector(always(200))
    st, _, _ = run_gen(c.url, "--count", 5, "--no-gzip")
    assert st["spans_exported"] == 5
    assert "Content-Encoding" not in c.requests[0][2]


def test_503_retry_after(collector):
    c = collector(first_then_ok(1, 503, {"Retry-After": "1"}))
    st, err, _ = run_gen(c.url, "--count", 300, "--batch-size", 100)
    assert st["retries"] >= 1 and st["export_errors"] == 1
    assert st["spans_exported"] == 300 == accounted(st)
    ids = c.accepted_span_ids()
    assert sorted(ids) == list(range(1, 301))      # all arrived, exactly once
    # The retry of the first batch waited for Retry-After.
    first = c.requests[0]
    again = next(r for r in c.requests[1:] if r[3] == first[3])
    assert again[0] - first[0] >= 0.9
    assert "HTTP 503" in err


def test_429_backoff(collector):
    c = collector(first_then_ok(3, 429))
    st, _, _ = run_gen(c.url, "--count", 200, "--batch-size", 200)
    assert st["retries"] == 3 and st["requests"] == 4
    assert st["spans_exported"] == 200
    assert sorted(c.accepted_span_ids()) == list(range(1, 201))


def test_400_not_retried(collector):
    c = collector(always(400, body=b"bad request: missing service"))
    st, err, _ = run_gen(c.url, "--count", 250, "--batch-size", 100)
    assert st["retries"] == 0 and st["requests"] == 3
    assert st["spans_dropped_error"] == 250 and st["spans_exported"] == 0
    assert "HTTP 400" in err and "missing service" in err


def test_partial_success(collector):
    c = collector(always(200, body=partial_success_body(5, "spans too old")))
    st, err, _ = run_gen(c.url, "--count", 200, "--batch-size", 100)
    assert st["spans_rejected"] == 10 and st["spans_exported"] == 190
    assert accounted(st) == 200
    assert err.count("rejected 5 of 100 spans: spans too old") == 2


def test_collector_never_answers():
    # Accepts connections (the kernel completes the handshake), never replies.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held = []
    stop = threading.Event()

    def hold():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass
    threading.Thread(target=hold, daemon=True).start()
    url = "http://127.0.0.1:%d/v1/traces" % srv.getsockname()[1]
    try:
        st, err, took = run_gen(url, "--count", 100, "--batch-size", 50,
                                "--timeout-ms", 1000, "--shutdown-ms", 3000)
    finally:
        stop.set()
        for s in held:
            s.close()
        srv.close()
    assert st["spans_exported"] == 0 and st["export_errors"] >= 1
    assert st["retries"] >= 1
    assert accounted(st) == 100
    assert st["stop_ms"] < 3000 + 1500       # the shutdown deadline holds
    assert took < 10
    assert "timed out" in err.lower() or "timeout" in err.lower()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_collector_down(collector):
    """Down for DOWN_SECONDS, then up: memory stays bounded, every span is
    either exported or counted as dropped, none arrives twice."""
    port = _free_port()
    url = "http://127.0.0.1:%d/v1/traces" % port
    rate, after = 5000, 5
    count = rate * (DOWN_SECONDS + after)
    result = {}

    def gen():
        result["out"] = run_gen(url, "--count", count, "--rate", rate,
                                "--batch-size", 100, "--batch-timeout-ms", 200,
                                "--queue-batches", 4, "--timeout-ms", 1000,
                                "--shutdown-ms", 5000,
                                timeout=DOWN_SECONDS + after + 60)
    t = threading.Thread(target=gen)
    t.start()
    time.sleep(DOWN_SECONDS)
    c = collector(always(200), port=port)
    t.join()
    st, err, _ = result["out"]
    ids = c.accepted_span_ids()
    assert len(ids) == len(set(ids))                  # exactly once
    assert st["spans_exported"] == len(ids) > 0
    assert st["spans_dropped_error"] == 0 and st["spans_rejected"] == 0
    # Drops are exact: what was produced and not exported was counted.
    assert st["produced"] == count == st["spans_in"]
    dropped = st["spans_dropped_queue"] + st["spans_dropped_shutdown"]
    assert dropped == count - st["spans_exported"]
    assert st["spans_dropped_queue"] > 0
    # Unbounded buffering would hold all rate * DOWN_SECONDS spans (~1.5 KiB
    # each, > 100 MiB at the default 20 s); the queue holds 4 * 100.
    if RSS_LIMIT_KB:
        assert st["peak_rss_kb"] < RSS_LIMIT_KB
    # One line when the trouble starts, one when it ends: no log flood.
    assert err.count(" failed: ") == 1 and "recovered" in err
