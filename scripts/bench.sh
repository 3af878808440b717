#!/usr/bin/env bash
# Overhead benchmark of weft (docs/bench.md): Go net/http servers on loopback,
# untraced and traced runs alternating A B A B ..., medians and ratios,
# weft's own CPU/RSS/drops, per-hook BPF cost, OTLP export throughput.
# Writes a Markdown table to stdout and to docs/bench.md.
#
#   sudo scripts/bench.sh            (or: sudo make bench)
#
# Environment (defaults in brackets):
#   BENCH_PAIRS      A/B pairs per main configuration [5]
#   BENCH_PAIRS_EXTRA  pairs for the 20k req/s and OTLP configurations [2]
#   BENCH_SECONDS    seconds of load per run [6]
#   BENCH_CONNS      wrk connections at saturation [64]
#   BENCH_RATE       fixed rate of the /hello latency configuration, req/s [5000]
#   BENCH_CHAIN_RATE fixed rate of the chain latency configuration, req/s [1000]
#   BENCH_RATE_CONNS connections of the constant-rate client [16]
#   BENCH_DROP_RATE  rate of the zero-drop check, req/s [20000]
#   BENCH_SPANGEN_SECONDS  span_gen --bench duration [5]
#   BENCH_CONFIGS    which configurations to run [a b c d e f g h i j k]
#                    (i: HTTPS, Go 1.26 gotls HTTP/1.1 over TLS; wrk's OpenSSL
#                    side is not traced, so one span per request; j: as h,
#                    with nothing pinned: server, wrk and weft share every
#                    CPU, as on a busy node; k: HTTP/2, Go 1.26 gotls h2c
#                    under h2load (nghttp2-client), the Go HTTP/2 probes)
#   BENCH_OUT        Markdown output [docs/bench.md]; "-" for stdout only
#   BENCH_SERVER_CPU / BENCH_LOAD_CPU  cpu lists for taskset [0] / [1]
#   BENCH_ANCHORS    1 = also run scripts/bench/anchors.sh (OpenTelemetry Go
#                    auto-instrumentation, OBI, Beyla on the same server; builds
#                    what it can the first time) and put its table in [1]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

PAIRS=${BENCH_PAIRS:-5}
PAIRS_EXTRA=${BENCH_PAIRS_EXTRA:-2}
SECONDS_RUN=${BENCH_SECONDS:-6}
CONNS=${BENCH_CONNS:-64}
RATE=${BENCH_RATE:-5000}
CHAIN_RATE=${BENCH_CHAIN_RATE:-1000}
RATE_CONNS=${BENCH_RATE_CONNS:-16}
DROP_RATE=${BENCH_DROP_RATE:-20000}
SPANGEN_SECONDS=${BENCH_SPANGEN_SECONDS:-5}
CONFIGS=${BENCH_CONFIGS:-a b c d e f g h i j k}
OUT=${BENCH_OUT:-docs/bench.md}
SRV_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
ALL_CPUS=0-$(( $(nproc) - 1 ))

WEFT=${BENCH_WEFT:-$root/build/weft}
APPS=$root/build/apps
SPAN_GEN=$root/build/tests/span_gen
RATEBENCH=$root/build/bench/ratebench
PY=${PYTHON:-python3}

# shellcheck source=scripts/bench/lib.sh
. "$root/scripts/bench/lib.sh"

log() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (weft loads BPF programs)"
# a fresh machine: the Debian packages the tests use (wrk, time, ...)
if ! command -v wrk >/dev/null || [ ! -x /usr/bin/time ] || ! command -v bpftool >/dev/null; then
	scripts/install-deps.sh --test >&2 || die "installing dependencies failed"
