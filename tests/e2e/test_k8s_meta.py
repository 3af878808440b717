"""Pod metadata end to end, with weft loaded and a real kube-apiserver (RBAC
on): the test plays the controllers and the kubelet (Deployments, their
ReplicaSets and Pods with owner references, bound to node1, container ids in
status.containerStatuses), runs the demo's Go services as processes placed in
cgroups named as containerd names them (cgroupfs driver:
/kubepods/besteffort/pod<uid>/<container id>), and weft, with the token of the
ServiceAccount that deploy/weft.yaml creates (so a rule missing from the
chart's ClusterRole fails here), must name them service-a, service-b and
service-c and give their spans the k8s.* resource attributes. Pod churn (a
pod deleted and created again with a new container id) is followed."""
import os
import secrets
import subprocess

import pytest

import e2e_lib as L
import link_lib as LL
from conftest import start
from k8s_lib import k8s_api  # noqa: F401  (module fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (BPF, cgroups)")

NODE = "node1"
NS = "demo"
# A cgroup v1 hierarchy this machine mounts and lets processes be moved in:
# the runtimes name the same path in every hierarchy, weft reads any.
CG_ROOT = "/sys/fs/cgroup/pids"
MANIFEST = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "weft.yaml")


def cid():
    return secrets.token_hex(32)


class Container:
    """A process in a cgroup named as containerd's cgroupfs driver names a
    container of pod uid: .../kubepods/besteffort/pod<uid>/<id>. Under a
    parent of the test's own: a real kubelet on this machine (the one-node
    cluster test) owns CG_ROOT/kubepods and kills what it finds in pod
    cgroups it does not know."""

    def __init__(self, procs, pod_uid, container_id, args, what):
        self.dir = os.path.join(CG_ROOT, "weft-e2e", "kubepods", "besteffort", "pod" + pod_uid,
                                container_id)
        os.makedirs(self.dir, exist_ok=True)
        # sh moves itself into the cgroup, then execs the service (same pid)
        wrapped = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && shift && exec "$@"',
                   self.dir, "--"] + list(args)
        self.proc = procs.add(LL.Proc(wrapped, what=what))

    def remove(self):
        self.proc.stop()
        for d in (self.dir, os.path.dirname(self.dir)):
            try:
                os.rmdir(d)
            except OSError:
                pass


def goserver(ver="go1.26"):
    exe = os.path.join(L.APPS, ver, "goserver")
    if not os.access(exe, os.X_OK):
        pytest.fail("%s missing: run tests/apps/build.sh" % exe, pytrace=False)
    return exe


@pytest.fixture(scope="module")
def cluster(k8s_api):  # noqa: F811
    if not os.path.exists(MANIFEST):
        pytest.fail("%s missing: scripts/render-manifest.sh writes it" % MANIFEST, pytrace=False)
    k8s_api.create_node(NODE)
    k8s_api.kubectl("apply", "-f", MANIFEST)
    token = k8s_api.sa_token("weft", "weft")
    k8s_api.create_namespace(NS)
    return k8s_api, token


def weft_args(api, token):
    return ["--k8s-api", api.url, "--k8s-ca-file", api.ca_file, "--k8s-token-file", token,
            "--node-name", NODE, "--stats", "1"]


def deploy(api, procs, name, labels=None):
    """service NAME: a Deployment's pod on node1 and its process."""
    c = cid()
    pod = api.make_deployment_pod(NS, name, NODE, name, c, labels=labels or {"app": name})
    ctr = Container(procs, pod.uid, c, [goserver(), "-addr", "127.0.0.1:0", "-name", name],
                    "goserver " + name)
    return pod, ctr


def spans_of(weft, pid, kind, path=None):
    """weft's spans of pid (and kind, url.path), waited for; fails when none come."""
    def pick(ss):
        return [s for s in L.of_pid(ss, pid, kind)
                if path is None or L.attrs(s).get("url.path") == path]
    if not weft.wait_for(lambda ss: pick(ss)):
        raise AssertionError("no %s span of pid %d%s\n%s" % (kind, pid, " for " + path if path else "",
                                                             weft.describe()))
    return pick(weft.spans())


def server_span(weft, pid, path="/hello"):
    return spans_of(weft, pid, "server", path)


