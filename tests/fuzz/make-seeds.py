#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Writes the seed corpora of weft's fuzz targets, tests/fuzz/corpus/NAME/
seed-*, from the examples below (real requests, responses, headers, chunked
bodies, record streams, pods, cgroup files, selectors, span batches).
Run it after changing an input format of a target; the seeds are checked
in. Files not named seed-* (regress-* crash inputs) are left alone.

Usage: tests/fuzz/make-seeds.py
"""
import glob
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
B3_TRACE = "463ac35c9f6413ad48485a3953bb6124"
B3_SPAN = "a2fb4a1d1a96d312"

REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    b"GET /api/v1/items?id=7&sig=abc HTTP/1.1\r\nHost: api.local\r\n"
    b"X-B3-TraceId: " + B3_TRACE.encode() + b"\r\nX-B3-SpanId: " + B3_SPAN.encode() +
    b"\r\nX-B3-ParentSpanId: 0020000000000001\r\nX-B3-Sampled: 1\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: [::1]:9000\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: 13\r\ntraceparent: " + TP.encode() +
    b"\r\ntracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\r\n\r\n{\"a\":\"hello\"}",
    b"PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\nExpect: 100-continue\r\n"
    b"b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\n\r\n"
    b"5\r\nhello\r\n0\r\n\r\n",
    b"GET /chat HTTP/1.1\r\nHost: ws\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"uber-trace-id: 7f0a1b2c3d4e5f60%3Aa1b2c3d4e5f60718%3A0%3A1\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"OPTIONS * HTTP/1.0\n\n",
    b"GET http://proxy.example/path?q HTTP/1.1\r\nHost: proxy.example\r\nConnection: close\r\n"
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"DELETE /r HTTP/1.1\r\nHost: a\r\nHost: b\r\ntraceparent: " + TP.encode() +
    b"\r\ntraceparent: " + TP.encode() + b"\r\n\r\n",
    b"PATCH /\xc3\xa9\xff HTTP/1.1\r\nUser-Agent: \x80\xfe\r\nx-b3-traceidx: 1\r\n\r\n",
]

RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"HTTP/1.0 503 Busy\r\nConnection: close\r\n\r\nerr",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
]

CHUNKED = [
    b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
    b"1a; name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n",
    b"0\r\n\r\n",
    b"A\nabcdefghij\n0\n\n",
    b"ffffffffffffffff\r\n",
    b"5 \t;x\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
]


def write(name, seeds):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    for old in glob.glob(os.path.join(d, "seed-*")):
        os.remove(old)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(s)


# ---- fuzz_records: see the input format in tests/fuzz/fuzz_records.c ----

class Stream:
    def __init__(self, o1=0x0B, o2=0x00):
        # o1: window 16384 (3), is_go (4), resources (8); o2: defaults
        self.b = bytearray([o1, o2])

    def data(self, end, direction, payload, flags=0, role=None, pid=0, tid=0,
             g=0, origin=False, extra=0, dt=20):
        if role is None:
            role = 2 if end & 1 else 1
        b1 = (flags & 31) | (role << 5)
        b2 = direction | (pid << 1) | (tid << 3) | (g << 5) | (0x80 if origin else 0)
        self.b += bytes([(end << 3) | 0, b1, b2]) + struct.pack("<H", len(payload))
        self.b += payload + bytes([extra, dt])
        return self

    def close(self, end, reset=False, reuse=False, ms=1, pid=0):
        self.b += bytes([(end << 3) | 4, (ms & 15) | (16 if reset else 0) |
                         (32 if reuse else 0) | (pid << 6)])
        return self

    def exec_(self, pid):
        self.b += bytes([(pid << 3) | 5])
        return self

    def go_stream(self, pid, g, reader, serve, sid):
        self.b += bytes([(pid << 3) | 5 | 0x80, g | (reader << 3) | (serve << 5), sid])
        return self

    def clock(self, ms, sweep=False):
        self.b += bytes([6 | (0x80 if sweep else 0)]) + struct.pack("<H", ms)
        return self

    def raw(self, rec):
        self.b += bytes([7]) + struct.pack("<H", len(rec)) + rec
        return self


START, HDR_END, TRUNC = 1, 2, 4
SEND, RECV = 0, 1


def records_seeds():
    out = []
    req = REQUESTS[0]
    resp = RESPONSES[0]
    # a server keeping the connection alive: two exchanges
    s = Stream()
    s.data(1, RECV, req, START | HDR_END).data(1, SEND, resp, START | HDR_END)
    s.data(1, RECV, REQUESTS[1], START | HDR_END).data(1, SEND, RESPONSES[1], START | HDR_END)
    s.close(1)
    out.append(s.b)
    # both ends on this node (rule 2): client 0 sends, server 1 receives
    s = Stream()
    s.data(0, SEND, req, START | HDR_END, pid=1, tid=1)
    s.data(1, RECV, req, START | HDR_END, pid=2, tid=2)
    s.data(1, SEND, resp, START | HDR_END, pid=2, tid=2)
    s.data(0, RECV, resp, START | HDR_END, pid=1, tid=1)
    s.clock(150).close(0).close(1)
    out.append(s.b)
    # the server's record first, the client's late (held span, tick)
    s = Stream()
    s.data(3, RECV, req, START | HDR_END, pid=2)
    s.data(3, SEND, resp, START | HDR_END, pid=2)
    s.data(2, SEND, req, START | HDR_END, pid=0)
    s.data(2, RECV, resp, START | HDR_END, pid=0)
    s.clock(50).clock(200)
    out.append(s.b)
    # a connection whose client end was seen: the server's next span
    # waits for the client's record (held, then linked when it comes),
    # and a third whose client record never comes (released at the tick)
    s = Stream()
    s.data(0, SEND, req, START | HDR_END, pid=1, tid=1)
    s.data(1, RECV, req, START | HDR_END, pid=2, tid=2)
    s.data(1, SEND, resp, START | HDR_END, pid=2, tid=2)
    s.data(0, RECV, resp, START | HDR_END, pid=1, tid=1)
    s.data(1, RECV, REQUESTS[1], START | HDR_END, pid=2, tid=2)
    s.data(5, SEND, REQUESTS[0], START | HDR_END, pid=2, tid=2)
    s.data(5, RECV, resp, START | HDR_END, pid=2, tid=2)
    s.data(1, SEND, resp, START | HDR_END, pid=2, tid=2)
    s.data(0, SEND, REQUESTS[1], START | HDR_END, pid=1, tid=1)
    s.data(0, RECV, resp, START | HDR_END, pid=1, tid=1)
    s.data(1, RECV, req, START | HDR_END, pid=2, tid=2)
    s.data(1, SEND, resp, START | HDR_END, pid=2, tid=2)
    s.clock(20).clock(200).close(0).close(1)
    out.append(s.b)
    # chunked response in pieces, a body gap (len > copy), pipelining
    s = Stream()
    s.data(1, RECV, REQUESTS[0] + REQUESTS[0], START | HDR_END)
    s.data(1, SEND, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi",
           START | HDR_END)
    s.data(1, SEND, b"ki\r\n5\r\npe", extra=200)
    s.data(1, SEND, b"dia\r\n0\r\n\r\n")
    s.data(1, SEND, RESPONSES[4], START | HDR_END)
    s.close(1, reset=True)
    out.append(s.b)
    # a Go server (odd pid) whose goroutine makes a client call (rule 1)
    s = Stream(o1=0x0F, o2=0x01)
    s.data(5, RECV, REQUESTS[2], START | HDR_END, pid=1, g=1)
    s.data(4, SEND, REQUESTS[0], START | HDR_END, pid=1, g=2, origin=True)
    s.data(4, RECV, resp, START | HDR_END, pid=1, g=2)
    s.data(5, SEND, RESPONSES[0], START | HDR_END, pid=1, g=1)
    s.exec_(1)
    out.append(s.b)
    # a Go HTTP/2 server: the reader (g 1) reads stream 1's HEADERS, its
    # handler (g 3) is named by a handler record and calls out (rule 1)
    def h2frame(ftype, flags, sid, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
            struct.pack(">I", sid) + payload
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2frame(4, 0, 0, b"")
    s = Stream(o1=0x0F, o2=0x00)
    s.data(1, SEND, h2frame(4, 0, 0, b""), pid=1, g=1)
    s.data(1, RECV, preface + h2frame(1, 5, 1, b"\x82\x86\x84"), pid=1, g=1)
    s.go_stream(1, 3, 1, 2, 1)
    s.data(4, SEND, REQUESTS[0], START | HDR_END, pid=1, g=3)
    s.data(4, RECV, resp, START | HDR_END, pid=1, g=3)
    s.go_stream(1, 2, 1, 2, 9)
    s.data(1, SEND, h2frame(1, 5, 1, b"\x88"), pid=1, g=2)
    s.close(1).close(4)
    out.append(s.b)
    # header block over a small window, truncated; upgrade; CONNECT
    s = Stream(o1=0x08)
    s.data(7, RECV, REQUESTS[3][:60], START | TRUNC, extra=40)
    s.data(7, SEND, RESPONSES[2], START | HDR_END)
    s.data(6, SEND, REQUESTS[4], START | HDR_END)
    s.data(6, RECV, RESPONSES[3], START | HDR_END)
    s.data(6, SEND, b"\x81\x05hello")
    s.data(0, SEND, REQUESTS[5], START | HDR_END)
    s.data(0, RECV, b"HTTP/1.1 200 Connection established\r\n\r\n", START | HDR_END)
    s.close(6, reuse=True).close(7).clock(1000, sweep=True)
    out.append(s.b)
    # a request split across calls, 100-continue, HEAD, derived links
    s = Stream(o1=0x1B, o2=0x06 | (1 << 3))
    s.data(1, RECV, b"G", START)
    s.data(1, RECV, b"ET /split HTTP/1.1\r\nHost: x\r\n")
    s.data(1, RECV, b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n", HDR_END)
    s.data(1, SEND, b"HTTP/1.1 100 Continue\r\n\r\n", START | HDR_END)
    s.data(1, RECV, b"abc")
    s.data(1, SEND, RESPONSES[1], START | HDR_END)
    s.data(1, RECV, b"HEAD / HTTP/1.1\r\n\r\n", START | HDR_END)
    s.data(1, SEND, b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", START | HDR_END)
    s.close(1)
    out.append(s.b)
    # a Go server's connection older than weft (dt 254: WEFT_F_H2_MID):
    # stream 41's :path an entry from before, filled in by the fields the
    # server decoded (a raw decoded-fields record), then the response
    s = Stream(o1=0x0F, o2=0x00)
    s.data(1, RECV, h2frame(1, 5, 41, b"\x82\x86\xcb"), pid=1, g=1, role=0, dt=254)
    fields = b""
    for n, v in ((b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/older")):
        fields += bytes([len(n)]) + struct.pack("<H", len(v)) + n + v
    rec = struct.pack("<IIIIQQQ", 5, 4101, 41010, 0, 10**12, 0, 0)
    rec += struct.pack("<QQIHHH6x", 0xc000000100, 0xc000777000, 41, 3, len(fields), 3) + fields
    s.raw(rec)
    s.data(1, SEND, h2frame(1, 5, 41, b"\x88"), pid=1, g=1, role=0)
    s.close(1)
    out.append(s.b)
    # malformed records: short, wrong type, cap_len past the end
    rec = struct.pack("<IIIIQQQ", 1, 4100, 41000, 0, 10**12, 0xffff880000001000, 7)
    s = Stream()
    s.raw(rec[:20]).raw(rec).raw(struct.pack("<IIIIQQQ", 9, 1, 1, 0, 1, 1, 1))
    full = bytearray(rec + bytes(152 - 40))
    struct.pack_into("<I", full, 40 + 40 + 16 + 4 + 4, 5000)  # cap_len > size
    s.raw(bytes(full)).raw(struct.pack("<IIIIQQQii", 2, 1, 1, 0, 1, 1, 1, 1, 0))
    s.data(1, SEND, RESPONSES[0], START | HDR_END)  # orphan response
    out.append(s.b)
    return out


def propagation_seeds():
    def h(lst="", tid="", sid="", pid="", smp="", flg="", b3="", tp="", ts="", ub="", f=0):
        return ("\n".join([lst, tid, sid, pid, smp, flg, b3, tp, ts, ub]) + "\n").encode() + bytes([f])
    return [
        h(tp=TP, ts="rojo=00f067aa0ba902b7"),
        h(tid=B3_TRACE, sid=B3_SPAN, pid="0020000000000001", smp="1"),
        h(tid=B3_TRACE[16:], sid=B3_SPAN, flg="1"),
        h(b3="80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d-05e3ac9a4f6e3b90"),
        h(b3="0"), h(smp="0"),
        h(ub="7f0a1b2c3d4e5f60:a1b2c3d4e5f60718:0:3"),
        h(ub="7f0a1b2c3d4e5f60%3Aa1b2c3d4e5f60718%3A0%3A1"),
        h(lst="tracecontext,b3multi", tp=TP, b3=B3_TRACE + "-" + B3_SPAN + "-1", f=2),
        h(lst="jaeger, b3, none", ub="1:2:0:1", f=2),
        h(lst="xray,tracecontext", tp="ff-" + TP[3:], f=2 | 4),
        h(tp="00-00000000000000000000000000000000-00f067aa0ba902b7-01", f=1 | (3 << 3)),
        h(tp="01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", b3="bad", f=(3 << 3) | (2 << 5)),
    ]


def batch_seed(n_spans, n_res, with_cfg, attrs):
    """A span batch in fuzz_span.h's input format."""
    b = bytearray([((n_spans - 1) & 15) | (n_res << 4)])
    for r in range(n_res):
        b += bytes([3])
        for k, v in [(b"service.name", b"shop"), (b"host.name", b"node-1"),
                     (b"k8s.pod.name", b"web-\xff\xfe-7d")]:
            b += k + b"\xff" + b"\x00" + v + b"\xff"
    if with_cfg:
        b += bytes([1, 2]) + b"deployment.environment\xffprod\xffteam\xffa\"b\\c\xff" + bytes([1]) + b"svc\xff"
    else:
        b += bytes([0])
    for i in range(n_spans):
        b += bytes([1 | 2 | (4 if i & 1 else 0) | 16 | 32 | 64])
        b += bytes(range(1 + i, 33 + i))
        b += struct.pack("<Q", 1700000000000000000 + i * 1000) + struct.pack("<I", 2500000)
        b += b"GET\xff" + b"rojo=00f067aa0ba902b7\xff" + b"\x01" + b"boom\xff" + bytes([2])
        if n_res:
            b += bytes([i % n_res])
        b += bytes([len(attrs)])
        for key, val in attrs:
            if isinstance(val, int):
                b += bytes([key | 0x80]) + struct.pack("<q", val)
            else:
                b += bytes([key]) + val + b"\xff"
    return bytes(b)


