#!/usr/bin/env bash
# Overhead of the "anchor" tracers on weft's benchmark (docs/anchors.md):
# the Go 1.26 goserver on loopback, /hello, wrk -t1 -c64 -d6s, server pinned
# to one CPU and wrk to the other, untraced and traced runs alternating
# A B A B ..., medians and the traced/untraced ratio.
#
# Anchors:
#   otel-auto  OpenTelemetry Go auto-instrumentation (go.opentelemetry.io/auto),
#              built from its module source: eBPF objects generated with the
#              local clang (bpf2go, as its Dockerfile does), then go build ./cli
#   obi        OpenTelemetry eBPF Instrumentation (go.opentelemetry.io/obi)
#   beyla      Grafana Beyla (github.com/grafana/beyla/v2; else the v1
#              releases the proxy still serves, BEYLA_FALLBACKS)
# An anchor that cannot be fetched, built or run gets a row that says why
# (the exact error line) instead of failing the script. Mounts securityfs at
# /sys/kernel/security if it is not mounted (see below).
#
#   sudo scripts/bench/anchors.sh
#
# Environment (defaults in brackets):
#   ANCHORS_DIR        where sources, binaries and logs live [/opt/weft-test/anchors]
#   OTEL_AUTO_BIN      [$ANCHORS_DIR/bin/otel-go-instrumentation]; built if missing
#   OTEL_AUTO_VERSION  module version to build [newest that `go list -m -versions` shows]
#   OBI_BIN            [$ANCHORS_DIR/bin/obi]; built if missing
#   BEYLA_BIN          [$ANCHORS_DIR/bin/beyla]; built if missing
#   ANCHORS            which anchors [otel-auto obi beyla]
#   ANCHORS_PAIRS      A/B pairs [3]
#   ANCHORS_SECONDS    seconds of load per run [6]
#   ANCHORS_CONNS      wrk connections [64]
#   ANCHORS_EXPORT     how the anchor exports while measured: "console" (its
#                      stdout exporter into a file, so spans can be counted;
#                      the analogue of weft -o json) or "none" [console]
#   ANCHORS_QUIET_WAIT seconds to wait before each run for the machine to be
#                      quiet: no other tracing BPF programs (someone else's
#                      tracer) and CPUs at most ANCHORS_BUSY_MAX % busy; a run
#                      that starts otherwise is marked in the notes [180]
#   ANCHORS_BUSY_MAX   [15]
#   ANCHORS_OTHER_MAX  CPU seconds the rest of the node may use during a run
#                      before the run is marked suspect [1.0]
#   ANCHORS_START_TIMEOUT  seconds to wait for an anchor to attach [120]
#   ANCHORS_BUILD      0 = never build, only use existing binaries [1]
#   ANCHORS_ANCHOR_CPU taskset cpu list for the anchor process [unpinned, as
#                      weft is in scripts/bench.sh]
#   GOSERVER           [/work/main/build/apps/go1.26/goserver]
#   BENCH_SERVER_CPU / BENCH_LOAD_CPU  taskset cpu lists [0] / [1]
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)

ANCHORS_DIR=${ANCHORS_DIR:-/opt/weft-test/anchors}
OTEL_AUTO_BIN=${OTEL_AUTO_BIN:-$ANCHORS_DIR/bin/otel-go-instrumentation}
OBI_BIN=${OBI_BIN:-$ANCHORS_DIR/bin/obi}
BEYLA_BIN=${BEYLA_BIN:-$ANCHORS_DIR/bin/beyla}
ANCHORS=${ANCHORS:-otel-auto obi beyla}
PAIRS=${ANCHORS_PAIRS:-3}
SECONDS_RUN=${ANCHORS_SECONDS:-6}
CONNS=${ANCHORS_CONNS:-64}
EXPORT=${ANCHORS_EXPORT:-console}
START_TIMEOUT=${ANCHORS_START_TIMEOUT:-120}
QUIET_WAIT=${ANCHORS_QUIET_WAIT:-180}
BUSY_MAX=${ANCHORS_BUSY_MAX:-15}
OTHER_MAX=${ANCHORS_OTHER_MAX:-1.0}
BUILD=${ANCHORS_BUILD:-1}
GOSERVER=${GOSERVER:-$root/build/apps/go1.26/goserver}
SRV_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
ANCHOR_CPU=${ANCHORS_ANCHOR_CPU:-}
PIN=()
[ -n "$ANCHOR_CPU" ] && PIN=(taskset -c "$ANCHOR_CPU")

