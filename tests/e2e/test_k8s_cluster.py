"""Issue 11, for real: a one-node Kubernetes cluster on this machine
(scripts/k8s-one-node.sh: kube-apiserver, controller-manager, scheduler,
kubelet and kube-proxy v1.37.2 from the k8s.io/kubernetes module, CoreDNS
from its module, containerd + runc + CNI plugins from Debian, every image
built locally), weft installed with one `helm install` of deploy/helm/weft,
the demo applied from its own manifests (deploy/demo/), and the spans
checked in a real Jaeger v2.

  * the cluster comes up from empty state (module fixture) and goes down at
    the end, even after a failure, leaving nothing behind (checked);
  * the weft image (deploy/Containerfile, podman) and the demo's image
    (tests/apps/httpsample) are imported into the node's containerd;
  * Jaeger runs on the host and listens for OTLP/HTTP on the CNI bridge's
    address (local, reachable from the pods), its query API on loopback;
  * `helm install weft deploy/helm/weft -n weft --create-namespace` with the
    image and that endpoint; the DaemonSet's pod becomes Ready (/readyz);
  * `kubectl apply -f deploy/demo/`; requests to service-a's pod from the
    host, with B3 headers and without; service-a calls service-b and
    service-b calls service-c by their Service names (CoreDNS, then
    kube-proxy's DNAT);
  * in Jaeger: services service-a, service-b and service-c; their spans carry
    the pod's namespace, name, Deployment, node and container id; each
    request is one trace a -> b -> c with the right parents;
  * `helm uninstall`: weft's pod goes, and the BPF programs and links it
    held are gone from the kernel.

As root (containerd, the kubelet, weft). The timings are printed (also
under -q). Env: WEFT_K8S_KEEP_UP=1 leaves the cluster up after the test
(then `scripts/k8s-one-node.sh down` by hand).
"""
import glob
import json
import os
import re
import socket
import subprocess
import time

import pytest

import e2e_lib as L

SCRIPT = os.path.join(L.REPO, "scripts", "k8s-one-node.sh")
MAKE_BASE = os.path.join(L.REPO, "scripts", "make-base-image.sh")
CONTAINERFILE = os.path.join(L.REPO, "deploy", "Containerfile")
CHART = os.path.join(L.REPO, "deploy", "helm", "weft")
DEMO = os.path.join(L.REPO, "deploy", "demo")
STATE = os.environ.get("WEFT_K8S_STATE", "/var/lib/weft-k8s")
K8S_BIN = os.environ.get("WEFT_K8S_BIN", "/opt/weft-test/bin")
KUBECTL = os.path.join(K8S_BIN, "kubectl")
HELM = os.path.join(K8S_BIN, "helm")
with open(os.path.join(L.REPO, "VERSION")) as _f:
    VERSION = _f.read().strip()
# WEFT_K8S_WEFT_IMAGE=NAME:TAG: install that podman image (built already)
# instead of building deploy/Containerfile from this tree.
PREBUILT = os.environ.get("WEFT_K8S_WEFT_IMAGE")
WEFT_IMAGE = PREBUILT or "localhost/weft:" + VERSION
NODE = "weft-node"          # = scripts/k8s-one-node.sh's NODE_NAME
NODE_IP = "10.244.0.1"      # = its NODE_IP: the CNI bridge's address
BRIDGE = "weft0"
SERVICES = ("service-a", "service-b", "service-c")
NS = "demo"
BUILD_TIMEOUT = 1800

TIMES = {}


def _fail(msg):
    pytest.fail(msg, pytrace=False)


def _run(cmd, what, timeout=300, check=True):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=L.REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, env=L.NO_PROXY_ENV)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        if check:
            _fail("%s: no result within %ss (%s):\n%s" % (what, timeout, " ".join(cmd), out[-6000:]))
        return 124, out, time.monotonic() - t0
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        _fail("%s failed (exit %s): %s\n%s" % (what, p.returncode, " ".join(cmd), out[-6000:]))
    return p.returncode, out, time.monotonic() - t0


def _report(request, text):
    """Print past pytest's capture (also under -q), in setup and teardown too."""
    pm = request.config.pluginmanager
    tr, capman = pm.getplugin("terminalreporter"), pm.getplugin("capturemanager")
    lines = ["[k8s-cluster] " + line for line in text.splitlines()]
    if tr is None or capman is None:
        print("\n".join(lines), flush=True)
        return
    with capman.global_and_fixture_disabled():
        tr.write_line("")
        for line in lines:
            tr.write_line(line)


