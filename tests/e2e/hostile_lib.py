"""Helpers for tests/e2e/test_hostile.py: raw sockets that send what no
well-behaved client sends, a reader of what the server really answered, a
weft whose stdout is kept as bytes (to check it is UTF-8 before anything
decodes it), weft's exit statistics, an OTLP sink with a small protobuf
reader, and two stand-in servers run as `python3 hostile_lib.py MODE ADDR`:

  silent   accepts, reads, never answers; closes when the client does
  frames   a length-prefixed binary protocol: echoes each frame as
           4-byte length + payload, written in two writes
"""
import gzip
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as L  # noqa: E402

HERE = os.path.abspath(__file__)
CRASH_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
               "runtime error:", "Segmentation fault", "core dumped", "SUMMARY: ",
               "double free", "stack smashing", "Aborted")


# --------------------------------------------------------------- weft, raw


class RawWeft(L.Weft):
    """L.Weft, but stdout is kept as bytes too: the JSON writer's output is
    checked for valid UTF-8 before anything decodes it (L.Weft decodes with
    'replace', which would hide an invalid byte)."""

    def __init__(self, args, env=None, output="json"):
        self.cmd = [L.WEFT] + (["--output", output] if output else []) + list(args)
        self.out, self.err, self.raw = [], [], []
        self.ready = threading.Event()
        self.rc = None
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     env=dict(os.environ if env is None else env))
        self._r1 = threading.Thread(target=self._read_raw, daemon=True)
        self._r2 = L._LineReader(self.proc.stderr, self.err, self._on_err)
        self._r1.start()
        self._r2.start()

    def _read_raw(self):
        for raw in iter(self.proc.stdout.readline, b""):
            self.raw.append(raw)
            self.out.append(raw.decode("utf-8", "replace").rstrip("\n"))
        self.proc.stdout.close()

    def invalid_utf8_lines(self):
        bad = []
        for raw in list(self.raw):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                bad.append("%s: %r" % (e, raw[:200]))
        return bad

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"^VmRSS:\s*(\d+) kB", f.read(), re.M).group(1))


def exit_stats(w):
    """weft's at-exit counters (the lines after 'weft: at exit'), as
    {'spans': N, 'closed before response': N, 'not HTTP': N, ...}."""
    st, at_exit = {}, False
    for line in w.err:
        if line.startswith("weft: at exit:"):
            at_exit = True
        if not at_exit or not line.startswith("weft: "):
            continue
        m = re.match(r"weft: (at exit|drops|exchanges|trace context): (.*)$", line)
        if not m:
            continue
        body = m.group(2)
        h = re.search(r"header blocks over window (\d+) \(kernel\) / (\d+) \(agent\)", body)
        if h:
            st["header blocks over window (kernel)"] = int(h.group(1))
            st["header blocks over window (agent)"] = int(h.group(2))
        for k, v in re.findall(r"([A-Za-z][A-Za-z ]*?) (\d+)", body):
            st.setdefault(k.strip(), int(v))
    return st


def periodic_stats(w):
    """The 'weft: stats:' lines of --stats: [(spans, connections open)]."""
    out = []
    for line in list(w.err):
        m = re.match(r"weft: stats: spans (\d+) .*connections open (\d+)", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2))))
    return out


def peak_connections(w):
    """The most connections weft followed at once, from the '(peak N)' of
    its last stats line (at exit or --stats): a 1 s sample misses a
    peak that comes and goes between two samples."""
    peak = None
    for line in list(w.err):
        m = re.match(r"weft: (?:stats|at exit): spans .*connections open \d+ \(peak (\d+)\)", line)
        if m:
            peak = int(m.group(1))
    return peak


def clean_exit_errors(w):
    """Why weft's exit was not clean ([] when it was): exit code, sanitizer
    or crash reports, missing exit statistics."""
    e = []
    if w.rc != 0:
        e.append("weft exited with %r" % (w.rc,))
    for line in w.err:
        if any(m in line for m in CRASH_MARKS):
            e.append("stderr: " + line)
    st = exit_stats(w)
    for k in ("spans", "ring buffer full", "not HTTP", "closed before response",
              "incomplete at exit", "invalid"):
        if k not in st:
            e.append("exit statistics lack %r" % k)
    return e


# ------------------------------------------------------------- raw client


def connect(port, host="127.0.0.1", timeout=10):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s, idle=0.5, limit=1 << 22, until=None):
    """Read until the peer closes, nothing comes for idle seconds, or
    until(data) says enough."""
    data = b""
    s.settimeout(idle)
    while len(data) < limit:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not b:
            break
        data += b
        if until and until(data):
            break
    return data


def exchange(port, pieces, idle=0.5, pause=0.0, host="127.0.0.1", expect=None):
    """One connection: send each piece (bytes) in its own write, pause
    seconds apart, then read what comes back (until expect responses came,
    when given). Returns (reply, local port)."""
    if isinstance(pieces, bytes):
        pieces = [pieces]
    s = connect(port, host)
    lport = s.getsockname()[1]
    try:
        for i, p in enumerate(pieces):
            if i and pause:
                time.sleep(pause)
            try:
                s.sendall(p)
            except (BrokenPipeError, ConnectionResetError):
                break
        def enough(d):
            return len(parse_responses(d)) >= expect and d.endswith((b"hello", b"\r\n\r\n"))
        return read_all(s, idle, until=enough if expect else None), lport
    finally:
        s.close()