def expect_pod_resource(span, pod, service):
    r = L.res(span)
    want = {
        "service.name": service,
        "service.namespace": NS,
        "k8s.namespace.name": NS,
        "k8s.pod.name": pod.name,
        "k8s.pod.uid": pod.uid,
        "k8s.container.name": pod.container_name,
        "k8s.node.name": NODE,
        "k8s.deployment.name": pod.deployment,
        "k8s.replicaset.name": pod.replicaset,
        "container.id": pod.container_id,
    }
    bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
    assert not bad, "resource differs (got, want): %r\nresource: %r" % (bad, r)


def test_demo_services_named_from_kubernetes(cluster, weft, procs):
    api, token = cluster
    pods = {}
    for name in ("service-a", "service-b", "service-c"):
        pods[name] = start(deploy, api, procs, name)
    w = weft(args=weft_args(api, token))
    a, b, c = (pods[n][1].proc for n in ("service-a", "service-b", "service-c"))
    r = LL.curl(LL.chain_url(a, b, c))
    assert r.code == 200, r.err
    for name, (pod, ctr) in pods.items():
        s = server_span(w, ctr.proc.pid, "/call" if name != "service-c" else "/hello")[0]
        expect_pod_resource(s, pod, name)
    # the client spans of a and b carry the same resource as their servers
    cl = spans_of(w, a.pid, "client")[0]
    assert L.res(cl)["service.name"] == "service-a"
    assert "kubernetes: pods of node node1" in w.stderr()
    assert "may not read" not in w.stderr(), w.stderr()   # RBAC has what weft asks
    for _, ctr in pods.values():
        ctr.remove()


def test_pod_churn_followed(cluster, weft, procs):
    """service-b's pod is deleted and created again (a new pod name, uid and
    container id); the process of the new one gets the new pod's attributes,
    and weft learns it from the watch, not a restart."""
    api, token = cluster
    pod, ctr = start(deploy, api, procs, "service-b")
    w = weft(args=weft_args(api, token))
    assert LL.curl(ctr.proc.url("/hello")).code == 200
    expect_pod_resource(server_span(w, ctr.proc.pid)[0], pod, "service-b")

    ctr.remove()
    api.delete_pod(NS, pod.name)
    pod2, ctr2 = start(deploy, api, procs, "service-b")
    assert pod2.uid != pod.uid and pod2.container_id != pod.container_id
    assert LL.curl(ctr2.proc.url("/hello")).code == 200
    expect_pod_resource(server_span(w, ctr2.proc.pid)[0], pod2, "service-b")

    # the kubelet reports a restarted container's new id: the same pod, a new
    # process in a new cgroup; the pod is found by its UID at once, and the
    # container's name once the status says the id
    c3 = cid()
    ctr3 = Container(procs, pod2.uid, c3, [goserver(), "-addr", "127.0.0.1:0", "-name", "b2"],
                     "goserver service-b restarted")
    api.set_pod_running(NS, pod2.name, [("service-b", c3)], restart_count=1)
    ctr2.remove()
    assert LL.curl(ctr3.proc.url("/hello")).code == 200
    s = server_span(w, ctr3.proc.pid)[0]
    r = L.res(s)
    assert r.get("k8s.pod.uid") == pod2.uid and r.get("container.id") == c3, r
    assert r.get("service.name") == "service-b", r
    ctr3.remove()

    # a new Deployment while weft watches: its ReplicaSet is looked up from
    # inside the watch's event (once a crash: the lookup reused the watch's
    # own curl handle)
    pod4, ctr4 = start(deploy, api, procs, "late-service")
    assert LL.curl(ctr4.proc.url("/hello")).code == 200
    expect_pod_resource(server_span(w, ctr4.proc.pid)[0], pod4, "late-service")
    assert w.proc.poll() is None, w.describe()
    ctr4.remove()


