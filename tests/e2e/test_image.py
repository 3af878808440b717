"""Issue 11, the image: deploy/Containerfile built with podman and run as a
user would run it (privileged, host PID namespace), tracing a process on the
host and exporting to a real Jaeger v2.

No image registry can be reached from the test machines, so the base images
(debian:bookworm, debian:bookworm-slim) are made locally first by
scripts/make-base-image.sh (debootstrap from the machine's Debian mirror;
cached: it does nothing when they exist). The weft image is then built with
`podman build`, whose layer cache makes reruns take seconds.

Quirks of the test machines, kept here and out of the README:
  * `--runtime runc`: crun refuses this machine's hybrid cgroup setup;
  * `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024`: the runtime may not
    raise rlimits here, and podman's defaults would;
  * `--network host` for the build (apt reaches the mirror the way the host
    does, whatever the bridge network can do) and for the run (Jaeger and
    the traced server listen on the host's loopback).

The measured times and the image size are printed (also under -q).
"""
import json
import os
import re
import subprocess
import time

import pytest

import e2e_lib as L
from conftest import start, start_server

IMAGE = os.environ.get("WEFT_E2E_IMAGE", "localhost/weft:e2e")
BASE_SLIM = "docker.io/library/debian:bookworm-slim"
CONTAINERFILE = os.path.join(L.REPO, "deploy", "Containerfile")
MAKE_BASE = os.path.join(L.REPO, "scripts", "make-base-image.sh")
RUN_QUIRKS = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
# A runtime image is weft (about 1 MB), its libraries and Debian slim (75-85
# MB); more than this means build tools or caches leaked into it.
MAX_IMAGE_MB = 150
BUILD_TIMEOUT = 1800

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
SERVICE = "weft-image-e2e"


def _fail(msg):
    pytest.fail(msg, pytrace=False)


def _run(cmd, what, timeout=120, check=True):
    try:
        p = subprocess.run(cmd, cwd=L.REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, env=L.NO_PROXY_ENV)
    except FileNotFoundError as e:
        _fail("%s: %s" % (what, e))
    except subprocess.TimeoutExpired as e:
        _fail("%s: no result within %ss (%s):\n%s" % (what, timeout, " ".join(cmd),
                                                      (e.stdout or b"").decode()[-6000:]))
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        _fail("%s failed (exit %s): %s\n%s" % (what, p.returncode, " ".join(cmd), out[-6000:]))
    return p.returncode, out


def _image_bytes(name):
    _, out = _run(["podman", "image", "inspect", "--format", "{{.Size}}", name], "podman image inspect")
    return int(out.strip())


def _report(capsys, line):
    with capsys.disabled():
        print("\n[image] " + line, flush=True)


@pytest.fixture(scope="module")
def image():
    """The base images (made once) and the weft image (podman build, cached
    layers); returns a dict of what was measured."""
    if os.geteuid() != 0:
        pytest.skip("needs root: rootful podman, debootstrap, and weft loads eBPF programs")
    m = {}
    t0 = time.monotonic()
    _run([MAKE_BASE], "scripts/make-base-image.sh", timeout=BUILD_TIMEOUT)
    m["base_s"] = time.monotonic() - t0
    # After the script installed podman: can it start a container at all?
    rc, out = _run(podman_run("--network", "host", "--entrypoint", "true", BASE_SLIM),
                   "podman run", check=False)
    if rc != 0:
        _fail("podman cannot run a container on this machine (runtime runc, ulimits "
              "1024): exit %s\n%s" % (rc, out[-3000:]))
    t0 = time.monotonic()
    _, log = _run(["nice", "podman", "build", "--network", "host", "-f", CONTAINERFILE,
                   "-t", IMAGE, "."], "podman build", timeout=BUILD_TIMEOUT)
    m["build_s"] = time.monotonic() - t0
    # Name the build stage too (from cache: seconds): an untagged stage is
    # what `podman image prune` removes, and with it the dependency layer a
    # rebuild would otherwise take from cache (a minute of apt and clang).
    _run(["podman", "build", "--network", "host", "--target", "build", "-f", CONTAINERFILE,
          "-t", IMAGE + "-build", "."], "podman build --target build", timeout=BUILD_TIMEOUT)
    steps = len(re.findall(r"^\[\d+/\d+\] STEP ", log, re.M))
    m["cached_steps"] = "%d of %d steps from cache" % (log.count("--> Using cache"), steps)
    m["bytes"] = _image_bytes(IMAGE)
    m["base_bytes"] = _image_bytes(BASE_SLIM)
    return m