fi
command -v wrk >/dev/null || die "wrk missing (Debian package wrk)"
[ -x /usr/bin/time ] || die "/usr/bin/time missing (Debian package time)"
command -v taskset >/dev/null || die "taskset missing (util-linux)"
command -v bpftool >/dev/null || die "bpftool missing"
command -v "$PY" >/dev/null || die "python3 missing"
case " $CONFIGS " in
*" k "*) command -v h2load >/dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null ||
		die "h2load missing (Debian package nghttp2-client)" ;;
esac

# --- build what we need -----------------------------------------------------
[ -x "$WEFT" ] || make -s all
weft_built=$(date -u -r "$WEFT" '+%Y-%m-%d %H:%M UTC')
[ -x "$SPAN_GEN" ] || make -s build/tests/span_gen
if [ ! -x "$APPS/go1.26/goserver" ] || [ ! -x "$APPS/go1.19/goserver" ] || [ ! -x "$APPS/go1.26/gotls" ]; then
	tests/apps/build.sh >&2
fi
GO=${GO126:-/usr/local/go/bin/go}
[ -x "$GO" ] || GO=$(command -v go) || die "no Go toolchain to build ratebench"
if [ ! -x "$RATEBENCH" ] || [ scripts/bench/ratebench/main.go -nt "$RATEBENCH" ]; then
	mkdir -p "$(dirname "$RATEBENCH")"
	(cd scripts/bench/ratebench &&
	 GOFLAGS=-mod=mod GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 \
	 GOPATH=${GOPATH:-$root/build/gopath} GOCACHE=${GOCACHE:-$root/build/gocache} \
	 "$GO" build -o "$RATEBENCH" .) || die "failed to build ratebench"
fi

work=$(mktemp -d /tmp/weft-bench.XXXXXX)
# Snapshot the binaries: others may rebuild build/ while the benchmark runs.
cp "$WEFT" "$work/weft" && WEFT=$work/weft
cp "$SPAN_GEN" "$work/span_gen" && SPAN_GEN=$work/span_gen
results=$work/results.jsonl
: > "$results"
PIDS=()
stats_orig=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
# configuration i: a self-signed certificate (wrk does not verify it)
if [[ " $CONFIGS " == *" i "* ]]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$work/srv.key" -out "$work/srv.pem" 2>/dev/null ||
		die "openssl failed to make the HTTPS configuration's certificate"
fi

cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	sysctl -q -w kernel.bpf_stats_enabled="$stats_orig" >/dev/null 2>&1 || true
	if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$work"; else log "kept $work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# start_server VERSION PORT NAME [tls|h2c]: a goserver (tls: gotls serving
# HTTP/1.1 over TLS; h2c: gotls serving cleartext HTTP/2) pinned to
# $srv_cpu; sets $srv_pid.
start_server() {
	local bin=$APPS/$1/goserver out=$work/srv.$3.out i args=(-addr "127.0.0.1:$2" -name "$3")
	if [ "${4:-}" = tls ]; then
		bin=$APPS/$1/gotls args=(serve "${args[@]}" -proto h1 -cert "$work/srv.pem" -key "$work/srv.key")
	elif [ "${4:-}" = h2c ]; then
		bin=$APPS/$1/gotls args=(serve "${args[@]}" -proto h2c)
	fi
	taskset -c "$srv_cpu" "$bin" "${args[@]}" >"$out" 2>&1 &
	srv_pid=$!
	PIDS+=("$srv_pid")
	for i in $(seq 100); do
		grep -q '^ready' "$out" 2>/dev/null && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$out" >&2
	die "goserver $1 on port $2 did not start"
}



