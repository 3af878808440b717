#!/bin/bash
# On-demand: what following a gRPC connection older than weft costs
# (issue 13, README "Connections older than weft"). A grpc-go server
# (tests/apps/gogrpc, Go 1.26, stripped, h2c) and a grpc-go client that
# opens its connection and makes 3 calls (-warm), then CALLS unary calls
# one after the other on it. Untraced (A: no weft) and traced (B: weft
# -P PORT started while the client waits, JSON to a file, so every call is
# on a connection weft took up from the middle, its blocks filled in from
# grpc-go's own fields) alternated A B A B ..., a fresh server and client
# each run; the B runs with kernel.bpf_stats_enabled=1 give the cost per
# call of go_h2_fields. Prints calls/s per run, the median ratio B/A, the
# BPF ns per probe hit, and the spans of the last B run. Figures go into
# docs/overhead.md by hand.
# Usage: scripts/bench-h2-older.sh     (as root, after make and tests/apps/build.sh)
# Env:   PAIRS (3), CALLS (3000)
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-3} CALLS=${CALLS:-3000}
SRV=build/apps/go1.26/gogrpc-stripped CLI=build/apps/go1.26/gogrpc
PORT=18991
[ -x build/weft ] && [ -x "$SRV" ] && [ -x "$CLI" ] ||
	{ echo "bench-h2-older: make and tests/apps/build.sh first" >&2; exit 1; }
work=$(mktemp -d)
trap 'exec 7>&- 2>/dev/null; kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

run() {	# $1: A or B; prints calls/s
	local srv cli w= t0 t1
	: >"$work/srv.log"
	"$SRV" serve -addr 127.0.0.1:$PORT -name older >"$work/srv.log" 2>&1 &
	srv=$!
	for _ in $(seq 50); do grep -q ready "$work/srv.log" && break; sleep 0.1; done
	rm -f "$work/go"
	mkfifo "$work/go"
	: >"$work/cli.err"
	"$CLI" call -warm 3 -reps "$CALLS" "grpc://127.0.0.1:$PORT" <"$work/go" \
		>"$work/cli.out" 2>"$work/cli.err" &
	cli=$!
	exec 7>"$work/go"
	for _ in $(seq 100); do grep -q "gogrpc: warm" "$work/cli.err" && break; sleep 0.1; done
	if [ "$1" = B ]; then
		: >"$work/weft.err"
		build/weft -P $PORT --output json >"$work/spans.json" 2>"$work/weft.err" &
		w=$!
		for _ in $(seq 100); do grep -q "weft: tracing" "$work/weft.err" && break; sleep 0.1; done
	fi
	t0=$(date +%s%N)
	echo >&7
	exec 7>&-
	wait $cli
	t1=$(date +%s%N)
	if [ -n "$w" ]; then
		bpftool prog show name go_h2_fields 2>/dev/null |
			awk '/run_time_ns/ { for (i = 1; i < NF; i++) { if ($i == "run_time_ns") t = $(i+1); if ($i == "run_cnt") c = $(i+1) } }
			     END { if (c) printf "  go_h2_fields: %d hits, %.0f ns each\n", c, t / c }' >&2
		kill -INT $w
		wait $w || true
		grep "Go servers" "$work/weft.err" | sed 's/^/  /' >&2
	fi
	kill $srv
	wait $srv 2>/dev/null || true
	echo "$CALLS $t0 $t1" | awk '{ printf "%.0f\n", $1 / (($3 - $2) / 1e9) }'
}

sysctl -qw kernel.bpf_stats_enabled=1
a=() b=()
for i in $(seq "$PAIRS"); do
	a+=("$(run A)")
	echo "A $i: ${a[-1]} calls/s"
	b+=("$(run B)")
	echo "B $i: ${b[-1]} calls/s"
done
sysctl -qw kernel.bpf_stats_enabled=0
echo "spans of the last traced run: $(grep -c '"kind":"server"' "$work/spans.json") server," \
	"$(grep -c '"kind":"client"' "$work/spans.json") client, of $CALLS calls"
python3 - "${a[*]}" "${b[*]}" <<'EOF'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
r = sorted(y / x for x, y in zip(a, b))
print("traced/untraced: median %.3f (pairs: %s)" % (statistics.median(r), " ".join("%.3f" % x for x in r)))
EOF