def podman_run(*args, name=None):
    cmd = ["podman"] + RUN_QUIRKS[:2] + ["run", "--rm"] + RUN_QUIRKS[2:]
    if name:
        cmd += ["--name", name]
    return cmd + list(args)


def test_image_builds_small(image, capsys):
    """The runtime stage holds weft and its libraries, no build tools."""
    mb = image["bytes"] / 1e6
    _report(capsys, "bases %.0f s; podman build %.1f s (%s); %s is %.1f MB, %.1f MB over %s"
            % (image["base_s"], image["build_s"], image["cached_steps"], IMAGE, mb,
               (image["bytes"] - image["base_bytes"]) / 1e6, BASE_SLIM))
    assert mb < MAX_IMAGE_MB, "image is %.1f MB (limit %d MB)" % (mb, MAX_IMAGE_MB)
    _, out = _run(podman_run("--network", "host", "--entrypoint", "sh", IMAGE, "-c",
                             "ldd /usr/local/bin/weft; for t in gcc clang make bpftool; do "
                             "command -v $t >/dev/null && echo HAS $t; done; true"),
                  "ldd in the image")
    assert "not found" not in out, "a library weft needs is missing from the image:\n" + out
    has = re.findall(r"^HAS (\S+)$", out, re.M)
    assert not has, "build tools in the runtime image: %s" % has


def test_image_version(image):
    _, out = _run(podman_run("--network", "host", IMAGE, "--version"), "weft --version in the image")
    with open(os.path.join(L.REPO, "VERSION")) as f:
        version = f.read().strip()
    assert out.strip() == "weft " + version, out


