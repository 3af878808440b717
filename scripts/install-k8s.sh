#!/bin/sh
# Build and install the Kubernetes pieces weft's tests use, from their Go
# modules: helm, etcd, kube-apiserver, kubectl, kube-controller-manager,
# kube-scheduler and kubelet. Idempotent: a binary that already reports its
# pinned version is left alone, so a second run returns in well under a second.
#
# Version pins (newest releases that `go list -m -versions MODULE` printed on
# 2026-12-02; to bump, rerun it, change the pin, and rerun the k8s tests):
#   HELM_VERSION  v3.22.0  newest helm.sh/helm/v3 (v3 is what the chart's
#                          apiVersion: v2 and `helm lint/template` need).
#   ETCD_VERSION  v3.7.3   newest patch of the 3.7 line; kubeadm v1.37.2 pins
#                          etcd 3.7.0 (DefaultEtcdVersion), so 3.7 is the line
#                          this Kubernetes release is tested with.
#   K8S_VERSION   v1.37.2  newest stable k8s.io/kubernetes (v1.38 is beta);
#                          the release /work/shared/k8s-one-node.md ran.
#                          Its staging modules (k8s.io/api, client-go, ...)
#                          are published as v0.37.2: K8S_STAGING_VERSION.
#
# First build, measured on two shared cores with a Jaeger build running at the
# same time: helm 4 min, etcd 1 min, kube-apiserver 12 min, kubectl 1 min,
# kube-controller-manager 6 min, kube-scheduler 0.5 min, kubelet 10 min (cgo,
# and much code of its own): about 35 min in all (k8s-one-node.md measured
# helm 1 min and kube-apiserver 4 min on a quiet machine). With a warm Go
# build cache all seven take about a minute, mostly linking. Builds
# run under `nice` (the machine is shared). Binaries go to fixed paths in
# $K8S_BIN; the check that they are there and of the pinned version runs each
# binary's version command (under half a second for all of them).
#
# Usage: scripts/install-k8s.sh        (env: K8S_BIN (default /opt/weft-test/bin), GO)
set -eu

HELM_VERSION=v3.22.0
ETCD_VERSION=v3.7.3
K8S_VERSION=v1.37.2
K8S_STAGING_VERSION=v0.37.2
K8S_BIN=${K8S_BIN:-/opt/weft-test/bin}
K8S_CMDS="kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet"

if [ -z "${GO:-}" ]; then
	if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
	else GO=$(command -v go || true); fi
fi
[ -n "$GO" ] || { echo "install-k8s: no Go toolchain found (set GO=)" >&2; exit 1; }

# ---- version checks: what each binary reports about itself (cheap: no build)

have_helm() {
	[ -x "$K8S_BIN/helm" ] &&
		[ "$("$K8S_BIN/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]
}

have_etcd() {
	[ -x "$K8S_BIN/etcd" ] &&
		"$K8S_BIN/etcd" --version 2>/dev/null | grep -qx "etcd Version: ${ETCD_VERSION#v}"
}

# have_kube NAME: the binary reports K8S_VERSION (stamped at link time below)
have_kube() {
	[ -x "$K8S_BIN/$1" ] || return 1
	if [ "$1" = kubectl ]; then
		"$K8S_BIN/kubectl" version --client 2>/dev/null | grep -qx "Client Version: $K8S_VERSION"
	else
		"$K8S_BIN/$1" --version 2>/dev/null | grep -qx "Kubernetes $K8S_VERSION"
	fi
}

missing=""
have_helm || missing="$missing helm"
have_etcd || missing="$missing etcd"
for c in $K8S_CMDS; do have_kube "$c" || missing="$missing $c"; done
if [ -z "$missing" ]; then
	echo "install-k8s: helm $HELM_VERSION, etcd $ETCD_VERSION and $K8S_CMDS $K8S_VERSION already in $K8S_BIN"
	exit 0
fi
echo "install-k8s: to build into $K8S_BIN:$missing (with $("$GO" version))"

mkdir -p "$K8S_BIN"
tmp=$(mktemp -d "$K8S_BIN/.k8s-build.XXXXXX")
# The module cache holds read-only files: make the copy removable first.
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod
GONICE="nice -n 10 $GO"
wants() { case " $missing " in *" $1 "*) return 0 ;; esac; return 1; }
took() { echo $(( $(date +%s) - $1 )); }

