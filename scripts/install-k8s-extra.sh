#!/bin/sh
# Build and install the cluster add-ons the one-node cluster uses for Service
# routing (scripts/k8s-one-node.sh, tests/e2e/test_k8s_cluster.py), next to
# the binaries of scripts/install-k8s.sh:
#   kube-proxy  from k8s.io/kubernetes (cmd/kube-proxy), the same release and
#               the same source preparation as install-k8s.sh's binaries
#   coredns     from github.com/coredns/coredns: the release's server with
#               the plugins the cluster's Corefile uses
# Idempotent: a binary that already reports its pinned version is left alone,
# so a second run returns in well under a second.
#
# Version pins:
#   K8S_VERSION      v1.37.2  must match scripts/install-k8s.sh.
#   COREDNS_VERSION  v1.15.0  newest release `go list -m -versions
#                             github.com/coredns/coredns` printed on
#                             2026-12-02 (go 1.26.0 in its go.mod).
#
# First build on two cores, after install-k8s.sh (whose Go build cache it
# shares): kube-proxy 36 s, coredns a few minutes. Builds run under `nice`.
#
# Usage: scripts/install-k8s-extra.sh [kube-proxy|coredns ...]   (default: both)
#        env: K8S_BIN (default /opt/weft-test/bin), GO
set -eu

K8S_VERSION=v1.37.2
K8S_STAGING_VERSION=v0.37.2
COREDNS_VERSION=v1.15.0
K8S_BIN=${K8S_BIN:-/opt/weft-test/bin}

if [ -z "${GO:-}" ]; then
	if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
	else GO=$(command -v go || true); fi
fi
[ -n "$GO" ] || { echo "install-k8s-extra: no Go toolchain found (set GO=)" >&2; exit 1; }

have_kube_proxy() {
	[ -x "$K8S_BIN/kube-proxy" ] &&
		"$K8S_BIN/kube-proxy" --version 2>/dev/null | grep -qx "Kubernetes $K8S_VERSION"
}

have_coredns() {
	[ -x "$K8S_BIN/coredns" ] &&
		"$K8S_BIN/coredns" -version 2>/dev/null | grep -qx "CoreDNS-${COREDNS_VERSION#v}"
}

only=${*:-kube-proxy coredns}
missing=""
for c in $only; do
	case $c in
	kube-proxy) have_kube_proxy || missing="$missing kube-proxy" ;;
	coredns) have_coredns || missing="$missing coredns" ;;
	*) echo "install-k8s-extra: unknown component $c (kube-proxy, coredns)" >&2; exit 2 ;;
	esac
done
if [ -z "$missing" ]; then
	echo "install-k8s-extra: $only ($K8S_VERSION, coredns $COREDNS_VERSION) already in $K8S_BIN"
	exit 0
fi
echo "install-k8s-extra: to build into $K8S_BIN:$missing (with $("$GO" version))"

mkdir -p "$K8S_BIN"
tmp=$(mktemp -d "$K8S_BIN/.k8s-extra-build.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod
GONICE="nice -n 10 $GO"
wants() { case " $missing " in *" $1 "*) return 0 ;; esac; return 1; }
took() { echo $(( $(date +%s) - $1 )); }

# ---- kube-proxy: k8s.io/kubernetes as the main module, prepared as
# install-k8s.sh prepares it (its module zip has no staging/: the replace
# lines pointing there are pointed at the published k8s.io/* modules of the
# same release; vendor/ and go.work* are dropped), stamped the same way.
if wants kube-proxy; then
	echo "install-k8s-extra: fetching k8s.io/kubernetes@$K8S_VERSION"
	t0=$(date +%s)
	dir=$(cd "$tmp" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
	[ -n "$dir" ] && [ -f "$dir/go.mod" ] ||
		{ echo "install-k8s-extra: could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
	src="$tmp/kubernetes"
	cp -R "$dir" "$src"
	chmod -R u+w "$src"
	rm -rf "$src/vendor" "$src"/go.work*
	sed "s#^\([[:space:]]*\)\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/k8s\.io/[A-Za-z0-9._-]*[[:space:]]*\$#\1\2 => \2 $K8S_STAGING_VERSION#" \
		"$src/go.mod" >"$src/go.mod.new"
	mv "$src/go.mod.new" "$src/go.mod"
	if grep -q '=> \./staging' "$src/go.mod"; then
		echo "install-k8s-extra: a staging replace line was not rewritten" >&2
		exit 1
	fi
	ldflags=""
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1"
		ldflags="$ldflags -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
		ldflags="$ldflags -X $pkg.gitTreeState=clean"
	done
	echo "install-k8s-extra: building kube-proxy $K8S_VERSION"
	(cd "$src" && CGO_ENABLED=0 $GONICE build -trimpath -ldflags "$ldflags" \
		-o "$tmp/kube-proxy.bin" ./cmd/kube-proxy)
	mv -f "$tmp/kube-proxy.bin" "$K8S_BIN/kube-proxy"
	have_kube_proxy || { echo "install-k8s-extra: $K8S_BIN/kube-proxy does not report $K8S_VERSION" >&2; exit 1; }
	echo "install-k8s-extra: installed $K8S_BIN/kube-proxy in $(took "$t0")s"
fi

# ---- coredns: the release's server (coremain) with only the plugins the
# one-node cluster's Corefile uses, registered in the order the release's
# plugin.cfg gives them (the order a query meets them). The release's own
# main package compiles every plugin, the cloud providers' SDKs included:
# measured here, 9 min on two busy cores against about 5 for this one with
# an empty build cache (most of it client-go, which install-k8s.sh's build
# has cached already).
if wants coredns; then
	echo "install-k8s-extra: building CoreDNS from github.com/coredns/coredns@$COREDNS_VERSION"
	t0=$(date +%s)
	mkdir "$tmp/coredns"
	cat >"$tmp/coredns/main.go" <<'EOF'
// CoreDNS for weft's one-node cluster (scripts/k8s-one-node.sh): the
// release's server with the plugins its Corefile uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	dnsserver.Directives = []string{"ready", "health", "errors", "loadbalance", "cache", "kubernetes"}
}

func main() { coremain.Run() }
EOF
	(cd "$tmp/coredns" &&
		"$GO" mod init weft.test/coredns >/dev/null 2>&1 &&
		"$GO" get "github.com/coredns/coredns@$COREDNS_VERSION" &&
		CGO_ENABLED=0 $GONICE build -trimpath \
			-ldflags "-X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
			-o "$tmp/coredns/coredns.bin" .)
	mv -f "$tmp/coredns/coredns.bin" "$K8S_BIN/coredns"
	have_coredns || { echo "install-k8s-extra: $K8S_BIN/coredns does not report $COREDNS_VERSION" >&2; exit 1; }
	echo "install-k8s-extra: installed $K8S_BIN/coredns in $(took "$t0")s"
fi
echo "install-k8s-extra: done"
