"""Rule 2 through a Kubernetes ClusterIP Service: kube-proxy's DNAT (README,
"Linking", rule 2; docs/linking.md, "Through a Service").

Pods are network namespaces joined to the host by one veth pair each, as the
ptp CNI plugin and Calico wire them: the pod holds POD/32 with a default
route to a gateway address the host side of every veth holds, the host has
a /32 route per pod, so all pod-to-pod traffic is routed by the host (no
bridge, so no br_netfilter needed for the replies to be un-NATed). A
"ClusterIP" that no interface owns is implemented as kube-proxy's iptables
mode does it: a chain jumped to from nat PREROUTING (traffic from pods) and
nat OUTPUT (traffic from the host), with

    -d CLUSTER_IP/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination POD:8080

per service. A client connects to CLUSTER_IP:80, the server accepts from the
client on POD:8080: the two ends' 4-tuples differ, and weft must still make
the server span the child of the client span (rule 2), and never of another
client's span.

Not covered here: kube-proxy also masquerades (SNAT) hairpin traffic (a pod
calling a Service whose endpoint is itself) and, with --cluster-cidr or
masqueradeAll, traffic from outside the pod network; there the client's
source address and port are rewritten too, and rule 2 does not link (see
docs/linking.md).

iptables: Debian's `iptables` (installed with apt when missing); whichever of
`iptables` (the nf_tables backend here, iptables v1.8.9 (nf_tables)) and
`iptables-legacy` can list the nat table is used, and the test prints which.
Forwarding is switched on only on the host ends of the test's veth pairs
(net.ipv4.conf.IF.forwarding: IPv4 checks the input device's flag), so the
global net.ipv4.ip_forward is left alone; if the path does not work that way,
ip_forward is set and restored at cleanup. Everything (namespaces, veths,
routes, iptables rules and chain, sysctls) is removed in a finalizer.

    python3 -m pytest tests/e2e/test_link_dnat.py -v -rA   (as root)
"""
import os
import random
import shutil
import subprocess
import threading
import time

import pytest

import e2e_lib as L
import link_lib as LL
from conftest import start
from link_lib import N, q

POD_PORT = 8080		# every pod's server listens here (the same port in every pod)
SVC_PORT = 80		# and every Service listens here
CONNECT_TIMEOUT = 10


# ------------------------------------------------------------------ iptables


def _run(cmd, check=True):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if check and p.returncode != 0:
        raise L.Failed("%s: %s" % (" ".join(cmd), p.stdout.decode("utf-8", "replace").strip()))
    return p


def _usable_iptables():
    for exe in ("iptables", "iptables-legacy", "iptables-nft"):
        if shutil.which(exe) and _run([exe, "-w", "-t", "nat", "-S"], check=False).returncode == 0:
            return exe
    return None


