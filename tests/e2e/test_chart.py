"""weft's Helm chart (deploy/helm/weft) and the plain manifest rendered from
it (deploy/weft.yaml).

  * helm lint --strict, with the default values and with others;
  * the committed manifest is what scripts/render-manifest.sh renders now,
    and the chart's versions are the VERSION file's;
  * what the rendered objects say: host PID namespace, the host paths weft
    needs (and no others), NODE_NAME/POD_NAME/POD_NAMESPACE from the
    Downward API, the flags for filters, export headers from a Secret, the
    minimal-capabilities alternative, probes, resources, tolerations;
  * against a real kube-apiserver with RBAC on (k8s_lib): kubectl apply
    --dry-run=server of the chart's output, kubectl apply of deploy/weft.yaml
    for real (the README's command), helm install and uninstall, and the
    chart's ServiceAccount token holding exactly what weft needs: list and
    watch this node's pods, get replicasets and jobs; no secrets, no writes.

Needs helm, etcd, kube-apiserver and kubectl in /opt/weft-test/bin
(scripts/install-k8s.sh); neither root nor eBPF. The rendering tests need
only helm. YAML is turned into JSON by helm itself (fromYaml | toJson), so
no YAML module is needed.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as L  # noqa: E402
import k8s_lib as K  # noqa: E402
from k8s_lib import k8s_api  # noqa: E402,F401  (the fixture)

CHART = os.path.join(L.REPO, "deploy", "helm", "weft")
MANIFEST = os.path.join(L.REPO, "deploy", "weft.yaml")
RENDER = os.path.join(L.REPO, "scripts", "render-manifest.sh")
with open(os.path.join(L.REPO, "VERSION")) as _f:
    VERSION = _f.read().strip()
NODE = "node1"

# The capabilities of the non-privileged alternative (measured: README,
# "Kubernetes"), in the chart's order.
MIN_CAPS = ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_ADMIN"]

# The ClusterRole, rule by rule: what weft reads and nothing more.
RBAC_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get"]},
]

# Values other than the defaults, as a user would write them.
CUSTOM = {
    "image": {"repository": "registry.example/obs/weft", "tag": "9.9.9", "pullPolicy": "Always"},
    "exporter": {
        "endpoint": "https://collector.example:4318",
        "headers": {"Authorization": "Bearer a=b,c d", "X-Scope-OrgID": "tenant1"},
        "resourceAttributes": {"k8s.cluster.name": "prod-eu1"},
    },
    "output": "json",
    "filters": {
        "namespaces": ["shop", "payments"],
        "excludeNamespaces": ["kube-system", "monitoring"],
        "podSelector": "app in (a,b),tier!=batch",
        "podOptIn": True,
        "podsOnly": True,
    },
    "kubernetes": {"mode": "on", "apiURL": "https://10.0.0.1:6443"},
    "metrics": {"port": 9555, "service": {"enabled": True}},
    "securityContext": {"privileged": False},
    "priorityClassName": "system-node-critical",
    "extraArgs": ["--stats", "60"],
}


# ------------------------------------------------------------------ helpers

@pytest.fixture(scope="module")
def helm_home():
    """HELM_*_HOME in a directory of the module's own: helm writes caches."""
    d = tempfile.mkdtemp(prefix="weft-helm-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _helm_env(home):
    env = dict(L.NO_PROXY_ENV)
    for v in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[v] = os.path.join(home, v.lower())
    return env


def run_helm(home, *args, check=True):
    if not os.access(K.HELM, os.X_OK):
        pytest.fail("missing %s: run %s" % (K.HELM, K.INSTALL_SCRIPT), pytrace=False)
    cmd = [K.HELM] + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=_helm_env(home), cwd=L.REPO, timeout=120)
    if check and p.returncode != 0:
        pytest.fail("helm failed (exit %d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout,
                                                         p.stderr), pytrace=False)
    return p


def values_file(home, values, name="values.json"):
    """values as a file helm -f takes (JSON is YAML)."""
    path = os.path.join(home, name)
    with open(path, "w") as f:
        json.dump(values, f)
    return path


def render(home, values=None, namespace="weft", release="weft", args=()):
    a = ["template", release, CHART, "--namespace", namespace]
    if values is not None:
        a += ["-f", values_file(home, values)]
    return run_helm(home, *(a + list(args))).stdout