SPAN_ATTRS = [(0, b"GET"), (1, b"/a/\xc3\xa9/\xed\xa0\x80"), (2, b"q=\"1\"\\\n"),
              (5, 200), (6, b"10.0.0.1"), (7, 8080), (10, b"::ffff:10.0.0.2"),
              (11, 54321), (13, b"curl/8\x01\x7f"), (15, b"peer"), (18, b"x"),
              (19, 3), (25, b"ts")]


def batches():
    return [batch_seed(1, 0, False, SPAN_ATTRS[:4]),
            batch_seed(3, 2, True, SPAN_ATTRS),
            batch_seed(8, 3, False, SPAN_ATTRS[4:]),
            batch_seed(16, 1, True, SPAN_ATTRS[:8])]


def main():
    write("http", REQUESTS + RESPONSES + [b"GET / HTTP/1.1\r\nHost: x\r\n"])
    write("chunked", [bytes([i * 37 % 256, i]) + c for i, c in enumerate(CHUNKED)])
    write("propagation", propagation_seeds())
    write("records", records_seeds())
    write("otlp", batches() + [b"\x0a\x05\x08\x03\x12\x01x"])
    write("zipkin", batches())
    data = os.path.join(ROOT, "tests", "unit", "data")
    write("cgroup", [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(data, "cgroup", "*.txt")))])
    pods = [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(data, "k8s", "pod-*.json")))]
    pods.append(b'{"kind":"Pod","metadata":{"name":"w-6d4cf56db6-x",'
                b'"namespace":"demo","uid":"0b7d2f0e-1c1a-4a8e-9f43-2b6a8a1c0f11",'
                b'"labels":{"app":"w","pod-template-hash":"6d4cf56db6","app.kubernetes.io/name":"web"},'
                b'"annotations":{"weft.dev/trace":"false","resource.opentelemetry.io/service.name":"w2",'
                b'"resource.opentelemetry.io/team":"a"},"ownerReferences":[{"kind":"ReplicaSet",'
                b'"name":"w-6d4cf56db6","controller":true}]},"spec":{"nodeName":"node1"},'
                b'"status":{"initContainerStatuses":[{"name":"init","containerID":"cri-o://' + b"ab" * 32 +
                b'"}],"containerStatuses":[{"name":"w","containerID":"containerd://' + b"0f" * 32 + b'"}]}}')
    pods.append(b'{"metadata":{"name":"j","namespace":"n","uid":"u","ownerReferences":[{"kind":"Job",'
                b'"name":"cron-123","controller":true}]},"status":{"ephemeralContainerStatuses":[{"name":"dbg"}]}}')
    write("kube_pod", pods)
    write("kube_selector", [b"app=web,tier!=db\napp=web\ntier=front",
                            b"env in (prod, staging),!legacy\nenv=prod",
                            b"app.kubernetes.io/name notin (a,b),team\nteam=\napp.kubernetes.io/name=c",
                            b"  \n", b"a==b , c\na=b\nc=d"])


if __name__ == "__main__":
    main()