def iptables_cmd():
    """The iptables that works here: Debian's package installed when missing
    (idempotent), then the first of iptables, iptables-legacy, iptables-nft
    that can read the nat table. Returns (command, its --version line)."""
    exe = _usable_iptables()
    if exe is None and not shutil.which("iptables"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        p = subprocess.run(["apt-get", "install", "-y", "-q", "iptables"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            p = subprocess.run(["apt-get", "install", "-y", "-q", "iptables"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise L.Failed("apt-get install iptables failed:\n%s" % p.stdout.decode()[-3000:])
        exe = _usable_iptables()
    if exe is None:
        raise L.Failed("no iptables here can use the nat table (tried iptables, "
                       "iptables-legacy, iptables-nft)")
    return exe, _run([exe, "--version"]).stdout.decode().strip()


# ------------------------------------------------------- pods and Services


class ServiceNet:
    """Pods (network namespaces, one veth pair to the host each) and
    ClusterIP Services (iptables DNAT, as kube-proxy installs them).

    pod(name) -> its address; service(name, pod) -> its ClusterIP, routed
    by DNAT to pod:POD_PORT. close() removes everything and may be called
    twice; it also runs when set-up fails half way."""

    def __init__(self):
        self.iptables, self.iptables_version = iptables_cmd()
        self.tag = "%x" % ((os.getpid() << 8 | random.getrandbits(8)) & 0xffffff)
        self.chain = "WEFT-E2E-SVC-" + self.tag.upper()
        k = self._free_octet()
        self.pod_net = "10.244.%d." % k		# pods: .2, .3, ...; .1 the gateway
        self.svc_net = "10.96.%d." % k		# ClusterIPs: .10, .11, ...
        self.gw = self.pod_net + "1"
        self.pods, self.svcs = {}, {}
        self.netns, self.veths, self.nat_jumps, self.filter_rules = [], [], [], []
        self.chain_made = False
        self.ip_forward_was = None
        try:
            _run([self.iptables, "-w", "-t", "nat", "-N", self.chain])
            self.chain_made = True
            for hook in ("PREROUTING", "OUTPUT"):
                _run([self.iptables, "-w", "-t", "nat", "-I", hook, "1", "-m", "comment",
                      "--comment", "weft e2e service portals", "-j", self.chain])
                self.nat_jumps.append(hook)
            # a host whose FORWARD policy is DROP (Docker's) must pass pod traffic
            for rule in (["-s", self.pod_net + "0/24"], ["-d", self.pod_net + "0/24"]):
                rule = rule + ["-m", "comment", "--comment", "weft e2e pods", "-j", "ACCEPT"]
                _run([self.iptables, "-w", "-I", "FORWARD", "1"] + rule)
                self.filter_rules.append(rule)
        except Exception:
            self.close()
            raise

    @staticmethod
    def _free_octet():
        """A third octet k for 10.244.k.0/24 (pods) and 10.96.k.0/24 (Services)
        that no address, route or nat rule of the host uses yet (another run
        of this test, a real cluster)."""
        seen = (_run(["ip", "-4", "addr"]).stdout.decode() + _run(["ip", "-4", "route"]).stdout.decode())
        for exe in ("iptables", "iptables-legacy"):
            if shutil.which(exe):
                seen += _run([exe, "-w", "-t", "nat", "-S"], check=False).stdout.decode()
        ks = list(range(200, 250))
        random.shuffle(ks)
        for k in ks:
            if "10.244.%d." % k not in seen and "10.96.%d." % k not in seen:
                return k
        raise L.Failed("no free 10.244.k.0/24 for the test's pods")

    def pod(self, name):
        """A pod: namespace weft-e2e-svc-TAG-NAME, address POD/32 on its eth0."""
        addr = self.pod_net + str(len(self.pods) + 2)
        ns = "weft-e2e-svc-%s-%s" % (self.tag, name)
        host = "wd%s%d" % (self.tag, len(self.pods))	# <= 15 characters
        _run(["ip", "netns", "add", ns])
        self.netns.append(ns)
        _run(["ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns])
        self.veths.append(host)
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        _run(["ip", "-n", ns, "addr", "add", addr + "/32", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", ns, "route", "add", self.gw, "dev", "eth0", "scope", "link"])
        _run(["ip", "-n", ns, "route", "add", "default", "via", self.gw, "dev", "eth0"])
        _run(["ip", "addr", "add", self.gw + "/32", "dev", host])
        _run(["ip", "link", "set", host, "up"])
        _run(["ip", "route", "add", addr + "/32", "dev", host])
        _run(["sysctl", "-qw", "net.ipv4.conf.%s.forwarding=1" % host])
        self.pods[name] = (ns, addr)
        return addr

    def ns(self, pod):
        return self.pods[pod][0]

    def addr(self, pod):
        return self.pods[pod][1]

    def service(self, name, pod):
        """ClusterIP CIP:SVC_PORT -> pod:POD_PORT, kube-proxy's rule."""
        cip = self.svc_net + str(len(self.svcs) + 10)
        _run([self.iptables, "-w", "-t", "nat", "-A", self.chain, "-d", cip + "/32", "-p", "tcp",
              "-m", "comment", "--comment", "weft-e2e/%s cluster IP" % name,
              "-m", "tcp", "--dport", str(SVC_PORT),
              "-j", "DNAT", "--to-destination", "%s:%d" % (self.addr(pod), POD_PORT)])
        self.svcs[name] = cip
        return cip

    def url(self, svc, path):
        return "http://%s%s" % (self.svcs[svc], path)

    def connectable(self, from_pod, svc):
        """A TCP connection from the pod (None: the host) to the Service."""
        code = ("import socket; socket.create_connection((%r, %d), %d).close()"
                % (self.svcs[svc], SVC_PORT, CONNECT_TIMEOUT))
        cmd = (["ip", "netns", "exec", self.ns(from_pod)] if from_pod else []) + \
              ["python3", "-c", code]
        return _run(cmd, check=False).returncode == 0

    def ensure_forwarding(self, from_pod, svc):
        """Per-interface forwarding is enough on Linux; if this kernel wants
        the global switch, set it (restored by close())."""
        if self.connectable(from_pod, svc):
            return
        if self.ip_forward_was is None:
            with open("/proc/sys/net/ipv4/ip_forward") as f:
                self.ip_forward_was = f.read().strip()
            print("per-interface forwarding was not enough: net.ipv4.ip_forward=1 "
                  "until cleanup (was %s)" % self.ip_forward_was)
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")
        if not self.connectable(from_pod, svc):
            raise L.Failed("no TCP connection from %s to Service %s (%s:%d) through DNAT:\n%s"
                           % (from_pod or "the host", svc, self.svcs[svc], SVC_PORT,
                              self.describe()))

    def describe(self):
        out = [self.iptables_version]
        out.append(_run([self.iptables, "-w", "-t", "nat", "-S", self.chain], check=False)
                   .stdout.decode())
        out.append(_run(["ip", "-4", "route"], check=False).stdout.decode())
        return "\n".join(out)

    def close(self):
        for ns in reversed(self.netns):
            # the test's own processes still in the pod (normally stopped already)
            pids = _run(["ip", "netns", "pids", ns], check=False).stdout.decode().split()
            for p in pids:
                try:
                    os.kill(int(p), 9)
                except (OSError, ValueError):
                    pass
            _run(["ip", "netns", "del", ns], check=False)
        self.netns = []
        for host in self.veths:	# gone with their namespace, unless set-up broke
            if os.path.exists("/sys/class/net/" + host):
                _run(["ip", "link", "del", host], check=False)
        self.veths = []
        for rule in self.filter_rules:
            _run([self.iptables, "-w", "-D", "FORWARD"] + rule, check=False)
        self.filter_rules = []
        for hook in self.nat_jumps:
            _run([self.iptables, "-w", "-t", "nat", "-D", hook, "-m", "comment", "--comment",
                  "weft e2e service portals", "-j", self.chain], check=False)
        self.nat_jumps = []
        if self.chain_made:
            _run([self.iptables, "-w", "-t", "nat", "-F", self.chain], check=False)
            _run([self.iptables, "-w", "-t", "nat", "-X", self.chain], check=False)
            self.chain_made = False
        if self.ip_forward_was is not None:
            with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
                f.write(self.ip_forward_was)
            self.ip_forward_was = None


@pytest.fixture
def svcnet(request, weft_bin):
    """weft_bin first: it skips when not root, before anything is set up."""
    net = start(ServiceNet)
    request.addfinalizer(net.close)
    print("iptables: %s (%s)" % (net.iptables, net.iptables_version))
    return net


def goserver(procs, net, pod, service, ver="go1.26"):
    exe = os.path.join(L.APPS, ver, "goserver")
    if not os.access(exe, os.X_OK):
        pytest.fail("%s missing: run tests/apps/build.sh" % exe, pytrace=False)
    return procs.add(start(LL.Proc, [exe, "-addr", "%s:%d" % (net.addr(pod), POD_PORT),
                                     "-name", service],
                           service=service, netns=net.ns(pod),
                           what="goserver(%s) %s in pod %s" % (ver, service, pod)))


# ------------------------------------------------------------ trees from weft


def as_jaeger(spans, names=None):
    """weft's JSON spans as a Jaeger /api/traces/{id} trace, for link_lib's
    exact tree comparison (check_tree). names: {pid: service name} for the
    test's short-lived clients (curl), which may exit before weft reads
    their /proc (then weft names them unknown_service)."""
    js, procs = [], {}
    for s in spans:
        pid = L.res(s).get("process.pid")
        key = "p%s" % pid
        procs[key] = {"serviceName": (names or {}).get(pid) or L.res(s).get("service.name", "?"),
                      "tags": [{"key": "process.pid", "value": pid}]}
        t0 = int(s["start_time_unix_nano"]) // 1000
        js.append({"spanID": s["span_id"], "operationName": s.get("name"), "startTime": t0,
                   "duration": int(s["end_time_unix_nano"]) // 1000 - t0,
                   "references": ([{"refType": "CHILD_OF", "spanID": s["parent_span_id"]}]
                                  if s.get("parent_span_id") else []),
                   "tags": [{"key": "span.kind", "value": s.get("kind")},
                            {"key": "otel.scope.name", "value": "weft"},
                            {"key": "url.path", "value": L.attrs(s).get("url.path", "")}],
                   "processID": key})
    return {"spans": js, "processes": procs}


def of_trace(w, tid):
    return [s for s in w.spans() if s.get("trace_id") == tid]


def trace_of_client(w, pid, timeout=10):
    """The trace of the one client span weft printed for this process."""
    def find(spans):
        return [s for s in spans if L.res(s).get("process.pid") == pid and s.get("kind") == "client"]
    w.wait_for(find, timeout)
    got = find(w.spans())
    if len(got) != 1:
        pytest.fail("weft printed %d client spans of pid %d, expected 1:\n%s"
                    % (len(got), pid, L.dump(w.spans())), pytrace=False)
    return got[0]["trace_id"]


def wait_spans(w, tid, n, timeout=10):
    w.wait_for(lambda ss: sum(1 for s in ss if s.get("trace_id") == tid) >= n, timeout)


def assert_tree(w, tid, expected, title, procs, pids=(), names=None):
    spans = of_trace(w, tid)
    jt = as_jaeger(spans, names)
    print("=== %s ===\n%s" % (title, LL.tree_report(jt, expected)))
    errs = LL.check_tree(jt, expected)
    if errs:
        pids = set(pids) | {p.pid for p in procs.all}
        pytest.fail("%s: weft's trace %s is not the expected tree:\n  %s\n%s\n"
                    "--- weft's spans of the test's processes ---\n%s"
                    % (title, tid, "\n  ".join(errs), LL.tree_report(jt, expected),
                       LL.weft_view([w], pids)), pytrace=False)
    return spans


def peer(s):
    return L.attrs(s).get("network.peer.address")


def ctx_headers(variant, tid, sid):
    if variant == "b3multi":
        return ["X-B3-TraceId: " + tid, "X-B3-SpanId: " + sid, "X-B3-Sampled: 1"]
    assert variant == "none"
    return []


def assert_through_service(spans, parent_pid, child_pid, cip, client_addr):
    """Every client span of parent_pid went to the ClusterIP, and every
    server span of child_pid is the child of one of them, accepted from the
    client pod's own address (so it really came through DNAT, not around)."""
    clients = {s["span_id"]: s for s in spans
               if L.res(s).get("process.pid") == parent_pid and s["kind"] == "client"}
    servers = [s for s in spans if L.res(s).get("process.pid") == child_pid and s["kind"] == "server"]
    assert clients and servers, (clients, servers)
    for s in servers:
        c = clients.get(s.get("parent_span_id"))
        assert c is not None, "server span %s is not the child of a client span of pid %d:\n%s" % (
            s["span_id"], parent_pid, L.dump(spans))
        assert peer(c) == cip, "client span %s went to %s, not the Service %s" % (
            c["span_id"], peer(c), cip)
        assert peer(s) == client_addr, "server span %s accepted from %s, not %s" % (
            s["span_id"], peer(s), client_addr)


# -------------------------------------------------------------------- tests


@pytest.mark.parametrize("variant", ["b3multi", "none"])
@pytest.mark.parametrize("ver", ["go1.26", "go1.19"])
def test_chain_through_services(weft, go_apps, svcnet, procs, ver, variant):
    """curl (pod client) -> Service svc-a -> a (pod a) -> Service svc-b ->
    b (pod b): both hops through kube-proxy's DNAT. The two server spans are
    the children of their callers' client spans (rule 2), exactly: with B3
    from curl (rule 3: curl's own span id is a(server)'s parent; b(server)'s
    parent is a(client), not the header's span id, which a copies) and with
    no context (one trace rooted at curl's client span)."""
    net = svcnet
    net.pod("client")
    net.pod("a")
    net.pod("b")
    a = goserver(procs, net, "a", "a", ver)
    b = goserver(procs, net, "b", "b", ver)
    net.service("svc-a", "a")
    net.service("svc-b", "b")
    net.ensure_forwarding("client", "svc-a")
    net.ensure_forwarding("a", "svc-b")
    w = weft(ports=[SVC_PORT, POD_PORT])
    url = net.url("svc-a", "/call?url=" + q(net.url("svc-b", "/hello")))
    tid, sid = LL.rand_hex(16), LL.rand_hex(8)
    r = start(LL.curl, url, ctx_headers(variant, tid, sid), netns=net.ns("client"))
    assert r.code == 200, r.headers
    inner = N("a", "server", "weft", N("a", "client", "weft", N("b", "server", "weft")))
    if variant == "none":
        tid = trace_of_client(w, r.pid)
        expected = {"": [N("curl", "client", "weft", inner)]}
    else:
        expected = {sid: [inner]}
    wait_spans(w, tid, LL.count(expected))
    w.stop()
    spans = assert_tree(w, tid, expected, "through Services, %s %s" % (ver, variant), procs,
                        [r.pid], {r.pid: "curl"})
    assert_through_service(spans, a.pid, b.pid, net.svcs["svc-b"], net.addr("a"))
    if variant == "none":
        assert_through_service(spans, r.pid, a.pid, net.svcs["svc-a"], net.addr("client"))


def test_host_client_through_service(weft, go_apps, svcnet, procs):
    """A client on the host itself (kube-proxy's nat OUTPUT rule: a
    hostNetwork pod, the kubelet's probes): curl -> Service -> b (pod)."""
    net = svcnet
    net.pod("b")
    b = goserver(procs, net, "b", "b")
    net.service("svc-b", "b")
    net.ensure_forwarding(None, "svc-b")
    w = weft(ports=[SVC_PORT, POD_PORT])
    r = start(LL.curl, net.url("svc-b", "/hello"))
    assert r.code == 200, r.headers
    tid = trace_of_client(w, r.pid)
    expected = {"": [N("curl", "client", "weft", N("b", "server", "weft"))]}
    wait_spans(w, tid, LL.count(expected))
    w.stop()
    spans = assert_tree(w, tid, expected, "host client through a Service", procs, [r.pid],
                        {r.pid: "curl"})
    srv = [s for s in spans if s["kind"] == "server"]
    cli = [s for s in spans if s["kind"] == "client"]
    assert L.res(srv[0]).get("process.pid") == b.pid
    assert peer(cli[0]) == net.svcs["svc-b"] and srv[0]["parent_span_id"] == cli[0]["span_id"]


@pytest.mark.parametrize("variant", ["b3multi", "none"])
def test_fanout_two_services_same_ports(weft, go_apps, svcnet, procs, variant):
    """Two Services on the same port (ClusterIP:80) whose endpoints listen
    on the same port (8080) in two pods; a calls both concurrently (/fanout,
    two goroutines, keep-alive connections from one address, ten requests).
    Each server span is the child of the client span that called its own
    Service, never of the other one."""
    net = svcnet
    net.pod("client")
    net.pod("a")
    net.pod("b")
    net.pod("c")
    a = goserver(procs, net, "a", "a")
    b = goserver(procs, net, "b", "b")
    c = goserver(procs, net, "c", "c")
    net.service("svc-a", "a")
    net.service("svc-b", "b")
    net.service("svc-c", "c")
    for frm, svc in (("client", "svc-a"), ("a", "svc-b"), ("a", "svc-c")):
        net.ensure_forwarding(frm, svc)
    w = weft(ports=[SVC_PORT, POD_PORT])
    url = net.url("svc-a", "/fanout?url=%s&url=%s" % (q(net.url("svc-b", "/hello")),
                                                       q(net.url("svc-c", "/hello"))))
    # weft attaches its goroutine-creation probes to a binary the first time
    # it sees a call it cannot place (README, Linking, rule 1): a warm-up
    start(LL.curl, url, [], netns=net.ns("client"))
    time.sleep(0.5)
    inner = N("a", "server", "weft",
              N("a", "client", "weft", N("b", "server", "weft")),
              N("a", "client", "weft", N("c", "server", "weft")))
    runs = []
    for _ in range(10):
        tid, sid = LL.rand_hex(16), LL.rand_hex(8)
        r = start(LL.curl, url, ctx_headers(variant, tid, sid), netns=net.ns("client"))
        assert r.code == 200, r.headers
        runs.append((r, tid, sid))
    w.wait_for(lambda ss: sum(1 for s in ss if s.get("kind") == "server"
                              and L.res(s).get("process.pid") in (b.pid, c.pid)) >= 22, 10)
    w.stop()
    for i, (r, tid, sid) in enumerate(runs):
        if variant == "none":
            tid = trace_of_client(w, r.pid)
            expected = {"": [N("curl", "client", "weft", inner)]}
        else:
            expected = {sid: [inner]}
        spans = assert_tree(w, tid, expected, "fan-out to two Services #%d, %s" % (i, variant),
                            procs, [r.pid], {r.pid: "curl"})
        # the tree's shape cannot tell b's and c's client spans apart: which
        # Service each parent called can
        a_clients = [s for s in spans if s["kind"] == "client" and L.res(s).get("process.pid") == a.pid]
        for child, svc in ((b, "svc-b"), (c, "svc-c")):
            srv = [s for s in spans if s["kind"] == "server" and L.res(s).get("process.pid") == child.pid]
            assert len(srv) == 1
            par = [s for s in a_clients if s["span_id"] == srv[0]["parent_span_id"]]
            assert par and peer(par[0]) == net.svcs[svc], (
                "fan-out #%d: %s's server span is the child of a client span to %s, not %s (%s):\n%s"
                % (i, svc[4:], par and peer(par[0]), svc, net.svcs[svc], L.dump(spans)))


def test_two_clients_two_services_same_ports(weft, go_apps, svcnet, procs):
    """Two client pods, each calling its own Service concurrently (goclient,
    no headers: every request a trace of its own, 30 requests each over one
    keep-alive connection); both Services on port 80, both endpoints on
    8080. Every server span of b is the child of a request of client 1,
    every one of c of client 2, and each request links to exactly one."""
    net = svcnet
    net.pod("c1")
    net.pod("c2")
    net.pod("b")
    net.pod("c")
    b = goserver(procs, net, "b", "b")
    c = goserver(procs, net, "c", "c")
    net.service("svc-b", "b")
    net.service("svc-c", "c")
    net.ensure_forwarding("c1", "svc-b")
    net.ensure_forwarding("c2", "svc-c")
    exe = os.path.join(L.APPS, "go1.26", "goclient")
    w = weft(ports=[SVC_PORT, POD_PORT])
    n = 30
    res = {}

    def run(pod, svc):
        p = subprocess.Popen(["ip", "netns", "exec", net.ns(pod), exe, "-n", str(n),
                              net.url(svc, "/hello")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=L.NO_PROXY_ENV)
        out, err = p.communicate(timeout=60)
        res[pod] = (p.pid, p.returncode, out.decode(), err.decode())
    ts = [threading.Thread(target=run, args=a) for a in (("c1", "svc-b"), ("c2", "svc-c"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for pod, (pid, rc, out, err) in res.items():
        assert rc == 0 and out.count("200 5") == n, (pod, rc, out, err)
    w.wait_for(lambda ss: sum(1 for s in ss if s.get("kind") == "server"
                              and L.res(s).get("process.pid") in (b.pid, c.pid)) >= 2 * n, 10)
    w.stop()
    spans = w.spans()
    by_id = {s["span_id"]: s for s in spans}
    for pod, server, svc in (("c1", b, "svc-b"), ("c2", c, "svc-c")):
        cpid = res[pod][0]
        clients = [s for s in spans if L.res(s).get("process.pid") == cpid and s["kind"] == "client"]
        servers = [s for s in spans if L.res(s).get("process.pid") == server.pid
                   and s["kind"] == "server"]
        assert len(clients) == n and len(servers) == n, (
            "%s: %d client spans, %s: %d server spans, %d expected each"
            % (pod, len(clients), svc, len(servers), n))
        parents = []
        for s in servers:
            p = by_id.get(s.get("parent_span_id"))
            assert p is not None and L.res(p).get("process.pid") == cpid, (
                "%s's server span %s has parent %s, not a client span of %s (pid %d):\n%s"
                % (svc, s["span_id"], s.get("parent_span_id"), pod, cpid,
                   LL.weft_view([w], {cpid, server.pid})))
            assert p["trace_id"] == s["trace_id"] and peer(p) == net.svcs[svc]
            assert peer(s) == net.addr(pod)
            parents.append(p["span_id"])
        assert len(set(parents)) == n, "some request of %s has two server spans" % pod
