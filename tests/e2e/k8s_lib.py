"""A real Kubernetes control plane for weft's tests, on loopback only: etcd and
kube-apiserver (RBAC on, privileged pods allowed, ServiceAccount tokens signed
by a key made here), and the controller-manager or the scheduler when a test
asks for them. The binaries come from scripts/install-k8s.sh (tests/run.sh
runs it before pytest); a missing one fails the fixture, it does not skip.

Nothing plays the kubelet or the controllers unless a test says so: the
helpers below do their part by hand (make_deployment_pod creates the
Deployment, the ReplicaSet it owns and a Pod the ReplicaSet owns, binds the
pod to a node and writes the status a kubelet would, container ids included).

In a test module:

    from k8s_lib import k8s_api  # noqa: F401  (the fixture, module scope)

    def test_x(k8s_api):
        k8s_api.create_namespace("demo")
        p = k8s_api.make_deployment_pod("demo", "service-a", "node1",
                                        "service-a", "0123abcd...", {"app": "service-a"})
        k8s_api.kubectl("get", "pods", "-A")

By hand (prints a kubeconfig, runs until Ctrl-C):

    python3 tests/e2e/k8s_lib.py

Env: WEFT_K8S_BIN (default /opt/weft-test/bin), WEFT_K8S_KEEP=1 keeps the
work directory (certificates, tokens, logs, etcd data) after the test.
"""
import atexit
import hashlib
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import types
import urllib.error
import urllib.parse
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as L  # noqa: E402

K8S_BIN = os.environ.get("WEFT_K8S_BIN", "/opt/weft-test/bin")
ETCD = os.path.join(K8S_BIN, "etcd")
KUBE_APISERVER = os.path.join(K8S_BIN, "kube-apiserver")
KUBE_CONTROLLER_MANAGER = os.path.join(K8S_BIN, "kube-controller-manager")
KUBE_SCHEDULER = os.path.join(K8S_BIN, "kube-scheduler")
KUBELET = os.path.join(K8S_BIN, "kubelet")
KUBECTL = os.path.join(K8S_BIN, "kubectl")
HELM = os.path.join(K8S_BIN, "helm")
INSTALL_SCRIPT = "scripts/install-k8s.sh"

# The first address of the service range: the `kubernetes` Service's ClusterIP,
# also in the serving certificate (as kubeadm does).
SERVICE_CIDR = "10.96.0.0/24"
SERVICE_IP = "10.96.0.1"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
FIELD_MANAGER = "weft-test"
START_TIMEOUT = float(os.environ.get("WEFT_K8S_START_TIMEOUT", "180"))

# Every process started here, so that an interpreter exiting without teardown
# (Ctrl-C, a crash) does not leave an apiserver behind.
_LIVE = set()


@atexit.register
def _kill_leftovers():
    for p in list(_LIVE):
        if p.poll() is None:
            p.kill()
            p.wait()


class Failed(L.Failed):
    pass


class KubectlError(Failed):
    def __init__(self, cmd, proc):
        self.cmd, self.proc = cmd, proc
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        super().__init__("kubectl failed (exit %s): %s\n%s" % (
            proc.returncode, " ".join(cmd), (proc.stderr or "").strip()[-4000:]))


class ApiError(Failed):
    """An HTTP error from the API server; .code is the HTTP status, .body the
    decoded Status object (or the raw text)."""

    def __init__(self, method, url, code, body):
        self.code, self.body = code, body
        msg = body.get("message") if isinstance(body, dict) else body
        super().__init__("%s %s: HTTP %d: %s" % (method, url, code, msg))


def missing_binaries(names=("etcd", "kube-apiserver", "kubectl")):
    return [os.path.join(K8S_BIN, n) for n in names if not os.access(os.path.join(K8S_BIN, n), os.X_OK)]


def _wait(cond, timeout, what, proc=None, log=None, step=0.1):
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            if cond():
                return
        except (OSError, ValueError, ApiError) as e:
            last = e
        if proc is not None and proc.poll() is not None:
            raise Failed("%s: the process exited with %s%s" % (what, proc.returncode, _tail_msg(log)))
        if time.monotonic() > end:
            raise Failed("%s: not within %ss (last error: %s)%s" % (what, timeout, last, _tail_msg(log)))
        time.sleep(step)


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(%s)" % e
    return "\n".join(text.splitlines()[-lines:])