# shellcheck source=scripts/bench/lib.sh
. "$root/scripts/bench/lib.sh"

log() { echo "anchors: $*" >&2; }
die() { echo "anchors: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (the anchors load BPF programs)"
command -v wrk >/dev/null || die "wrk missing (Debian package wrk)"
command -v taskset >/dev/null || die "taskset missing (Debian package util-linux)"
command -v curl >/dev/null || die "curl missing (Debian package curl)"
[ -x /usr/bin/time ] || die "/usr/bin/time missing (Debian package time)"
[ -x "$GOSERVER" ] || die "no test server at $GOSERVER (build it with tests/apps/build.sh)"
case $EXPORT in console|none) ;; *) die "ANCHORS_EXPORT must be console or none, not '$EXPORT'" ;; esac

mkdir -p "$ANCHORS_DIR/src" "$ANCHORS_DIR/bin" "$ANCHORS_DIR/logs"
# Scratch space on tmpfs: the console exporter writes ~100 MB a traced run,
# and on disk its write-back slowed the anchor down in later runs.
scratch=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch=/dev/shm
work=$(mktemp -d "$scratch/weft-anchors.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	[ -n "${ANCHORS_KEEP:-}" ] && log "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Builds run niced, one package at a time: the machine has 2 cores.
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOWORK=off CGO_ENABLED=0
export GOFLAGS="-p=1 -mod=mod"
NICE=(nice -n 19)

# --- building ---------------------------------------------------------------
# Each build_* function returns 0 with the binary in place, or 1 with the
# exact failing line in $build_err and the version it tried in $build_ver.
build_err=""
build_ver=""

# newest_version MODULE: sets $newest to the last version that
# `go list -m -versions` prints, or fails with the go command's error line in
# $build_err.
newest=""
newest_version() {
	local out
	newest=""
	if ! out=$(cd "$work" && timeout 120 go list -m -versions "$1" 2>&1); then
		build_err=$(printf '%s\n' "$out" | tr '\n\t' '  ' | sed 's/  */ /g; s/ $//')
		return 1
	fi
	set -- $out
	shift
	if [ $# = 0 ]; then
		build_err="go list -m -versions $out: no tagged version listed"
		return 1
	fi
	eval "newest=\${$#}"
}

# newest_clang: sets $bpf_clang to a clang >= 16 for OBI's and Beyla's
# eBPF C, installing Debian's clang-19 when there is none (Debian 12's
# default clang is 14).
bpf_clang=""
newest_clang() {
	local v
	for v in 21 20 19 18 17 16; do
		command -v "clang-$v" >/dev/null && { bpf_clang=clang-$v; return 0; }
	done
	log "installing clang-19 (Debian package) for OBI's and Beyla's eBPF objects"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang-19 >&2; then
		build_err="clang >= 16 needed for OBI's and Beyla's eBPF C; apt-get install clang-19 failed"
		return 1
	fi
	bpf_clang=clang-19
}

# fetch_module MODULE VERSION DEST: the module zip's tree, writable, at DEST.
fetch_module() {
	local mod=$1 ver=$2 dest=$3 out dir
	if ! out=$(cd "$work" && timeout 600 go mod download -json "$mod@$ver" 2>&1); then
		build_err=$(printf '%s\n' "$out" | sed -n 's/^\s*"Error": "\(.*\)",\?$/\1/p' | sed 's/\\n.*//' | tail -n 1)
		[ -n "$build_err" ] || build_err=$(printf '%s\n' "$out" | tail -n 1)
		return 1
	fi
	dir=$(printf '%s\n' "$out" | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')
	[ -d "$dir" ] || { build_err="go mod download gave no directory for $mod@$ver"; return 1; }
	rm -rf "$dest"
	cp -r "$dir" "$dest"
	chmod -R u+w "$dest"
}

# The way go.opentelemetry.io/auto is built here (what its Dockerfile does,
# without Docker): the module zip has the bpf2go Go wrappers but not the
# .o files they embed, and its go.mod replaces go.opentelemetry.io/auto/sdk
# with ./sdk, a nested module that is not in the zip.
build_otel_auto() {
	local ver src out
	command -v go >/dev/null || { build_err="no go command in PATH"; return 1; }
	command -v clang >/dev/null || { build_err="clang missing (needed by bpf2go)"; return 1; }
	ver=${OTEL_AUTO_VERSION:-}
	if [ -z "$ver" ]; then
		newest_version go.opentelemetry.io/auto || return 1
		ver=$newest
	fi
	build_ver=$ver
	src=$ANCHORS_DIR/src/auto-$ver
	log "otel-auto: fetching go.opentelemetry.io/auto@$ver into $src"
	fetch_module go.opentelemetry.io/auto "$ver" "$src" || return 1
	if grep -q '^replace go.opentelemetry.io/auto/sdk => ./sdk' "$src/go.mod" && [ ! -d "$src/sdk" ]; then
		(cd "$src" && go mod edit -dropreplace go.opentelemetry.io/auto/sdk)
	fi
	log "otel-auto: go mod download"
	if ! out=$(cd "$src" && "${NICE[@]}" timeout 900 go mod download 2>&1); then
		build_err=$(printf '%s\n' "$out" | tail -n 1); return 1
	fi
	log "otel-auto: generating eBPF objects with $(clang --version | head -n 1)"
	if ! out=$(cd "$src" && BPF2GO_CFLAGS="-I$src/internal/include/libbpf -I$src/internal/include" \
		"${NICE[@]}" timeout 900 go generate ./internal/... 2>&1); then
		build_err=$(printf '%s\n' "$out" | grep -m1 -i 'error' || printf '%s\n' "$out" | tail -n 1); return 1
	fi
	log "otel-auto: go build ./cli (niced, -p=1; a few minutes)"
	if ! out=$(cd "$src" && "${NICE[@]}" timeout 1800 go build -o "$OTEL_AUTO_BIN" ./cli 2>&1); then
		build_err=$(printf '%s\n' "$out" | grep -v '^#' | head -n 1); return 1
	fi
	echo "$ver" >"$OTEL_AUTO_BIN.version"
}

# OBI and Beyla: the same path (module zip; eBPF objects generated with the
# local clang by `go generate` when the zip lacks them; go build of the
# command). MODULE is asked for its version list; when the proxy refuses
# that, each of FALLBACKS ("module@version", tried in order: exact versions
# it may still serve) is tried. Where every one is refused, the refusals
# are the row.
build_ebpf_instrument() { # MODULE CMD_DIR BIN NAME [FALLBACK...]
	local mod=$1 cmd=$2 bin=$3 name=$4 ver="" src out fb errs=""
	shift 4
	command -v go >/dev/null || { build_err="no go command in PATH"; return 1; }
	if newest_version "$mod"; then
		ver=$newest
		fetch_module "$mod" "$ver" "$ANCHORS_DIR/src/$name-$ver" || ver=""
	fi
	[ -n "$ver" ] || errs="$mod: $build_err"
	for fb in "$@"; do
		[ -z "$ver" ] || break
		log "$name: trying $fb"
		if fetch_module "${fb%@*}" "${fb#*@}" "$ANCHORS_DIR/src/$name-${fb#*@}"; then
			mod=${fb%@*} ver=${fb#*@}
		else
			errs="$errs; $fb: $build_err"
		fi
	done
	if [ -z "$ver" ]; then
		build_ver="(none served)"
		build_err=$errs
		return 1
	fi
	build_ver="$mod $ver"
	src=$ANCHORS_DIR/src/$name-$ver
	log "$name: $mod@$ver in $src"
	if ! out=$(cd "$src" && "${NICE[@]}" timeout 900 go mod download 2>&1); then
		build_err=$(printf '%s\n' "$out" | tail -n 1); return 1
	fi
	# Beyla v1.9's zip carries its eBPF objects as Git LFS pointers (text
	# files named .o): objects count as present only when they are ELF.
	local obj
	obj=$(find "$src" -name '*_bpfel*.o' -print -quit)
	if [ -z "$obj" ] || [ "$(head -c 4 "$obj" | od -An -c | tr -d ' ')" != '177ELF' ]; then
		# OBI's go:generate lines run $BPF2GO with $BPF_CLANG and
		# $BPF_CFLAGS (its Makefile sets them; its tools module is not in
		# the zip): bpf2go is built from the cilium/ebpf version its go.mod
		# names, and its C needs clang >= 16 (C23 attributes; Debian 12's
		# clang 14 also runs out of BPF stack on it): Debian's clang-19.
		local gen=./...
		[ -d "$src/pkg" ] && gen=./pkg/...
		newest_clang || return 1
		if ! out=$(cd "$src" && "${NICE[@]}" go build -mod=mod -o "$ANCHORS_DIR/bin/bpf2go-$name" \
			github.com/cilium/ebpf/cmd/bpf2go 2>&1); then
			build_err="bpf2go: $(printf '%s\n' "$out" | tail -n 1)"; return 1
		fi
		log "$name: go generate $gen (eBPF objects with $bpf_clang)"
		if ! out=$(cd "$src" && BPF2GO="$ANCHORS_DIR/bin/bpf2go-$name" BPF_CLANG=$bpf_clang GOFLAGS=-mod=mod \
			BPF_CFLAGS="-std=gnu17 -O2 -g -Wall" "${NICE[@]}" timeout 1800 go generate "$gen" 2>&1); then
			build_err=$(printf '%s\n' "$out" | grep -m1 -i 'error' || printf '%s\n' "$out" | tail -n 1); return 1
		fi
	fi
	# -mod=mod: Beyla v1.9's zip has a vendor/modules.txt but no vendored
	# packages, which makes go default to -mod=vendor and fail.
	log "$name: go build ./$cmd (niced; a few minutes)"
	if ! out=$(cd "$src" && "${NICE[@]}" timeout 1800 go build -mod=mod -o "$bin" "./$cmd" 2>&1); then
		build_err=$(printf '%s\n' "$out" | grep -v '^#' | head -n 1); return 1
	fi
	echo "$build_ver" >"$bin.version"
}

# --- running ----------------------------------------------------------------


srv_pid=""
start_server() { # PORT
	local out=$work/srv.out i
	taskset -c "$SRV_CPU" "$GOSERVER" -addr "127.0.0.1:$1" -name anchors >"$out" 2>&1 &
	srv_pid=$!
	PIDS+=("$srv_pid")
	for i in $(seq 100); do
		grep -q '^ready' "$out" 2>/dev/null && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$out" >&2
	die "goserver on port $1 did not start"
}

# start_anchor NAME PORT EXPORTER OUT ERR: starts the anchor on the server
# ($srv_pid, PORT); waits until it says it is attached. Sets $anchor_pid, or
# returns 1 with the exact error line in $run_err.
anchor_pid=""
run_err=""
start_anchor() {
	local name=$1 port=$2 exporter=$3 out=$4 err=$5 ready t0
	case $name in
	otel-auto)
		OTEL_TRACES_EXPORTER=$exporter OTEL_SERVICE_NAME=goserver OTEL_LOG_LEVEL=info \
			"${PIN[@]}" "$OTEL_AUTO_BIN" -target-pid "$srv_pid" >"$out" 2>"$err" &
		ready='instrumentation loaded successfully'
		;;
	obi)
		[ "$exporter" = console ] && exporter=json || exporter=disabled
		OTEL_EBPF_OPEN_PORT=$port OTEL_EBPF_TRACE_PRINTER=$exporter OTEL_SERVICE_NAME=goserver \
			"${PIN[@]}" "$OBI_BIN" >"$out" 2>"$err" &
		ready='instrumenting process'
		;;
	beyla)
		[ "$exporter" = console ] && exporter=json || exporter=disabled
		BEYLA_OPEN_PORT=$port BEYLA_TRACE_PRINTER=$exporter OTEL_SERVICE_NAME=goserver \
			"${PIN[@]}" "$BEYLA_BIN" >"$out" 2>"$err" &
		ready='instrumenting process'
		;;
	esac
	anchor_pid=$!
	PIDS+=("$anchor_pid")
	t0=$SECONDS
	while ! grep -q "$ready" "$err" "$out" 2>/dev/null; do
		if ! kill -0 "$anchor_pid" 2>/dev/null; then
			wait "$anchor_pid" 2>/dev/null || true
			run_err=$(error_line "$err" "$out")
			[ -n "$run_err" ] || run_err="$name exited before attaching (no error line)"
			anchor_pid=""
			return 1
		fi
		if [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ]; then
			run_err="not attached after ${START_TIMEOUT}s; last error: $(error_line "$err" "$out")"
			stop_pid "$anchor_pid" 300; anchor_pid=""
			return 1
		fi
		sleep 0.1
	done
}

# The most telling error line of an anchor's logs (JSON slog or text), cut short.
error_line() {
	local l
	l=$(cat "$@" 2>/dev/null | grep -E '"level":"ERROR"|level=ERROR|level=error|[Ee]rror' | tail -n 1 || true)
	if printf '%s' "$l" | grep -q '"error":"'; then
		l=$(printf '%s' "$l" | sed 's/.*"error":"\([^"]*\)".*/\1/')
	fi
	printf '%s' "$l" | tr '|' '/' | cut -c1-300
}


# Busy CPU time of the whole node so far, ns (user+nice+sys+irq+softirq).
node_busy_ns() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / {printf "%.0f", ($2+$3+$4+$7+$8) * 1e9 / hz}' /proc/stat
}

