#!/bin/sh
# Install what weft needs to build, run and test, on Debian (idempotent).
# Usage: scripts/install-deps.sh [--test]
#   --test  also install what the test suite needs (Go 1.19, Python, wrk, Jaeger)
set -eu

PKGS="clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libprotobuf-c-dev \
protobuf-c-compiler libcurl4-openssl-dev libjson-c-dev libmicrohttpd-dev \
pkg-config make gcc iproute2"
TEST_PKGS="golang-1.19-go wrk curl python3 python3-pytest procps time libclang-rt-14-dev \
strace openssl iptables"

want="$PKGS"
[ "${1:-}" = "--test" ] && want="$want $TEST_PKGS"

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
