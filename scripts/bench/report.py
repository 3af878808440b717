#!/usr/bin/env python3
"""Aggregates scripts/bench.sh's per-run JSON lines into the Markdown report.
usage: report.py env.json results.jsonl spangen.json spangen.time"""
import json
import os
import math
import statistics as st
import sys

envf, resf, sgf, sgtf = sys.argv[1:5]
anchf = sys.argv[5] if len(sys.argv) > 5 else None
agentf = sys.argv[6] if len(sys.argv) > 6 else None
agent_md = open(agentf).read().strip() if agentf and os.path.exists(agentf) else ""
# the first row of scripts/bench-agent.sh: server only, JSON (rows h, j)
agent_min = None
for line in agent_md.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 3 and cells[1].isdigit():
        agent_min = int(cells[1])
        break
env = json.load(open(envf))
runs = [json.loads(l) for l in open(resf) if l.strip()]
try:
    sg = json.loads(open(sgf).read().strip().splitlines()[-1])
except Exception:
    sg = {}
try:
    sgt = json.load(open(sgtf))
except Exception:
    sgt = {}

DESC = {
    "a": ("Go 1.26 /hello, saturated (wrk -c%d)" % env["conns"], 2),
    "b": ("Go 1.19 /hello, saturated (wrk -c%d)" % env["conns"], 2),
    "c": ("Go 1.26 chain a→b, saturated (wrk -c%d)" % env["conns"], 4),
    "d": ("Go 1.26 /hello, fixed %d req/s" % env["rate"], 2),
    "e": ("Go 1.26 chain a→b, fixed %d req/s" % env.get("chain_rate", env["rate"]), 4),
    "f": ("Go 1.26 /hello, fixed %d req/s (drop check)" % env["drop_rate"], 2),
    "g": ("Go 1.26 /hello, saturated, OTLP export (-o none)", 2),
    "h": ("Go 1.26 /hello, saturated, only the server traced (--pid)", 1),
    "i": ("Go 1.26 HTTPS /hello (gotls, HTTP/1.1 over TLS), saturated", 1),
    "j": ("Go 1.26 /hello, saturated, only the server traced (--pid), nothing pinned", 1),
    "k": ("Go 1.26 HTTP/2 /hello (gotls h2c; h2load -c%d -m8), saturated" % env["conns"], 2),
}
SATURATED = "abcghijk"
FIXED = "def"


