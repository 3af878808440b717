#!/bin/sh
# A real one-node Kubernetes cluster on this machine, for trying weft (README,
# "A one-node cluster for trying weft"; tests/e2e/test_k8s_cluster.py):
# Kubernetes v1.37.2 built from its Go module (scripts/install-k8s.sh), with
# kube-proxy and CoreDNS (scripts/install-k8s-extra.sh); containerd, runc and
# the CNI plugins from Debian; every image built locally, the pod sandbox's
# (pause) included. No systemd and no image registry needed.
#
#   scripts/k8s-one-node.sh up          bring the cluster up from empty state
#   scripts/k8s-one-node.sh import IMG  copy podman images into the node's containerd
#   scripts/k8s-one-node.sh status      what runs, the node and the pods
#   scripts/k8s-one-node.sh kubectl ... kubectl with the cluster's admin kubeconfig
#   scripts/k8s-one-node.sh down        stop everything and remove every trace
#
# `up` and `down` are idempotent: `up` on a running cluster only checks it,
# `down` with nothing running removes what may be left. As root.
#
# Where things are: everything under $STATE (/var/lib/weft-k8s: containerd's
# images and snapshots, the control plane's certificates, etcd, logs, the
# kubelet's pods) and $RUN (/run/weft-k8s: containerd's socket and runc's
# state). Outside them: the bridge weft0 (10.244.0.1/24, the node's address)
# with a route sending the Service range 10.96.0.0/24 to it, two iptables
# FORWARD rules (comment weft-k8s) keeping pod traffic off every other
# interface, kube-proxy's KUBE-* chains, the kubelet's `kubepods` cgroups,
# the pods' network namespaces in /run/netns, /run/containerd/s (the shims'
# sockets; containerd 1.6 puts them there whatever its state dir) and the
# kubelet's links in /var/log/containers (a fixed path). The kubelet also
# sets kernel settings when it starts (vm.overcommit_memory, kernel.panic,
# kernel.panic_on_oops, ...): tests/e2e/k8s_node.py puts the previous values
# back once the node is Ready, and `down` again.
# `down` removes all of them.
#
# The network stays on this machine: pods get routes to the pod subnet and
# the Service range only (no default route, no masquerading), CoreDNS
# answers cluster.local only (no upstream resolver), the control plane
# listens on loopback (etcd) and on the bridge's address (the API server, the
# kubelet), and `up` refuses to start when 10.244.0.0/16 or 10.96.0.0/24
# collides with an address or route the machine already has.
#
# Measured on a 2-core machine shared with other builds, binaries and
# images cached: `up` 22-33 s (images 3-4 s, control plane + kubelet +
# kube-proxy about 7 s, CoreDNS Ready 5-9 s), `down` 8-19 s.
set -eu

STATE=${WEFT_K8S_STATE:-/var/lib/weft-k8s}
RUN=${WEFT_K8S_RUN:-/run/weft-k8s}
K8S_BIN=${K8S_BIN:-/opt/weft-test/bin}
PYTHON=${PYTHON:-python3}
NODE_NAME=weft-node
BRIDGE=weft0
NODE_IP=10.244.0.1
POD_SUBNET=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/24	# = tests/e2e/k8s_lib.py's SERVICE_CIDR (the API server's flag)
DNS_IP=10.96.0.10
PAUSE_IMAGE=localhost/pause:3.10
SAMPLE_IMAGE=localhost/http-sample:latest
COREDNS_VERSION=1.15.0
COREDNS_IMAGE=localhost/coredns:$COREDNS_VERSION
SOCK=$RUN/containerd/containerd.sock
CNI_DIR=$STATE/cni/net.d
LOGS=$STATE/logs
FW_COMMENT=weft-k8s

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$K8S_BIN:/usr/local/go/bin:$PATH:/usr/local/sbin:/usr/sbin:/sbin"
KUBECONFIG_FILE=$STATE/admin.kubeconfig
T0=$(date +%s)

say() { echo "k8s-one-node: [$(( $(date +%s) - T0 ))s] $*"; }
die() { echo "k8s-one-node: $*" >&2; exit 1; }
ctr_() { ctr --address "$SOCK" --connect-timeout 2s "$@"; }
# containerd answers (without ctr's 10 s wait for a socket nobody serves)
ctr_up() { [ -S "$SOCK" ] && ctr_ version >/dev/null 2>&1; }
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# pid_is PID WORD: PID is alive and its command line contains WORD (so a
# recycled pid is never signalled).
pid_is() {
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] &&
		tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# stop_pid PID WORD SECONDS: SIGTERM, then SIGKILL after SECONDS.