# ---- helm: `go install` of its command at the pinned tag, with the link-time
# values helm's own Makefile sets for a release build. Without them `helm
# version` says "v3.22" and, worse, `helm template` and `helm lint` assume
# Kubernetes v1.20 (Capabilities.KubeVersion, deprecation checks) instead of
# the release its client-go is from (Makefile: major = 1 + client-go's major,
# minor = client-go's minor; v0.37.0 for helm v3.22.0 -> 1.37).
if wants helm; then
	echo "install-k8s: building helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
	t0=$(date +%s)
	mkdir "$tmp/helm"
	helm_mod=$(cd "$tmp/helm" && "$GO" mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
	cg=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v\([0-9][0-9]*\)\.\([0-9][0-9]*\)\..*/\1 \2/p' "$helm_mod")
	[ -n "$cg" ] || { echo "install-k8s: no k8s.io/client-go in $helm_mod" >&2; exit 1; }
	kmaj=$(( ${cg% *} + 1 ))
	kmin=${cg#* }
	hl="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
	hl="$hl -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
	for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
		hl="$hl -X $pkg.k8sVersionMajor=$kmaj -X $pkg.k8sVersionMinor=$kmin"
	done
	echo "install-k8s: helm's default Kubernetes version: v$kmaj.$kmin (from its k8s.io/client-go)"
	(cd "$tmp/helm" && CGO_ENABLED=0 GOBIN="$tmp/helm" $GONICE install -trimpath -ldflags "$hl" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
	mv -f "$tmp/helm/helm" "$K8S_BIN/helm"
	have_helm || { echo "install-k8s: $K8S_BIN/helm does not report $HELM_VERSION" >&2; exit 1; }
	echo "install-k8s: installed $K8S_BIN/helm in $(took "$t0")s"
fi

# ---- etcd: a main package of our own that calls etcd's own main.
if wants etcd; then
	echo "install-k8s: building etcd from go.etcd.io/etcd/server/v3/etcdmain@$ETCD_VERSION"
	t0=$(date +%s)
	mkdir "$tmp/etcd"
	cat >"$tmp/etcd/main.go" <<'EOF'
// etcd for weft's tests: the server's own entry point, nothing else.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
	(cd "$tmp/etcd" &&
		"$GO" mod init weft.test/etcd >/dev/null 2>&1 &&
		{ "$GO" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >get.log 2>&1 ||
			{ cat get.log >&2; false; }; } &&
		CGO_ENABLED=0 $GONICE build -trimpath -o "$tmp/etcd/etcd.bin" .)
	mv -f "$tmp/etcd/etcd.bin" "$K8S_BIN/etcd"
	have_etcd || { echo "install-k8s: $K8S_BIN/etcd does not report $ETCD_VERSION" >&2; exit 1; }
	echo "install-k8s: installed $K8S_BIN/etcd in $(took "$t0")s"
fi

# ---- Kubernetes: k8s.io/kubernetes built as the main module.
# Its module zip has no staging/ (the k8s.io/* libraries live there in the
# repository and are published as their own modules) while go.mod replaces
# each of them with ./staging/src/k8s.io/X: point those replace lines at the
# published modules of the same release instead, drop vendor/ and go.work*
# (they describe the repository layout), and let -mod=mod fill go.sum.
kube=""
for c in $K8S_CMDS; do wants "$c" && kube="$kube $c"; done
if [ -n "$kube" ]; then
	echo "install-k8s: fetching k8s.io/kubernetes@$K8S_VERSION"
	t0=$(date +%s)
	dir=$(cd "$tmp" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
	[ -n "$dir" ] && [ -f "$dir/go.mod" ] ||
		{ echo "install-k8s: could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
	src="$tmp/kubernetes"
	cp -R "$dir" "$src"
	chmod -R u+w "$src"
	rm -rf "$src/vendor" "$src"/go.work*
	sed "s#^\([[:space:]]*\)\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/k8s\.io/[A-Za-z0-9._-]*[[:space:]]*\$#\1\2 => \2 $K8S_STAGING_VERSION#" \
		"$src/go.mod" >"$src/go.mod.new"
	mv "$src/go.mod.new" "$src/go.mod"
	if grep -q '=> \./staging' "$src/go.mod"; then
		echo "install-k8s: a staging replace line was not rewritten:" >&2
		grep '=> \./staging' "$src/go.mod" >&2
		exit 1
	fi
	# Stamped as the release's own build does (hack/lib/version.sh): without
	# it the binaries say v0.0.0-master, `kubectl version` warns about the
	# skew and charts with kubeVersion: constraints are refused.
	ldflags=""
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1"
		ldflags="$ldflags -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
		ldflags="$ldflags -X $pkg.gitTreeState=clean"
	done
	echo "install-k8s: source ready in $(took "$t0")s"
	note=" (the first one compiles most of Kubernetes: many minutes)"
	for c in $kube; do
		echo "install-k8s: building $c $K8S_VERSION$note"
		note=""
		t0=$(date +%s)
		# Static like the release binaries, except the kubelet, which upstream
		# links with cgo (hack/lib/golang.sh, KUBE_STATIC_BINARIES).
		cgo=0
		[ "$c" = kubelet ] && cgo=1
		(cd "$src" && CGO_ENABLED=$cgo $GONICE build -trimpath -ldflags "$ldflags" \
			-o "$tmp/$c.bin" "./cmd/$c")
		mv -f "$tmp/$c.bin" "$K8S_BIN/$c"
		have_kube "$c" || { echo "install-k8s: $K8S_BIN/$c does not report $K8S_VERSION" >&2; exit 1; }
		echo "install-k8s: installed $K8S_BIN/$c in $(took "$t0")s"
	done
fi
echo "install-k8s: done"