def _tail(path, n=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError as e:
        return "(%s)" % e


class Cluster:
    """The running cluster, as scripts/k8s-one-node.sh left it."""

    def __init__(self):
        with open(os.path.join(STATE, "ready")) as f:
            self.info = json.load(f)
        self.kubeconfig = self.info["kubeconfig"]

    def kubectl(self, *args, input=None, check=True, timeout=180):
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig] + [str(a) for a in args]
        p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=L.NO_PROXY_ENV, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("kubectl failed (exit %s): %s\n%s"
                                 % (p.returncode, " ".join(cmd), p.stderr[-4000:]))
        return p

    def json(self, *args):
        return json.loads(self.kubectl(*(list(args) + ["-o", "json"])).stdout)

    def helm(self, *args, timeout=300, check=True):
        return _run([HELM, "--kubeconfig", self.kubeconfig] + list(args), "helm " + args[0],
                    timeout=timeout, check=check)

    def describe(self):
        """What to print when a test failed: the pods, events, logs' tails."""
        out = []
        for args in (("get", "nodes", "-o", "wide"), ("get", "pods", "-A", "-o", "wide"),
                     ("get", "events", "-A", "--sort-by=.lastTimestamp")):
            p = self.kubectl(*args, check=False)
            out.append("$ kubectl %s\n%s%s" % (" ".join(args), p.stdout[-6000:], p.stderr[-2000:]))
        for name in ("kubelet", "kube-proxy"):
            log = self.info.get("logs", {}).get(name)
            if log:
                out.append("--- %s (last lines) ---\n%s" % (log, _tail(log, 30)))
        out.append("--- k8s-node.log ---\n" + _tail(os.path.join(STATE, "logs", "k8s-node.log"), 30))
        return "\n".join(out)