stop_pid() {
	pid_is "$1" "$2" || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	n=0
	while pid_is "$1" "$2" && [ $n -lt $(( $3 * 10 )) ]; do sleep 0.1; n=$((n + 1)); done
	if pid_is "$1" "$2"; then
		say "$2 (pid $1) did not stop in $3 s: SIGKILL"
		kill -KILL "$1" 2>/dev/null || true
	fi
}

# ------------------------------------------------------------------- packages

packages() {
	need=""
	command -v containerd >/dev/null 2>&1 || need="$need containerd"
	[ -x /usr/sbin/runc ] || need="$need runc"
	[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] &&
		[ -x /usr/lib/cni/portmap ] && [ -x /usr/lib/cni/loopback ] ||
		need="$need containernetworking-plugins"
	command -v iptables >/dev/null 2>&1 || need="$need iptables"
	command -v conntrack >/dev/null 2>&1 || need="$need conntrack"
	command -v podman >/dev/null 2>&1 || need="$need podman"
	command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
	command -v openssl >/dev/null 2>&1 || need="$need openssl"
	[ -z "$need" ] && return 0
	say "apt-get install$need"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >/dev/null
}

binaries() {
	"$root/scripts/install-k8s.sh"
	"$root/scripts/install-k8s-extra.sh"
}

# ------------------------------------------------------------------- network

# Refuse ranges the machine already uses (other than our own bridge).
check_ranges() {
	ip -4 -o addr show | awk -v b="$BRIDGE" '$2 != b {print "addr", $2, $4}' >"$STATE/.addrs"
	ip -4 route show table all | grep -v " dev $BRIDGE" | awk '{print "route", $0}' >>"$STATE/.addrs"
	"$PYTHON" - "$CLUSTER_CIDR" "$SERVICE_CIDR" "$STATE/.addrs" <<'EOF'
import ipaddress, sys
ours = [ipaddress.ip_network(c) for c in sys.argv[1:3]]
bad = []
for line in open(sys.argv[3]):
    w = line.split()
    if w[0] == "addr":
        net = ipaddress.ip_interface(w[2]).network
    else:
        dst = w[1] if w[1] not in ("local", "broadcast", "unicast", "blackhole", "unreachable", "prohibit", "throw") else w[2]
        if dst == "default":
            continue
        try:
            net = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
    for o in ours:
        if net.overlaps(o):
            bad.append("%s overlaps %s: %s" % (net, o, " ".join(w)))
if bad:
    print("\n".join(bad))
    sys.exit(1)
EOF
	rm -f "$STATE/.addrs"
}

fw_rule() {	# fw_rule -A|-D|-C ARGS...: one of our FORWARD rules
	op=$1; shift
	iptables -w "$op" FORWARD "$@" -m comment --comment "$FW_COMMENT" -j DROP
}