def test_service_name_order(cluster, weft, procs):
    """The process's own OTEL_SERVICE_NAME beats the pod, and so does a
    service.name in its OTEL_RESOURCE_ATTRIBUTES (with service.namespace
    over the pod's namespace); the pod's
    resource.opentelemetry.io/service.name annotation beats the label, which
    beats the workload's name."""
    api, token = cluster
    c1, c2, c3, c4 = cid(), cid(), cid(), cid()
    p1 = api.make_deployment_pod(NS, "named-by-annotation", NODE, "app", c1,
                                 labels={"app.kubernetes.io/name": "by-label"},
                                 annotations={"resource.opentelemetry.io/service.name": "by-annotation"})
    p2 = api.make_deployment_pod(NS, "named-by-label", NODE, "app", c2,
                                 labels={"app.kubernetes.io/name": "by-label-2"})
    p3 = api.make_deployment_pod(NS, "named-by-env", NODE, "app", c3)
    x1 = Container(procs, p1.uid, c1, [goserver(), "-addr", "127.0.0.1:0"], "x1")
    x2 = Container(procs, p2.uid, c2, [goserver(), "-addr", "127.0.0.1:0"], "x2")
    env_args = ["env", "OTEL_SERVICE_NAME=from-env", goserver(), "-addr", "127.0.0.1:0"]
    x3 = Container(procs, p3.uid, c3, env_args, "x3")
    p4 = api.make_deployment_pod(NS, "named-by-resource-attrs", NODE, "app", c4,
                                 annotations={"resource.opentelemetry.io/service.name": "not-me"})
    ra_args = ["env", "-u", "OTEL_SERVICE_NAME",
               "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test,service.name=from-ra,"
               "service.namespace=ra-ns", goserver(), "-addr", "127.0.0.1:0"]
    x4 = Container(procs, p4.uid, c4, ra_args, "x4")
    w = weft(args=weft_args(api, token))
    xs = (("x1", x1), ("x2", x2), ("x3", x3), ("x4", x4))
    for _, x in xs:
        assert LL.curl(x.proc.url("/hello")).code == 200
    res = {n: L.res(server_span(w, x.proc.pid)[0]) for n, x in xs}
    got = {n: r["service.name"] for n, r in res.items()}
    assert got == {"x1": "by-annotation", "x2": "by-label-2", "x3": "from-env",
                   "x4": "from-ra"}, got
    assert res["x4"]["service.namespace"] == "ra-ns", res["x4"]
    assert res["x1"]["service.namespace"] == NS, res["x1"]
    for _, x in xs:
        x.remove()


def test_namespace_filter_and_opt_out(cluster, weft, procs):
    """--namespace keeps one namespace; weft.dev/trace: "false" opts a pod out
    whatever the filters; processes outside pods are still traced."""
    api, token = cluster
    api.create_namespace("other")
    c1, c2, c3 = cid(), cid(), cid()
    p1 = api.make_deployment_pod(NS, "kept", NODE, "app", c1)
    p2 = api.make_deployment_pod("other", "elsewhere", NODE, "app", c2)
    p3 = api.make_deployment_pod(NS, "opted-out", NODE, "app", c3,
                                 annotations={"weft.dev/trace": "false"})
    x1 = Container(procs, p1.uid, c1, [goserver(), "-addr", "127.0.0.1:0"], "kept")
    x2 = Container(procs, p2.uid, c2, [goserver(), "-addr", "127.0.0.1:0"], "elsewhere")
    x3 = Container(procs, p3.uid, c3, [goserver(), "-addr", "127.0.0.1:0"], "opted-out")
    host = procs.go("go1.26", "host-process")
    w = weft(args=weft_args(api, token) + ["--namespace", NS])
    for x in (x1.proc, x2.proc, x3.proc, host):
        assert LL.curl(x.url("/hello")).code == 200
    server_span(w, x1.proc.pid)
    server_span(w, host.pid)
    spans = w.spans()
    assert not L.of_pid(spans, x2.proc.pid), "a pod of another namespace was traced"
    assert not L.of_pid(spans, x3.proc.pid), "an opted-out pod was traced"
    for x in (x1, x2, x3):
        x.remove()


def test_api_unreachable_falls_back_to_node_files(weft, procs, tmp_path):
    """No API server answers: weft says so once and keeps tracing; a process
    in a container with no bundle files gets container.id and no pod."""
    c = cid()
    x = Container(procs, "0f3c1a2b-9d8e-4f7a-b6c5-d4e3f2a1b0c9", c,
                  [goserver(), "-addr", "127.0.0.1:0"], "lonely")
    port = L.free_port()
    w = weft(args=["--k8s-api", "https://127.0.0.1:%d" % port, "--node-name", NODE])
    assert LL.curl(x.proc.url("/hello")).code == 200
    s = server_span(w, x.proc.pid)[0]
    r = L.res(s)
    assert r.get("container.id") == c, r
    assert "k8s.pod.name" not in r, r
    assert w.stderr().count("cannot list the pods of node") == 1, w.stderr()
    x.remove()
