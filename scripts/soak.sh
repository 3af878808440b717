#!/usr/bin/env bash
# Soak (issue 15): weft tracing a Go 1.26 server and a Python server at a
# steady rate for a long time, exporting OTLP to a Jaeger this script starts,
# with weft's RSS and open fd count sampled every 10 s into a CSV.
#
#   sudo scripts/soak.sh                  (30 minutes)
#   sudo scripts/soak.sh --minutes 5
#
# Traffic (loopback only), RATE requests/s in all, from four kinds of sender
# (three processes each): keep-alive to Go, a new connection per request to
# Go, keep-alive to Python, a new connection per request to Python. A quarter
# of the Go requests are /call?url=<python>/hello (the Go server's own client
# request: in-process linking through the Go probes); B3 headers on every
# other request.
# weft's JSON lines are counted by process and kind, per minute (spans.csv).
# At the end it prints RSS start/min/max/end, fd count start/max/end, spans
# exported and drops, and writes them to build/soak/summary.txt.
#
# Env: RATE (requests/s, default 200), WEFT (binary, default build/weft; it is
#      copied to build/soak/ first so a rebuild during the run changes nothing),
#      JAEGER_BIN (default /opt/weft-test/bin/jaeger), SOAK_DIR (build/soak).
# Edit a copy, not this file, while a run is going: bash reads a script as
# it runs it (an edit during the first 30-minute run broke its summary).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

minutes=30
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) minutes=$2; shift 2 ;;
	--minutes=*) minutes=${1#*=}; shift ;;
	-h|--help) sed -n '2,/^set -e/{/^set -e/!p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "soak: unknown argument $1" >&2; exit 2 ;;
	esac
done
case $minutes in ''|*[!0-9]*) echo "soak: --minutes wants a whole number" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "soak: run as root (weft loads BPF)" >&2; exit 1; }

RATE=${RATE:-200}
JAEGER_BIN=${JAEGER_BIN:-/opt/weft-test/bin/jaeger}
out=${SOAK_DIR:-$root/build/soak}
mkdir -p "$out"
[ -x "$JAEGER_BIN" ] || scripts/install-jaeger.sh >&2
if [ -z "${WEFT:-}" ]; then
	make -s >&2
	WEFT=build/weft
fi
[ -x build/apps/go1.26/goserver ] || tests/apps/build.sh >&2
cp "$WEFT" "$out/weft"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

