#!/bin/sh
# Run weft's libFuzzer targets (built by `make fuzz-build` into build/fuzz/).
# Usage: tests/fuzz/run.sh NAME...     run fuzz_NAME for FUZZ_SECONDS each,
#                                      FUZZ_JOBS targets at a time
#        tests/fuzz/run.sh --deps      make sure clang can link libFuzzer
#                                      (installs libclang-rt-N-dev as root)
# Env:   FUZZ_SECONDS (default 60: wall seconds), FUZZ_CPU_SECONDS (stop
#        a target once it has had that much CPU time), FUZZ_JOBS (default 2),
#        FUZZ_NICE (niceness, default 0), FUZZ_ARGS (more libFuzzer flags)
# Each target starts from its checked-in seeds, tests/fuzz/corpus/NAME/
# (crash reproducers stay there as regression inputs, run every time), plus
# what earlier runs here found, build/fuzz/corpus/NAME/ (new inputs go
# there, never into the repo). Crash, leak, timeout and OOM inputs are
# written to build/fuzz/artifacts/NAME/; the log is build/fuzz/logs/NAME.log.
# Prints one line per target (runs, execs/s, cov, ft) and exits non-zero
# when any target failed.
set -u
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/../.." || exit 2
out=build/fuzz
CLANG=${CLANG:-clang}

if [ "${1:-}" = "--deps" ]; then
	probe=$(mktemp -d) || exit 2
	trap 'rm -rf "$probe"' EXIT
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ return 0; }\n' \
		>"$probe/p.c"
	link() { "$CLANG" -fsanitize=fuzzer,address,undefined "$probe/p.c" \
		-o "$probe/p" 2>"$probe/err"; }
	link && exit 0
	# A fresh machine has no clang at all: weft's own dependencies bring it
	# (and, with --test, libclang-rt for the suite's clang).
	if ! command -v "$CLANG" >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		echo "fuzz: $CLANG not found; installing weft's build and test dependencies"
		scripts/install-deps.sh --test || exit 1
		link && exit 0
	fi
	# Debian ships libFuzzer and the sanitizer runtimes apart from clang.
	major=$("$CLANG" -dumpversion | cut -d. -f1)
	pkg="libclang-rt-$major-dev"
	if [ "$(id -u)" != 0 ]; then
		echo "fuzz: $CLANG cannot link libFuzzer; install $pkg (as root: apt-get install $pkg)" >&2
		cat "$probe/err" >&2
		exit 1
	fi
	echo "fuzz: installing $pkg (libFuzzer for clang $major)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; }
	link || { echo "fuzz: $CLANG still cannot link libFuzzer:" >&2; cat "$probe/err" >&2; exit 1; }
	exit 0
fi

# One target: NAME. Prints its summary line; exit status is libFuzzer's.
if [ "${1:-}" = "--one" ]; then
	name=$2
	bin=$out/fuzz_$name
	seeds=tests/fuzz/corpus/$name
	work=$out/corpus/$name
	art=$out/artifacts/$name
	log=$out/logs/$name.log
	mkdir -p "$work" "$art" "$out/logs" "$seeds"
	# Per-target input size: record streams and pods need room.
	case $name in
	records|kube_pod|otlp|zipkin) max_len=16384 ;;
	*) max_len=4096 ;;
	esac
	t0=$(date +%s)
	# shellcheck disable=SC2086
	nice -n "${FUZZ_NICE:-0}" "$bin" -max_total_time="${FUZZ_SECONDS:-60}" \
		-max_len="$max_len" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" \
		${FUZZ_ARGS:-} "$work" "$seeds" >"$log" 2>&1 &
	pid=$!
	# With CONFIG_SCHED_AUTOGROUP on (Debian's default), niceness only
	# ranks a process within its session's group: a nice 19 fuzzer started
	# from its own session still takes half of a CPU from a benchmark in
	# another one. The group's own niceness is what yields to the rest.
	if [ "${FUZZ_NICE:-0}" -gt 0 ] && [ -w "/proc/$pid/autogroup" ]; then
		echo "$FUZZ_NICE" >"/proc/$pid/autogroup" 2>/dev/null || true
	fi
	# CPU time of the fuzzer (it is one single-threaded process), polled:
	# a niced run on a busy machine gets less CPU than wall time, and the
	# figures (and FUZZ_CPU_SECONDS, a budget of CPU rather than wall
	# time) must say what it really got.
	hz=$(getconf CLK_TCK)
	cpu=0 stopped=
	while kill -0 "$pid" 2>/dev/null; do
		t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) &&
			[ -n "$t" ] && cpu=$((t / hz))
		if [ -n "${FUZZ_CPU_SECONDS:-}" ] && [ "$cpu" -ge "$FUZZ_CPU_SECONDS" ] &&
			[ -z "$stopped" ]; then
			# libFuzzer prints its final stats on SIGINT and exits 72.
			kill -INT "$pid" 2>/dev/null
			stopped=1
		fi
		sleep 2
	done
	wait "$pid"
	rc=$?
	[ -n "$stopped" ] && [ $rc -eq 72 ] && rc=0
	dt=$(( $(date +%s) - t0 ))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -a -E '^#[0-9]+' "$log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
	if [ $rc -eq 0 ]; then res=ok; else res="FAILED (exit $rc)"; fi
	printf '  %-14s %-16s %5ss (cpu %5ss)  runs %-10s %6s exec/s  cov %-5s ft %-6s corp %s\n' \
		"$name" "$res" "$dt" "$cpu" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
	if [ $rc -ne 0 ]; then
		echo "---- $log (last 40 lines); inputs in $art/"
		tail -40 "$log"
		echo "----"
	fi
	exit $rc
fi

[ $# -gt 0 ] || { echo "usage: $0 NAME... | --deps" >&2; exit 2; }
for n in "$@"; do
	[ -x "$out/fuzz_$n" ] || { echo "fuzz: $out/fuzz_$n missing: make fuzz-build" >&2; exit 2; }
done
echo "fuzz: $# targets, ${FUZZ_SECONDS:-60}s each, ${FUZZ_JOBS:-2} at a time"
# xargs exits 123 when any invocation failed.
printf '%s\n' "$@" | xargs -P "${FUZZ_JOBS:-2}" -I{} "$self" --one {}
rc=$?
if [ $rc -ne 0 ]; then
	echo "fuzz: FAILED (a target crashed, leaked, timed out or broke an invariant)"
	exit 1
fi
echo "fuzz: $# targets, no crash"