def _tail_msg(log):
    return "\n--- %s (last lines) ---\n%s" % (log, tail(log)) if log else ""


# ------------------------------------------------------------- certificates

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = weft-test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = @alt
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
[alt]
IP.1 = 127.0.0.1
IP.2 = %s
DNS.1 = localhost
DNS.2 = kubernetes
DNS.3 = kubernetes.default
DNS.4 = kubernetes.default.svc
DNS.5 = kubernetes.default.svc.cluster.local
""" % SERVICE_IP


class Pki:
    """A throw-away CA (EC P-256, openssl) that signs the apiserver's serving
    certificate and any client certificate a test asks for, and the RSA key
    pair that signs ServiceAccount tokens."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.cnf = self.p("openssl.cnf")
        with open(self.cnf, "w") as f:
            f.write(_OPENSSL_CNF)
        self.ca_crt, self.ca_key = self.p("ca.crt"), self.p("ca.key")
        self._openssl("req", "-x509", "-new", "-config", self.cnf, "-extensions", "ca_ext",
                      "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", self.ca_key, "-out", self.ca_crt, "-days", "7",
                      "-subj", "/CN=weft-test-ca")
        self.server_crt, self.server_key = self._issue("apiserver", "/CN=kube-apiserver", "server_ext")
        self.sa_key, self.sa_pub = self.p("sa.key"), self.p("sa.pub")
        self._openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                      "-out", self.sa_key)
        self._openssl("pkey", "-in", self.sa_key, "-pubout", "-out", self.sa_pub)

    def p(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        p = subprocess.run(["openssl"] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise Failed("openssl %s failed: %s" % (" ".join(args), p.stderr.decode()[-2000:]))

    def _issue(self, name, subj, ext):
        key, csr, crt = self.p(name + ".key"), self.p(name + ".csr"), self.p(name + ".crt")
        self._openssl("req", "-new", "-config", self.cnf, "-newkey", "ec",
                      "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", key, "-out", csr, "-subj", subj)
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca_crt, "-CAkey", self.ca_key,
                      "-set_serial", "0x" + secrets.token_hex(8), "-days", "7",
                      "-extfile", self.cnf, "-extensions", ext, "-out", crt)
        os.unlink(csr)
        return crt, key

    def client_cert(self, name, user, groups=()):
        """A client certificate for user (CN) in groups (O); returns (crt, key)."""
        subj = "/" + "".join("O=%s/" % g for g in groups) + "CN=" + user
        return self._issue(name, subj, "client_ext")


# ---------------------------------------------------------------- processes


class Proc:
    """One control-plane process; stdout and stderr go to a log file."""

    def __init__(self, what, cmd, log, env=None):
        self.what, self.cmd, self.log = what, cmd, log
        self.logf = open(log, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=env or dict(L.NO_PROXY_ENV),
                                     start_new_session=True)
        self.pid = self.proc.pid
        _LIVE.add(self.proc)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after timeout; only this process."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _LIVE.discard(self.proc)
        self.logf.close()

    def describe(self):
        return "%s pid %d rc=%s log %s\n  %s" % (self.what, self.pid, self.proc.poll(), self.log,
                                                 " ".join(self.cmd))


def _port_clash(log):
    t = tail(log, 200)
    return "address already in use" in t or "bind: address" in t


def _opener(ctx=None):
    handlers = [urllib.request.ProxyHandler({})]
    if ctx is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ctx))
    return urllib.request.build_opener(*handlers)


# ------------------------------------------------------------ control plane


