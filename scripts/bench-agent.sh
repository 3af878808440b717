#!/bin/sh
# The agent's CPU per span on a replayed record stream (tests/tools/
# agent_replay.c): no kernel side, no load generator, the same input every
# round; only other load on the machine moves it, where `make bench`'s
# agent figure also moves with the load generator and the kernel side.
# Compare builds by alternating them. Issue 14 budgets it: <= 1 us per
# span at saturation. Run by `make bench-agent` and by `make bench`.
# Usage: scripts/bench-agent.sh [AGENT_REPLAY]   (default build/tests/agent_replay)
# Env:   BENCH_AGENT_N (requests per round, 200000), BENCH_AGENT_ROUNDS (5)
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/tests/agent_replay}
n=${BENCH_AGENT_N:-200000}
rounds=${BENCH_AGENT_ROUNDS:-5}
[ -x "$bin" ] || { echo "bench-agent: $bin not built (make build/tests/agent_replay)" >&2; exit 2; }
echo "bench-agent: $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $n requests x $rounds rounds per row;" \
	"the minimum over rounds is the figure least touched by other load"
echo
printf '| %-44s | %10s | %10s |\n' "stream (bench row it stands for)" "min ns/span" "median"
printf '|%s|%s|%s|\n' "----------------------------------------------" "------------" "------------"
row() {
	label=$1
	shift
	out=$("$bin" -n "$n" -r "$rounds" "$@") || { echo "$out" >&2; exit 1; }
	med=$(echo "$out" | sed -n 's/.*median \([0-9]*\) ns, min \([0-9]*\),.*/\1/p')
	min=$(echo "$out" | sed -n 's/.*median \([0-9]*\) ns, min \([0-9]*\),.*/\2/p')
	printf '| %-44s | %10s | %10s |\n' "$label" "$min" "$med"
}
row "server only, no context, JSON (h, j)" -e 1 -x none -o json
row "server only, no context, no output" -e 1 -x none -o none
row "both ends, no context, JSON (a, b)" -e 2 -x none -o json
row "both ends, B3 from the client, JSON (1 span)" -e 2 -x b3 -o json
row "server only, traceparent, JSON" -e 1 -x w3c -o json
