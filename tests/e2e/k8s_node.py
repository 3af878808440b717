"""The control plane, kubelet and kube-proxy of the real one-node cluster that
scripts/k8s-one-node.sh brings up (README, "A one-node cluster for trying
weft"; tests/e2e/test_k8s_cluster.py uses it).

The script does the node's part (packages, the CNI bridge, containerd,
images) and then runs this file as a supervisor, in the background:

    python3 tests/e2e/k8s_node.py serve --state /var/lib/weft-k8s ...

which starts, in this order and each waited for:
  * etcd and kube-apiserver: k8s_lib's ControlPlane (one implementation of
    their flags), except that the API server listens on the node's address
    (the CNI bridge's gateway, a local address) instead of loopback, since
    pods must reach it: weft's pod lists the node's pods, CoreDNS watches
    Services. Its serving certificate names that address too, and the
    `kubernetes` Service gets its endpoint from the API server's lease
    reconciler, so in-cluster clients find it at 10.96.0.1:443 through
    kube-proxy as on any cluster; it reaches the kubelet (logs, exec) at the
    node's InternalIP, not by its name;
  * kube-controller-manager and kube-scheduler (ControlPlane's);
  * the kubelet, with a client certificate for system:node:NODE (group
    system:nodes) signed by the control plane's CA;
  * kube-proxy in iptables mode, as a host process.
Then it writes STATE/ready (JSON: the API server's URL, the kubeconfig, the
pids) and watches them until SIGTERM or SIGINT, when it stops them newest
first and exits. It never touches pods or containers: the script's `down`
does that. Every pid it started is also in STATE/pids, so a `down` after
this process died can still stop them.
"""
import argparse
import json
import os
import shutil
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_lib as K  # noqa: E402

KUBE_PROXY = os.path.join(K.K8S_BIN, "kube-proxy")

# Kernel settings the kubelet sets when it starts (its container manager's
# "kernel tunables": vm.overcommit_memory=1, kernel.panic=10,
# kernel.panic_on_oops=1, ...). On a shared test machine an oops must not
# turn into a reboot, so the values from before the kubelet are put back as
# soon as the node is Ready (the kubelet sets them only at start) and again
# when it stops; scripts/k8s-one-node.sh down restores them from the same
# file if this process is gone.
TUNABLES = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
            "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")


def read_tunables():
    out = {}
    for t in TUNABLES:
        try:
            with open("/proc/sys/" + t) as f:
                out[t] = f.read().strip()
        except OSError:
            pass
    return out


def restore_tunables(saved):
    """Write back the saved values that differ now; returns what changed."""
    changed = {}
    now = read_tunables()
    for t, v in saved.items():
        if now.get(t) != v:
            try:
                with open("/proc/sys/" + t, "w") as f:
                    f.write(v)
                changed[t] = (now.get(t), v)
            except OSError:
                pass
    return changed


class ClusterControlPlane(K.ControlPlane):
    """ControlPlane with the API server on `host` (a local, non-loopback
    address pods can reach) rather than 127.0.0.1, its certificate valid for
    that address as well, and the `kubernetes` Service's endpoint kept by the
    lease reconciler (which refuses a loopback address; ControlPlane turns it
    off for that reason). etcd stays on loopback."""

    def __init__(self, workdir, host):
        self._node_host = host
        super().__init__(workdir)

    def _start_apiserver(self):
        self.host = self._node_host
        p = self.pki
        with open(p.cnf) as f:
            cnf = f.read()
        # [alt] is the file's last section: one more IP for the serving cert.
        p.cnf = p.p("openssl-node.cnf")
        with open(p.cnf, "w") as f:
            f.write(cnf.rstrip("\n") + "\nIP.3 = %s\n" % self._node_host)
        p.server_crt, p.server_key = p._issue("apiserver", "/CN=kube-apiserver", "server_ext")
        super()._start_apiserver()

    def apiserver_args(self):
        a = super().apiserver_args()
        i = a.index("--endpoint-reconciler-type")
        a[i + 1] = "lease"
        # logs, exec, port-forward: reach the kubelet at the node's address,
        # never by resolving the node's name with the machine's resolver.
        a += ["--kubelet-preferred-address-types", "InternalIP"]
        return a