@pytest.fixture(scope="module")
def to_objects(helm_home):
    """A function from multi-document YAML text to a list of dicts, through
    a throw-away chart whose template is `fromYaml | toJson` of each
    document."""
    conv = os.path.join(helm_home, "yaml2json")
    os.makedirs(os.path.join(conv, "templates"))
    with open(os.path.join(conv, "Chart.yaml"), "w") as f:
        f.write("apiVersion: v2\nname: yaml2json\nversion: 0.0.0\n")
    with open(os.path.join(conv, "templates", "out.yaml"), "w") as f:
        f.write('{{- $docs := list }}\n'
                '{{- range $path, $_ := .Files.Glob "docs/*.yaml" }}\n'
                '{{- $docs = append $docs ($.Files.Get $path | fromYaml) }}\n'
                '{{- end }}\n'
                '{{ dict "docs" $docs | toJson }}\n')

    def convert(text):
        docs_dir = os.path.join(conv, "docs")
        shutil.rmtree(docs_dir, ignore_errors=True)
        os.makedirs(docs_dir)
        docs, cur = [], []
        for line in text.splitlines():
            if line.strip() == "---":
                docs.append("\n".join(cur))
                cur = []
            else:
                cur.append(line)
        docs.append("\n".join(cur))
        docs = [d for d in docs if any(ln.strip() and not ln.lstrip().startswith("#")
                                       for ln in d.splitlines())]
        for i, d in enumerate(docs):
            with open(os.path.join(docs_dir, "%04d.yaml" % i), "w") as f:
                f.write(d + "\n")
        out = run_helm(helm_home, "template", "x", conv).stdout
        body = "\n".join(ln for ln in out.splitlines()
                         if ln.strip() != "---" and not ln.startswith("#"))
        objs = json.loads(body)["docs"]
        for o in objs:
            assert "Error" not in o, "YAML that does not parse: %s" % o["Error"]
        assert len(objs) == len(docs)
        return objs
    return convert


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, "expected one %s%s, found %d: %s" % (
        kind, " " + name if name else "", len(found), [o["metadata"]["name"] for o in found])
    return found[0]