net_up() {
	check_ranges || die "the cluster's address ranges ($CLUSTER_CIDR, $SERVICE_CIDR) collide with this machine's (above): not starting"
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
	fi
	ip addr replace "$NODE_IP/${POD_SUBNET#*/}" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	# Service addresses nobody DNATs (no endpoints, kube-proxy not synced
	# yet) go to the bridge and die there, not to the default route.
	ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
	# Pods talk to each other and to the node, nothing else: no forwarding
	# between the bridge and any other interface, either way.
	fw_rule -C -i "$BRIDGE" ! -o "$BRIDGE" 2>/dev/null || fw_rule -I -i "$BRIDGE" ! -o "$BRIDGE"
	fw_rule -C ! -i "$BRIDGE" -o "$BRIDGE" 2>/dev/null || fw_rule -I ! -i "$BRIDGE" -o "$BRIDGE"
	# kube-proxy's Service rules must see traffic between pods on the bridge.
	[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] ||
		echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables ||
		die "net.bridge.bridge-nf-call-iptables is not 1 and cannot be set (kube-proxy needs it)"
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || echo 1 >/proc/sys/net/ipv4/ip_forward
	mkdir -p "$CNI_DIR"
	# containerd loads the first file of its conf_dir (its own, so nothing
	# else's config is ever picked) and adds the loopback plugin itself.
	cat >"$CNI_DIR/10-weft-k8s.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "weft-k8s",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "$SERVICE_CIDR"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

net_down() {
	while fw_rule -C -i "$BRIDGE" ! -o "$BRIDGE" 2>/dev/null; do fw_rule -D -i "$BRIDGE" ! -o "$BRIDGE"; done
	while fw_rule -C ! -i "$BRIDGE" -o "$BRIDGE" 2>/dev/null; do fw_rule -D ! -i "$BRIDGE" -o "$BRIDGE"; done
	if ip link show "$BRIDGE" >/dev/null 2>&1; then
		for v in $(ip -o link show master "$BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
			ip link del "$v" 2>/dev/null || true
		done
		ip link del "$BRIDGE"
	fi
}

# ---------------------------------------------------------------- containerd

containerd_up() {
	mkdir -p "$STATE/containerd" "$RUN/containerd" "$LOGS"
	cfg=$STATE/containerd/config.toml
	# Only what differs from containerd 1.6's defaults.
	cat >"$cfg" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$RUN/containerd/state"

[grpc]
  address = "$SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Lowering a container's oom_score_adj needs CAP_SYS_RESOURCE, which this
  # machine does not give: without this every sandbox fails ("runc create
  # failed: ... can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_DIR"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$RUN/runc"
        SystemdCgroup = false
EOF
	if ctr_up; then
		return 0
	fi
	[ -d /run/containerd ] || touch "$STATE/.made-run-containerd"
	# The shell writes its own pid, then becomes containerd: the pid is
	# containerd's whether or not setsid had to fork.
	setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$RUN/containerd.pid" \
		containerd --config "$cfg" >>"$LOGS/containerd.log" 2>&1 </dev/null &
	n=0
	until [ -s "$RUN/containerd.pid" ] || [ $n -gt 50 ]; do sleep 0.1; n=$((n + 1)); done
	n=0
	until ctr_up; do
		pid_is "$(cat "$RUN/containerd.pid")" containerd ||
			{ tail -20 "$LOGS/containerd.log" >&2; die "containerd exited at start-up"; }
		n=$((n + 1))
		[ $n -lt 300 ] || { tail -20 "$LOGS/containerd.log" >&2; die "containerd did not answer in 30 s"; }
		sleep 0.1
	done
	say "containerd $(ctr_ version 2>/dev/null | awk '/Version:/ {print $2; exit}') up ($SOCK)"
}

# --------------------------------------------------------------------- images

# build_image TAG CONTAINERFILE CONTEXT: podman build (its layer cache makes
# a rebuild of the same files a no-op).
build_image() {
	nice podman build -q -f "$2" -t "$1" "$3" >/dev/null ||
		die "podman build of $1 failed"
}

images_build() {
	b=$STATE/build
	mkdir -p "$b/pause" "$b/http-sample" "$b/coredns"
	cc -static -O2 -o "$b/pause/pause" "$root/tests/apps/pause/pause.c"
	build_image "$PAUSE_IMAGE" "$root/tests/apps/pause/Containerfile" "$b/pause"
	(cd "$root/tests/apps/httpsample" &&
		CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod \
			nice go build -trimpath -o "$b/http-sample/http-sample" .)
	build_image "$SAMPLE_IMAGE" "$root/tests/apps/httpsample/Containerfile" "$b/http-sample"
	cp "$K8S_BIN/coredns" "$b/coredns/coredns"
	cat >"$b/coredns/Containerfile" <<'EOF'
FROM scratch
COPY coredns /coredns
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
EOF
	build_image "$COREDNS_IMAGE" "$b/coredns/Containerfile" "$b/coredns"
}

# import IMAGE...: podman's image, saved as an OCI archive, into containerd's
# k8s.io namespace (the one the kubelet's pods use), under the same name.
# Skipped when containerd has that name from the same podman image already.
import_images() {
	mkdir -p "$STATE/images"
	for img in "$@"; do
		id=$(podman image inspect --format '{{.Id}}' "$img" 2>/dev/null) ||
			die "no podman image $img (build it first)"
		stamp=$STATE/images/$(echo "$img" | tr '/:' '__').id
		if [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] &&
			ctr_ -n k8s.io images ls -q "name==$img" | grep -qxF "$img"; then
			continue
		fi
		t=$(date +%s)
		arch=$STATE/images/import.tar
		rm -f "$arch"
		podman save -q --format oci-archive -o "$arch" "$img"
		# The archive's index names the image (org.opencontainers.image.ref.name).
		ctr_ -n k8s.io images import "$arch" >/dev/null
		rm -f "$arch"
		ctr_ -n k8s.io images ls -q "name==$img" | grep -qxF "$img" ||
			die "containerd has no $img after the import"
		echo "$id" >"$stamp"
		say "imported $img into containerd ($(( $(date +%s) - t ))s)"
	done
}

# ------------------------------------------------------ control plane + node

supervisor_pid() { cat "$RUN/supervisor.pid" 2>/dev/null || true; }

node_up() {
	if pid_is "$(supervisor_pid)" k8s_node.py && [ -f "$STATE/ready" ]; then
		return 0
	fi
	rm -f "$STATE/ready"
	say "control plane, kubelet and kube-proxy (tests/e2e/k8s_node.py)"
	rm -f "$RUN/supervisor.pid"
	setsid "$PYTHON" "$root/tests/e2e/k8s_node.py" serve --state "$STATE" \
		--pidfile "$RUN/supervisor.pid" --node-name "$NODE_NAME" --node-ip "$NODE_IP" \
		--cluster-cidr "$CLUSTER_CIDR" --dns-ip "$DNS_IP" --cri-socket "$SOCK" \
		>>"$LOGS/k8s-node.log" 2>&1 </dev/null &
	n=0
	until [ -s "$RUN/supervisor.pid" ] || [ $n -gt 100 ]; do sleep 0.1; n=$((n + 1)); done
	n=0
	until [ -f "$STATE/ready" ]; do
		pid_is "$(supervisor_pid)" k8s_node.py ||
			{ tail -60 "$LOGS/k8s-node.log" >&2; die "the control plane did not come up (log: $LOGS/k8s-node.log)"; }
		n=$((n + 1))
		[ $n -lt 3000 ] || { tail -40 "$LOGS/k8s-node.log" >&2; die "the control plane was not ready in 300 s"; }
		sleep 0.1
	done
	say "$(grep -o 'API server [^;]*' "$LOGS/k8s-node.log" | tail -1); node $NODE_NAME Ready"
}

coredns_up() {
	kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata:
  name: coredns
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:coredns
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:coredns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:coredns
subjects:
  - kind: ServiceAccount
    name: coredns
    namespace: kube-system
---
# cluster.local only: no forward plugin, so no name is ever asked of a
# resolver outside this machine (other names get SERVFAIL).
apiVersion: v1
kind: ConfigMap
metadata:
  name: coredns
  namespace: kube-system
data:
  Corefile: |
    .:53 {
        errors
        health {
            lameduck 2s
        }
        ready
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        cache 30
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  selector:
    matchLabels: {k8s-app: kube-dns}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      terminationGracePeriodSeconds: 5
      containers:
        - name: coredns
          image: $COREDNS_IMAGE
          imagePullPolicy: IfNotPresent
          args: [-conf, /etc/coredns/Corefile]
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
          readinessProbe:
            httpGet: {path: /ready, port: 8181}
            periodSeconds: 2
          livenessProbe:
            httpGet: {path: /health, port: 8080}
            initialDelaySeconds: 10
          volumeMounts:
            - {name: config, mountPath: /etc/coredns, readOnly: true}
      volumes:
        - name: config
          configMap: {name: coredns}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: $DNS_IP
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, protocol: UDP}
    - {name: dns-tcp, port: 53, protocol: TCP}
EOF
	kc -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null ||
		{ kc -n kube-system get pods -o wide >&2; die "CoreDNS did not become ready"; }
	say "CoreDNS ready at $DNS_IP"
}

up() {
	[ "$(id -u)" = 0 ] || die "run as root"
	mkdir -p "$STATE" "$RUN" "$LOGS"
	packages
	binaries
	net_up
	containerd_up
	t=$(date +%s)
	images_build
	import_images "$PAUSE_IMAGE" "$SAMPLE_IMAGE" "$COREDNS_IMAGE"
	say "images ready ($(( $(date +%s) - t ))s)"
	# The kubelet links each container's log into /var/log/containers (a
	# fixed path): down removes our links, and the directory if it made it.
	[ -d /var/log/containers ] || touch "$STATE/.made-var-log-containers"
	node_up
	coredns_up
	say "up in $(( $(date +%s) - T0 ))s. kubectl: export KUBECONFIG=$KUBECONFIG_FILE (or: $0 kubectl ...)"
}

# ----------------------------------------------------------------------- down

# Every pod deleted through the API while the kubelet still runs: it stops
# the containers and the sandboxes, so the CNI plugin takes each pod's
# network down (veth, IP address) as on any node. The controllers go first,
# so that nothing makes new pods meanwhile.
pods_down() {
	[ -f "$KUBECONFIG_FILE" ] && pid_is "$(supervisor_pid)" k8s_node.py || return 0
	kc get --raw /readyz >/dev/null 2>&1 || return 0
	for c in kube-controller-manager kube-scheduler; do
		pid=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' \
			"$STATE/pids" "$c" 2>/dev/null || true)
		stop_pid "$pid" "$c" 15
	done
	n=$(kc get pods -A --no-headers 2>/dev/null | wc -l)
	[ "$n" -gt 0 ] || return 0
	say "deleting $n pods"
	kc delete pods --all -A --grace-period=2 --timeout=90s >/dev/null 2>&1 ||
		say "some pods were not deleted in 90 s; removing what is left by hand"
}

# Whatever the kubelet left in containerd: tasks killed, containers removed,
# and the network namespaces of their sandboxes unmounted and removed.
containers_down() {
	ctr_up || return 0
	for id in $(ctr_ -n k8s.io containers ls -q 2>/dev/null); do
		ns=$(ctr_ -n k8s.io containers info "$id" 2>/dev/null | "$PYTHON" -c '
import json, sys
try:
    spec = json.load(sys.stdin)["Spec"]
    for n in spec["linux"]["namespaces"]:
        if n["type"] == "network" and n.get("path"):
            print(n["path"])
except Exception:
    pass' || true)
		[ -n "$ns" ] && echo "$ns" >>"$RUN/netns-left"
		ctr_ -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
		ctr_ -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
		ctr_ -n k8s.io containers delete "$id" >/dev/null 2>&1 || true
	done
}

# The kubelet's own chains (KUBE-FIREWALL, jumped to from INPUT and OUTPUT;
# KUBE-KUBELET-CANARY; KUBE-IPTABLES-HINT), which kube-proxy --cleanup leaves,
# and anything of kube-proxy's it left: every KUBE-* chain and every jump to
# one, in each table of iptables and ip6tables (nf_tables and legacy).
kube_chains_down() {
	for ipt in iptables ip6tables iptables-legacy ip6tables-legacy; do
		command -v "$ipt-save" >/dev/null 2>&1 || continue
		save=$ipt-save
		case $ipt in *-legacy) save=${ipt%-legacy}-legacy-save ;; esac
		for t in filter nat mangle raw; do
			rules=$("$save" -t "$t" 2>/dev/null) || continue
			echo "$rules" | grep -q '^:KUBE-' || continue
			echo "$rules" | grep -E '^-A [^ ]+ .*-j KUBE-' | grep -v '^-A KUBE-' |
				sed 's/^-A /-D /' | while read -r rule; do
					eval "$ipt -w -t $t $rule" 2>/dev/null || true
				done
			chains=$(echo "$rules" | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p')
			for c in $chains; do "$ipt" -w -t "$t" -F "$c" 2>/dev/null || true; done
			for c in $chains; do "$ipt" -w -t "$t" -X "$c" 2>/dev/null || true; done
		done
	done
}

unmount_under() {	# every mount point under $1, deepest first
	awk -v p="$1/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}

# The kubelet's cgroup tree, in each hierarchy. A cgroup stays busy a
# moment after its last process exited (until the exit is reaped): retry.
cgroups_down() {
	for h in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
		[ -d "$h" ] || continue
		for p in $(find "$h" -name cgroup.procs 2>/dev/null); do
			for pid in $(cat "$p" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
		done
		n=0
		while [ -d "$h" ] && [ $n -lt 100 ]; do
			find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || true
			[ -d "$h" ] && sleep 0.1
			n=$((n + 1))
		done
		[ ! -d "$h" ] || say "could not remove $h"
	done
}

down() {
	[ "$(id -u)" = 0 ] || die "run as root"
	pods_down
	sup=$(supervisor_pid)
	if pid_is "$sup" k8s_node.py; then
		say "stopping the control plane, kubelet and kube-proxy"
		stop_pid "$sup" k8s_node.py 60
	fi
	# A supervisor that died leaves its children running: stop them by pid.
	if [ -f "$STATE/pids" ]; then
		"$PYTHON" -c 'import json,sys
for n, p in json.load(open(sys.argv[1])).items(): print(p, n)' "$STATE/pids" 2>/dev/null |
			while read -r pid name; do stop_pid "$pid" "$name" 15; done
	fi
	if [ -x "$K8S_BIN/kube-proxy" ] && iptables-save 2>/dev/null | grep -q 'KUBE-'; then
		"$K8S_BIN/kube-proxy" --cleanup >>"$LOGS/kube-proxy-cleanup.log" 2>&1 || true
	fi
	kube_chains_down
	if [ -f "$STATE/sysctl-before-kubelet.json" ]; then
		"$PYTHON" -c 'import json, sys
for k, v in json.load(open(sys.argv[1])).items():
    p = "/proc/sys/" + k
    try:
        if open(p).read().strip() != v:
            open(p, "w").write(v)
            print("put back", k.replace("/", "."), "=", v)
    except OSError:
        pass' "$STATE/sysctl-before-kubelet.json" || true
	fi
	containers_down
	cpid=$(cat "$RUN/containerd.pid" 2>/dev/null || true)
	if pid_is "$cpid" containerd; then
		say "stopping containerd"
		stop_pid "$cpid" containerd 20
	fi
	# Shims outlive containerd by design: only ours (their -address is our socket).
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		pid_is "$pid" containerd-shim && pid_is "$pid" "$SOCK" && kill -KILL "$pid" 2>/dev/null || true
	done
	if [ -f "$RUN/netns-left" ]; then
		sort -u "$RUN/netns-left" | while read -r ns; do
			umount "$ns" 2>/dev/null || umount -l "$ns" 2>/dev/null || true
			rm -f "$ns"
		done
	fi
	unmount_under "$STATE"
	unmount_under "$RUN"
	cgroups_down
	net_down
	for l in /var/log/containers/*.log; do
		[ -L "$l" ] || continue
		case $(readlink "$l") in "$STATE"/*) rm -f "$l" ;; esac
	done
	[ -f "$STATE/.made-var-log-containers" ] && rmdir /var/log/containers 2>/dev/null || true
	if [ -f "$STATE/.made-run-containerd" ] && [ -d /run/containerd ]; then
		rm -rf --one-file-system /run/containerd/s 2>/dev/null || true
		rmdir /run/containerd 2>/dev/null || true
	fi
	if awk -v s="$STATE/" -v r="$RUN/" 'index($5, s) == 1 || index($5, r) == 1' /proc/self/mountinfo | grep -q .; then
		die "mounts left under $STATE or $RUN; not removing them"
	fi
	rm -rf --one-file-system "$STATE" "$RUN"
	say "down in $(( $(date +%s) - T0 ))s"
}

# --------------------------------------------------------------------- status

status() {
	sup=$(supervisor_pid)
	if pid_is "$sup" k8s_node.py; then echo "supervisor: running (pid $sup)"; else echo "supervisor: not running"; fi
	cpid=$(cat "$RUN/containerd.pid" 2>/dev/null || true)
	if pid_is "$cpid" containerd; then echo "containerd: running (pid $cpid, $SOCK)"; else echo "containerd: not running"; fi
	if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge: $BRIDGE $NODE_IP"; else echo "bridge: none"; fi
	if [ -f "$STATE/ready" ] && pid_is "$sup" k8s_node.py; then
		echo "kubeconfig: $KUBECONFIG_FILE"
		kc get nodes -o wide || true
		kc get pods -A -o wide || true
		return 0
	fi
	return 1
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
up) up ;;
down) down ;;
status) status ;;
import)
	[ $# -gt 0 ] || die "usage: $0 import IMAGE..."
	ctr_up || die "containerd is not running: $0 up first"
	import_images "$@" ;;
kubectl) exec kubectl --kubeconfig "$KUBECONFIG_FILE" "$@" ;;
*) sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