# Tracing-type BPF programs loaded on the node (another tracer running at the
# same time, e.g. someone else's weft, slows the untraced runs too).
tracing_progs() {
	command -v bpftool >/dev/null || { echo "?"; return; }
	bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)
          if p.get("type") in ("tracing", "kprobe", "tracepoint", "raw_tracepoint", "perf_event")))' 2>/dev/null || echo "?"
}

# Percent of both CPUs busy over one second, from /proc/stat.
cpu_busy() {
	local a b
	a=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " ");
		busy = y[1] - x[1]; idle = y[2] - x[2];
		printf "%.0f", (busy + idle) ? 100 * busy / (busy + idle) : 0}'
}

# wait_quiet: waits up to QUIET_WAIT s for the machine to be quiet: no
# tracing BPF program loaded (someone else's tracer) and at most BUSY_MAX %
# of the CPUs busy (someone else's load). Prints "0" when quiet, else what it
# saw when it gave up ("N progs" / "N% busy").
wait_quiet() {
	local n b t0=$SECONDS said=0
	while :; do
		n=$(tracing_progs)
		b=$(cpu_busy)
		if { [ "$n" = 0 ] || [ "$n" = "?" ]; } && [ "$b" -le "$BUSY_MAX" ]; then
			echo 0; return
		fi
		if [ $((SECONDS - t0)) -ge "$QUIET_WAIT" ]; then
			[ "$n" != 0 ] && [ "$n" != "?" ] && echo "${n}-BPF-progs" || echo "${b}%-CPU-busy"
			return
		fi
		[ "$said" = 1 ] || { log "machine not quiet ($n tracing BPF programs loaded, ${b}% CPU busy); waiting up to ${QUIET_WAIT}s"; said=1; }
		sleep 2
	done
}