class ContainerWeft:
    """weft in the image, run as the README says plus the machine's quirks."""

    def __init__(self, name, args):
        self.name = name
        # --privileged: CAP_BPF/PERFMON/SYS_ADMIN and /sys (BTF) as the host
        # has it; --pid=host: the node's processes and their /proc.
        self.cmd = podman_run("--privileged", "--pid=host", "--network", "host",
                              IMAGE, *args, name=name)
        self.out, self.err = [], []
        self.ready = False
        self.rc = None
        subprocess.run(["podman", "rm", "-f", "-i", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=L.NO_PROXY_ENV)
        self._r = [L._LineReader(self.proc.stdout, self.out),
                   L._LineReader(self.proc.stderr, self.err, self._on_err)]
        for r in self._r:
            r.start()

    def _on_err(self, line):
        if line.startswith("weft: tracing"):
            self.ready = True

    def wait_ready(self, timeout=90):
        end = time.monotonic() + timeout
        while not self.ready:
            if self.proc.poll() is not None:
                self._r[1].join(2)
                raise L.Failed("weft in the container exited with %s before tracing:\n%s\n%s"
                               % (self.proc.returncode, " ".join(self.cmd), "\n".join(self.err)))
            if time.monotonic() > end:
                raise L.Failed("weft in the container printed no 'weft: tracing' in %ss:\n%s\n%s"
                               % (timeout, " ".join(self.cmd), "\n".join(self.err)))
            time.sleep(0.05)

    def spans(self):
        """The JSON lines weft printed (-o json)."""
        res = []
        for line in list(self.out):
            if line.strip():
                try:
                    res.append(json.loads(line))
                except ValueError:
                    raise AssertionError("weft printed a line that is not JSON: %r" % line[:300])
        return res

    def stop(self, timeout=30):
        """SIGTERM to weft (as `podman stop` or Kubernetes would); it flushes
        its export queue and exits 0."""
        if self.proc.poll() is None:
            subprocess.run(["podman", "kill", "--signal", "TERM", self.name],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise L.Failed("weft's container did not exit within %ss of SIGTERM" % timeout)
        for r in self._r:
            r.join(5)
        self.rc = self.proc.returncode
        return self.rc

    def kill(self):
        subprocess.run(["podman", "rm", "-f", "-i", self.name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def describe(self):
        return ("container command: %s\nexit code: %s\n--- stderr ---\n%s\n--- stdout ---\n%s"
                % (" ".join(self.cmd), self.rc, "\n".join(self.err), "\n".join(self.out[-40:])))


def _one(spans, pid, kind, path):
    got = [s for s in L.of_pid(spans, pid, kind) if L.attrs(s).get("url.path") == path]
    return got[0] if len(got) == 1 else None


def test_image_traces_host_process_to_jaeger(image, jaeger):
    """weft in its container sees a server on the host (service.name from the
    process's own environment, read through the host's /proc) and curl
    calling it, and exports both spans to Jaeger on the host's loopback. A
    second request carries a traceparent: its server span continues it."""
    srv = start_server("python", service_name=SERVICE)
    w = ContainerWeft("weft-e2e-%d" % os.getpid(),
                      ["-P", str(srv.port), "-o", "json", "--otlp-endpoint", jaeger.otlp,
                       "--batch-timeout", "200"])
    ok = False
    try:
        start(w.wait_ready)
        c = L.curl(srv.url("/hello?from=image"))
        c2 = L.curl(srv.url("/status/201"),
                    headers=["traceparent: 00-%s-%s-01" % (TRACE_ID, PARENT_ID)])
        assert [x["code"] for x in c.transfers + c2.transfers] == [200, 201]
        end = time.monotonic() + 15
        while time.monotonic() < end:
            spans = w.spans()
            server = _one(spans, srv.pid, "server", "/hello")
            client = _one(spans, c.pid, "client", "/hello")
            ctx = [s for s in spans if s["trace_id"] == TRACE_ID and s["kind"] == "server"]
            if server and client and ctx:
                break
            time.sleep(0.1)
        assert server and client and len(ctx) == 1, \
            "expected the server and client spans of the first request and the server " \
            "span of the second; weft printed:\n%s\n%s" % (L.dump(spans), w.describe())
        ctx = ctx[0]
        tid = server["trace_id"]
        t = jaeger.wait_trace(L.jaeger_id(tid), 2, timeout=30)
        t2 = jaeger.wait_trace(TRACE_ID, 1, timeout=30)
        rc = w.stop()
        assert rc == 0, "weft in the container exited %s:\n%s" % (rc, w.describe())

        tr = c.transfers[0]
        errs = L.expect_http_span(
            server, kind="server", method="GET", path="/hello", query="from=image",
            status=200, pid=srv.pid, exe=srv.exe, service=SERVICE, server_port=srv.port,
            peer_port=tr["local_port"], user_agent="weft-e2e/1.0", t0=c.t0, t1=c.t1)
        errs += L.expect_http_span(
            client, kind="client", method="GET", path="/hello", query="from=image",
            status=200, pid=c.pid, exe=c.exe, service=c.exe, server_port=srv.port,
            peer_port=srv.port, url=srv.url("/hello?from=image"), t0=c.t0, t1=c.t1)
        errs += L.expect_http_span(
            ctx, kind="server", method="GET", path="/status/201", status=201, pid=srv.pid,
            exe=srv.exe, service=SERVICE, server_port=srv.port,
            peer_port=c2.transfers[0]["local_port"], t0=c2.t0, t1=c2.t1)
        if client["trace_id"] != tid or server["parent_span_id"] != client["span_id"]:
            errs.append("the server span is not the child of curl's client span")
        if client["parent_span_id"]:
            errs.append("curl's client span has a parent: %r" % client["parent_span_id"])
        if ctx["parent_span_id"] != PARENT_ID:
            errs.append("the traceparent request's server span has parent %r, not %r"
                        % (ctx["parent_span_id"], PARENT_ID))
        L.assert_ok(errs, [server, client, ctx])

        # Jaeger has exactly what weft printed, service names included.
        assert t, "trace %s not in Jaeger" % tid
        assert t2, "trace %s not in Jaeger" % TRACE_ID
        assert len(t.get("spans", [])) == 2, t
        errs = L.compare_with_jaeger(server, t) + L.compare_with_jaeger(client, t)
        errs += L.compare_with_jaeger(ctx, t2)
        L.assert_ok(errs, [server, client, ctx], what="Jaeger differs from weft's JSON")
        procs = {p["serviceName"] for p in (t.get("processes") or {}).values()}
        assert procs == {SERVICE, c.exe}, procs
        js = [x for x in t["spans"] if x["spanID"] == server["span_id"]][0]
        tags = {x["key"]: L._tag_value(x) for x in js.get("tags") or []}
        for k, v in (("http.request.method", "GET"), ("url.path", "/hello"),
                     ("http.response.status_code", 200), ("server.port", srv.port),
                     ("span.kind", "server")):
            assert tags.get(k) == v, "Jaeger tag %s = %r, expected %r" % (k, tags.get(k), v)
        assert SERVICE in jaeger.services()
        ok = True
    finally:
        w.kill()
        srv.stop()
        if not ok:
            print(w.describe())
