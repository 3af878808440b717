"""Smoke tests of the Kubernetes test fixture (k8s_lib): a real etcd and
kube-apiserver start, RBAC is enforced for ServiceAccount tokens the way weft
will meet it (list + watch of this node's pods), and the helpers that play the
controllers and the kubelet leave pods whose owner chain resolves.

Needs scripts/install-k8s.sh to have run (tests/run.sh does). No eBPF, but run
as root like the rest of tests/e2e.
"""
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as L  # noqa: E402
import k8s_lib as K  # noqa: E402
from k8s_lib import k8s_api  # noqa: E402,F401  (the fixture)

NS = "weft-smoke"
PODS_ON_NODE1 = "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode1"


def curl_api(api, path, token_file, extra=()):
    """curl the API server as a client with a token file would: bearer token
    read from the file, server checked against the CA. Returns (code, body)."""
    with open(token_file) as f:
        token = f.read().strip()
    cmd = [L.CURL, "-sS", "--noproxy", "*", "--cacert", api.ca_file,
           "-H", "Authorization: Bearer " + token, "-w", "\n%{http_code}"] + list(extra) + [api.url + path]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=L.NO_PROXY_ENV, timeout=60)
    assert p.returncode == 0, "curl failed: %s\n%s" % (" ".join(cmd), p.stderr)
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


def test_apiserver_up(k8s_api):
    v = k8s_api.get("/version")
    assert v["gitVersion"] == "v1.37.2", v
    assert (v["major"], v["minor"]) == ("1", "37"), v
    assert k8s_api.get("/readyz", raw=True) == b"ok"
    out = k8s_api.kubectl("version", "-o", "json").stdout
    kv = json.loads(out)
    assert kv["clientVersion"]["gitVersion"] == "v1.37.2", out
    assert kv["serverVersion"]["gitVersion"] == "v1.37.2", out
    names = {n["metadata"]["name"] for n in k8s_api.kubectl_json("get", "namespaces")["items"]}
    assert {"default", "kube-system"} <= names, names
    # the API server listens on loopback only
    assert k8s_api.url.startswith("https://127.0.0.1:")
    # RBAC is on: the bootstrap roles exist
    k8s_api.kubectl("get", "clusterrole", "system:node", "cluster-admin")
    with pytest.raises(K.KubectlError) as e:
        k8s_api.kubectl("get", "nosuchkind")
    assert "nosuchkind" in e.value.stderr


def test_privileged_hostpid_pod_allowed(k8s_api):
    """--allow-privileged=true: what the weft DaemonSet asks for is accepted."""
    k8s_api.create_namespace(NS)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "privileged-probe", "namespace": NS},
           "spec": {"hostPID": True, "nodeName": "node1",
                    "containers": [{"name": "c", "image": "localhost/x:1",
                                    "securityContext": {"privileged": True}}]}}
    k8s_api.apply(pod, dry_run="server")


def test_rbac_sa_without_role_is_denied(k8s_api):
    k8s_api.create_namespace(NS)
    k8s_api.create_service_account(NS, "no-role")
    tok = k8s_api.sa_token(NS, "no-role")
    code, body = curl_api(k8s_api, PODS_ON_NODE1, tok)
    assert code == 403, body
    st = json.loads(body)
    assert st["reason"] == "Forbidden", st
    assert "system:serviceaccount:%s:no-role" % NS in st["message"], st
    # an unknown token is not authenticated at all
    bad = tok + ".bad"
    with open(bad, "w") as f:
        f.write("not-a-token")
    code, body = curl_api(k8s_api, PODS_ON_NODE1, bad)
    assert code == 401, body