def _leftovers():
    """What of the cluster is still on the machine."""
    left = []
    if subprocess.run(["ip", "link", "show", BRIDGE], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0:
        left.append("bridge " + BRIDGE)
    ipt = subprocess.run(["iptables-save"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    if re.search(r"^:KUBE-", ipt, re.M):
        left.append("kube-proxy's KUBE-* chains")
    if "weft-k8s" in ipt:
        left.append("the FORWARD rules commented weft-k8s")
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    ours = [m for m in mounts if m.startswith((STATE + "/", "/run/weft-k8s/"))]
    if ours:
        left.append("mounts %s" % ours[:5])
    for d in (STATE, "/run/weft-k8s"):
        if os.path.exists(d):
            left.append(d)
    kp = glob.glob("/sys/fs/cgroup/*/kubepods")
    if kp:
        left.append("cgroups %s" % kp)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        # the cluster's processes name its state directories (others' tests
        # run etcd, kube-apiserver and Jaeger from the same binaries)
        if "/run/weft-k8s/" in cmd or STATE + "/" in cmd or "k8s_node.py" in cmd:
            left.append("process %s: %s" % (pid, cmd[:120]))
    return left


@pytest.fixture(scope="module")
def cluster(request):
    """The cluster, up from empty state; down at the end whatever happened."""
    if os.geteuid() != 0:
        pytest.skip("needs root: containerd, the kubelet, and weft loads eBPF programs")
    failed_before = request.session.testsfailed
    _run([SCRIPT, "down"], "k8s-one-node.sh down (leftovers of an earlier run)", timeout=300)
    rc, out, dt = _run([SCRIPT, "up"], "k8s-one-node.sh up", timeout=1800, check=False)
    TIMES["cluster up"] = dt
    _report(request, "k8s-one-node.sh up: exit %d in %.1f s\n%s"
            % (rc, dt, "\n".join(line for line in out.splitlines()
                                 if line.startswith("k8s-one-node:"))))
    c = None
    try:
        if rc != 0:
            _fail("scripts/k8s-one-node.sh up failed (exit %d):\n%s\n--- k8s-node.log ---\n%s"
                  % (rc, out[-8000:], _tail(os.path.join(STATE, "logs", "k8s-node.log"), 60)))
        c = Cluster()
        yield c
    finally:
        if c is not None and request.session.testsfailed > failed_before:
            _report(request, c.describe())
        if os.environ.get("WEFT_K8S_KEEP_UP"):
            _report(request, "WEFT_K8S_KEEP_UP: the cluster stays up (%s down)" % SCRIPT)
        else:
            rc, out, dt = _run([SCRIPT, "down"], "k8s-one-node.sh down", timeout=300, check=False)
            TIMES["cluster down"] = dt
            left = _leftovers()
            _report(request, "k8s-one-node.sh down: exit %d in %.1f s%s\n%s\ntimes: %s"
                    % (rc, dt, "" if not left else "; LEFT: %s" % left,
                       "\n".join(line for line in out.splitlines()
                                 if line.startswith("k8s-one-node:")),
                       ", ".join("%s %.1f s" % kv for kv in TIMES.items())))
            if rc != 0 or left:
                _fail("k8s-one-node.sh down (exit %d) left %s:\n%s" % (rc, left, out[-4000:]))


@pytest.fixture(scope="module")
def weft_image(cluster, request):
    """The weft image (deploy/Containerfile; podman's cache makes a rebuild
    of unchanged sources take seconds), imported into the node."""
    dt_base = dt = 0.0
    log = ""
    if not PREBUILT:
        _, _, dt_base = _run([MAKE_BASE], "scripts/make-base-image.sh", timeout=BUILD_TIMEOUT)
        _, log, dt = _run(["nice", "podman", "build", "--network", "host", "-f", CONTAINERFILE,
                           "-t", WEFT_IMAGE, "."], "podman build", timeout=BUILD_TIMEOUT)
    _, _, dt_imp = _run([SCRIPT, "import", WEFT_IMAGE], "k8s-one-node.sh import", timeout=600)
    TIMES["weft image"] = dt_base + dt + dt_imp
    _report(request, "weft image: base images %.1f s, podman build %.1f s (%d steps cached), "
            "import into containerd %.1f s" % (dt_base, dt, log.count("--> Using cache"), dt_imp))
    return WEFT_IMAGE


class PodJaeger(L.Jaeger):
    """L.Jaeger with its OTLP/HTTP receiver on the node's bridge address, so
    weft's pod can export to it; everything else stays on loopback."""

    def __init__(self, binary, logfile):
        self.ports = {k: L.free_port() for k in ("otlp_grpc", "query_http", "query_grpc",
                                                  "health", "zipkin")}
        self.ports["otlp_http"] = L.free_port(NODE_IP)
        env = dict(L.NO_PROXY_ENV)
        env.update({
            "WEFT_JAEGER_OTLP_HTTP": "%s:%d" % (NODE_IP, self.ports["otlp_http"]),
            "WEFT_JAEGER_OTLP_GRPC": "127.0.0.1:%d" % self.ports["otlp_grpc"],
            "WEFT_JAEGER_QUERY_HTTP": "127.0.0.1:%d" % self.ports["query_http"],
            "WEFT_JAEGER_QUERY_GRPC": "127.0.0.1:%d" % self.ports["query_grpc"],
            "WEFT_JAEGER_HEALTH": "127.0.0.1:%d" % self.ports["health"],
            "WEFT_JAEGER_ZIPKIN": "127.0.0.1:%d" % self.ports["zipkin"],
            # Jaeger dials localhost:4317 from inside (nothing listens
            # there), and grpc-go first asks the machine's resolver for TXT
            # _grpc_config.localhost: measured with strace; this turns that
            # query off, so the test sends nothing off the machine.
            "GRPC_ENABLE_TXT_SERVICE_CONFIG": "false",
        })
        self.otlp = "http://%s:%d" % (NODE_IP, self.ports["otlp_http"])
        self.query = "http://127.0.0.1:%d" % self.ports["query_http"]
        self.zipkin = "http://127.0.0.1:%d" % self.ports["zipkin"]
        self.log = logfile
        self.proc = subprocess.Popen([binary, "--config", L.JAEGER_CONFIG], stdin=subprocess.DEVNULL,
                                     stdout=logfile, stderr=subprocess.STDOUT, env=env)
        end = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise L.Failed("jaeger exited with %s at start-up" % self.proc.returncode)
            try:
                self.get("/api/services")
                return
            except OSError:
                if time.monotonic() > end:
                    self.stop()
                    raise L.Failed("jaeger's query API did not answer within 120 s")
                time.sleep(0.2)


@pytest.fixture(scope="module")
def pod_jaeger(cluster, jaeger_bin, tmp_path_factory):
    log = open(tmp_path_factory.mktemp("jaeger") / "jaeger.log", "wb")
    try:
        j = PodJaeger(jaeger_bin, log)
    except L.Failed as e:
        log.close()
        _fail("%s (log: %s)" % (e, log.name))
    yield j
    j.stop()
    log.close()


def _weft_pod(c):
    pods = c.json("-n", "weft", "get", "pods", "-l", "app.kubernetes.io/name=weft")["items"]
    return pods[0] if len(pods) == 1 else None


@pytest.fixture(scope="module")
def weft_release(cluster, weft_image, pod_jaeger, request):
    """One helm install, as the README says, with this node's image and
    collector; waits for the DaemonSet's pod to be Ready (its /readyz
    readiness probe: the eBPF programs are attached)."""
    t0 = time.monotonic()
    cluster.helm("install", "weft", CHART, "-n", "weft", "--create-namespace",
                 "--set", "image.repository=" + WEFT_IMAGE.rsplit(":", 1)[0],
                 "--set", "image.tag=" + WEFT_IMAGE.rsplit(":", 1)[1],
                 "--set", "exporter.endpoint=" + pod_jaeger.otlp,
                 # weft's counters in its log every 10 s, for the failure report
                 "--set-json", 'extraArgs=["--stats","10"]')
    p = cluster.kubectl("-n", "weft", "rollout", "status", "daemonset/weft", "--timeout=300s",
                        check=False)
    TIMES["helm install to Ready"] = time.monotonic() - t0
    if p.returncode != 0:
        _fail("weft's DaemonSet did not become ready:\n%s%s\n%s"
              % (p.stdout, p.stderr, cluster.describe()))
    _report(request, "helm install -> weft's pod Ready: %.1f s" % TIMES["helm install to Ready"])
    failed_before = request.session.testsfailed
    yield _weft_pod(cluster)
    installed = cluster.helm("status", "weft", "-n", "weft", check=False)[0] == 0
    if installed and request.session.testsfailed > failed_before:
        p = cluster.kubectl("-n", "weft", "logs", "daemonset/weft", check=False)
        _report(request, "--- weft's log ---\n%s%s" % (p.stdout[-12000:], p.stderr[-2000:]))
    if installed and not os.environ.get("WEFT_K8S_KEEP_UP"):
        cluster.helm("uninstall", "weft", "-n", "weft", "--wait", check=False)


def _container_id(pod):
    cs = pod["status"].get("containerStatuses") or []
    return cs[0]["containerID"].split("://", 1)[1] if cs and cs[0].get("containerID") else None


@pytest.fixture(scope="module")
def demo(cluster, weft_release, request):
    """kubectl apply -f deploy/demo/, as a user would; waits for the three
    Deployments. Returns {service: {pod, ip, container_id, uid, cluster_ip}}."""
    t0 = time.monotonic()
    cluster.kubectl("apply", "-f", DEMO)
    for s in SERVICES:
        p = cluster.kubectl("-n", NS, "rollout", "status", "deployment/" + s, "--timeout=180s",
                            check=False)
        if p.returncode != 0:
            _fail("deployment %s did not become ready:\n%s%s\n%s"
                  % (s, p.stdout, p.stderr, cluster.describe()))
    TIMES["demo ready"] = time.monotonic() - t0
    out = {}
    for s in SERVICES:
        pods = [p for p in cluster.json("-n", NS, "get", "pods", "-l", "app=" + s)["items"]
                if not p["metadata"].get("deletionTimestamp")]
        assert len(pods) == 1, "%d pods of %s" % (len(pods), s)
        p = pods[0]
        svc = cluster.json("-n", NS, "get", "service", s)
        out[s] = {"pod": p["metadata"]["name"], "uid": p["metadata"]["uid"],
                  "ip": p["status"]["podIP"], "container_id": _container_id(p),
                  "cluster_ip": svc["spec"]["clusterIP"],
                  "port": svc["spec"]["ports"][0]["port"]}
    # A Deployment is ready before kube-proxy has its Service's endpoint:
    # until then the ClusterIP rejects connections ("no route to host"),
    # and a's first call to b failed so in CI. A bare TCP connect (no HTTP:
    # no span) to each ClusterIP says when the rules are in.
    for s in SERVICES:
        addr = (out[s]["cluster_ip"], out[s]["port"])
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(addr, timeout=2).close()
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    _fail("service %s: %s:%d not reachable 60 s after its Deployment "
                          "was ready: %s\n%s" % (s, addr[0], addr[1], e, cluster.describe()))
                time.sleep(0.2)
    TIMES["demo reachable"] = time.monotonic() - t0
    _report(request, "kubectl apply -f deploy/demo/ -> 3 Deployments ready: %.1f s, their "
            "Services reachable: %.1f s; %s"
            % (TIMES["demo ready"], TIMES["demo reachable"],
               ", ".join("%s %s" % (s, out[s]["ip"]) for s in SERVICES)))
    return out


# --------------------------------------------------------------------- tests


def test_node_ready(cluster):
    """The node registered with its bridge address and is Ready; CoreDNS
    runs; the `kubernetes` Service has the API server as its endpoint."""
    node = cluster.json("get", "node", NODE)
    cond = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert cond.get("Ready") == "True", node["status"]["conditions"]
    addrs = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addrs.get("InternalIP") == NODE_IP, addrs
    dns = cluster.json("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns")["items"]
    assert dns and all(p["status"].get("phase") == "Running" for p in dns), \
        [(p["metadata"]["name"], p["status"].get("phase")) for p in dns]
    ep = cluster.json("get", "endpointslices", "-n", "default",
                      "-l", "kubernetes.io/service-name=kubernetes")["items"]
    addrs = [a for s in ep for e in s.get("endpoints") or [] for a in e["addresses"]]
    assert addrs == [NODE_IP], addrs


def test_weft_pod_ready(cluster, weft_release):
    """The DaemonSet's one pod: Ready, not restarted, on this node, with the
    image that was built, and weft found the API server."""
    pod = weft_release
    assert pod is not None, cluster.describe()
    assert pod["spec"]["nodeName"] == NODE
    cs = pod["status"]["containerStatuses"][0]
    assert cs["ready"] and cs["restartCount"] == 0, cs
    assert cs["image"].endswith(WEFT_IMAGE.split("/", 1)[1]), cs["image"]
    log = cluster.kubectl("-n", "weft", "logs", pod["metadata"]["name"]).stdout
    assert "weft: tracing" in log, log


def _get(url, headers=()):
    """curl from the host: (status, body)."""
    cmd = ["curl", "-sS", "--noproxy", "*", "-m", "20", "-w", "\n%{http_code}"]
    for h in headers:
        cmd += ["-H", h]
    p = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=L.NO_PROXY_ENV, timeout=30)
    if p.returncode != 0:
        raise AssertionError("curl %s: exit %d: %s" % (url, p.returncode, p.stderr))
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


def _process(trace, span):
    return trace["processes"][span["processID"]]


def _tags(obj):
    return {t["key"]: L._tag_value(t) for t in obj.get("tags") or []}


def _kind(span):
    return _tags(span).get("span.kind")


def _parent(span):
    refs = [r for r in span.get("references") or [] if r.get("refType") == "CHILD_OF"]
    return refs[0]["spanID"] if refs else None


def _chain_errors(trace, demo, root_parent=None):
    """The trace holds, for each of a, b, c, one server span, and one client
    span for a and b, parented a.server <- a.client <- b.server <- b.client
    <- c.server; a's server span's parent is root_parent when given (the B3
    span id sent) or a span of this trace (curl's client span)."""
    errs = []
    by = {}
    for sp in trace["spans"]:
        svc = _process(trace, sp)["serviceName"]
        if svc in SERVICES:
            by.setdefault((svc, _kind(sp)), []).append(sp)
    want = [("service-a", "server"), ("service-a", "client"), ("service-b", "server"),
            ("service-b", "client"), ("service-c", "server")]
    for k in want:
        if len(by.get(k, [])) != 1:
            errs.append("%d %s spans of %s (expected 1)" % (len(by.get(k, [])), k[1], k[0]))
    if ("service-c", "client") in by:
        errs.append("service-c made a client span; it calls nobody")
    if errs:
        return errs
    s = {k: by[k][0] for k in want}
    for child, parent in zip(want[1:], want[:-1]):
        if _parent(s[child]) != s[parent]["spanID"]:
            errs.append("%s %s span's parent is %s, not %s %s span %s"
                        % (child[0], child[1], _parent(s[child]), parent[0], parent[1],
                           s[parent]["spanID"]))
    ap = _parent(s[("service-a", "server")])
    ids = {sp["spanID"] for sp in trace["spans"]}
    if root_parent is not None:
        if ap != root_parent and not (ap in ids and _ancestor_is(trace, ap, root_parent)):
            errs.append("service-a's server span's parent %s is neither the B3 span %s nor a "
                        "span under it" % (ap, root_parent))
    elif ap is not None and ap not in ids:
        errs.append("service-a's server span's parent %s is not in the trace" % ap)
    # Each service's spans: the resource of its pod (service.name is
    # Jaeger's serviceName, which grouped them above).
    for (svc, kind), sp in s.items():
        pt = _tags(_process(trace, sp))
        d = demo[svc]
        want_res = {"k8s.namespace.name": NS, "k8s.pod.name": d["pod"],
                    "k8s.pod.uid": d["uid"], "k8s.deployment.name": svc,
                    "k8s.container.name": svc, "k8s.node.name": NODE,
                    "container.id": d["container_id"], "service.namespace": NS}
        for k, v in want_res.items():
            if pt.get(k) != v:
                errs.append("%s %s span: resource %s = %r, expected %r" % (svc, kind, k, pt.get(k), v))
        rs = pt.get("k8s.replicaset.name", "")
        if not rs.startswith(svc + "-"):
            errs.append("%s %s span: k8s.replicaset.name %r" % (svc, kind, rs))
    # Through the Services: a calls service-b's ClusterIP (kube-proxy DNATs
    # it to b's pod), and b sees a's pod address (no masquerading).
    for cli, srv in (("service-a", "service-b"), ("service-b", "service-c")):
        ct, st = _tags(s[(cli, "client")]), _tags(s[(srv, "server")])
        if ct.get("server.address") != srv:
            errs.append("%s's client span: server.address %r, expected %r (the URL's host)"
                        % (cli, ct.get("server.address"), srv))
        if ct.get("network.peer.address") != demo[srv]["cluster_ip"]:
            errs.append("%s's client span: network.peer.address %r, expected %s's ClusterIP %s"
                        % (cli, ct.get("network.peer.address"), srv, demo[srv]["cluster_ip"]))
        if st.get("network.peer.address") != demo[cli]["ip"]:
            errs.append("%s's server span: network.peer.address %r, expected %s's pod IP %s"
                        % (srv, st.get("network.peer.address"), cli, demo[cli]["ip"]))
    return errs


def _ancestor_is(trace, span_id, want):
    by_id = {sp["spanID"]: sp for sp in trace["spans"]}
    seen = set()
    while span_id in by_id and span_id not in seen:
        seen.add(span_id)
        span_id = _parent(by_id[span_id])
        if span_id == want:
            return True
    return False


def _find_trace(jaeger, t0_ns, path, timeout=30):
    """The trace in which service-a's server span has url.path == path."""
    end = time.monotonic() + timeout
    while True:
        d = jaeger.get("/api/traces?service=service-a&start=%d&end=%d&limit=200"
                       % (t0_ns // 1000, time.time_ns() // 1000 + 1), timeout=30)
        for t in d.get("data") or []:
            for sp in t["spans"]:
                if (_process(t, sp)["serviceName"] == "service-a" and _kind(sp) == "server"
                        and _tags(sp).get("url.path") == path):
                    if len(t["spans"]) >= 5 or time.monotonic() > end:
                        return t
        if time.monotonic() > end:
            return None
        time.sleep(0.5)


def test_demo_traces(cluster, pod_jaeger, weft_release, demo, request):
    """Requests to service-a's pod from the host: each is one trace
    a -> b -> c in Jaeger, with each span's pod, workload, node and container,
    service.name from the Deployment; with B3 headers the trace is the one
    the headers name."""
    t0_ns = time.time_ns()
    a = demo["service-a"]
    b3 = []
    for i in range(3):
        tid = "%016x%016x" % (0x5eed0000 + i, int(time.time_ns()) & 0xffffffffffff)
        sid = "%016x" % (0xb3b3000000 + i)
        code, body = _get("http://%s:8080/b3-%d" % (a["ip"], i),
                          ["x-b3-traceid: " + tid, "x-b3-spanid: " + sid, "x-b3-sampled: 1"])
        assert code == 200, (code, body)
        b3.append((tid, sid, body))
    plain = []
    for i in range(3):
        code, body = _get("http://%s:8080/plain-%d" % (a["ip"], i))
        assert code == 200, (code, body)
        plain.append(body)
    # Who answered: a's pod, then b's, then c's (DNS names, through Services).
    want = "%s -> %s -> %s" % (a["pod"], demo["service-b"]["pod"], demo["service-c"]["pod"])
    for body in [x[2] for x in b3] + plain:
        assert body.strip() == want, (body, want)
    # From the host through service-a's ClusterIP as well (kube-proxy).
    code, body = _get("http://%s:8080/via-clusterip" % a["cluster_ip"])
    assert code == 200 and body.strip() == want, (code, body)

    errors = []
    for tid, sid, _ in b3:
        t = pod_jaeger.wait_trace(L.jaeger_id(tid), 5, timeout=45)
        if t is None:
            errors.append("trace %s (B3) is not in Jaeger" % tid)
            continue
        errors += ["trace %s (B3): %s" % (tid, e) for e in _chain_errors(t, demo, root_parent=sid)]
    for i in range(3):
        t = _find_trace(pod_jaeger, t0_ns, "/plain-%d" % i)
        if t is None:
            errors.append("no trace with service-a's server span for /plain-%d" % i)
            continue
        errors += ["trace %s (/plain-%d): %s" % (t["traceID"], i, e) for e in _chain_errors(t, demo)]
    # weft ran through all of it: a restart loses the spans of its gap.
    pod = _weft_pod(cluster)
    cs = (pod or {}).get("status", {}).get("containerStatuses") or [{}]
    if cs[0].get("restartCount"):
        errors.insert(0, "weft's container restarted %d times; last exit: %s"
                      % (cs[0]["restartCount"], json.dumps(cs[0].get("lastState"))))
    services = pod_jaeger.services()
    for s in SERVICES:
        if s not in services:
            errors.append("service %s not in Jaeger's services %s" % (s, services))
    _report(request, "Jaeger services: %s" % sorted(services))
    assert not errors, "\n".join(errors)


def _bpf_objects(pid):
    """{"prog": ids, "link": ids} that a process holds open."""
    out = {"prog": set(), "link": set()}
    for fd in glob.glob("/proc/%d/fd/*" % pid):
        try:
            if not os.readlink(fd).startswith("anon_inode:bpf"):
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


def _bpftool_ids(kind):
    p = subprocess.run(["bpftool", "-j", kind, "show"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    return {o["id"] for o in json.loads(p.stdout or b"[]")}


def _weft_pid(container_id):
    """weft's pid on the host (the pod shares the node's PID namespace, and
    its process is in the container's cgroup)."""
    for d in glob.glob("/proc/[0-9]*"):
        try:
            if os.readlink(d + "/exe") != "/usr/local/bin/weft":
                continue
            with open(d + "/cgroup") as f:
                if container_id in f.read():
                    return int(os.path.basename(d))
        except OSError:
            continue
    return None


def test_helm_uninstall_leaves_nothing(cluster, weft_release, demo, request):
    """helm uninstall: the pod goes, SIGTERM detaches weft, and the programs
    and links it held are gone from the kernel. (Runs last: demo first.)"""
    cid = _container_id(cluster.json("-n", "weft", "get", "pod", weft_release["metadata"]["name"]))
    pid = _weft_pid(cid)
    assert pid, "weft's process (container %s) not found on the host" % cid
    held = _bpf_objects(pid)
    assert held["prog"] and held["link"], "weft (pid %d) holds no BPF programs or links: %s" % (pid, held)
    t0 = time.monotonic()
    cluster.helm("uninstall", "weft", "-n", "weft", "--wait", "--timeout", "120s")
    end = time.monotonic() + 90
    while _weft_pod(cluster) is not None or os.path.exists("/proc/%d" % pid):
        assert time.monotonic() < end, "weft's pod or process still there 90 s after helm uninstall"
        time.sleep(0.5)
    left = {}
    while time.monotonic() < end:
        left = {k: held[k] & _bpftool_ids(k) for k in held}
        if not any(left.values()):
            break
        time.sleep(0.5)
    TIMES["helm uninstall"] = time.monotonic() - t0
    _report(request, "helm uninstall -> pod and BPF objects gone: %.1f s (held %d programs, %d links)"
            % (TIMES["helm uninstall"], len(held["prog"]), len(held["link"])))
    assert not any(left.values()), "left in the kernel after helm uninstall: %s" % left
    left_objs = cluster.kubectl("get", "daemonset,serviceaccount,clusterrole,clusterrolebinding",
                                "-A", "-l", "app.kubernetes.io/instance=weft", "-o", "name").stdout
    assert not left_objs.strip(), left_objs