def _write_json(path, obj, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Node:
    def __init__(self, a):
        self.a = a
        self.state = a.state
        self.cpdir = os.path.join(self.state, "control-plane")
        self.kdir = os.path.join(self.state, "kubelet")
        self.pids_file = os.path.join(self.state, "pids")
        self.ready_file = os.path.join(self.state, "ready")
        self.tunables_file = os.path.join(self.state, "sysctl-before-kubelet.json")
        self.cp = None
        self.procs = {}		# kubelet, kube-proxy (the control plane's are in cp.procs)
        self.t0 = time.monotonic()

    def say(self, msg):
        print("k8s-node: [%5.1fs] %s" % (time.monotonic() - self.t0, msg), flush=True)

    def all_procs(self):
        d = dict(self.cp.procs) if self.cp else {}
        d.update(self.procs)
        return d

    def write_pids(self):
        _write_json(self.pids_file, {n: p.pid for n, p in self.all_procs().items()})

    # ---- kubelet

    def kubelet_kubeconfig(self):
        crt, key = self.cp.pki.client_cert("kubelet-client", "system:node:" + self.a.node_name,
                                           ["system:nodes"])
        path = os.path.join(self.kdir, "kubelet.kubeconfig")
        _write_json(path, {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "weft-k8s", "cluster": {"server": self.cp.url,
                                                          "certificate-authority": self.cp.ca_file}}],
            "users": [{"name": "kubelet", "user": {"client-certificate": crt, "client-key": key}}],
            "contexts": [{"name": "weft-k8s", "context": {"cluster": "weft-k8s", "user": "kubelet"}}],
            "current-context": "weft-k8s"}, 0o600)
        return path

    def start_kubelet(self):
        os.makedirs(self.kdir, exist_ok=True)
        if not os.path.exists(self.tunables_file):
            _write_json(self.tunables_file, read_tunables())
        cfg = os.path.join(self.kdir, "config.json")
        # JSON is YAML: the kubelet reads either.
        _write_json(cfg, {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            # Served on the node's address only (the API server reaches it
            # there for logs and exec); healthz on loopback; no read-only port.
            "address": self.a.node_ip,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": 10248,
            # Clients must hold a certificate from the control plane's CA
            # (the API server's kubelet-client one).
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                               "x509": {"clientCAFile": self.cp.ca_file}},
            "authorization": {"mode": "AlwaysAllow"},
            # This machine: no systemd, cgroup v1 + v2 hybrid, no swap rules.
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "failSwapOn": False,
            "containerRuntimeEndpoint": "unix://" + self.a.cri_socket,
            "clusterDNS": [self.a.dns_ip],
            "clusterDomain": "cluster.local",
            # Pods get only the cluster DNS: nothing of the host's resolver.
            "resolvConf": "",
            "podLogsDir": os.path.join(self.state, "pod-logs"),
            "volumePluginDir": os.path.join(self.state, "kubelet-plugins"),
            "serializeImagePulls": False,
            "rotateCertificates": False,
            "maxPods": 30,
            # A test node: no image GC or eviction for a nearly full disk.
            "imageGCHighThresholdPercent": 100,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                             "imagefs.available": "1%"},
            "shutdownGracePeriod": "0s",
        })
        kubeconfig = self.kubelet_kubeconfig()
        cmd = [K.KUBELET, "--config", cfg, "--kubeconfig", kubeconfig,
               "--root-dir", self.kdir, "--hostname-override", self.a.node_name,
               "--node-ip", self.a.node_ip, "-v", "1"]
        log = os.path.join(self.cpdir, "kubelet.log")
        p = self.procs["kubelet"] = K.Proc("kubelet", cmd, log)
        self.write_pids()

        def ready():
            n = self.cp.get("/api/v1/nodes/" + self.a.node_name)
            return any(c["type"] == "Ready" and c["status"] == "True"
                       for c in n.get("status", {}).get("conditions", []))
        K._wait(ready, K.START_TIMEOUT, "node %s Ready" % self.a.node_name, p.proc, log, step=0.25)
        self.put_tunables_back()

    def put_tunables_back(self):
        try:
            with open(self.tunables_file) as f:
                saved = json.load(f)
        except (OSError, ValueError):
            return
        changed = restore_tunables(saved)
        if changed:
            self.say("kernel settings the kubelet changed, put back: %s"
                     % ", ".join("%s %s -> %s" % (t.replace("/", "."), a, b)
                                 for t, (a, b) in sorted(changed.items())))

    # ---- kube-proxy

    def start_kube_proxy(self):
        if not os.access(KUBE_PROXY, os.X_OK):
            raise K.Failed("missing %s: run scripts/install-k8s-extra.sh" % KUBE_PROXY)
        d = os.path.join(self.state, "kube-proxy")
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "config.json")
        _write_json(cfg, {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": self.cp.kubeconfig},
            "hostnameOverride": self.a.node_name,
            "mode": "iptables",
            # Traffic from pods (this range) to a Service keeps its source
            # address; only traffic from elsewhere (the host) is masqueraded.
            "clusterCIDR": self.a.cluster_cidr,
            "detectLocalMode": "ClusterCIDR",
            "bindAddress": "127.0.0.1",
            "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            # NodePorts only on the node's own address, and never on
            # 127.0.0.1 (that would need route_localnet).
            "nodePortAddresses": [self.a.node_ip + "/32"],
            "iptables": {"localhostNodePorts": False, "syncPeriod": "30s",
                         "minSyncPeriod": "0s"},
            # Leave the machine's conntrack sysctls alone.
            "conntrack": {"maxPerCore": 0, "min": 0,
                          "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        })
        cmd = [KUBE_PROXY, "--config", cfg, "-v", "1"]
        log = os.path.join(self.cpdir, "kube-proxy.log")
        p = self.procs["kube-proxy"] = K.Proc("kube-proxy", cmd, log)
        self.write_pids()

        def healthy():
            op = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with op.open("http://127.0.0.1:10256/healthz", timeout=2) as r:
                return r.status == 200
        K._wait(healthy, K.START_TIMEOUT, "kube-proxy /healthz", p.proc, log, step=0.25)

    # ---- the whole node

    def start(self):
        shutil.rmtree(self.cpdir, ignore_errors=True)
        os.makedirs(self.cpdir)
        self.say("etcd and kube-apiserver on %s" % self.a.node_ip)
        self.cp = ClusterControlPlane(self.cpdir, self.a.node_ip)
        self.write_pids()
        shutil.copy(self.cp.kubeconfig, os.path.join(self.state, "admin.kubeconfig"))
        self.say("API server %s; kube-controller-manager" % self.cp.url)
        self.cp.start_controller_manager(extra_args=[
            "--service-cluster-ip-range", K.SERVICE_CIDR,
            "--cluster-cidr", self.a.cluster_cidr])
        self.write_pids()
        self.say("kube-scheduler")
        self.cp.start_scheduler()
        self.write_pids()
        self.say("kubelet")
        self.start_kubelet()
        self.say("node %s Ready; kube-proxy" % self.a.node_name)
        if not self.a.no_kube_proxy:
            self.start_kube_proxy()
        _write_json(self.ready_file, {
            "url": self.cp.url, "kubeconfig": os.path.join(self.state, "admin.kubeconfig"),
            "ca": self.cp.ca_file, "node": self.a.node_name, "node_ip": self.a.node_ip,
            "pids": {n: p.pid for n, p in self.all_procs().items()},
            "logs": dict(self.cp.logs, kubelet=os.path.join(self.cpdir, "kubelet.log"),
                         **{"kube-proxy": os.path.join(self.cpdir, "kube-proxy.log")}),
            "supervisor": os.getpid(), "started_s": round(time.monotonic() - self.t0, 1)})
        self.say("ready")

    def stop(self):
        for name in ("kube-proxy", "kubelet"):
            if name in self.procs:
                self.say("stopping %s" % name)
                self.procs[name].stop()
        self.put_tunables_back()
        if self.cp is not None:
            self.say("stopping the control plane")
            self.cp.stop(keep=True)
        try:
            os.unlink(self.ready_file)
        except FileNotFoundError:
            pass


class _Stop(Exception):
    pass


def _on_signal(sig, frame):
    raise _Stop()


def serve(a):
    os.makedirs(a.state, exist_ok=True)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    node = Node(a)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    rc = 0
    try:
        node.start()
        dead = set()
        while True:
            for n, p in node.all_procs().items():
                if n not in dead and not p.alive():
                    dead.add(n)
                    node.say("%s exited with %s; log %s:\n%s"
                             % (n, p.proc.returncode, p.log, K.tail(p.log, 20)))
            time.sleep(1)
    except _Stop:
        node.say("signal: stopping")
    except K.Failed as e:
        node.say("FAILED: %s" % e)
        rc = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.stop()
        node.say("stopped")
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="start the control plane, kubelet and kube-proxy; "
                       "run until SIGTERM")
    s.add_argument("--state", required=True)
    s.add_argument("--node-name", required=True)
    s.add_argument("--node-ip", required=True)
    s.add_argument("--cluster-cidr", required=True)
    s.add_argument("--dns-ip", required=True)
    s.add_argument("--cri-socket", required=True)
    s.add_argument("--pidfile", help="write this process's pid there")
    s.add_argument("--no-kube-proxy", action="store_true")
    a = ap.parse_args()
    sys.exit(serve(a))


if __name__ == "__main__":
    main()
