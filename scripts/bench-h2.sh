#!/bin/bash
# On-demand: what weft's Go HTTP/2 probes cost (issue 13). A Go h2c
# server (tests/apps/gotls -proto h2c, /hello) saturated by h2load
# (Debian's nghttp2-client), untraced (A) and traced (B: weft -P PORT,
# JSON to /dev/null) alternated A B A B ..., a fresh server each run;
# then one traced run with kernel.bpf_stats_enabled=1 for the cost per
# call of each BPF program. Prints req/s per run, the median ratio B/A,
# and the per-program table. Figures go into docs/overhead.md by hand.
# Usage: scripts/bench-h2.sh            (as root, after make and tests/apps/build.sh)
# Env:   PAIRS (3), REQS (60000), CONNS (16), STREAMS (8: h2load -m),
#        GOAPP (build/apps/go1.26/gotls), WEFT_A (a weft binary: the A runs
#        are traced by it instead of untraced, to compare two builds)
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-3} REQS=${REQS:-60000} CONNS=${CONNS:-16} STREAMS=${STREAMS:-8}
GOAPP=${GOAPP:-build/apps/go1.26/gotls}
PORT=18990
command -v h2load >/dev/null || apt-get install -y -qq nghttp2-client >/dev/null
[ -x build/weft ] && [ -x "$GOAPP" ] || { echo "bench-h2: make and tests/apps/build.sh first" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

server() {
	"$GOAPP" serve -addr 127.0.0.1:$PORT -name h2 -proto h2c >"$work/srv.log" 2>&1 &
	srv=$!
	for _ in $(seq 50); do grep -q ready "$work/srv.log" && return; sleep 0.1; done
	echo "bench-h2: server did not start" >&2; exit 1
}
load() {
	h2load -n "$REQS" -c "$CONNS" -m "$STREAMS" "http://127.0.0.1:$PORT/hello" 2>&1 |
		awk '/^finished in/ { gsub(",", "", $4); print $4 }'
}
run() {	# $1: A or B; prints req/s
	local w= bin=build/weft
	server
	[ "$1" = A ] && [ -n "${WEFT_A:-}" ] && bin=$WEFT_A
	if [ "$1" = B ] || [ "$bin" != build/weft ]; then
		# emptied here, not by the redirection: that happens in the child,
		# maybe after the wait below read the last run's "tracing"
		: >"$work/weft.err"
		"$bin" -P $PORT -o json >/dev/null 2>"$work/weft.err" &
		w=$!
		for _ in $(seq 100); do grep -q "^weft: tracing" "$work/weft.err" && break; sleep 0.1; done
	fi
	load
	[ -n "$w" ] && { kill -INT "$w"; wait "$w" || true; }
	kill "$srv"; wait "$srv" 2>/dev/null || true
}

echo "bench-h2: $GOAPP h2c /hello, h2load -n $REQS -c $CONNS -m $STREAMS, $PAIRS pairs;" \
	"A: ${WEFT_A:-untraced}, B: build/weft"
ratios=()
for i in $(seq "$PAIRS"); do
	a=$(run A); b=$(run B)
	r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')
	ratios+=("$r")
	echo "  pair $i: A $a req/s, B $b req/s, ratio $r"
done
echo "  median ratio: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"

# per-program cost, one traced run with BPF statistics on
orig=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
server
# emptied here, not by the redirection: that happens in the child,
# maybe after the wait below read the last run's "tracing"
: >"$work/weft.err"
build/weft -P $PORT -o json >/dev/null 2>"$work/weft.err" &
w=$!
for _ in $(seq 100); do grep -q "^weft: tracing" "$work/weft.err" && break; sleep 0.1; done
load >/dev/null
echo "  BPF programs (one traced run): name, calls, ns per call, calls per request"
for fd in /proc/$w/fdinfo/*; do awk '/^prog_id:/ {print $2}' "$fd" 2>/dev/null; done | sort -un |
	while read -r id; do
		bpftool -j prog show id "$id" | python3 -c '
import json, sys
p = json.load(sys.stdin); n = p.get("run_cnt", 0)
if n: print("   ", p.get("name"), n, round(p.get("run_time_ns", 0) / n), round(n / '"$REQS"', 2))'
	done
kill -INT "$w"; wait "$w" || true
grep "go http2 servers\|^weft: at exit" "$work/weft.err" | sed 's/^/  /'
sysctl -q -w kernel.bpf_stats_enabled="$orig"
