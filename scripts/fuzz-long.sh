#!/bin/sh
# Long fuzzing runs, on demand: every libFuzzer target (tests/fuzz/fuzz_*.c)
# for MINUTES CPU-minutes each (one single-threaded process per target,
# stopped once its own CPU time reaches MINUTES, however long that takes at
# low priority on a shared machine; at most 6x MINUTES of wall time),
# FUZZ_JOBS of them at a time. Issue 15 asks for at least one CPU-hour per
# target once (the default); docs/fuzzing.md has the figures of past runs.
# Usage: scripts/fuzz-long.sh [MINUTES] [NAME...]      (default: 60, all)
# Env:   FUZZ_JOBS (default: the number of CPUs), FUZZ_NICE (default 10)
# Resumes from build/fuzz/corpus/NAME/ (what earlier runs found) plus the
# seeds; crash inputs land in build/fuzz/artifacts/NAME/. The summary
# (runs, execs/s, cov, ft per target) is printed and kept in
# build/fuzz/long-<date>.txt. Exits non-zero when any target failed: turn
# its input into a regression (docs/fuzzing.md, "A crash").
set -u
cd "$(dirname "$0")/.." || exit 2
minutes=${1:-60}
[ $# -gt 0 ] && shift
case $minutes in
''|*[!0-9]*) echo "usage: $0 [MINUTES] [NAME...]" >&2; exit 2 ;;
esac
if [ $# -eq 0 ]; then
	set -- $(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_\(.*\)\.c|\1|')
fi
make --no-print-directory fuzz-build || exit 1
jobs=${FUZZ_JOBS:-$(nproc)}
out=build/fuzz/long-$(date +%Y%m%d-%H%M%S).txt
echo "fuzz-long: $# targets x $minutes min, $jobs at a time:" \
	"about $(( ($# + jobs - 1) / jobs * minutes )) min"
{
	echo "weft fuzz-long $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null)," \
		"$minutes CPU-min per target, $jobs jobs on $(nproc) CPUs, $(clang --version | head -1)"
	FUZZ_CPU_SECONDS=$((minutes * 60)) FUZZ_SECONDS=$((minutes * 360)) FUZZ_JOBS=$jobs FUZZ_NICE=${FUZZ_NICE:-10} \
		tests/fuzz/run.sh "$@"
	echo "rc=$?"
} 2>&1 | tee "$out"
echo "fuzz-long: summary kept in $out"
grep -aq '^rc=0$' "$out"