# "prog_id name run_time_ns run_cnt" for each BPF program weft holds open.
prog_ids() {
	local fd
	for fd in /proc/"$1"/fdinfo/*; do
		awk '/^prog_id:/ {print $2}' "$fd" 2>/dev/null || true
	done | sort -un
}
prog_stats() {
	local id
	for id in $(prog_ids "$1"); do
		bpftool -j prog show id "$id" 2>/dev/null | "$PY" -c '
import json, sys
p = json.load(sys.stdin)
print(p["id"], p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))' || true
	done
}

# Tracing-type BPF programs loaded on the node that are not ours (another
# tracer running at the same time slows the "untraced" runs too).
foreign_progs() {
	local mine
	mine=" $(prog_ids "${1:-0}" | tr '\n' ' ') "
	bpftool -j prog show 2>/dev/null | "$PY" -c '
import json, sys
mine = set(sys.argv[1].split())
n = sum(1 for p in json.load(sys.stdin)
        if p.get("type") in ("tracing", "kprobe", "tracepoint", "raw_tracepoint", "perf_event")
        and str(p["id"]) not in mine)
print(n)' "$mine" 2>/dev/null || echo 0
}

# run_one CONFIG MODE(A|B|S) PAIR: one run; appends a JSON object to $results.
#   A untraced, B traced, S traced with kernel.bpf_stats_enabled=1 (per-hook cost).
run_one() {
	local cfg=$1 mode=$2 pair=$3
	local pa pb url load sides=2 weft_args=() sink_pid="" weft_pid="" i
	local srv_ver=go1.26 kind=wrk rate=0 otlp=0 wcpu0=0 foreign only_srv=0 tls="" scheme=http
	local srv_cpu=$SRV_CPU load_cpu=$LOAD_CPU
	pa=$(free_port)
	case $cfg in
	a) ;;
	b) srv_ver=go1.19 ;;
	c) sides=4 ;;
	d) kind=rate rate=$RATE ;;
	e) kind=rate rate=$CHAIN_RATE sides=4 ;;
	f) kind=rate rate=$DROP_RATE ;;
	g) otlp=1 ;;
	h) only_srv=1 sides=1 ;;
	i) tls=tls scheme=https sides=1 ;;	# wrk's TLS is OpenSSL: not traced
	j) only_srv=1 sides=1 srv_cpu=$ALL_CPUS load_cpu=$ALL_CPUS ;;
	k) tls=h2c kind=h2load ;;	# HTTP/2: the handler probes (issue 13)
	esac
	start_server "$srv_ver" "$pa" a $tls
	local pids_srv=("$srv_pid")
	url="$scheme://127.0.0.1:$pa/hello"
	weft_args=(-P "$pa")
	# h: weft follows the service alone, as the anchors are set up (one
	# target process); wrk's own client spans are not made
	[ "$only_srv" = 1 ] && weft_args+=(--pid "$srv_pid")
	if [ "$sides" = 4 ]; then
		pb=$(free_port)
		[ "$pb" != "$pa" ] || pb=$((pa + 1))
		start_server "$srv_ver" "$pb" b
		pids_srv+=("$srv_pid")
		url="http://127.0.0.1:$pa/call?url=http://127.0.0.1:$pb/hello"
		weft_args+=(-P "$pb")
	fi
	if [ "$mode" != A ]; then
		if [ "$otlp" = 1 ]; then
			local ps
			ps=$(free_port)
			"$RATEBENCH" -sink "127.0.0.1:$ps" >"$work/sink.out" 2>&1 &
			sink_pid=$!
			PIDS+=("$sink_pid")
			for i in $(seq 100); do grep -q '^ready' "$work/sink.out" && break; sleep 0.05; done
			weft_args+=(-o none --otlp-endpoint "http://127.0.0.1:$ps")
		else
			weft_args+=(-o json)
		fi
		if [ "$mode" = S ]; then
			sysctl -q -w kernel.bpf_stats_enabled=1
		fi
		# emptied here, not by the redirection: that happens in the child,
		# maybe after the wait below read the last run's "tracing"
		: >"$work/weft.err"
		"$WEFT" "${weft_args[@]}" >/dev/null 2>"$work/weft.err" &
		weft_pid=$!
		PIDS+=("$weft_pid")
		local t0=$SECONDS
		while ! grep -q '^weft: tracing' "$work/weft.err"; do
			kill -0 "$weft_pid" 2>/dev/null || { cat "$work/weft.err" >&2; die "weft failed to start"; }
			[ $((SECONDS - t0)) -lt "${BENCH_START_TIMEOUT:-120}" ] ||
				die "weft did not start tracing in ${BENCH_START_TIMEOUT:-120} s"
			sleep 0.05
		done
		wcpu0=$(cpu_ns "$weft_pid")
	fi
	foreign=$(foreign_progs "$weft_pid")

	local lout=$work/load.out
	if [ "$kind" = wrk ]; then
		taskset -c "$load_cpu" wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" --latency "$url" >"$lout" 2>&1 ||
			{ cat "$lout" >&2; die "wrk failed"; }
	elif [ "$kind" = h2load ]; then
		# nghttp2's h2load: h2c with prior knowledge, 8 streams at once per
		# connection; --log-file has each request's time (percentiles)
		rm -f "$work/h2load.log"
		taskset -c "$load_cpu" h2load -t1 -c"$CONNS" -m8 -D"$SECONDS_RUN" \
			--log-file="$work/h2load.log" "$url" >"$lout" 2>&1 ||
			{ cat "$lout" >&2; die "h2load failed"; }
	else
		taskset -c "$load_cpu" "$RATEBENCH" -url "$url" -rate "$rate" \
			-duration "${SECONDS_RUN}s" -conns "$RATE_CONNS" >"$lout" 2>&1 ||
			{ cat "$lout" >&2; die "ratebench failed"; }
	fi

	local wcpu=0 whwm=0 progs="" nprogs=0
	if [ -n "$weft_pid" ]; then
		sleep 0.3	# let weft drain what the last responses produced
		wcpu=$(( $(cpu_ns "$weft_pid") - wcpu0 ))
		nprogs=$(prog_ids "$weft_pid" | wc -l)
		whwm=$(awk '/^VmHWM:/ {print $2}' /proc/"$weft_pid"/status)
		[ "$mode" = S ] && progs=$(prog_stats "$weft_pid")
		stop_pid "$weft_pid"
		[ "$mode" = S ] && sysctl -q -w kernel.bpf_stats_enabled="$stats_orig"
		[ -n "$sink_pid" ] && stop_pid "$sink_pid"
	fi
	for i in "${pids_srv[@]}"; do stop_pid "$i"; done

	H2LOADLOG=$work/h2load.log CFG=$cfg MODE=$mode PAIR=$pair KIND=$kind SIDES=$sides RATE=$rate \
	WCPU=$wcpu WCPU0=$wcpu0 WHWM=$whwm NPROGS=$nprogs FOREIGN=$foreign PROGS="$progs" LOADOUT=$lout \
	WEFTERR=$( [ -n "$weft_pid" ] && echo "$work/weft.err" || echo "" ) \
	"$PY" scripts/bench/parse_run.py >>"$results"
	tail -n 1 "$results" | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.read())
s = "bench: %s %s%d: %.0f req/s p50 %.0f us p99 %.0f us" % (r["cfg"], r["mode"], r["pair"], r["rps"], r["p50_us"], r["p99_us"])
if r["mode"] != "A":
    s += ", spans %d, weft cpu %.2f s, hwm %d MiB, rb full %d" % (r["spans"], r["weft_cpu_s"], r["weft_hwm_kb"] // 1024, r["rb_full"])
print(s, file=sys.stderr)'
}

run_config() {
	local cfg=$1 n=$2 p
	log "configuration $cfg: $n pairs of ${SECONDS_RUN}s"
	for p in $(seq "$n"); do
		run_one "$cfg" A "$p"
		run_one "$cfg" B "$p"
	done
}

start=$(date +%s)
for cfg in $CONFIGS; do
	case $cfg in
	a|b|c|d|e|h|i|j|k) run_config "$cfg" "$PAIRS" ;;
	f|g) run_config "$cfg" "$PAIRS_EXTRA" ;;
	*) die "unknown configuration $cfg" ;;
	esac
	case $cfg in
	a|c|d|i|k) log "configuration $cfg: per-hook cost run (bpf_stats_enabled=1)"
	   run_one "$cfg" S 0 ;;
	esac
done

log "export micro-benchmark: span_gen --bench --duration $SPANGEN_SECONDS (one core)"
/usr/bin/time -f '{"time_user": %U, "time_sys": %S}' -o "$work/spangen.time" \
	taskset -c "$LOAD_CPU" "$SPAN_GEN" --bench --duration "$SPANGEN_SECONDS" >"$work/spangen.json" 2>"$work/spangen.err" ||
	{ cat "$work/spangen.err" >&2; die "span_gen --bench failed"; }

log "the agent alone: scripts/bench-agent.sh (a replayed record stream, one core)"
[ -x "$root/build/tests/agent_replay" ] || make -s build/tests/agent_replay
BENCH_AGENT_ROUNDS=${BENCH_AGENT_ROUNDS:-5} taskset -c "$LOAD_CPU" \
	scripts/bench-agent.sh "$root/build/tests/agent_replay" >"$work/agent.md" 2>"$work/agent.err" ||
	{ cat "$work/agent.err" >&2; log "bench-agent.sh failed; its table is left out"; : >"$work/agent.md"; }

: >"$work/anchors.md"
if [ "${BENCH_ANCHORS:-1}" = 1 ]; then
	log "anchors: scripts/bench/anchors.sh (the same /hello server under other tracers)"
	ANCHORS_QUIET_WAIT=${ANCHORS_QUIET_WAIT:-30} GOSERVER=$APPS/go1.26/goserver \
		scripts/bench/anchors.sh >"$work/anchors.md" 2>"$work/anchors.err" ||
		{ tail -n 5 "$work/anchors.err" >&2; log "anchors.sh failed; its table is left out"; : >"$work/anchors.md"; }
fi

elapsed=$(( $(date +%s) - start ))
env_json=$(
	"$PY" - <<EOF
import json, os, platform, subprocess
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return ""
print(json.dumps({
  "date": sh("date -u '+%Y-%m-%d %H:%M UTC'"),
  "kernel": platform.release(),
  "cpu": sh("awk -F': ' '/model name/ {print \$2; exit}' /proc/cpuinfo"),
  "ncpu": os.cpu_count(),
  "mem": sh("awk '/MemTotal/ {printf \"%.1f GiB\", \$2/1048576}' /proc/meminfo"),
  "go126": sh("$GO version $APPS/go1.26/goserver | awk '{print \$2}'"),
  "go119": sh("$GO version $APPS/go1.19/goserver | awk '{print \$2}'"),
  "wrk": sh("wrk -v 2>&1 | head -1"),
  "weft": sh("git -C '$root' describe --always --dirty 2>/dev/null"),
  "weft_built": "$weft_built",
  "pairs": $PAIRS, "pairs_extra": $PAIRS_EXTRA, "seconds": $SECONDS_RUN,
  "conns": $CONNS, "rate": $RATE, "chain_rate": $CHAIN_RATE, "rate_conns": $RATE_CONNS, "drop_rate": $DROP_RATE,
  "srv_cpu": "$SRV_CPU", "load_cpu": "$LOAD_CPU", "elapsed_s": $elapsed,
  "configs": "$CONFIGS",
}))
EOF
)
echo "$env_json" >"$work/env.json"

"$PY" scripts/bench/report.py "$work/env.json" "$results" "$work/spangen.json" "$work/spangen.time" "$work/anchors.md" "$work/agent.md" >"$work/report.md"
cat "$work/report.md"
if [ "$OUT" != - ]; then
	mkdir -p "$(dirname "$OUT")"
	cp "$work/report.md" "$OUT"
	log "wrote $OUT (${elapsed}s)"
fi
