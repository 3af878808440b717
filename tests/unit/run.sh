#!/bin/sh
# Run unit test binaries, print their output and one total line.
passed=0 failed=0 rc=0
for t in "$@"; do
	echo "== $(basename "$t")"
	out=$("$t" 2>&1); trc=$?
	echo "$out"
	p=$(echo "$out" | sed -n 's/^summary: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$out" | sed -n 's/^summary: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then
		echo "$(basename "$t"): crashed or printed no summary (exit $trc)"
		failed=$((failed + 1)); rc=1; continue
	fi
	passed=$((passed + p)); failed=$((failed + f))
	[ "$trc" -ne 0 ] && rc=1
done
echo "unit: $passed passed, $failed failed"
exit $rc