def med(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return st.median(xs) if xs else float("nan")


def verdict(ok):
    return "**met**" if ok else "**not met**"


out = []
p = out.append
p("# weft overhead benchmark")
p("")
p("Produced by `make bench` (`scripts/bench.sh`) on %s. Rerun it to refresh this file." % env["date"])
p("")
p("Why the numbers are what they are, what was changed and what was tried: [overhead.md](overhead.md) (written by hand).")
p("")
p("| | |")
p("|---|---|")
p("| machine | %s × %s, %s RAM |" % (env["ncpu"], env["cpu"], env["mem"]))
p("| kernel | %s |" % env["kernel"])
p("| Go servers | %s and %s (`tests/apps/goserver`, `GOMAXPROCS` = 1 by affinity) |" % (env["go126"], env["go119"]))
p("| load | %s, one thread, pinned to CPU %s; servers pinned to CPU %s; weft unpinned (row j: nothing pinned, server, wrk and weft share every CPU) |" % (env["wrk"] or "wrk", env["load_cpu"], env["srv_cpu"]))
p("| weft | `%s` (binary built %s); traced runs: `weft -o json -P PORT... > /dev/null` (OTLP row: `-o none --otlp-endpoint` to a loopback sink) |" % (env["weft"] or "?", env.get("weft_built", "?")))
p("| BENCH_* | PAIRS=%d PAIRS_EXTRA=%d SECONDS=%d CONNS=%d RATE=%d CHAIN_RATE=%d RATE_CONNS=%d DROP_RATE=%d |" % (
    env["pairs"], env["pairs_extra"], env["seconds"], env["conns"], env["rate"], env.get("chain_rate", 0),
    env["rate_conns"], env["drop_rate"]))
p("| runs | untraced (A) and traced (B) alternate, A B A B …: %d pairs (%d for rows f, g) of %d s each; every run starts fresh servers; medians over pairs |" % (env["pairs"], env["pairs_extra"], env["seconds"]))
p("| wall time | %d s |" % env["elapsed_s"])
p("")

# ---- main table -------------------------------------------------------------
p("## Overhead: traced vs untraced (medians)")
p("")
p("| configuration | req/s untraced | req/s traced | ratio | p50 µs A → B | p99 µs A → B | p99 ratio | requests (traced) | spans | spans/req (expected) | completeness | weft CPU µs/span | weft CPU s / 10k spans | weft peak RSS MiB | ring-buffer drops |")
p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
summary = {}
for cfg in "abcdefghijk":
    A = [r for r in runs if r["cfg"] == cfg and r["mode"] == "A"]
    B = [r for r in runs if r["cfg"] == cfg and r["mode"] == "B"]
    if not A or not B:
        continue
    desc, sides = DESC[cfg]
    s = {}
    s["rps_a"], s["rps_b"] = med([r["rps"] for r in A]), med([r["rps"] for r in B])
    # ratio of medians and median of per-pair ratios agree closely; use per-pair.
    pairs = {r["pair"]: r for r in A}
    s["ratio"] = med([b["rps"] / pairs[b["pair"]]["rps"] for b in B if b["pair"] in pairs])
    s["p50_a"], s["p50_b"] = med([r["p50_us"] for r in A]), med([r["p50_us"] for r in B])
    s["p99_a"], s["p99_b"] = med([r["p99_us"] for r in A]), med([r["p99_us"] for r in B])
    s["p99_ratio"] = s["p99_b"] / s["p99_a"] if s["p99_a"] else float("nan")
    s["req_b"] = med([r["requests"] for r in B])
    s["spans"] = med([r["spans"] for r in B])
    s["compl"] = med([r["spans"] / (sides * r["requests"]) for r in B if r["requests"]])
    s["compl_min"] = min(r["spans"] / (sides * r["requests"]) for r in B if r["requests"])
    s["spr"] = med([r["spans"] / r["requests"] for r in B if r["requests"]])
    s["cpu_us"] = med([r["weft_cpu_s"] * 1e6 / r["spans"] for r in B if r["spans"]])
    s["hwm"] = max(r["weft_hwm_kb"] for r in B) / 1024
    s["rb_full"] = sum(r["rb_full"] for r in B)
    s["errors"] = sum(r["errors"] for r in A + B)
    s["exported"] = [r.get("exported", -1) for r in B]
    s["export_dropped"] = sum(r.get("export_dropped", 0) for r in B)
    s["anom"] = {k: sum(r.get(k, 0) for r in B) for k in
                 ("closed_early", "orphan", "not_http", "pipelined", "incomplete", "read_fail",
                  "link_missed", "link_waited")}
    s["desc"], s["sides"], s["nB"] = desc, sides, len(B)
    s["start_cpu"] = med([r.get("weft_start_cpu_s", 0) for r in B])
    s["nprogs"] = max(r.get("weft_progs", 0) for r in B)
    s["foreign"] = max(r.get("foreign_progs", 0) for r in A + B)
    summary[cfg] = s
    p("| %s) %s | %.0f | %.0f | **%.3f** | %.0f → %.0f | %.0f → %.0f | %.2f | %.0f | %.0f | %.2f (%d) | %.1f %% | %.2f | %.3f | %.1f | %d |" % (
        cfg, desc, s["rps_a"], s["rps_b"], s["ratio"], s["p50_a"], s["p50_b"],
        s["p99_a"], s["p99_b"], s["p99_ratio"], s["req_b"], s["spans"], s["spr"], sides,
        100 * s["compl"], s["cpu_us"], s["cpu_us"] * 1e4 / 1e6, s["hwm"], s["rb_full"]))
p("")
p("Latency: rows a–c, g are wrk's `--latency` percentiles at saturation (mostly queueing), "
  "row k h2load's per-request times (`--log-file`); "
  "rows d–f come from `scripts/bench/ratebench`, an open-loop constant-rate client "
  "(%d keep-alive connections) timing each request from its write to the end of its response." % env["rate_conns"])
p("Spans/req: weft sees both ends of every loopback connection, so one wrk→server request is "
  "2 spans (wrk's client span + the server span) and one chain request is 4 (wrk client, a server, "
  "a client, b server). Completeness = spans / (expected spans per request × requests the load "
  "generator completed); requests still in flight when the load stops can push it a little over 100 %.")
p("weft CPU is user+sys of every weft thread (`/proc/PID/task/*/schedstat`) over the run, "
  "divided by the spans it produced; it excludes the BPF programs, which run in the traced "
  "processes' context (see the per-hook table).")
p("weft's start-up CPU (loading, attaching; not counted above): median %s s per start." % ", ".join(
    "%s %.2f" % (c, s["start_cpu"]) for c, s in summary.items()))
p("BPF programs weft had loaded during traced runs: %s." % ", ".join(
    "%s %d" % (c, s["nprogs"]) for c, s in summary.items()))
fr = {c: s["foreign"] for c, s in summary.items() if s["foreign"]}
if fr:
    p("")
    p("**Noise warning:** other tracing BPF programs (another tracer, e.g. a concurrent test run) "
      "were loaded during some runs (max count per configuration: %s); they slow untraced and "
      "traced runs alike." % ", ".join("%s %d" % kv for kv in fr.items()))
else:
    p("No other tracing BPF programs were loaded on the node during the runs.")
p("")

# ---- budget -------------------------------------------------------------------
p("## Budget (issue 14)")
p("")
p("| budget | measured | verdict |")
p("|---|---|---|")
for cfg, want in (("a", 0.95), ("b", 0.95), ("h", 0.95), ("j", 0.92), ("c", 0.92), ("i", 0.95)):
    if cfg in summary:
        s = summary[cfg]
        p("| %s) %s: traced/untraced throughput ≥ %.2f | %.3f | %s |" % (
            cfg, s["desc"], want, s["ratio"], verdict(s["ratio"] >= want)))
for cfg in "abcghijk":
    if cfg in summary:
        s = summary[cfg]
        ok = s["compl_min"] >= 0.999
        txt = "median %.1f %%, worst run %.1f %%; ring-buffer drops %d" % (100 * s["compl"], 100 * s["compl_min"], s["rb_full"])
        p("| %s) %s: every request a span or a counted drop | %s | %s |" % (cfg, s["desc"], txt,
          verdict(ok) if ok or s["rb_full"] == 0 else "**not met** (drops counted: %d records)" % s["rb_full"]))
if "f" in summary:
    s = summary["f"]
    p("| zero drops at %d req/s | ring-buffer drops %d over %d traced runs; achieved %.0f req/s | %s |" % (
        env["drop_rate"], s["rb_full"], s["nB"], s["rps_b"], verdict(s["rb_full"] == 0)))
for cfg in "de":
    if cfg in summary:
        s = summary[cfg]
        d = s["p50_b"] - s["p50_a"]
        p("| %s) %s: p50 added ≤ 5 µs | %+.1f µs (%.1f → %.1f) | %s |" % (cfg, s["desc"], d, s["p50_a"], s["p50_b"], verdict(d <= 5)))
        p("| %s) %s: p99 ratio ≤ 1.10 | %.2f (%.0f → %.0f µs) | %s |" % (cfg, s["desc"], s["p99_ratio"], s["p99_a"], s["p99_b"], verdict(s["p99_ratio"] <= 1.10)))
sat = [c for c in "abhj" if c in summary]
if sat:
    worst = max(summary[c]["cpu_us"] for c in sat)
    p("| agent CPU ≤ 1 µs/span at saturation, JSON to /dev/null | %s | %s |" % (
        ", ".join("%s %.2f" % (c, summary[c]["cpu_us"]) for c in sat), verdict(worst <= 1)))
if agent_min is not None:
    p("| agent CPU ≤ 1 µs/span, the agent alone on a replayed /hello stream (`make bench-agent`, server only, JSON) | %.2f µs (minimum over rounds) | %s |" % (
        agent_min / 1000, verdict(agent_min <= 1000)))
if "e" in summary:
    s = summary["e"]
    p("| agent CPU ≤ 2 µs/span at %d req/s (e) | %.2f | %s |" % (env.get("chain_rate", 0), s["cpu_us"], verdict(s["cpu_us"] <= 2)))
bpf = {}
for r in runs:
    if r["mode"] == "S" and r.get("spans"):
        bpf[r["cfg"]] = sum(g["run_time_ns"] for g in r["progs"]) / r["spans"]
if bpf:
    p("| BPF ≤ 1 µs/span (`bpf_stats`, per-hook runs) | %s | %s |" % (
        ", ".join("%s %.2f µs" % (c, v / 1000) for c, v in sorted(bpf.items())),
        verdict(max(bpf.values()) <= 1000)))
if "g" in summary:
    s = summary["g"]
    p("| weft CPU ≤ 5 µs/span with OTLP export | %.2f µs/span (exported %s, export drops %d) | %s |" % (
        s["cpu_us"], "/".join(str(x) for x in s["exported"]), s["export_dropped"], verdict(s["cpu_us"] <= 5)))
if summary:
    hwm = max(s["hwm"] for s in summary.values())
    p("| weft RSS ≤ 64 MiB steady | peak (VmHWM) %.1f MiB | %s |" % (hwm, verdict(hwm <= 64)))
if sg:
    sps = sg.get("spans_per_sec", 0)
    p("| OTLP export ≥ 200k spans/s on one core | %.0f spans/s | %s |" % (sps, verdict(sps >= 200000)))
p("")

if agent_md:
    p("## The agent alone (`make bench-agent`)")
    p("")
    p("The agent's stages and the JSON writer on a replayed record stream laid out as the kernel side "
      "writes it for this /hello load (tests/tools/agent_replay.c): no kernel side, no load generator, "
      "so only other load on the machine moves it, where the agent CPU of the rows above also moves with the load generator "
      "(10-15 % from run to run).")
    p("")
    p(agent_md)
    p("")

# ---- per hook -------------------------------------------------------------------
S = [r for r in runs if r["mode"] == "S"]
if S:
    p("## Per-hook cost (`kernel.bpf_stats_enabled=1`, `bpftool prog show` run_time_ns / run_cnt)")
    p("")
    p("One extra traced run per listed configuration with BPF statistics on (they add two clock "
      "reads per invocation, so these runs are not part of the A/B medians).")
    p("")
    p("| configuration | program | invocations | ns / invocation | invocations / request | BPF ns / request | BPF ns / span |")
    p("|---|---|---|---|---|---|---|")
    for r in S:
        tot = 0
        for g in sorted(r["progs"], key=lambda g: g["name"]):
            cnt, ns = g["run_cnt"], g["run_time_ns"]
            tot += ns
            p("| %s | `%s` | %d | %.0f | %.2f | %.0f | %.0f |" % (
                r["cfg"], g["name"], cnt, ns / cnt if cnt else 0,
                cnt / r["requests"] if r["requests"] else 0,
                ns / r["requests"] if r["requests"] else 0, ns / r["spans"] if r["spans"] else 0))
        p("| %s | **all** | | | | %.0f | %.0f |" % (r["cfg"], tot / r["requests"] if r["requests"] else 0,
                                                   tot / r["spans"] if r["spans"] else 0))
    p("")

# ---- anchors --------------------------------------------------------------------
anch = open(anchf).read().strip() if anchf and os.path.exists(anchf) else ""
if anch:
    p("## Beside the anchors (`scripts/bench/anchors.sh`)")
    p("")
    p("The same Go 1.26 /hello server at saturation under the other tracers that could be built here "
      "from their Go modules; for comparison, weft's ratio in this run: %s." % ", ".join(
          "%s) %.3f" % (c, summary[c]["ratio"]) for c in "ahj" if c in summary))
    p("Each anchor follows the one server process, as configuration h does for weft.")
    p("")
    p(anch)
    p("")
    p("Figures the peers published themselves (Beyla, OBI, DeepFlow, Coroot, Pixie), not measured "
      "here and not comparable one-to-one: [anchors.md](anchors.md#published-figures-of-peers-not-measured-here).")
    p("")

# ---- export micro-benchmark --------------------------------------------------------
if sg:
    p("## Export micro-benchmark")
    p("")
    cpu = sgt.get("time_user", 0) + sgt.get("time_sys", 0)
    exp = sg.get("spans_exported", 0)
    p("`span_gen --bench`: synthetic spans → OTLP protobuf encoder → gzip → libcurl HTTP → "
      "built-in loopback sink, the whole process pinned to one core.")
    p("")
    p("| spans/s | spans exported | export requests | dropped (queue/error/shutdown) | CPU µs/span (whole process incl. sink) | peak RSS MiB |")
    p("|---|---|---|---|---|---|")
    p("| **%.0f** | %d | %d | %d/%d/%d | %.2f | %.1f |" % (
        sg.get("spans_per_sec", 0), exp, sg.get("requests", 0), sg.get("spans_dropped_queue", 0),
        sg.get("spans_dropped_error", 0), sg.get("spans_dropped_shutdown", 0),
        cpu * 1e6 / exp if exp else 0, sg.get("peak_rss_kb", 0) / 1024))
    p("")

# ---- anomalies, raw ---------------------------------------------------------------------
p("## weft's exchange counters in the traced runs (sums)")
p("")
p("| configuration | closed before response | orphan responses | not HTTP | too many pipelined | incomplete at exit | user memory unreadable | same-node links missed | linked after waiting | load-generator errors (A+B) |")
p("|---|---|---|---|---|---|---|---|---|---|")
for cfg, s in summary.items():
    a = s["anom"]
    p("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |" % (
        cfg, a["closed_early"], a["orphan"], a["not_http"], a["pipelined"], a["incomplete"],
        a["read_fail"], a["link_missed"], a["link_waited"], s["errors"]))
p("")
p("<details><summary>Every run</summary>")
p("")
p("| cfg | run | req/s | requests | p50 µs | p99 µs | spans | weft CPU s | weft start CPU s | VmHWM MiB | rb full | foreign BPF progs |")
p("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in runs:
    p("| %s | %s%d | %.0f | %d | %.0f | %.0f | %s | %s | %s | %s | %s | %d |" % (
        r["cfg"], r["mode"], r["pair"], r["rps"], r["requests"], r["p50_us"], r["p99_us"],
        r.get("spans", ""), "%.2f" % r["weft_cpu_s"] if "weft_cpu_s" in r else "",
        "%.2f" % r["weft_start_cpu_s"] if "weft_start_cpu_s" in r else "",
        "%.1f" % (r["weft_hwm_kb"] / 1024) if "weft_hwm_kb" in r else "", r.get("rb_full", ""),
        r.get("foreign_progs", 0)))
p("")
p("</details>")
print("\n".join(out))
