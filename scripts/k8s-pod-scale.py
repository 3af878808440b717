#!/usr/bin/env python3
"""How much memory weft's pod cache costs with thousands of pods on its node.

Starts a real control plane (tests/e2e/k8s_lib.py: etcd + kube-apiserver),
creates N pods bound to one node (each with labels, annotations, an owning
ReplicaSet, a realistic status with container ids, and a 2 KiB
last-applied-configuration annotation as kubectl leaves), runs weft against
it with the pods already there (the list) and while more arrive (the watch),
and prints weft's RSS before any pod, after the list, after the watch, and
the cache's own byte count from the stats line.

Usage (as root, after scripts/install-k8s.sh; on demand, not in the suite):
    scripts/k8s-pod-scale.py [N]          (default 3000)
Figures go into docs/kubernetes.md by hand.
"""
import os
import re
import secrets
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import k8s_lib as K  # noqa: E402

NODE = "scale-node"
WEFT = os.path.join(HERE, "..", "build", "weft")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def make_pods(cp, ns, first, n, owner):
    filler = "x" * 2048
    for i in range(first, first + n):
        name = "p-%05d" % i
        cp.api("POST", "/api/v1/namespaces/%s/pods" % ns, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"app": "scale", "pod-template-hash": "abcde12345",
                                    "app.kubernetes.io/name": "scale", "tier": "web"},
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": filler,
                                         "resource.opentelemetry.io/team": "core"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": owner["metadata"]["name"],
                                              "uid": owner["metadata"]["uid"], "controller": True}]},
            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "x:1"},
                                                      {"name": "sidecar", "image": "y:1"}]}})
        cp.merge_patch("/api/v1/namespaces/%s/pods/%s/status" % (ns, name), {"status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "app", "containerID": "containerd://" + secrets.token_hex(32),
                 "image": "x:1", "imageID": "", "ready": True, "restartCount": 0},
                {"name": "sidecar", "containerID": "containerd://" + secrets.token_hex(32),
                 "image": "y:1", "imageID": "", "ready": True, "restartCount": 0}]}})


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    cp = K.ControlPlane()
    try:
        cp.create_node(NODE)
        ns = cp.create_namespace("scale")
        rs = cp.server_side_apply("/apis/apps/v1/namespaces/scale/replicasets/scale-abcde12345", {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "scale-abcde12345", "namespace": "scale"},
            "spec": {"selector": {"matchLabels": {"app": "scale"}},
                     "template": {"metadata": {"labels": {"app": "scale"}},
                                  "spec": {"containers": [{"name": "app", "image": "x:1"}]}}}})
        t0 = time.time()
        half = n // 2
        make_pods(cp, ns, 0, half, rs)
        print("created %d pods in %.0f s" % (half, time.time() - t0), flush=True)

        # weft with nothing traced but its pod watch: -o none, one port no one uses
        w = subprocess.Popen([WEFT, "-o", "none", "-P", "1", "--stats", "2",
                              "--k8s-api", cp.url, "--k8s-ca-file", cp.ca_file,
                              "--k8s-token-file", _token_file(cp),
                              "--node-name", NODE],
                             stderr=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: [lines.append(x) for x in w.stderr], daemon=True).start()

        def stat():
            for x in reversed(lines):
                m = re.search(r"kubernetes: pods of node \S+ (\d+) \((\d+) KiB\)", x)
                if m:
                    return int(m.group(1)), int(m.group(2))
            return None

        def wait_pods(k):
            t = time.time()
            while time.time() - t < 600:
                s = stat()
                if s and s[0] >= k:
                    return s
                time.sleep(1)
            raise SystemExit("weft did not see %d pods: %s" % (k, "".join(lines[-5:])))

        s1 = wait_pods(half)
        time.sleep(3)
        r1 = rss_kib(w.pid)
        print("after the list: %d pods, cache %d KiB, weft RSS %d KiB" % (s1[0], s1[1], r1), flush=True)
        make_pods(cp, ns, half, n - half, rs)
        s2 = wait_pods(n)
        time.sleep(3)
        r2 = rss_kib(w.pid)
        print("after the watch: %d pods, cache %d KiB, weft RSS %d KiB" % (s2[0], s2[1], r2), flush=True)
        print("per pod: cache %.0f B, RSS growth %.0f B (list to watch)"
              % (s2[1] * 1024.0 / s2[0], (r2 - r1) * 1024.0 / max(1, s2[0] - s1[0])))
        w.terminate()
        w.wait(30)
        print("".join(x for x in lines if "kubernetes" in x)[-600:])
    finally:
        cp.stop()


def _token_file(cp):
    path = os.path.join(cp.dir, "admin-token")
    with open(path, "w") as f:
        f.write(cp.admin_token)
    os.chmod(path, 0o600)
    return path


if __name__ == "__main__":
    main()
