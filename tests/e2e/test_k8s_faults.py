"""The pod watch under faults the real API server does not produce on
demand: a watch that ends with 410 Gone (the resourceVersion was compacted
away), a paged list, a token that rotates, and an API that answers 401 until
the token file holds a good token. A small fake API server on loopback plays
them (fault injection only: test_k8s_meta.py runs against the real one).
weft's view is read from its --stats lines and /metrics."""
import json
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import e2e_lib as L

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (BPF)")

NODE = "fault-node"


def pod(name, rv, cid):
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "demo", "uid": "uid-" + name,
                         "resourceVersion": str(rv), "labels": {"app": name}},
            "spec": {"nodeName": NODE, "containers": [{"name": "app"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "containerID": "containerd://" + cid}]}}


class FakeApi:
    """Scripted answers: lists[i] is the i-th list (a list of pages, each a
    list of pods), watches[i] the i-th watch (events sent, then 'hold' keeps
    it open or 'gone' sends ERROR 410 and ends it). token: the one accepted
    (None: any)."""

    def __init__(self):
        self.lists, self.watches = [], []
        self.log = []
        self.token = None
        self.lock = threading.Lock()
        self.n_list = self.n_watch = 0
        self.stopping = threading.Event()
        api = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                api.handle(self)

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def reply(self, h, code, obj):
        body = json.dumps(obj).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def handle(self, h):
        u = urllib.parse.urlparse(h.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        auth = h.headers.get("Authorization", "")
        with self.lock:
            self.log.append((u.path, q, auth))
            want = self.token
        if want and auth != "Bearer " + want:
            self.reply(h, 401, {"kind": "Status", "code": 401, "message": "Unauthorized"})
            return
        if u.path != "/api/v1/pods" or q.get("fieldSelector") != "spec.nodeName=" + NODE:
            self.reply(h, 404, {"kind": "Status", "code": 404, "message": "not here"})
            return
        if q.get("watch") == "1":
            self.watch(h, q)
        else:
            self.list(h, q)

    def list(self, h, q):
        with self.lock:
            page = int(q.get("continue", "0"))
            if page == 0:
                self.cur = self.lists[min(self.n_list, len(self.lists) - 1)]
                self.n_list += 1
            pages = self.cur
        items, rv = pages[page]
        meta = {"resourceVersion": str(rv)}
        if page + 1 < len(pages):
            meta["continue"] = str(page + 1)
        self.reply(h, 200, {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items})

    def watch(self, h, q):
        with self.lock:
            i = self.n_watch
            self.n_watch += 1
            events, end = self.watches[i] if i < len(self.watches) else ([], "hold")
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def chunk(b):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
            h.wfile.flush()
        try:
            for ev in events:
                chunk(json.dumps(ev).encode() + b"\n")
            if end == "gone":
                chunk(json.dumps({"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                    "reason": "Expired", "message": "too old resource version"}}).encode() + b"\n")
                chunk(b"")
                return
            # hold: the watch stays open (no events) until the test ends
            self.stopping.wait(60)
            chunk(b"")
        except OSError:
            pass

    def stop(self):
        self.stopping.set()
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def fake_api():
    f = FakeApi()
    yield f
    f.stop()


def k8s_stats(w):
    """The last 'kubernetes:' stats line's numbers."""
    for line in reversed(w.stderr().splitlines()):
        m = re.search(r"kubernetes: pods of node \S+ (\d+) .*lists (\d+) \(failed (\d+)\), "
                      r"watch events (\d+), relists after 410 Gone (\d+)", line)
        if m:
            return dict(zip(("pods", "lists", "failed", "events", "gone"), map(int, m.groups())))
    return None


def wait_stats(w, pred, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = k8s_stats(w)
        if s and pred(s):
            return s
        time.sleep(0.2)
    raise AssertionError("weft's kubernetes stats never matched; last %r\n%s"
                         % (k8s_stats(w), w.describe()))


def cid(n):
    return ("%02x" % n) * 32


def test_relist_after_410_gone(fake_api, weft, tmp_path):
    """A paged list (two pages), a watch that adds a pod and then ends with
    410 Gone, a relist whose result replaces everything."""
    f = fake_api
    f.lists = [[([pod("a", 5, cid(1))], 9), ([pod("b", 7, cid(2))], 9)],
               [([pod("c", 20, cid(3))], 20)]]
    f.watches = [([{"type": "ADDED", "object": pod("d", 10, cid(4))}], "gone")]
    w = weft(ports=[1], args=["--k8s-api", f.url, "--node-name", NODE, "--stats", "1",
                              "--k8s-token-file", str(tmp_path / "none")])
    s = wait_stats(w, lambda s: s["gone"] >= 1 and s["lists"] >= 2)
    assert s["pods"] == 1, s          # only c: a, b and d were replaced
    watches = [q for p, q, _ in f.log if q.get("watch") == "1"]
    assert watches[0]["resourceVersion"] == "9", watches[0]
    assert watches[1]["resourceVersion"] == "20", watches   # from the relist, not 10
    assert all(q.get("allowWatchBookmarks") == "true" for q in watches)
    conts = [q.get("continue") for p, q, _ in f.log if q.get("watch") != "1"]
    assert conts[:3] == [None, "1", None], conts            # page 2 asked with continue


def test_token_reread_when_it_rotates(fake_api, weft, tmp_path):
    """The API answers 401 to a bad token; once the file holds a good one
    (replaced atomically, as the kubelet rotates projected tokens) weft
    lists with it, without a restart."""
    f = fake_api
    f.token = "good-token-2"
    f.lists = [[([pod("a", 5, cid(1))], 9)]]
    tok = tmp_path / "token"
    tok.write_text("stale-token-1\n")
    w = weft(ports=[1], args=["--k8s-api", f.url, "--node-name", NODE, "--stats", "1",
                              "--k8s-token-file", str(tok)])
    wait_stats(w, lambda s: s["failed"] >= 1)
    assert w.stderr().count("cannot list the pods of node") == 1
    assert "HTTP 401" in w.stderr()
    tmp = tmp_path / "token.new"
    tmp.write_text("good-token-2\n")
    os.replace(tmp, tok)
    s = wait_stats(w, lambda s: s["pods"] == 1, timeout=40)
    assert "the API answers again" in w.stderr()
    auths = [a for p, q, a in f.log]
    assert auths[0] == "Bearer stale-token-1" and auths[-1] == "Bearer good-token-2", auths
    assert s["lists"] >= 2


def test_hostile_api_answers(fake_api, weft, tmp_path):
    """Garbage from the API (wrong types, a watch that is not JSON) never
    crashes weft: it counts a failed list and keeps asking."""
    f = fake_api

    def garbage(h, q):
        body = b'{"kind":"PodList","items":{"not":"a list"}}' if q.get("watch") != "1" else b"x"
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    f.list = garbage
    f.watch = garbage
    w = weft(ports=[1], args=["--k8s-api", f.url, "--node-name", NODE, "--stats", "1",
                              "--k8s-token-file", str(tmp_path / "none")])
    wait_stats(w, lambda s: s["failed"] >= 2)
    assert "not a PodList" in w.stderr()
    assert w.proc.poll() is None