def container(ds):
    cs = ds["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["weft"]
    return cs[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def flag_values(args, flag):
    """Every value given to flag (--flag VALUE pairs) in order."""
    return [args[i + 1] for i, a in enumerate(args) if a == flag and i + 1 < len(args)]


def check_node_agent(ds):
    """What every rendering must keep, whatever the values."""
    pod = ds["spec"]["template"]["spec"]
    c = container(ds)
    assert pod["hostPID"] is True
    assert not pod.get("hostNetwork"), "weft needs no host network"
    assert not pod.get("hostIPC")
    assert pod["automountServiceAccountToken"] is True
    env = env_of(c)
    # (the API server adds fieldRef.apiVersion: v1)
    for name, field in (("NODE_NAME", "spec.nodeName"), ("POD_NAME", "metadata.name"),
                        ("POD_NAMESPACE", "metadata.namespace")):
        assert list(env[name]["valueFrom"]) == ["fieldRef"], env[name]
        assert env[name]["valueFrom"]["fieldRef"]["fieldPath"] == field, env[name]
    assert "OTEL_SERVICE_NAME" not in env, "it would name every traced process"
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    want = {"btf": "/sys/kernel/btf", "tracefs": "/sys/kernel/tracing", "cgroup": "/sys/fs/cgroup"}
    for name, path in want.items():
        assert vols[name]["hostPath"] == {"path": path, "type": "Directory"}, vols[name]
        assert mounts[name]["mountPath"] == path and mounts[name]["readOnly"] is True
    host_paths = sorted(v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v)
    assert host_paths == sorted(want.values()), "host paths beyond what weft needs: %s" % host_paths
    sc = c["securityContext"]
    assert sc["runAsUser"] == 0, "weft checks for uid 0"
    assert sc["readOnlyRootFilesystem"] is True
    # (the API server adds rollingUpdate.maxSurge: 0)
    assert ds["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 1
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()


# ------------------------------------------------------------ lint, render


def test_lint_strict(helm_home):
    for values in (None, CUSTOM, {"securityContext": {"privileged": False}},
                   {"exporter": {"endpoint": "", "headersSecret": {"name": "otlp", "key": "h"}},
                    "metrics": {"enabled": False}}):
        a = ["lint", "--strict", CHART]
        if values is not None:
            a += ["-f", values_file(helm_home, values)]
        p = run_helm(helm_home, *a)
        assert "0 chart(s) failed" in p.stdout, p.stdout


def test_manifest_up_to_date(helm_home):
    """deploy/weft.yaml and Chart.yaml's versions are what the script makes
    now; otherwise its --check fails with the diff."""
    env = _helm_env(helm_home)
    env["HELM"] = K.HELM
    p = subprocess.run([RENDER, "--check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env, cwd=L.REPO, timeout=120)
    assert p.returncode == 0, "deploy/weft.yaml is stale (run scripts/render-manifest.sh):\n" + p.stdout
    chart = run_helm(helm_home, "show", "chart", CHART).stdout.splitlines()
    assert "version: %s" % VERSION in chart and "appVersion: %s" % VERSION in chart, chart


def test_render_check_catches_a_stale_manifest(helm_home, tmp_path):
    """--check really compares: a copy of the repository's deploy/ and
    scripts/ with one changed value fails it, showing the changed line."""
    root = tmp_path / "repo"
    shutil.copytree(os.path.join(L.REPO, "deploy"), root / "deploy")
    (root / "scripts").mkdir()
    shutil.copy(RENDER, root / "scripts")
    shutil.copy(os.path.join(L.REPO, "VERSION"), root)
    values = root / "deploy" / "helm" / "weft" / "values.yaml"
    text = values.read_text()
    assert "cpu: 100m" in text
    values.write_text(text.replace("cpu: 100m", "cpu: 150m"))
    env = _helm_env(helm_home)
    env["HELM"] = K.HELM
    p = subprocess.run([str(root / "scripts" / "render-manifest.sh"), "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                       timeout=120)
    assert p.returncode != 0 and "+              cpu: 150m" in p.stdout, p.stdout


def test_default_manifest(to_objects):
    with open(MANIFEST) as f:
        objs = to_objects(f.read())
    assert [o["kind"] for o in objs] == ["Namespace", "ServiceAccount", "ClusterRole",
                                         "ClusterRoleBinding", "DaemonSet"]
    ns = one(objs, "Namespace", "weft")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    for o in objs[1:]:
        if o["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert o["metadata"]["namespace"] == "weft", o["metadata"]

    ds = one(objs, "DaemonSet", "weft")
    check_node_agent(ds)
    pod = ds["spec"]["template"]["spec"]
    c = container(ds)
    assert pod["serviceAccountName"] == "weft"
    assert c["image"] == "localhost/weft:" + VERSION
    assert c["securityContext"]["privileged"] is True
    assert "capabilities" not in c["securityContext"]
    args = c["args"]
    assert flag_values(args, "--output") == ["none"]
    assert flag_values(args, "--k8s") == ["auto"]
    assert flag_values(args, "--metrics-addr") == [":9464"]
    assert flag_values(args, "--exclude-namespace") == ["kube-system"]
    for absent in ("--namespace", "--pod-selector", "--pod-opt-in", "--k8s-pods-only", "--node-name"):
        assert absent not in args, args
    env = env_of(c)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability:4318"
    # headers: the Secret weft-otlp-headers when someone creates it
    assert env["OTEL_EXPORTER_OTLP_HEADERS"]["valueFrom"] == {"secretKeyRef": {
        "name": "weft-otlp-headers", "key": "headers", "optional": True}}
    assert "OTEL_RESOURCE_ATTRIBUTES" not in env
    assert c["ports"] == [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    ann = ds["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9464"
    # the benchmark's numbers; no CPU limit (throttling drops events)
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"memory": "256Mi"}}
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert "priorityClassName" not in pod

    role = one(objs, "ClusterRole", "weft")
    assert role["rules"] == RBAC_RULES
    binding = one(objs, "ClusterRoleBinding", "weft")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "weft"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "weft", "namespace": "weft"}]


def test_custom_values(helm_home, to_objects):
    """Filters, headers from a Secret the chart makes, resource attributes,
    the minimal-capabilities alternative, a metrics Service."""
    objs = to_objects(render(helm_home, CUSTOM, namespace="observability"))
    ds = one(objs, "DaemonSet", "weft")
    check_node_agent(ds)
    c = container(ds)
    pod = ds["spec"]["template"]["spec"]
    args = c["args"]
    assert c["image"] == "registry.example/obs/weft:9.9.9" and c["imagePullPolicy"] == "Always"
    assert flag_values(args, "--namespace") == ["shop", "payments"]
    assert flag_values(args, "--exclude-namespace") == ["kube-system", "monitoring"]
    assert flag_values(args, "--pod-selector") == ["app in (a,b),tier!=batch"]
    assert "--pod-opt-in" in args and "--k8s-pods-only" in args
    assert flag_values(args, "--output") == ["json"]
    assert flag_values(args, "--k8s") == ["on"]
    assert flag_values(args, "--k8s-api") == ["https://10.0.0.1:6443"]
    assert flag_values(args, "--metrics-addr") == [":9555"]
    assert args[-2:] == ["--stats", "60"]
    assert pod["priorityClassName"] == "system-node-critical"

    env = env_of(c)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "https://collector.example:4318"
    assert env["OTEL_RESOURCE_ATTRIBUTES"]["value"] == "k8s.cluster.name=prod-eu1"
    ref = env["OTEL_EXPORTER_OTLP_HEADERS"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "weft-otlp-headers", "key": "headers"}, "the chart's Secret is not optional"
    secret = one(objs, "Secret", "weft-otlp-headers")
    assert secret["metadata"]["namespace"] == "observability"
    headers = base64.b64decode(secret["data"]["headers"]).decode()
    # k=v,k2=v2 with the list's own characters percent-encoded (weft decodes)
    assert headers == "Authorization=Bearer%20a%3Db%2Cc%20d,X-Scope-OrgID=tenant1", headers
    assert "checksum/otlp-headers" in ds["spec"]["template"]["metadata"]["annotations"]

    sc = c["securityContext"]
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": MIN_CAPS}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    # helm's default Kubernetes version is >= 1.30: the field, not the annotation
    assert sc["appArmorProfile"] == {"type": "Unconfined"}
    assert not any(k.startswith("container.apparmor") for k in ds["spec"]["template"]["metadata"]["annotations"])
    assert "allowPrivilegeEscalation" not in sc, "false is refused with SYS_ADMIN added"

    svc = one(objs, "Service", "weft-metrics")
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": 9555, "targetPort": "metrics",
                                     "protocol": "TCP"}]
    assert svc["spec"]["selector"] == ds["spec"]["selector"]["matchLabels"]
    binding = one(objs, "ClusterRoleBinding", "weft")
    assert binding["subjects"][0]["namespace"] == "observability"


def test_existing_headers_secret_and_old_apparmor(helm_home, to_objects):
    """headersSecret names a Secret the user keeps (not created, not
    optional); on Kubernetes before 1.30 AppArmor is the pod annotation."""
    values = {"exporter": {"headersSecret": {"name": "collector-auth", "key": "otlp"}},
              "securityContext": {"privileged": False, "seccompProfile": "Unconfined",
                                  "capabilities": ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"]},
              "mounts": {"tracefs": False}}
    objs = to_objects(render(helm_home, values, args=["--kube-version", "1.28.0"]))
    assert not [o for o in objs if o["kind"] == "Secret"]
    ds = one(objs, "DaemonSet", "weft")
    c = container(ds)
    assert env_of(c)["OTEL_EXPORTER_OTLP_HEADERS"]["valueFrom"] == {
        "secretKeyRef": {"name": "collector-auth", "key": "otlp"}}
    sc = c["securityContext"]
    assert sc["capabilities"]["add"] == ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"]
    assert sc["seccompProfile"] == {"type": "Unconfined"}
    assert "appArmorProfile" not in sc
    ann = ds["spec"]["template"]["metadata"]["annotations"]
    assert ann["container.apparmor.security.beta.kubernetes.io/weft"] == "unconfined"
    assert "tracefs" not in {v["name"] for v in ds["spec"]["template"]["spec"]["volumes"]}


def test_bad_values_refused(helm_home):
    for values, msg in [
        ({"output": "yaml"}, "output must be none, text or json"),
        ({"kubernetes": {"mode": "maybe"}}, "kubernetes.mode must be auto, on or off"),
        ({"exporter": {"headers": {"a": "b"}, "headersSecret": {"name": "s"}}},
         "set exporter.headers or exporter.headersSecret.name, not both"),
        ({"securityContext": {"privileged": False, "seccompProfile": "Localhost"}},
         "set its localhost profile"),
    ]:
        p = run_helm(helm_home, "template", "weft", CHART, "-f", values_file(helm_home, values),
                     check=False)
        assert p.returncode != 0 and msg in p.stderr, (values, p.stderr)
    p = run_helm(helm_home, "template", "weft", CHART, "--kube-version", "1.23.9", check=False)
    assert p.returncode != 0 and "kubeVersion" in p.stderr, p.stderr


# ------------------------------------------------- a real API server, RBAC on


@pytest.fixture(scope="module")
def applied(k8s_api):
    """deploy/weft.yaml applied as the README says: kubectl apply -f."""
    p = k8s_api.kubectl("apply", "-f", MANIFEST)
    for what in ("namespace/weft", "serviceaccount/weft", "clusterrole.rbac.authorization.k8s.io/weft",
                 "clusterrolebinding.rbac.authorization.k8s.io/weft", "daemonset.apps/weft"):
        assert what + " created" in p.stdout, p.stdout
    return k8s_api


def test_apply_dry_run_server(k8s_api, helm_home, to_objects):
    """The chart's output, default and custom, passes the API server's
    validation and admission (server-side apply, dry run) and creates
    nothing."""
    k8s_api.create_namespace("weft-dry")
    for values in (None, CUSTOM, {"securityContext": {"privileged": False}}):
        text = render(helm_home, values, namespace="weft-dry")
        out = k8s_api.apply(text, dry_run="server")
        items = out["items"] if out.get("kind") == "List" else [out]
        ds = one(items, "DaemonSet", "weft")
        # filled in by the API server, so it did see the object
        assert ds["metadata"].get("uid") and ds["spec"]["revisionHistoryLimit"] == 10
        c = container(ds)
        assert c["terminationMessagePath"] == "/dev/termination-log"
        assert ds["spec"]["template"]["spec"]["hostPID"] is True
        assert len(items) == len(to_objects(text))
    assert not k8s_api.exists("/apis/apps/v1/namespaces/weft-dry/daemonsets/weft")
    assert not k8s_api.exists("/apis/rbac.authorization.k8s.io/v1/clusterroles/weft")


def test_apply_manifest_for_real(applied, to_objects):
    """kubectl apply -f deploy/weft.yaml created what it says, stored as
    rendered; a second apply (server-side, and a server dry run) changes
    nothing."""
    k = applied
    ds = k.get("/apis/apps/v1/namespaces/weft/daemonsets/weft")
    check_node_agent(ds)
    assert container(ds)["securityContext"]["privileged"] is True
    role = k.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/weft")
    assert role["rules"] == RBAC_RULES
    gen = ds["metadata"]["generation"]
    with open(MANIFEST) as f:
        text = f.read()
    k.apply(text, dry_run="server")
    k.apply(text)
    ds = k.get("/apis/apps/v1/namespaces/weft/daemonsets/weft")
    assert ds["metadata"]["generation"] == gen, "re-applying the same manifest changed the DaemonSet"


def test_service_account_rbac(applied):
    """The chart's ServiceAccount, with a token from the TokenRequest API as
    the kubelet mounts it: weft's requests succeed (list and watch its
    node's pods, get a ReplicaSet and a Job); everything else is refused."""
    k = applied
    pod = k.make_deployment_pod("demo", "service-a", NODE, "service-a", K.random_container_id())
    other = k.make_deployment_pod("demo", "service-b", "node2", "service-b", K.random_container_id())
    job = k.make_workload("demo", "Job", "nightly", {"job": "nightly"})
    token_file = k.sa_token("weft", "weft")
    with open(token_file) as f:
        tok = f.read().strip()
    sel = {"fieldSelector": "spec.nodeName=" + NODE}

    # what weft does
    pods = k.get("/api/v1/pods", token=tok, query=sel)
    names = {p["metadata"]["name"] for p in pods["items"]}
    assert pod.name in names and other.name not in names
    events = k.get("/api/v1/pods", token=tok, raw=True,
                   query=dict(sel, watch="1", timeoutSeconds="1", resourceVersion="0"))
    assert pod.name.encode() in events
    assert k.get("/api/v1/namespaces/demo/pods/" + pod.name, token=tok)["metadata"]["uid"] == pod.uid
    rs = k.get("/apis/apps/v1/namespaces/demo/replicasets/" + pod.replicaset, token=tok)
    assert rs["metadata"]["ownerReferences"][0]["name"] == "service-a"
    assert k.get("/apis/batch/v1/namespaces/demo/jobs/nightly", token=tok)["metadata"]["uid"] == \
        job["metadata"]["uid"]

    # what it must not
    refused = [
        ("GET", "/api/v1/secrets", None),
        ("GET", "/api/v1/namespaces/weft/secrets", None),
        ("GET", "/api/v1/namespaces/demo/configmaps", None),
        ("GET", "/api/v1/nodes", None),
        ("GET", "/apis/apps/v1/replicasets", None),
        ("GET", "/apis/apps/v1/namespaces/demo/deployments/service-a", None),
        ("GET", "/apis/batch/v1/jobs", None),
        ("POST", "/api/v1/namespaces/demo/pods",
         {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
          "spec": {"containers": [{"name": "x", "image": "x"}]}}),
        ("DELETE", "/api/v1/namespaces/demo/pods/" + pod.name, None),
        ("PATCH", "/api/v1/namespaces/demo/pods/" + pod.name, b'{"metadata":{"labels":{"x":"y"}}}'),
    ]
    for method, path, body in refused:
        with pytest.raises(K.ApiError) as e:
            k.api(method, path, body, token=tok,
                  content_type="application/merge-patch+json" if method == "PATCH" else None)
        assert e.value.code == 403, "%s %s: %s" % (method, path, e.value)

    # the same, asked the way an operator would
    kc = k.write_kubeconfig(os.path.join(k.dir, "weft-sa.kubeconfig"), token_file=token_file,
                            user="weft-sa")
    for verb, res, allowed in [("list", "pods", True), ("watch", "pods", True), ("get", "pods", True),
                               ("get", "replicasets.apps", True), ("get", "jobs.batch", True),
                               ("list", "secrets", False), ("get", "secrets", False),
                               ("create", "pods", False), ("delete", "pods", False),
                               ("list", "replicasets.apps", False), ("get", "deployments.apps", False),
                               ("get", "cronjobs.batch", False), ("list", "nodes", False)]:
        p = k.kubectl("auth", "can-i", verb, res, "--all-namespaces", kubeconfig=kc, check=False)
        assert p.stdout.strip() == ("yes" if allowed else "no"), (verb, res, p.stdout, p.stderr)


def test_helm_install_and_uninstall(k8s_api, helm_home):
    """The README's helm install (another release and namespace, so it
    does not meet the kubectl-applied objects), then helm uninstall."""
    env_args = ["--kubeconfig", k8s_api.kubeconfig]
    run_helm(helm_home, "install", "weft-h", CHART, "-n", "weft-h", "--create-namespace",
             "--set", "exporter.endpoint=http://otel-collector.observability:4318", *env_args)
    ds = k8s_api.get("/apis/apps/v1/namespaces/weft-h/daemonsets/weft-h")
    check_node_agent(ds)
    assert env_of(container(ds))["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == \
        "http://otel-collector.observability:4318"
    assert k8s_api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/weft-h")["rules"] == RBAC_RULES
    st = run_helm(helm_home, "status", "weft-h", "-n", "weft-h", *env_args).stdout
    assert "STATUS: deployed" in st and "DaemonSet weft-h/weft-h" in st, st
    run_helm(helm_home, "uninstall", "weft-h", "-n", "weft-h", "--wait", *env_args)
    for path in ("/apis/apps/v1/namespaces/weft-h/daemonsets/weft-h",
                 "/api/v1/namespaces/weft-h/serviceaccounts/weft-h",
                 "/apis/rbac.authorization.k8s.io/v1/clusterroles/weft-h",
                 "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/weft-h"):
        assert not k8s_api.exists(path), path + " left behind by helm uninstall"