def parse_responses(buf):
    """The status codes of the HTTP/1.x responses in buf, in order, framed
    by Content-Length, chunked, or the close."""
    codes, pos = [], 0
    while pos < len(buf):
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0 or not buf.startswith(b"HTTP/1.", pos):
            break
        head = buf[pos:end].decode("latin-1").split("\r\n")
        code = int(head[0].split(" ")[1])
        hdr = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            hdr.setdefault(k.strip().lower(), v.strip())
        codes.append(code)
        pos = end + 4
        if code < 200 or code in (204, 304):
            continue
        if "chunked" in hdr.get("transfer-encoding", "").lower():
            while True:
                le = buf.find(b"\r\n", pos)
                if le < 0:
                    return codes
                n = int(buf[pos:le].split(b";")[0], 16)
                pos = le + 2 + n + 2
                if n == 0:
                    break
        elif "content-length" in hdr:
            pos += int(hdr["content-length"])
        else:
            break
    return codes


def request(method, path, headers=(), body=b"", version=b"HTTP/1.1"):
    """A request's bytes, exactly as given (no normalising)."""
    if isinstance(method, str):
        method = method.encode()
    if isinstance(path, str):
        path = path.encode()
    out = method + b" " + path + b" " + version + b"\r\n"
    for h in headers:
        out += (h.encode() if isinstance(h, str) else h) + b"\r\n"
    return out + b"\r\n" + body


# ------------------------------------------------------------ stand-ins


class Helper:
    """`python3 hostile_lib.py MODE 127.0.0.1:0` as a process of its own."""

    def __init__(self, mode):
        self.proc = subprocess.Popen([sys.executable, HERE, mode, "127.0.0.1:0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        line = L._readline_timeout(self.proc.stdout, 10)
        if not line.startswith(b"ready "):
            self.stop()
            raise L.Failed("hostile_lib %s did not start: %r" % (mode, line))
        self.port = int(line.split()[1].rsplit(b":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _serve(mode, addr):
    host, _, port = addr.rpartition(":")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(128)
    print("ready %s:%d" % ls.getsockname(), flush=True)

    def silent(c):
        while c.recv(65536):
            pass
        c.close()

    def frames(c):
        buf = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            buf += b
            while len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:4], "big"):
                n = int.from_bytes(buf[:4], "big")
                payload, buf = buf[4:4 + n], buf[4 + n:]
                c.sendall(n.to_bytes(4, "big"))
                time.sleep(0.01)
                c.sendall(payload)
        c.close()

    fn = {"silent": silent, "frames": frames}[mode]
    while True:
        c, _ = ls.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()


# ----------------------------------------------------------- OTLP sink


class Sink:
    """An OTLP/HTTP receiver on loopback that keeps every body it gets."""

    def __init__(self):
        import http.server
        bodies = self.bodies = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                b = self.rfile.read(n)
                if self.headers.get("Content-Encoding") == "gzip":
                    b = gzip.decompress(b)
                bodies.append(b)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if c < 0x80:
            return v, i


def _fields(b):
    """(field number, wire type, value) of one protobuf message; values of
    length-delimited fields as bytes."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        yield f, wt, v


def _keyvalues(kvs, strings, where):
    """KeyValue{key 1, value 2: AnyValue{string_value 1, int_value 3}}."""
    out = {}
    for kv in kvs:
        key, val = None, None
        for f, _, v in _fields(kv):
            if f == 1:
                strings.append((where + " key", v))
                key = v
            elif f == 2:
                for g, _, w in _fields(v):
                    if g == 1:
                        strings.append((where + " value", w))
                        val = w
                    elif g == 3:
                        val = w
        out[key] = val
    return out


def otlp_spans(body):
    """An ExportTraceServiceRequest as [{name, trace_state, attrs, resource}]
    with every string field it holds, as bytes, in strings:
    (spans, [(where, bytes)])."""
    spans, strings = [], []
    for f, _, rs in _fields(body):
        if f != 1:
            continue
        res, scope_spans = {}, []
        for g, _, v in _fields(rs):
            if g == 1:  # Resource{attributes 1}
                res = _keyvalues([a for h, _, a in _fields(v) if h == 1], strings, "resource")
            elif g == 2:
                scope_spans.append(v)
        for ss in scope_spans:
            for g, _, v in _fields(ss):
                if g == 1:  # InstrumentationScope{name 1, version 2}
                    for h, _, w in _fields(v):
                        if h in (1, 2):
                            strings.append(("scope", w))
                if g != 2:
                    continue
                sp = {"resource": res, "attrs": {}, "trace_state": b"", "name": b""}
                kvs = []
                for h, _, w in _fields(v):
                    if h == 3:
                        sp["trace_state"] = w
                        strings.append(("trace_state", w))
                    elif h == 5:
                        sp["name"] = w
                        strings.append(("name", w))
                    elif h == 9:
                        kvs.append(w)
                    elif h == 15:  # Status{message 2}
                        for k, _, x in _fields(w):
                            if k == 2:
                                strings.append(("status message", x))
                sp["attrs"] = _keyvalues(kvs, strings, "attribute")
                spans.append(sp)
    return spans, strings


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