free_ports() {	# N distinct free ports (all held open while choosing)
	python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
wait_line() {	# file pattern seconds
	for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" && return 0; sleep 0.1; done
	echo "soak: no '$2' in $1 after $3 s:" >&2
	tail -20 "$1" >&2
	return 1
}

# Jaeger, as the e2e tests start it (tests/e2e/e2e_lib.py: Jaeger)
read -r otlp query grpc qgrpc health zipkin <<<"$(free_ports 6)"
WEFT_JAEGER_OTLP_HTTP=127.0.0.1:$otlp WEFT_JAEGER_QUERY_HTTP=127.0.0.1:$query \
WEFT_JAEGER_OTLP_GRPC=127.0.0.1:$grpc WEFT_JAEGER_QUERY_GRPC=127.0.0.1:$qgrpc \
WEFT_JAEGER_HEALTH=127.0.0.1:$health WEFT_JAEGER_ZIPKIN=127.0.0.1:$zipkin \
GRPC_ENABLE_TXT_SERVICE_CONFIG=false \
	"$JAEGER_BIN" --config tests/e2e/jaeger-config.yaml >"$out/jaeger.log" 2>&1 &
jpid=$!
pids+=($jpid)
for _ in $(seq 600); do
	curl -s --noproxy '*' -o /dev/null "http://127.0.0.1:$query/api/services" && break
	kill -0 "$jpid" 2>/dev/null || break
	sleep 0.2
done
curl -s --noproxy '*' -o /dev/null "http://127.0.0.1:$query/api/services" ||
	{ echo "soak: Jaeger did not start (log: $out/jaeger.log)" >&2; tail -3 "$out/jaeger.log" >&2; exit 1; }

env -u OTEL_SERVICE_NAME build/apps/go1.26/goserver -addr 127.0.0.1:0 -name soak-go >"$out/go.log" 2>&1 &
pids+=($!)
env -u OTEL_SERVICE_NAME python3 tests/apps/pyserver.py -addr 127.0.0.1:0 -name soak-py >"$out/py.log" 2>&1 &
pids+=($!)
wait_line "$out/go.log" '^ready' 20
wait_line "$out/py.log" '^ready' 20
goport=$(sed -n 's/^ready .*:\([0-9]*\)$/\1/p' "$out/go.log")
pyport=$(sed -n 's/^ready .*:\([0-9]*\)$/\1/p' "$out/py.log")

# weft's JSON lines, counted by process and kind (spans.csv: per minute)
rm -f "$out/spans.fifo"
mkfifo "$out/spans.fifo"
count_spans=$(cat <<'EOF'
import collections, json, sys, time
t0, minute, per, total = time.monotonic(), 0, collections.Counter(), collections.Counter()
with open(sys.argv[1], "w") as out:
    out.write("minute,process,kind,spans\n")
    def flush(m):
        for (exe, kind), n in sorted(per.items()):
            out.write("%d,%s,%s,%d\n" % (m, exe, kind, n))
        out.flush()
        per.clear()
    for line in sys.stdin:
        try:
            s = json.loads(line)
        except ValueError:
            s = {"kind": "not-json"}
        m = int((time.monotonic() - t0) // 60)
        if m != minute:
            flush(minute)
            minute = m
        k = ((s.get("resource") or {}).get("process.executable.name", "?"), s.get("kind", "?"))
        per[k] += 1
        total[k] += 1
    flush(minute)
    for (exe, kind), n in sorted(total.items()):
        out.write("total,%s,%s,%d\n" % (exe, kind, n))
EOF
)
python3 -c "$count_spans" "$out/spans.csv" <"$out/spans.fifo" &
pids+=($!)
"$out/weft" -P "$goport" -P "$pyport" -o json --stats 60 \
	--otlp-endpoint "http://127.0.0.1:$otlp" >"$out/spans.fifo" 2>"$out/weft.log" &
wpid=$!
pids+=($wpid)
wait_line "$out/weft.log" 'weft: tracing' 60

sample() {
	local rss fds
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$wpid/status" 2>/dev/null) || return 1
	fds=$(find "/proc/$wpid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	echo "$(date -u +%s),$(( $(date +%s) - t0 )),$rss,$fds" >>"$csv"
}
csv=$out/samples.csv
echo "unix_time,elapsed_s,rss_kib,fds" >"$csv"
t0=$(date +%s)
sample

# The load: twelve paced sender processes (a sender that falls behind catches up, so
# the total stays RATE/s); counts in load.json at the end.
python3 - "$goport" "$pyport" "$RATE" "$((minutes * 60))" >"$out/load.json" 2>"$out/load.err" <<'EOF' &
import http.client, json, multiprocessing, os, sys, time
goport, pyport, rate, secs = (int(a) for a in sys.argv[1:5])

def sender(port, keepalive, per_s, go, q):
    counts = {"sent": 0, "ok": 0, "errors": 0, "b3": 0, "to_go": 0, "to_py": 0, "go_calls": 0}
    conn, n = None, 0
    start = time.monotonic()
    while True:
        due = start + n / per_s
        now = time.monotonic()
        if now - start >= secs:
            break
        if due > now:
            time.sleep(due - now)
        n += 1
        path = "/hello"
        if go and n % 4 == 0:
            path = "/call?url=http://127.0.0.1:%d/hello" % pyport
        hdrs = {}
        if n % 2 == 0:
            tid = os.urandom(16).hex()
            hdrs = {"X-B3-TraceId": tid, "X-B3-SpanId": os.urandom(8).hex(), "X-B3-Sampled": "1"}
        if not keepalive:
            hdrs["Connection"] = "close"
        ok = False
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers=hdrs)
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
            if not keepalive or r.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
        counts["sent"] += 1
        counts["to_go" if go else "to_py"] += 1
        counts["go_calls"] += path.startswith("/call")
        counts["ok" if ok else "errors"] += 1
        counts["b3"] += 1 if hdrs.get("X-B3-TraceId") else 0
    q.put(counts)

# Three processes per kind: a keep-alive request to the Python server takes
# ~40 ms (its headers and body are two writes: Nagle waits for the delayed
# ACK), so one sender per kind could not keep up with RATE/4
kinds = ((goport, True, True), (goport, False, True),
         (pyport, True, False), (pyport, False, False))
per = rate / (3.0 * len(kinds))
q = multiprocessing.Queue()
ps = [multiprocessing.Process(target=sender, args=(port, ka, per, go, q))
      for port, ka, go in kinds for _ in range(3)]
for p in ps:
    p.start()
total = {}
for _ in ps:
    for k, v in q.get().items():
        total[k] = total.get(k, 0) + v
for p in ps:
    p.join()
total["seconds"] = secs
json.dump(total, sys.stdout)
EOF
load=$!
pids+=($load)
# Go executable churn, as on a node that keeps starting new Go programs
# (CI, `go test`): every 20 s a new copy of the Go server (a new inode, so
# a binary weft has not seen) runs for 3 s and exits. weft probes each one
# and must take the probes off again: the fd count stays flat.
churn() {
	local i=0 exe
	while kill -0 "$load" 2>/dev/null; do
		i=$((i + 1))
		exe=$out/churn/goserver-$i
		cp build/apps/go1.26/goserver "$exe"
		"$exe" -addr 127.0.0.1:0 -name churn >/dev/null 2>&1 &
		sleep 3
		kill "$!" 2>/dev/null || true
		wait "$!" 2>/dev/null || true
		rm -f "$exe"
		echo "$i" >"$out/churn.count"
		sleep 17
	done
}
rm -rf "$out/churn"
mkdir -p "$out/churn"
echo 0 >"$out/churn.count"
churn &
pids+=($!)

echo "soak: weft pid $wpid, Go :$goport, Python :$pyport, $RATE req/s for $minutes min; samples in $csv" >&2
while kill -0 "$load" 2>/dev/null; do
	sleep 10
	sample || { echo "soak: weft is gone" >&2; break; }
done
wait "$load" || true
sleep 3
sample || true
kill -TERM "$wpid"
wrc=0
wait "$wpid" || wrc=$?
sleep 2	# the counter writes its totals at weft's EOF

field() {	# regex with one group, from weft's last stats at exit
	sed -n "s/$1/\\1/p" "$out/weft.log" | tail -1
}
exported=$(field '^weft: export at exit: exported \([0-9]*\) of.*')
spans_in=$(field '^weft: export at exit: exported [0-9]* of \([0-9]*\) spans.*')
exp_dropped=$(field '^weft: export at exit: .*, dropped \([0-9]*\) (.*')
rb_full=$(field '^weft: drops: ring buffer full \([0-9]*\),.*')
spans=$(field '^weft: at exit: spans \([0-9]*\) .*')
summary=$(awk -F, -v wrc="$wrc" '
	NR == 1 { next }
	NR == 2 { rs = $3; fs = $4; rmin = $3; rmax = $3; fmax = $4 }
	{ if ($3 < rmin) rmin = $3; if ($3 > rmax) rmax = $3; if ($4 > fmax) fmax = $4
	  re = $3; fe = $4; el = $2; n++ }
	END {
		printf "samples %d over %d s (every 10 s)\n", n, el
		printf "RSS KiB: start %d, min %d, max %d, end %d\n", rs, rmin, rmax, re
		printf "fds: start %d, max %d, end %d\n", fs, fmax, fe
		printf "weft exit code %d\n", wrc
	}' "$csv")
{
	echo "soak: $(date -u '+%Y-%m-%d %H:%M UTC'), weft $WEFT ($("$out/weft" --version 2>&1 | head -1)), tree $(git rev-parse --short HEAD), $minutes min at $RATE req/s"
	echo "$summary"
	echo "load: $(cat "$out/load.json")"
	echo "Go executables started and exited (a new file each, every 20 s): $(cat "$out/churn.count")"
	echo "spans built $spans; exported $exported of $spans_in, export drops $exp_dropped; ring buffer full $rb_full"
	echo "spans by process and kind (weft's JSON; expected: goserver server = to_go," \
		"python3 server = to_py + go_calls, goserver client = go_calls):"
	grep '^total,' "$out/spans.csv" | cut -d, -f2- | sed 's/^/  /'
	grep '^weft: ' "$out/weft.log" | tail -12
} | tee "$out/summary.txt"
[ "$wrc" = 0 ]
