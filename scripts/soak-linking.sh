#!/usr/bin/env bash
# Soak of same-node linking (README "Linking", rule 2) at saturation: a Go
# 1.26 net/http server on loopback, wrk sending no trace headers (so every
# server span's parent can only be wrk's client span of the same request),
# weft following the server's port. For each load shape it prints wrk's
# request count and weft's counters: spans, server spans linked on this
# node, links made by waiting for a late client record, spans held, misses
# (a client end that came after its server span went out) and ring-buffer
# drops. Zero misses and links == requests is the pass mark.
#
#   sudo scripts/soak-linking.sh                 (about 6 minutes)
#
# Env: SOAK_SHAPES  "conns:seconds[:close]" list [8:90 64:90 8:60:close 1:60]
#      SOAK_OUT     Markdown table appended to this file [docs/linking.md]; "-": none
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ "$(id -u)" = 0 ] || { echo "soak: run as root (weft loads BPF)" >&2; exit 1; }
command -v wrk >/dev/null || scripts/install-deps.sh --test >&2
make -s >&2
tests/apps/build.sh >/dev/null
SHAPES=${SOAK_SHAPES:-"8:90 64:90 8:60:close 1:60"}
OUT=${SOAK_OUT:-docs/linking.md}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

build/apps/go1.26/goserver -addr 127.0.0.1:0 -name soak >"$tmp/srv" 2>&1 &
for _ in $(seq 50); do grep -q '^ready' "$tmp/srv" && break; sleep 0.1; done
port=$(sed -n 's/^ready .*:\([0-9]*\)$/\1/p' "$tmp/srv")
[ -n "$port" ] || { echo "soak: server did not start" >&2; exit 1; }

rows=""
total_req=0 total_miss=0
for shape in $SHAPES; do
	IFS=: read -r conns secs close <<<"$shape"
	hdr=()
	[ -n "${close:-}" ] && hdr=(-H "Connection: close")
	: >"$tmp/weft"	# not by the redirection: the wait below could read the last shape's
	build/weft -P "$port" -o none >/dev/null 2>"$tmp/weft" &
	wpid=$!
	for _ in $(seq 100); do grep -q 'weft: tracing' "$tmp/weft" && break; sleep 0.1; done
	req=$(wrk -t1 -c"$conns" -d"${secs}s" "${hdr[@]}" "http://127.0.0.1:$port/hello" |
		sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
	sleep 1
	kill -INT "$wpid"
	wait "$wpid" || true
	spans=$(sed -n 's/^weft: at exit: spans \([0-9]*\).*/\1/p' "$tmp/weft")
	links=$(sed -n 's/^weft: links: on this node \([0-9]*\).*/\1/p' "$tmp/weft")
	waited=$(sed -n 's/.*linked after waiting \([0-9]*\).*/\1/p' "$tmp/weft")
	held=$(sed -n 's/.*spans held \([0-9]*\).*/\1/p' "$tmp/weft")
	miss=$(sed -n 's/.*, missed \([0-9]*\),.*/\1/p' "$tmp/weft")
	drops=$(sed -n 's/^weft: drops: ring buffer full \([0-9]*\).*/\1/p' "$tmp/weft")
	mode=keep-alive
	[ -n "${close:-}" ] && mode="new connection per request"
	row="| $conns | $mode | $secs | $req | $spans | $links | $waited | $held | $miss | $drops |"
	echo "$row"
	rows="$rows$row
"
	total_req=$((total_req + req))
	total_miss=$((total_miss + miss))
done
echo "total: $total_req requests, $total_miss misses"
if [ "$OUT" != "-" ]; then
	{
		echo
		echo "### Soak, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD)"
		echo
		echo "| wrk conns | connections | s | requests (wrk) | spans | server spans linked on this node | linked after waiting | spans held | misses | ring-buffer drops |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		printf '%s' "$rows"
		echo
		echo "Total: $total_req requests, $total_miss misses."
	} >>"$OUT"
fi
