# shellcheck shell=bash
# Helpers shared by scripts/bench.sh and scripts/bench/anchors.sh (sourced).

# A free loopback port in 30000..59999: nothing listens on it and no
# connection uses it at either end.
free_port() {
	local p
	while :; do
		p=$((30000 + RANDOM % 30000))
		if ! ss -Htln "sport = :$p" | grep -q . && ! ss -Htan "sport = :$p or dport = :$p" | grep -q .; then
			echo "$p"
			return
		fi
	done
}

# stop_pid PID [TRIES]: SIGTERM, then SIGKILL after TRIES x 50 ms [200].
stop_pid() {
	local p=$1 n=${2:-200} i
	kill -TERM "$p" 2>/dev/null || return 0
	for i in $(seq "$n"); do
		kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
		sleep 0.05
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# Sum of on-CPU ns (user+sys) of every thread of PID, from schedstat.
cpu_ns() {
	local t s=0 v
	for t in /proc/"$1"/task/*/schedstat; do
		read -r v _ <"$t" 2>/dev/null || continue
		s=$((s + v))
	done
	echo "$s"
}
