#!/usr/bin/env python3
"""Turns one bench.sh run (load generator output, weft's stderr counters,
values sampled from /proc and bpftool) into one JSON line on stdout.
Inputs come from the environment that scripts/bench.sh sets."""
import json
import os
import re
import sys

env = os.environ


def us(v):
    """wrk latency '216.00us' / '1.41ms' / '2.00s' -> microseconds."""
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


r = {"cfg": env["CFG"], "mode": env["MODE"], "pair": int(env["PAIR"]),
     "kind": env["KIND"], "sides": int(env["SIDES"]), "rate": float(env["RATE"])}
text = open(env["LOADOUT"]).read()
if r["kind"] == "wrk":
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    r["requests"] = int(m.group(1))
    r["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    r["p50_us"] = us(re.search(r"\s50%\s+(\S+)", text).group(1))
    r["p99_us"] = us(re.search(r"\s99%\s+(\S+)", text).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["errors"] += sum(int(x) for x in m.groups())
elif r["kind"] == "h2load":
    # "finished in 6.00s, 21000.50 req/s, ..." / "requests: N total, N started,
    # N done, N succeeded, N failed, N errored, N timeout" / "status codes: ..."
    r["rps"] = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    r["requests"] = int(m.group(1))
    r["errors"] = sum(int(x) for x in m.groups()[1:])
    m = re.search(r"status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        r["errors"] += int(m.group(1)) + int(m.group(2))
    # --log-file: start time, status, duration in microseconds, per request
    lat = sorted(float(x.split()[2]) for x in open(env["H2LOADLOG"]) if len(x.split()) >= 3)
    r["p50_us"] = lat[len(lat) // 2] if lat else float("nan")
    r["p99_us"] = lat[min(len(lat) - 1, len(lat) * 99 // 100)] if lat else float("nan")
else:
    j = json.loads(text.strip().splitlines()[-1])
    r["requests"] = j["requests"]
    r["rps"] = j["achieved_rate"]
    r["p50_us"] = j["p50_us"]
    r["p99_us"] = j["p99_us"]
    r["p999_us"] = j["p999_us"]
    r["corr_p99_us"] = j["corrected_p99_us"]
    r["errors"] = j["errors"] + j["non_2xx"]

if env.get("WEFTERR"):
    err = open(env["WEFTERR"]).read()

    def num(pat, default=0):
        m = re.search(pat, err)
        return int(m.group(1)) if m else default

    r["spans"] = num(r"at exit: spans (\d+)")
    r["spans_output"] = num(r"\(output (\d+)")
    r["records"] = num(r"records (\d+)")
    r["rb_full"] = num(r"ring buffer full (\d+)")
    r["read_fail"] = num(r"user memory unreadable (\d+)")
    r["closed_early"] = num(r"closed before response (\d+)")
    r["orphan"] = num(r"orphan responses (\d+)")
    r["not_http"] = num(r"not HTTP (\d+)")
    r["pipelined"] = num(r"too many pipelined (\d+)")
    r["incomplete"] = num(r"incomplete at exit (\d+)")
    # rule 2: server spans whose client end on this node came after them
    r["link_missed"] = num(r", missed (\d+),")
    r["link_waited"] = num(r"linked after waiting (\d+)")
    r["exported"] = num(r"export: spans in \d+, exported (\d+)", -1)
    r["export_dropped"] = sum(int(x) for x in re.findall(
        r"dropped: queue full (\d+), errors (\d+), shutdown (\d+)", err)[0]) \
        if "export:" in err else 0
    r["weft_cpu_s"] = int(env["WCPU"]) / 1e9
    r["weft_start_cpu_s"] = int(env["WCPU0"]) / 1e9
    r["weft_progs"] = int(env.get("NPROGS") or 0)
    r["weft_hwm_kb"] = int(env["WHWM"] or 0)
    progs = []
    for line in env.get("PROGS", "").splitlines():
        pid, name, ns, cnt = line.split()
        progs.append({"id": int(pid), "name": name, "run_time_ns": int(ns), "run_cnt": int(cnt)})
    r["progs"] = progs
r["foreign_progs"] = int(env.get("FOREIGN") or 0)
print(json.dumps(r))