class ControlPlane:
    """etcd + kube-apiserver on 127.0.0.1 (free ports), in a temporary work
    directory. Attributes: url, host, port, ca_file, admin_token,
    kubeconfig, token_file, pki (Pki), dir, logs ({name: path})."""

    def __init__(self, workdir=None):
        missing = missing_binaries()
        if missing:
            raise Failed("missing %s: run %s (tests/run.sh does, before pytest)"
                         % (", ".join(missing), INSTALL_SCRIPT))
        self.dir = workdir or tempfile.mkdtemp(prefix="weft-k8s-")
        self.procs = {}
        self.logs = {}
        self._sa_tokens = 0
        self._namespaces = set()
        self.host = "127.0.0.1"
        try:
            self.pki = Pki(os.path.join(self.dir, "pki"))
            self.ca_file = self.pki.ca_crt
            self.admin_token = secrets.token_hex(24)
            self.token_file = os.path.join(self.dir, "tokens.csv")
            self._tokens = [(self.admin_token, "weft-test-admin", "weft-test-admin", ["system:masters"])]
            self._write_tokens()
            self._ssl = ssl.create_default_context(cafile=self.ca_file)
            self._start_etcd()
            self._start_apiserver()
            self.kubeconfig = self.write_kubeconfig(os.path.join(self.dir, "admin.kubeconfig"),
                                                    self.admin_token)
        except Failed as e:
            self.stop(keep=True)
            raise Failed("%s\n(work dir kept: %s)" % (e, self.dir)) from None
        except BaseException:
            self.stop()
            raise

    # ---- start-up

    def _log(self, name):
        path = os.path.join(self.dir, name + ".log")
        self.logs[name] = path
        return path

    def _write_tokens(self):
        # --token-auth-file: token,user,uid,"group1,group2"
        with open(self.token_file, "w") as f:
            for tok, user, uid, groups in self._tokens:
                f.write('%s,%s,%s,"%s"\n' % (tok, user, uid, ",".join(groups)))
        os.chmod(self.token_file, 0o600)

    def _start_etcd(self):
        for attempt in range(3):
            self.etcd_port, peer = L.free_port(), L.free_port()
            self.etcd_url = "http://127.0.0.1:%d" % self.etcd_port
            data = os.path.join(self.dir, "etcd-data")
            shutil.rmtree(data, ignore_errors=True)
            log = self._log("etcd")
            cmd = [ETCD, "--name", "weft-test", "--data-dir", data,
                   "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
                   "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                   "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                   "--initial-cluster", "weft-test=http://127.0.0.1:%d" % peer,
                   "--initial-cluster-state", "new",
                   # a test's data: no fsync (the machine is shared), small quota
                   "--unsafe-no-fsync", "--quota-backend-bytes", str(1 << 30),
                   "--log-level", "warn"]
            p = self.procs["etcd"] = Proc("etcd", cmd, log)

            def healthy():
                with _opener().open(self.etcd_url + "/health", timeout=2) as r:
                    return json.loads(r.read()).get("health") == "true"
            try:
                _wait(healthy, 60, "etcd at %s" % self.etcd_url, p.proc, log)
                return
            except Failed:
                p.stop()
                if attempt == 2 or not _port_clash(log):
                    raise

    def apiserver_args(self):
        p = self.pki
        kubelet_crt, kubelet_key = p.client_cert("apiserver-kubelet-client",
                                                 "kube-apiserver-kubelet-client", ["system:masters"])
        return [
            "--etcd-servers", self.etcd_url,
            "--bind-address", self.host, "--advertise-address", self.host,
            "--secure-port", str(self.port),
            # the `kubernetes` Service's endpoints would name the advertise
            # address, and a loopback one is refused: write none.
            "--endpoint-reconciler-type", "none",
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--tls-cert-file", p.server_crt, "--tls-private-key-file", p.server_key,
            "--client-ca-file", p.ca_crt,
            "--token-auth-file", self.token_file,
            "--authorization-mode", "Node,RBAC",
            "--allow-privileged=true",
            "--service-account-issuer", SA_ISSUER,
            "--service-account-key-file", p.sa_pub,
            "--service-account-signing-key-file", p.sa_key,
            "--kubelet-client-certificate", kubelet_crt, "--kubelet-client-key", kubelet_key,
            "--cert-dir", os.path.join(self.dir, "apiserver-certs"),
            "--profiling=false",
            "-v", "1",
        ]

    def _start_apiserver(self):
        for attempt in range(3):
            self.port = L.free_port()
            self.url = "https://%s:%d" % (self.host, self.port)
            log = self._log("kube-apiserver")
            p = self.procs["kube-apiserver"] = Proc("kube-apiserver",
                                                    [KUBE_APISERVER] + self.apiserver_args(), log)
            try:
                _wait(lambda: self.get("/readyz", raw=True) == b"ok", START_TIMEOUT,
                      "kube-apiserver at %s /readyz" % self.url, p.proc, log, step=0.25)
                return
            except Failed:
                p.stop()
                if attempt == 2 or not _port_clash(log):
                    raise

    # ---- teardown

    def stop(self, keep=False):
        """Stop every process (newest first); remove the work directory unless
        keep (or WEFT_K8S_KEEP=1). Returns the directory if it was kept."""
        for name in reversed(list(self.procs)):
            self.procs[name].stop()
        if keep or os.environ.get("WEFT_K8S_KEEP"):
            return self.dir
        shutil.rmtree(self.dir, ignore_errors=True)
        return None

    def describe(self, lines=40):
        out = ["control plane work dir %s" % self.dir]
        for name, p in self.procs.items():
            out.append(p.describe())
            out.append("--- %s: last %d lines ---\n%s" % (p.log, lines, tail(p.log, lines)))
        return "\n".join(out)

    # ---- REST

    def api(self, method, path, body=None, token=None, query=None, content_type=None,
            raw=False, timeout=30):
        """One request to the API server as admin (or with token). body: a dict
        (sent as JSON) or bytes. Returns the decoded JSON (bytes when raw).
        Raises ApiError on an HTTP error."""
        url = self.url + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        data = None
        headers = {"Authorization": "Bearer " + (token or self.admin_token),
                   "Accept": "application/json"}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type or "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _opener(self._ssl).open(req, timeout=timeout) as r:
                out = r.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                err = json.loads(text)
            except ValueError:
                err = text
            raise ApiError(method, url, e.code, err) from None
        if raw:
            return out
        return json.loads(out) if out else None

    def get(self, path, **kw):
        return self.api("GET", path, **kw)

    def exists(self, path):
        try:
            self.get(path)
            return True
        except ApiError as e:
            if e.code == 404:
                return False
            raise

    def server_side_apply(self, path, obj, force=True):
        """PATCH (server-side apply) obj at its own path, e.g.
        /apis/apps/v1/namespaces/NS/deployments/NAME: creates or updates it."""
        q = {"fieldManager": FIELD_MANAGER}
        if force:
            q["force"] = "true"
        return self.api("PATCH", path, obj, query=q, content_type="application/apply-patch+yaml")

    def merge_patch(self, path, patch):
        return self.api("PATCH", path, patch, content_type="application/merge-patch+json")

    def in_cluster_env(self):
        """The env an in-cluster client finds the API server by."""
        return {"KUBERNETES_SERVICE_HOST": self.host, "KUBERNETES_SERVICE_PORT": str(self.port)}

    # ---- kubectl

    def write_kubeconfig(self, path, token=None, token_file=None, user="weft-test"):
        """A kubeconfig for this API server with a bearer token (or a token
        file, re-read by clients); JSON, which is YAML. Returns path."""
        u = {"tokenFile": token_file} if token_file else {"token": token or self.admin_token}
        cfg = {"apiVersion": "v1", "kind": "Config",
               "clusters": [{"name": "weft-test", "cluster": {"server": self.url,
                                                              "certificate-authority": self.ca_file}}],
               "users": [{"name": user, "user": u}],
               "contexts": [{"name": "weft-test", "context": {"cluster": "weft-test", "user": user}}],
               "current-context": "weft-test"}
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        os.chmod(path, 0o600)
        return path

    def kubectl(self, *args, input=None, check=True, kubeconfig=None, timeout=120):
        """Run kubectl with the admin kubeconfig (or kubeconfig). Returns the
        CompletedProcess (text); raises KubectlError with stderr unless check=False."""
        cmd = [KUBECTL, "--kubeconfig", kubeconfig or self.kubeconfig,
               "--cache-dir", os.path.join(self.dir, "kubectl-cache")] + [str(a) for a in args]
        if input is not None and not isinstance(input, str):
            input = json.dumps(input)
        p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=dict(L.NO_PROXY_ENV), timeout=timeout)
        if check and p.returncode != 0:
            raise KubectlError(cmd, p)
        return p

    def kubectl_json(self, *args, **kw):
        """kubectl ARGS -o json, decoded."""
        return json.loads(self.kubectl(*(list(args) + ["-o", "json"]), **kw).stdout)

    def apply(self, obj_or_yaml, server_side=True, dry_run=None, namespace=None, args=()):
        """kubectl apply -f - of a dict, a list of dicts (sent as a v1 List)
        or YAML/JSON text. Server-side apply (field manager weft-test, forced)
        unless server_side=False; dry_run="server"|"client". Returns what
        kubectl printed with -o json, decoded (a List for several objects)."""
        if isinstance(obj_or_yaml, (list, tuple)):
            obj_or_yaml = {"apiVersion": "v1", "kind": "List", "items": list(obj_or_yaml)}
        a = ["apply", "-f", "-", "-o", "json"]
        if server_side:
            a += ["--server-side", "--force-conflicts", "--field-manager", FIELD_MANAGER]
        if dry_run:
            a += ["--dry-run=" + dry_run]
        if namespace:
            a += ["-n", namespace]
        out = self.kubectl(*(a + list(args)), input=obj_or_yaml).stdout
        return json.loads(out) if out.strip() else None

    # ---- namespaces, service accounts, tokens, nodes

    def create_namespace(self, name, labels=None):
        """The namespace, plus what the controller-manager would put in it:
        the `default` ServiceAccount (pods cannot be created without it) and
        the kube-root-ca.crt ConfigMap. Idempotent."""
        self.server_side_apply("/api/v1/namespaces/" + name, {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels or {})}})
        self.create_service_account(name, "default")
        self._namespaces.add(name)
        with open(self.ca_file) as f:
            ca = f.read()
        self.server_side_apply("/api/v1/namespaces/%s/configmaps/kube-root-ca.crt" % name, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": name},
            "data": {"ca.crt": ca}})
        return name

    def _ensure_namespace(self, name):
        if name not in self._namespaces:
            self.create_namespace(name)

    def create_service_account(self, namespace, name):
        return self.server_side_apply("/api/v1/namespaces/%s/serviceaccounts/%s" % (namespace, name), {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace}})

    def sa_token(self, namespace, sa_name, path=None, duration="1h", args=()):
        """A token of ServiceAccount namespace/sa_name from the TokenRequest
        API (`kubectl create token`), written to path (default: a new file in
        the work dir; an existing file is replaced atomically, as the
        kubelet rotates a projected token). Returns the path."""
        tok = self.kubectl("create", "token", sa_name, "-n", namespace,
                           "--duration", duration, *args).stdout.strip()
        if not tok:
            raise Failed("kubectl create token %s -n %s printed nothing" % (sa_name, namespace))
        if path is None:
            self._sa_tokens += 1
            path = os.path.join(self.dir, "sa-token-%s-%s-%d" % (namespace, sa_name, self._sa_tokens))
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(tok)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    def add_static_token(self, user, groups=(), uid=None):
        """A static bearer token for user in groups (e.g. a kubelet:
        "system:node:NAME" in "system:nodes"). The API server reads the token
        file only at start: this restarts it (a few seconds). Returns the token."""
        tok = secrets.token_hex(24)
        self._tokens.append((tok, user, uid or user, list(groups)))
        self._write_tokens()
        self.procs["kube-apiserver"].stop()
        del self.procs["kube-apiserver"]
        port = self.port
        log = self.logs["kube-apiserver"]
        p = self.procs["kube-apiserver"] = Proc("kube-apiserver",
                                                [KUBE_APISERVER] + self.apiserver_args(), log)
        _wait(lambda: self.get("/readyz", raw=True) == b"ok", START_TIMEOUT,
              "kube-apiserver restart at %s" % self.url, p.proc, log, step=0.25)
        assert self.port == port
        return tok

    def create_node(self, name, address="127.0.0.1", labels=None):
        """A Node object (what a kubelet registers), status Ready."""
        self.server_side_apply("/api/v1/nodes/" + name, {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": dict({"kubernetes.io/hostname": name,
                                                       "kubernetes.io/os": "linux"}, **(labels or {}))}})
        now = _now()
        self.merge_patch("/api/v1/nodes/%s/status" % name, {"status": {
            "addresses": [{"type": "InternalIP", "address": address},
                          {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "played by weft's tests", "lastHeartbeatTime": now,
                            "lastTransitionTime": now}]}})
        return self.get("/api/v1/nodes/" + name)

    # ---- the controllers' and the kubelet's part, by hand

    def make_pod(self, namespace, name, node, containers, labels=None, annotations=None,
                 owner=None, generate_name=None, pod_ip=None, host_ip="127.0.0.1",
                 service_account=None, running=True):
        """Create a Pod bound to node (spec.nodeName set at creation, as a
        scheduler's binding does), owned by owner (an object as the API
        returned it; controller: true), then, when running, write the status
        a kubelet would: phase Running, Ready, and one containerStatus per
        container, containerID "containerd://ID".

        containers: [(name, container_id)] or [(name, container_id, image)].
        name None with generate_name "prefix-": the API server adds 5 random
        characters, as for a controller's pods. Returns the pod as the API
        server has it after the status write."""
        cs = [tuple(c) + ("registry.example/weft-test:1",) * (3 - len(c)) for c in containers]
        self._ensure_namespace(namespace)
        meta = {"namespace": namespace, "labels": dict(labels or {}),
                "annotations": dict(annotations or {})}
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = generate_name or "pod-"
        if owner is not None:
            meta["ownerReferences"] = [_owner_ref(owner)]
        spec = {"nodeName": node,
                "containers": [{"name": n, "image": img} for n, _, img in cs]}
        if service_account:
            spec["serviceAccountName"] = service_account
        pod = self.api("POST", "/api/v1/namespaces/%s/pods" % namespace,
                       {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
        if running:
            pod = self.set_pod_running(namespace, pod["metadata"]["name"],
                                       [(n, cid) for n, cid, _ in cs], pod_ip=pod_ip,
                                       host_ip=host_ip, images={n: img for n, _, img in cs})
        return pod

    def set_pod_running(self, namespace, name, containers, pod_ip=None, host_ip="127.0.0.1",
                        restart_count=0, images=None):
        """Write, through the status subresource, a Running status with these
        containers ([(name, container_id)]): a kubelet's report. Calling it
        again with a new id plays a container restart."""
        now = _now()
        images = images or {}
        status = {
            "phase": "Running",
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "startTime": now,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{
                "name": n, "containerID": "containerd://" + cid,
                "image": images.get(n, "registry.example/weft-test:1"),
                "imageID": "", "ready": True, "started": True, "restartCount": restart_count,
                "state": {"running": {"startedAt": now}}} for n, cid in containers],
        }
        if pod_ip:
            status["podIP"], status["podIPs"] = pod_ip, [{"ip": pod_ip}]
        return self.merge_patch("/api/v1/namespaces/%s/pods/%s/status" % (namespace, name),
                                {"status": status})

    def make_workload(self, namespace, kind, name, labels, annotations=None, containers=("app",)):
        """Create or update (server-side apply) a Deployment, StatefulSet,
        DaemonSet, Job or CronJob selecting labels; returns it as stored."""
        self._ensure_namespace(namespace)
        labels = dict(labels)
        template = _pod_template(labels, annotations, containers)
        group, plural = _KINDS[kind]
        obj = {"apiVersion": group, "kind": kind,
               "metadata": {"name": name, "namespace": namespace, "labels": labels}}
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            obj["spec"] = {"selector": {"matchLabels": labels}, "template": template}
            if kind != "DaemonSet":
                obj["spec"]["replicas"] = 1
            if kind == "StatefulSet":
                obj["spec"]["serviceName"] = name
        elif kind == "Job":
            template["spec"]["restartPolicy"] = "Never"
            obj["spec"] = {"template": template}
        elif kind == "CronJob":
            template["spec"]["restartPolicy"] = "Never"
            obj["spec"] = {"schedule": "0 0 1 1 *", "jobTemplate": {"spec": {"template": template}}}
        else:
            raise ValueError("kind %r" % kind)
        return self.server_side_apply("/apis/%s/namespaces/%s/%s/%s" % (group, namespace, plural, name), obj)

    def make_deployment_pod(self, namespace, deployment, node, container_name, container_id,
                            labels=None, annotations=None, pod_ip=None, image=None):
        """What a Deployment's controllers and the kubelet would leave: the
        Deployment (created, or updated if it exists), a ReplicaSet
        `DEPLOYMENT-HASH` owned by it (HASH from the pod template, so the
        same deployment keeps its ReplicaSet), and a Pod `RS-xxxxx` owned by
        the ReplicaSet, bound to node, Running with containerID
        containerd://container_id. labels default to {"app": deployment}.

        Returns a SimpleNamespace: namespace, name, uid, node, container_name,
        container_id, deployment, deployment_uid, replicaset, replicaset_uid,
        pod (the full object)."""
        labels = dict(labels or {"app": deployment})
        image = image or "registry.example/weft-test:1"
        dep = self.make_workload(namespace, "Deployment", deployment, labels, annotations,
                                 containers=[(container_name, image)])
        tmpl = dep["spec"]["template"]
        h = pod_template_hash(tmpl)
        rs_labels = dict(labels, **{"pod-template-hash": h})
        rs_name = "%s-%s" % (deployment, h)
        rs_tmpl = json.loads(json.dumps(tmpl))
        rs_tmpl.setdefault("metadata", {})["labels"] = rs_labels
        rs = self.server_side_apply("/apis/apps/v1/namespaces/%s/replicasets/%s" % (namespace, rs_name), {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": namespace, "labels": rs_labels,
                         "annotations": {"deployment.kubernetes.io/revision": "1"},
                         "ownerReferences": [_owner_ref(dep)]},
            "spec": {"replicas": 1, "selector": {"matchLabels": rs_labels}, "template": rs_tmpl}})
        pod = self.make_pod(namespace, None, node, [(container_name, container_id, image)],
                            labels=rs_labels, annotations=annotations, owner=rs,
                            generate_name=rs_name + "-", pod_ip=pod_ip)
        m = pod["metadata"]
        return types.SimpleNamespace(
            namespace=namespace, name=m["name"], uid=m["uid"], node=node,
            container_name=container_name, container_id=container_id,
            deployment=deployment, deployment_uid=dep["metadata"]["uid"],
            replicaset=rs_name, replicaset_uid=rs["metadata"]["uid"], pod=pod)

    def delete_pod(self, namespace, name, grace_seconds=0, wait=True):
        """Delete a pod. A bound pod is only marked terminating (the kubelet
        would finish the deletion) unless grace_seconds=0, the default: gone
        at once. wait: until a GET says 404."""
        try:
            self.api("DELETE", "/api/v1/namespaces/%s/pods/%s" % (namespace, name),
                     {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": grace_seconds})
        except ApiError as e:
            if e.code != 404:
                raise
        if wait and grace_seconds == 0:
            _wait(lambda: not self.exists("/api/v1/namespaces/%s/pods/%s" % (namespace, name)),
                  30, "pod %s/%s deleted" % (namespace, name))

    def owner_chain(self, obj):
        """[(kind, name)] from obj up through controller owner references."""
        chain = []
        ns = obj["metadata"].get("namespace")
        while True:
            chain.append((obj["kind"], obj["metadata"]["name"]))
            refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")]
            if not refs:
                return chain
            r = refs[0]
            group, plural = _KINDS[r["kind"]]
            base = "/api/v1" if group == "v1" else "/apis/" + group
            obj = self.get("%s/namespaces/%s/%s/%s" % (base, ns, plural, r["name"]))
            obj.setdefault("kind", r["kind"])
            if obj["metadata"]["uid"] != r["uid"]:
                raise Failed("owner %s/%s has uid %s, the reference says %s"
                             % (r["kind"], r["name"], obj["metadata"]["uid"], r["uid"]))

    # ---- more of the control plane, when a test asks

    def start_controller_manager(self, controllers="*", extra_args=(), timeout=None):
        """kube-controller-manager as admin, with the ServiceAccount signing
        key and the root CA. Note: its deployment and replicaset controllers
        also act on make_deployment_pod's objects; pass e.g.
        controllers="*,-deployment-controller,-replicaset-controller" to keep
        them off. Returns the Proc."""
        return self._start_component(
            "kube-controller-manager", KUBE_CONTROLLER_MANAGER,
            ["--service-account-private-key-file", self.pki.sa_key,
             "--root-ca-file", self.ca_file, "--use-service-account-credentials",
             "--controllers", controllers, "--cluster-name", "weft-test"] + list(extra_args),
            timeout)

    def start_scheduler(self, extra_args=(), timeout=None):
        """kube-scheduler as admin. Returns the Proc."""
        return self._start_component("kube-scheduler", KUBE_SCHEDULER, list(extra_args), timeout)

    def _start_component(self, name, binary, args, timeout):
        if not os.access(binary, os.X_OK):
            raise Failed("missing %s: run %s" % (binary, INSTALL_SCRIPT))
        if name in self.procs and self.procs[name].alive():
            return self.procs[name]
        for attempt in range(3):
            port = L.free_port()
            log = self._log(name)
            cmd = [binary, "--kubeconfig", self.kubeconfig,
                   "--authentication-kubeconfig", self.kubeconfig,
                   "--authorization-kubeconfig", self.kubeconfig,
                   "--leader-elect=false", "--bind-address", self.host,
                   "--secure-port", str(port),
                   "--cert-dir", os.path.join(self.dir, name + "-certs"), "-v", "1"] + args
            p = self.procs[name] = Proc(name, cmd, log)
            insecure = ssl.create_default_context()
            insecure.check_hostname = False
            insecure.verify_mode = ssl.CERT_NONE

            def healthy():
                with _opener(insecure).open("https://%s:%d/healthz" % (self.host, port), timeout=2) as r:
                    return r.read() == b"ok"
            try:
                _wait(healthy, timeout or START_TIMEOUT, "%s /healthz" % name, p.proc, log, step=0.25)
                return p
            except Failed:
                p.stop()
                del self.procs[name]
                if attempt == 2 or not _port_clash(log):
                    raise


_KINDS = {
    "Pod": ("v1", "pods"),
    "ReplicaSet": ("apps/v1", "replicasets"),
    "Deployment": ("apps/v1", "deployments"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "DaemonSet": ("apps/v1", "daemonsets"),
    "Job": ("batch/v1", "jobs"),
    "CronJob": ("batch/v1", "cronjobs"),
}

# The letters Kubernetes' rand.SafeEncodeString uses: no vowels, no 0/1/3.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def pod_template_hash(template):
    """A pod-template-hash in the form the deployment controller writes
    (10 characters of its safe alphabet), derived from the template: the same
    template gives the same hash. (The controller's own value is an FNV hash
    of the Go struct; nothing here or in weft depends on matching it.)"""
    d = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in d[:10])


def _owner_ref(obj):
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _pod_template(labels, annotations, containers):
    cs = []
    for c in containers:
        n, img = (c, "registry.example/weft-test:1") if isinstance(c, str) else c
        cs.append({"name": n, "image": img})
    return {"metadata": {"labels": dict(labels), "annotations": dict(annotations or {})},
            "spec": {"containers": cs}}


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def random_container_id():
    """64 hex digits, as containerd's container ids are."""
    return secrets.token_hex(32)


# ------------------------------------------------------------------ fixture


@pytest.fixture(scope="module")
def k8s_api(request):
    """A ControlPlane (etcd + kube-apiserver) for the test module. Fails (not
    skips) when the binaries are missing. When a test of the module failed,
    the processes' log tails and the kept work directory are printed."""
    missing = missing_binaries()
    if missing:
        pytest.fail("missing %s: run %s (tests/run.sh runs it before pytest)"
                    % (", ".join(missing), INSTALL_SCRIPT), pytrace=False)
    failed_before = request.session.testsfailed
    try:
        cp = ControlPlane()
    except Failed as e:
        err = str(e)
    else:
        err = None
    if err:
        pytest.fail(err, pytrace=False)
    yield cp
    failed = request.session.testsfailed > failed_before
    text = cp.describe() if failed else ""
    kept = cp.stop(keep=failed)
    if failed:
        _report(request, "--- Kubernetes control plane (%s) ---\n%s\nwork dir kept: %s"
                % (request.node.name, text, kept))


def _report(request, text):
    """Print past pytest's capture: a module fixture's teardown output would
    otherwise be shown only if the teardown itself failed."""
    tr = request.config.pluginmanager.getplugin("terminalreporter")
    if tr is not None:
        tr.write_line("")
        for line in text.splitlines():
            tr.write_line(line)
    else:
        print(text, file=sys.stderr)


if __name__ == "__main__":
    cp = ControlPlane()
    print("API server %s\nkubeconfig %s\nCA %s\nadmin token %s\nwork dir %s\n(Ctrl-C stops it)"
          % (cp.url, cp.kubeconfig, cp.ca_file, cp.admin_token, cp.dir), flush=True)
    try:
        while all(p.alive() for p in cp.procs.values()):
            time.sleep(1)
        print(cp.describe())
    except KeyboardInterrupt:
        pass
    finally:
        cp.stop()