# Spans an anchor printed to OUT that belong to /hello.
count_spans() {
	grep -c '/hello' "$1" 2>/dev/null || true
}

# run_one NAME MODE(A|B): one load run; prints "rps requests spans
# anchor_cpu_s other_tracing_progs wrk_errors other_cpu_s" ("-" where they do
# not apply).
run_one() {
	local name=$1 mode=$2 port lout=$work/wrk.out spans=- rps reqs cpu0=0 cpu=- progs
	progs=$(wait_quiet)
	port=$(free_port)
	start_server "$port"
	if [ "$mode" = B ]; then
		if ! start_anchor "$name" "$port" "$EXPORT" "$work/anchor.out" "$work/anchor.err"; then
			printf '%s\n' "$run_err" >"$work/run_err"	# run_one runs in a subshell
			stop_pid "$srv_pid" 300
			return 1
		fi
		cpu0=$(cpu_ns "$anchor_pid")
	fi
	local node0 srv0 node1 srv1 wrk_s other
	node0=$(node_busy_ns); srv0=$(cpu_ns "$srv_pid")
	taskset -c "$LOAD_CPU" /usr/bin/time -f '%U %S' -o "$work/wrk.time" \
		wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" "http://127.0.0.1:$port/hello" >"$lout" 2>&1 ||
		{ cat "$lout" >&2; die "wrk failed"; }
	node1=$(node_busy_ns); srv1=$(cpu_ns "$srv_pid")
	if [ "$mode" = B ]; then
		cpu=$(awk -v a="$(cpu_ns "$anchor_pid")" -v b="$cpu0" 'BEGIN {printf "%.2f", (a - b) / 1e9}')
		sleep 1	# let the anchor flush what the last responses produced
		stop_pid "$anchor_pid" 300
		[ "$EXPORT" = console ] && spans=$(count_spans "$work/anchor.out")
		cp "$work/anchor.err" "$ANCHORS_DIR/logs/$name.last.err"
		rm -f "$work/anchor.out"
		anchor_pid=""
	fi
	stop_pid "$srv_pid" 300
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$lout")
	reqs=$(awk '/requests in/ {print $1}' "$lout")
	# wrk's own error lines (Socket errors, Non-2xx), one word each
	# CPU the rest of the node used during the load: node busy time less the
	# server's, wrk's and the anchor's (softirq work of loopback traffic that
	# no process is charged for stays in it: a fraction of a second here).
	wrk_s=$(awk '{print $1 + $2; exit}' "$work/wrk.time" 2>/dev/null || echo 0)
	other=$(awk -v n0="$node0" -v n1="$node1" -v s0="$srv0" -v s1="$srv1" -v w="$wrk_s" -v c="$cpu" \
		'BEGIN {if (c == "-") c = 0; printf "%.2f", (n1 - n0 - (s1 - s0)) / 1e9 - w - c}')
	local werr=-
	if grep -qE 'Socket errors|Non-2xx' "$lout"; then
		werr=$(grep -E 'Socket errors|Non-2xx' "$lout" | tr -d ' ,:' | tr '\n' '/')
	fi
	echo "$rps $reqs $spans $cpu $progs $werr $other"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# verify NAME: a short traced run with the console exporter; 20 requests must
# give spans for /hello. Sets $verify_note; returns 1 with $run_err on failure.
verify_note=""
verify() {
	local name=$1 port n i
	port=$(free_port)
	start_server "$port"
	if ! start_anchor "$name" "$port" console "$work/verify.out" "$work/verify.err"; then
		stop_pid "$srv_pid" 300; return 1
	fi
	for i in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$port/hello"; done
	sleep 7	# batch span processors flush every few seconds
	stop_pid "$anchor_pid" 300; anchor_pid=""
	stop_pid "$srv_pid" 300
	n=$(count_spans "$work/verify.out")
	cp "$work/verify.out" "$ANCHORS_DIR/logs/$name.verify.out"
	cp "$work/verify.err" "$ANCHORS_DIR/logs/$name.verify.err"
	verify_note="spans verified: $n for 20 curl requests"
	[ "${n:-0}" -gt 0 ] || { run_err="no span for /hello after 20 requests (see $ANCHORS_DIR/logs/$name.verify.*)"; return 1; }
}

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 |"); }

measure() { # NAME VERSION
	local name=$1 ver=$2 p a b As=() Bs=() Cs=() Os=() runs="" spans_note="" bspans=0 breqs=0 ma mb ratio dirty=0
	log "$name $ver: verifying spans"
	if ! verify "$name"; then
		row "$name" "$ver" - - - "does not run: \`$run_err\`"
		return
	fi
	log "$name: $PAIRS pairs of ${SECONDS_RUN}s (A untraced, B traced, export $EXPORT)"
	for p in $(seq "$PAIRS"); do
		a=$(run_one "$name" A) || die "untraced run failed"
		if ! b=$(run_one "$name" B); then
			run_err=$(cat "$work/run_err" 2>/dev/null || echo "traced run failed")
			row "$name" "$ver" - - - "traced run $p failed: \`$run_err\`"
			return
		fi
		set -- $a; As+=("$1")
		local amark="" bmark=""
		[ "$5" != 0 ] && { amark=" [not quiet: $5]"; dirty=$((dirty + 1)); }
		[ "$6" != - ] && amark="$amark [wrk: $6]"
		awk -v o="$7" -v m="$OTHER_MAX" 'BEGIN {exit !(o > m)}' && { amark="$amark [others used ${7} s CPU]"; dirty=$((dirty + 1)); }
		Os+=("$7")
		log "$name A$p: $1 req/s$amark"
		set -- $b; Bs+=("$1"); Cs+=("$4")
		[ "$5" != 0 ] && { bmark=" [not quiet: $5]"; dirty=$((dirty + 1)); }
		[ "$6" != - ] && bmark="$bmark [wrk: $6]"
		awk -v o="$7" -v m="$OTHER_MAX" 'BEGIN {exit !(o > m)}' && { bmark="$bmark [others used ${7} s CPU]"; dirty=$((dirty + 1)); }
		Os+=("$7")
		log "$name B$p: $1 req/s, $2 requests, spans ${3}, $name CPU ${4} s during the ${SECONDS_RUN} s load$bmark"
		if [ "$3" != - ]; then
			bspans=$((bspans + $3)); breqs=$((breqs + $2))
			runs="$runs A$p ${As[-1]}$amark / B$p ${Bs[-1]}$bmark (spans $3 for $2 requests);"
		else
			runs="$runs A$p ${As[-1]}$amark / B$p ${Bs[-1]}$bmark;"
		fi
	done
	ma=$(printf '%s\n' "${As[@]}" | median)
	mb=$(printf '%s\n' "${Bs[@]}" | median)
	ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", b / a}')
	[ "$EXPORT" = console ] && spans_note="; spans exported / requests completed, all traced runs: $bspans / $breqs ($(awk -v a="$bspans" -v b="$breqs" 'BEGIN {printf "%.0f", b ? 100 * a / b : 0}') %)"
	spans_note="$spans_note; $name CPU during load (median) $(printf '%s\n' "${Cs[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') s per ${SECONDS_RUN} s"
	[ -n "$ANCHOR_CPU" ] && spans_note="$spans_note; $name pinned to CPU $ANCHOR_CPU"
	spans_note="$spans_note; CPU used by the rest of the node during a run (median) $(printf '%s\n' "${Os[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') s"
	if [ "$dirty" = 0 ]; then
		spans_note="$spans_note; every run started on a quiet machine (no other tracing BPF program, CPUs <= ${BUSY_MAX} % busy) and the rest of the node used <= ${OTHER_MAX} s CPU during it"
	else
		spans_note="$spans_note; **$dirty runs started while another tool's tracer or load was running (marked): numbers suspect**"
	fi
	row "$name" "$ver" "$ma" "$mb" "$ratio" "export: $EXPORT; $verify_note$spans_note; per run:$runs"
}

# --- securityfs -------------------------------------------------------------
# otel-auto decides whether it may use bpf_probe_write_user (HTTP header
# injection in its net/http client probe) by reading
# /sys/kernel/security/lockdown; with securityfs unmounted it assumes no
# lockdown and fails to load ("cannot use helper bpf_probe_write_user").
# Mounted, it reads "[integrity]" and loads its variant without injection.
if [ ! -e /sys/kernel/security/lockdown ] && grep -qw securityfs /proc/filesystems; then
	mount -t securityfs securityfs /sys/kernel/security 2>/dev/null &&
		log "mounted securityfs at /sys/kernel/security (lockdown: $(cat /sys/kernel/security/lockdown 2>/dev/null))" || true
fi

# --- main -------------------------------------------------------------------
date_s=$(date -u '+%Y-%m-%d %H:%M UTC')
for name in $ANCHORS; do
	build_err="" build_ver="" run_err=""
	case $name in
	otel-auto) bin=$OTEL_AUTO_BIN ;;
	obi) bin=$OBI_BIN ;;
	beyla) bin=$BEYLA_BIN ;;
	*) die "unknown anchor '$name' (known: otel-auto obi beyla)" ;;
	esac
	if [ ! -x "$bin" ]; then
		if [ "$BUILD" = 0 ]; then
			row "$name" - - - - "no binary at $bin and ANCHORS_BUILD=0"
			continue
		fi
		ok=0
		case $name in
		otel-auto) build_otel_auto && ok=1 ;;
		# The proxy lists no OBI version, but serves some exact ones
		# (2026-12-04: v0.8.0 and v0.5.0; v0.9.0 has an .info, no .mod)
		obi) build_ebpf_instrument go.opentelemetry.io/obi cmd/obi "$OBI_BIN" obi \
			${OBI_FALLBACKS:-go.opentelemetry.io/obi@v0.8.0 go.opentelemetry.io/obi@v0.5.0 \
			github.com/open-telemetry/opentelemetry-ebpf-instrumentation@v0.1.0} && ok=1 ;;
		# Beyla 2 is not served; of Beyla 1, the proxy serves some exact
		# releases (v1.9.9 on 2026-12-04; v1.8.0: its zip carries the eBPF
		# objects, no replace)
		beyla) build_ebpf_instrument github.com/grafana/beyla/v2 cmd/beyla "$BEYLA_BIN" beyla \
			${BEYLA_FALLBACKS:-github.com/grafana/beyla@v1.9.9 github.com/grafana/beyla@v1.9.0 github.com/grafana/beyla@v1.8.0} && ok=1 ;;
		esac
		if [ "$ok" = 0 ]; then
			log "$name: not built: $build_err"
			row "$name" "${build_ver:--}" - - - "not built: \`$(printf '%s' "$build_err" | tr '|' '/')\`"
			continue
		fi
	fi
	ver=$(cat "$bin.version" 2>/dev/null || echo "?")
	measure "$name" "$ver"
done

cat <<EOF
Anchors on weft's benchmark, $date_s, kernel $(uname -r), $(nproc) CPUs,
goserver $(go version "$GOSERVER" 2>/dev/null | awk '{print $2}') pinned to CPU $SRV_CPU, \`wrk -t1 -c$CONNS -d${SECONDS_RUN}s\` on CPU $LOAD_CPU,
$PAIRS A/B pairs, medians; ratio = traced / untraced. Timings are noisy when the machine is shared.

| anchor | version | req/s untraced | req/s traced | ratio | notes |
|---|---|---|---|---|---|
EOF
printf '%s\n' "${ROWS[@]}"
