#!/bin/sh
# Build and install Jaeger v2 (all-in-one, `cmd/jaeger`) from its Go module,
# for weft's end-to-end export tests. Idempotent: does nothing when the binary
# at $JAEGER_BIN was already built from the pinned version.
#
# Version pin: JAEGER_VERSION is the newest version that
#   go list -m -versions github.com/jaegertracing/jaeger
# printed on 2026-11-27 (v1.76.0). The repository tags every release twice
# (v1.x and v2.x on the same commit); its go.mod has no /v2 suffix, so the Go
# module proxy only serves the v1.x tags. The `cmd/jaeger` binary at that tag
# IS Jaeger v2 (the OpenTelemetry-Collector-based all-in-one); the v1 binaries
# live under cmd/all-in-one etc. To bump: rerun the go list above, take the
# newest, and check that tests/e2e/jaeger-config.yaml still loads.
#
# The first build compiles a few hundred packages: roughly 10-20 minutes on two
# cores. The binary is cached at a fixed path, so later runs return at once.
#
# Usage: scripts/install-jaeger.sh        (env: JAEGER_BIN, GO)
set -eu

JAEGER_VERSION=v1.76.0
JAEGER_MODULE=github.com/jaegertracing/jaeger
JAEGER_BIN=${JAEGER_BIN:-/opt/weft-test/bin/jaeger}

if [ -z "${GO:-}" ]; then
	if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
	else GO=$(command -v go || true); fi
fi
[ -n "$GO" ] || { echo "install-jaeger: no Go toolchain found (set GO=)" >&2; exit 1; }

# The version is stamped into the binary at link time (as Jaeger's own
# Makefile does) and read back with `jaeger version`.
have_version() {
	[ -x "$JAEGER_BIN" ] &&
		"$JAEGER_BIN" version 2>/dev/null | grep -q "\"gitVersion\":\"$JAEGER_VERSION\""
}

if have_version; then
	echo "install-jaeger: $JAEGER_BIN is $JAEGER_VERSION already"
	exit 0
fi

bindir=$(dirname "$JAEGER_BIN")
mkdir -p "$bindir"
tmp=$(mktemp -d "$bindir/.jaeger-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "install-jaeger: building $JAEGER_MODULE/cmd/jaeger@$JAEGER_VERSION with $("$GO" version) (slow the first time)"
start=$(date +%s)
# `go install module/cmd/jaeger@version` is refused: Jaeger's go.mod has a
# replace directive. So fetch the module source through the module proxy and
# build it as the main module, where its go.mod (replace included) applies.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
src=$(cd "$tmp" && "$GO" mod download -json "$JAEGER_MODULE@$JAEGER_VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
[ -n "$src" ] && [ -d "$src/cmd/jaeger" ] ||
	{ echo "install-jaeger: could not download $JAEGER_MODULE@$JAEGER_VERSION" >&2; exit 1; }
(cd "$src" && "$GO" build -trimpath -o "$tmp/jaeger" \
	-ldflags "-X $JAEGER_MODULE/internal/version.latestVersion=$JAEGER_VERSION" ./cmd/jaeger)
mv -f "$tmp/jaeger" "$JAEGER_BIN"
echo "install-jaeger: installed $JAEGER_BIN in $(( $(date +%s) - start ))s"
have_version || { echo "install-jaeger: $JAEGER_BIN does not report $JAEGER_VERSION" >&2; exit 1; }