def test_rbac_clusterrole_allows_list_watch_of_node_pods(k8s_api):
    api = k8s_api
    api.create_namespace(NS)
    api.create_service_account(NS, "reader")
    tok = api.sa_token(NS, "reader")
    code, body = curl_api(api, PODS_ON_NODE1, tok)
    assert code == 403, body

    a = api.make_deployment_pod(NS, "svc-node1", "node1", "app", K.random_container_id(),
                                {"app": "svc-node1"})
    b = api.make_deployment_pod(NS, "svc-node2", "node2", "app", K.random_container_id(),
                                {"app": "svc-node2"})
    api.apply([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "weft-smoke-pod-reader"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "weft-smoke-pod-reader"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "weft-smoke-pod-reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": NS}]},
    ])
    # the authorizer sees the binding through an informer: allow a moment
    end = time.monotonic() + 10
    while True:
        code, body = curl_api(api, PODS_ON_NODE1, tok)
        if code != 403 or time.monotonic() > end:
            break
        time.sleep(0.2)
    assert code == 200, body
    lst = json.loads(body)
    names = {p["metadata"]["name"] for p in lst["items"]}
    assert a.name in names and b.name not in names, names

    # get is not granted (list and watch only)
    code, body = curl_api(api, "/api/v1/namespaces/%s/pods/%s" % (NS, a.name), tok)
    assert code == 403, body

    # watch from the list's resourceVersion sees a new pod on node1 only
    rv = lst["metadata"]["resourceVersion"]
    with open(tok) as f:
        token = f.read().strip()
    watch = subprocess.Popen(
        [L.CURL, "-sS", "-N", "--noproxy", "*", "--cacert", api.ca_file,
         "-H", "Authorization: Bearer " + token,
         api.url + PODS_ON_NODE1 + "&watch=1&resourceVersion=%s&timeoutSeconds=5" % rv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=L.NO_PROXY_ENV)
    try:
        time.sleep(1)
        c = api.make_deployment_pod(NS, "svc-node1", "node1", "app", K.random_container_id(),
                                    {"app": "svc-node1"})
        api.make_deployment_pod(NS, "svc-node2", "node2", "app", K.random_container_id(),
                                {"app": "svc-node2"})
        out, err = watch.communicate(timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    seen = {(e["type"], e["object"]["metadata"]["name"]) for e in events}
    assert ("ADDED", c.name) in seen, (out, err)
    assert all(e["object"]["spec"]["nodeName"] == "node1" for e in events), out
    # the status write (the kubelet's) is a MODIFIED event with the container id
    mods = [e["object"] for e in events
            if e["type"] == "MODIFIED" and e["object"]["metadata"]["name"] == c.name]
    assert any(s.get("containerID") == "containerd://" + c.container_id
               for m in mods for s in m["status"].get("containerStatuses") or []), out


def test_sa_token_rotation_rewrites_file(k8s_api):
    k8s_api.create_namespace(NS)
    k8s_api.create_service_account(NS, "rotated")
    path = k8s_api.sa_token(NS, "rotated")
    first = open(path).read()
    ino = os.stat(path).st_ino
    time.sleep(1.1)  # tokens carry their issue time in seconds
    assert k8s_api.sa_token(NS, "rotated", path=path) == path
    second = open(path).read()
    assert first != second and first.count(".") == 2 and second.count(".") == 2
    assert os.stat(path).st_ino != ino, "the file was rewritten in place, not replaced"
    # both tokens are valid until they expire
    for t in (first, second):
        r = k8s_api.api("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                         "spec": {"token": t}})
        assert r["status"]["authenticated"], r
        assert r["status"]["user"]["username"] == "system:serviceaccount:%s:rotated" % NS


def test_make_deployment_pod_owner_chain(k8s_api):
    api = k8s_api
    cid = K.random_container_id()
    p = api.make_deployment_pod("weft-meta", "service-a", "node1", "service-a", cid,
                                {"app": "service-a"},
                                {"resource.opentelemetry.io/service.name": "svc-a-annot"})
    pod = api.get("/api/v1/namespaces/weft-meta/pods/" + p.name)
    assert pod["spec"]["nodeName"] == "node1"
    assert pod["status"]["phase"] == "Running"
    cs = pod["status"]["containerStatuses"]
    assert [(s["name"], s["containerID"]) for s in cs] == [("service-a", "containerd://" + cid)]
    assert pod["metadata"]["labels"]["app"] == "service-a"
    assert pod["metadata"]["labels"]["pod-template-hash"] == p.replicaset.rsplit("-", 1)[1]
    assert pod["metadata"]["annotations"]["resource.opentelemetry.io/service.name"] == "svc-a-annot"
    assert p.name.startswith(p.replicaset + "-") and len(p.name) == len(p.replicaset) + 6
    assert api.owner_chain(pod) == [("Pod", p.name), ("ReplicaSet", p.replicaset),
                                    ("Deployment", "service-a")]
    rs = api.get("/apis/apps/v1/namespaces/weft-meta/replicasets/" + p.replicaset)
    assert rs["metadata"]["uid"] == p.replicaset_uid
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == \
        ("Deployment", "service-a", p.deployment_uid, True)
    ref = pod["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == \
        ("ReplicaSet", p.replicaset, p.replicaset_uid, True)
    # kubectl sees the same
    out = api.kubectl("get", "pod", "-n", "weft-meta", p.name, "-o",
                      "jsonpath={.metadata.ownerReferences[0].name} {.status.containerStatuses[0].containerID}").stdout
    assert out == "%s containerd://%s" % (p.replicaset, cid)

    # churn: the pod goes, a new one with a new container id comes, same
    # Deployment and ReplicaSet
    api.delete_pod("weft-meta", p.name)
    assert not api.exists("/api/v1/namespaces/weft-meta/pods/" + p.name)
    cid2 = K.random_container_id()
    q = api.make_deployment_pod("weft-meta", "service-a", "node1", "service-a", cid2,
                                {"app": "service-a"},
                                {"resource.opentelemetry.io/service.name": "svc-a-annot"})
    assert q.name != p.name
    assert (q.replicaset, q.replicaset_uid, q.deployment_uid) == \
        (p.replicaset, p.replicaset_uid, p.deployment_uid)
    assert q.pod["status"]["containerStatuses"][0]["containerID"] == "containerd://" + cid2

    # a container restart in the same pod: new id, restartCount 1
    cid3 = K.random_container_id()
    r = api.set_pod_running("weft-meta", q.name, [("service-a", cid3)], restart_count=1)
    assert r["status"]["containerStatuses"][0]["containerID"] == "containerd://" + cid3


@pytest.mark.parametrize("kind,chain", [
    ("StatefulSet", ["StatefulSet"]),
    ("DaemonSet", ["DaemonSet"]),
    ("Job", ["Job"]),
])
def test_other_workload_owners(k8s_api, kind, chain):
    api = k8s_api
    name = "wl-" + kind.lower()
    w = api.make_workload("weft-meta", kind, name, {"app": name})
    pod = api.make_pod("weft-meta", None, "node1", [("main", K.random_container_id())],
                       labels={"app": name}, owner=w, generate_name=name + "-")
    assert api.owner_chain(pod)[1:] == [(k, name) for k in chain]


def test_controller_manager_and_scheduler(k8s_api):
    """Started on request: the serviceaccount controller fills a new namespace
    and the scheduler judges an unbound pod (unschedulable: no node fits)."""
    api = k8s_api
    api.start_controller_manager(
        controllers="serviceaccount-controller,serviceaccount-token-controller,"
                    "root-ca-certificate-publisher-controller")
    api.kubectl("create", "namespace", "weft-kcm")
    K._wait(lambda: api.exists("/api/v1/namespaces/weft-kcm/serviceaccounts/default"), 60,
            "the controller-manager's default ServiceAccount in weft-kcm")
    K._wait(lambda: api.exists("/api/v1/namespaces/weft-kcm/configmaps/kube-root-ca.crt"), 60,
            "the controller-manager's kube-root-ca.crt in weft-kcm")

    api.start_scheduler()
    api.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unbound", "namespace": "weft-kcm"},
               "spec": {"containers": [{"name": "c", "image": "localhost/x:1"}]}})

    def unschedulable():
        pod = api.get("/api/v1/namespaces/weft-kcm/pods/unbound")
        return any(c["type"] == "PodScheduled" and c["status"] == "False"
                   and c.get("reason") == "Unschedulable"
                   for c in pod["status"].get("conditions") or [])
    K._wait(unschedulable, 60, "the scheduler's PodScheduled=False on an unbound pod")
