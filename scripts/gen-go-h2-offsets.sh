#!/bin/sh
# Generate user/go_h2_offsets_table.h: where the HTTP/2 stream id of a Go
# server stream's handler sits (user/go_h2_offsets.h), measured from the
# DWARF of a probe program built here against each release of each module
# (kept in build/go-h2-offsets/ and reused by the next run):
#  - google.golang.org/grpc, every v1.MINOR.0 from GRPC_FROM on that the
#    module proxy serves (the layout of transport.Stream and ServerStream
#    changes between minors);
#  - golang.org/x/net (its http2 server), every v0.MINOR.0 from XNET_FROM on;
#  - net/http's bundled HTTP/2 server: the Go releases of
#    scripts/gen-go-offsets.sh (the toolchains at hand), the releases
#    between from their h2_bundle.go (the three fields have not moved
#    since Go 1.6).
# scripts/go-offsets -h2 reads the paths (debug/dwarf). The generated file
# is checked in; tests/unit/test_go_offsets.c checks the table against the
# DWARF of the test apps. Needs the module proxy (or a module cache that
# has the versions). About 15 minutes on 2 cores the first time.
# Usage: scripts/gen-go-h2-offsets.sh
# Env:   GO126, GO119 (toolchains), GRPC_FROM (50), XNET_FROM (10), OUT,
#        REBUILD=1 (build the probes again)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO126=${GO126:-/usr/local/go/bin/go}
GO119=${GO119:-/usr/lib/go-1.19/bin/go}
OUT=${OUT:-user/go_h2_offsets_table.h}
GRPC_FROM=${GRPC_FROM:-50}
XNET_FROM=${XNET_FROM:-10}
work=build/go-h2-offsets
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
export GOCACHE=${GOCACHE:-$root/build/gocache}
mkdir -p "$work" "$GOCACHE"
(cd scripts/go-offsets && "$GO126" build -o "$root/$work/go-offsets" .)
rows=$work/rows.txt
: >"$rows"

# probe MODULE VERSION IMPORT-AND-USE: build a program using that module
# release, print the go-offsets -h2 line of MODULE's kind.
probe() {
	mod=$1 ver=$2 kind=$3
	dir=$work/$kind-$ver
	mkdir -p "$dir"
	case $kind in
	grpc) body='import ("net"; "google.golang.org/grpc")
func main() { l, err := net.Listen("tcp", "127.0.0.1:0"); if err == nil && len(l.Addr().String()) > 999 { grpc.NewServer().Serve(l) } }' ;;
	xnet) body='import ("net"; "net/http"; "golang.org/x/net/http2")
func main() { l, err := net.Listen("tcp", "127.0.0.1:0"); if err == nil && len(l.Addr().String()) > 999 { c, _ := l.Accept(); (&http2.Server{}).ServeConn(c, &http2.ServeConnOpts{Handler: http.NotFoundHandler()}) } }' ;;
	esac
	printf 'package main\n\n%s\n' "$body" >"$dir/main.go"
	printf 'module weft.probe/h2\n\ngo 1.19\n' >"$dir/go.mod"
	# a probe built by an earlier run is reused (REBUILD=1: build again)
	if { [ -n "${REBUILD:-}" ] || [ ! -x "$dir/probe" ]; } &&
	   ! (cd "$dir" && "$GO126" get "$mod@$ver" >"$root/$dir/log" 2>&1 &&
	      "$GO126" mod tidy >>"$root/$dir/log" 2>&1 &&
	      "$GO126" build -o probe . >>"$root/$dir/log" 2>&1); then
		echo "  SKIP     $mod@$ver: $(tail -1 "$dir/log")" >&2
		return 0
	fi
	line=$("$work/go-offsets" -h2 "$dir/probe" | awk -v k="$kind" '$1 == k')
	[ -n "$line" ] || { echo "gen-go-h2-offsets: $mod@$ver: no $kind line" >&2; exit 1; }
	set -- $line
	[ "$2" = "$ver" ] || { echo "gen-go-h2-offsets: $mod@$ver built $2" >&2; exit 1; }
	echo "$kind $ver $3 | DWARF of a probe built here against $mod $ver" >>"$rows"
	echo "  DWARF    $line"
}

versions() {
	"$GO126" list -m -versions "$1" | tr ' ' '\n' | grep -E '^v[0-9]+\.[0-9]+\.0$' |
		awk -F. -v from="$2" '$2 + 0 >= from'
}

for v in $(versions google.golang.org/grpc "$GRPC_FROM"); do
	probe google.golang.org/grpc "$v" grpc
done
for v in $(versions golang.org/x/net "$XNET_FROM"); do
	probe golang.org/x/net "$v" xnet
done
for go in $GO119 $GO126; do
	[ -x "$go" ] || continue
	dir=$work/nethttp-$("$go" env GOVERSION)
	mkdir -p "$dir"
	printf 'package main\n\nimport "net/http"\n\nfunc main() { http.ListenAndServeTLS(":0", "c", "k", nil) }\n' >"$dir/main.go"
	printf 'module weft.probe/h2\n\ngo 1.19\n' >"$dir/go.mod"
	(cd "$dir" && "$go" build -o probe .)
	line=$("$work/go-offsets" -h2 "$dir/probe" | awk '$1 == "nethttp"')
	set -- $line
	echo "nethttp $2 $3 | DWARF of a probe built here with $2" >>"$rows"
	echo "  DWARF    $line"
done

# Go releases no toolchain here builds: net/http's h2_bundle.go is
# golang.org/x/net/http2 of its day, so a release between two measured
# ones gets their path when they and every x/net release measured agree.
paths=$(awk -F'|' '$1 ~ /^(nethttp|xnet) / { split($1, f, " "); print f[3] }' "$rows" | sort -u)
if [ "$(echo "$paths" | wc -l)" = 1 ]; then
	lo=$(awk '$1 == "nethttp" { split($2, v, "."); print v[2] }' "$rows" | sort -n | head -1)
	hi=$(awk '$1 == "nethttp" { split($2, v, "."); print v[2] }' "$rows" | sort -n | tail -1)
	m=$((lo + 1))
	while [ "$m" -lt "$hi" ]; do
		echo "nethttp go1.$m.0 $paths | go1.$lo and go1.$hi measured, and every golang.org/x/net release from v0.$XNET_FROM.0 (the code net/http bundles), agree" >>"$rows"
		echo "  BETWEEN  go1.$m"
		m=$((m + 1))
	done
else
	echo "gen-go-h2-offsets: net/http and x/net paths differ ($paths): the Go releases between the toolchains at hand are left out" >&2
fi

tmp=$(mktemp)
{
	echo "/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */"
	echo "/*"
	echo " * Generated by scripts/gen-go-h2-offsets.sh: do not edit."
	echo " * GO_H2_ROW(kind, release, n, o0, o1, o2, source): the path from the"
	echo " * handler's stream argument to the HTTP/2 stream id, for one minor"
	echo " * release of a module (grpc, xnet) or of Go (nethttp)."
	echo " */"
	sort -t' ' -k1,1 -k2,2V "$rows" | awk -F'|' '{
		split($1, f, " "); n = split(f[3], o, ","); src = $2; sub(/^ +/, "", src);
		printf "GO_H2_ROW(%s, \"%s\", %d, %d, %d, %d,\n\t\"%s\")\n",
			toupper(f[1]), f[2], n, o[1], (n > 1 ? o[2] : 0), (n > 2 ? o[3] : 0), src }'
} >"$tmp"
mv "$tmp" "$OUT"
echo "  GEN      $OUT ($(grep -c '^GO_H2_ROW' "$OUT") rows)"
