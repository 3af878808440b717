"""Issue 13, stripped Go binaries: the linking chain of test_linking.py with
goserver built with -ldflags='-s -w' (no .symtab, no DWARF), PIE and not,
by Go 1.19 and Go 1.26 (tests/apps/build.sh: goserver-stripped,
goserver-pie-stripped). weft finds net/http's and the runtime's functions in
.gopclntab instead of the symbol table (user/gopclntab.c, go_func_find).

The variants are those whose in-process links only the Go uprobes can make:
with no header (curl sends none) and with traceparent (goserver copies only
x-b3-* onto its calls), a's outgoing request carries no context, so its
client span is a child of a's server span only through the roundTrip probe
on the handler's goroutine. The trees must be exactly those the unstripped
binaries give (test_linking.chain_tree), and weft's exit line must count the
binary as probed and stripped.

    sudo python3 -m pytest -x -q tests/e2e/test_go_stripped.py -rA
"""
import os
import re
import subprocess

import pytest

import link_lib as LL
import e2e_lib as L
from conftest import start
from test_linking import run_chain

GO = ["go1.19", "go1.26"]
BINARIES = ["goserver-stripped", "goserver-pie-stripped"]
VARIANTS = ["none", "traceparent"]

# user/main.c's exit line: "...; Go binaries N (probed N, stripped N, taken off ... N)"
GO_STATS = re.compile(r"Go binaries (\d+) \(probed (\d+), stripped (\d+)[,)]")
IN_PROCESS = re.compile(r"in process (\d+)")


def stripped_server(procs, ver, binary, service):
    exe = os.path.join(L.APPS, ver, binary)
    if not os.access(exe, os.X_OK):
        raise L.Failed("%s missing: run tests/apps/build.sh" % exe)
    return procs.add(LL.Proc([exe, "-addr", "127.0.0.1:0", "-name", service],
                             service=service, what="%s(%s) %s" % (binary, ver, service)))


def has_symtab(path):
    """Whether the ELF file has a .symtab (readelf -S)."""
    out = subprocess.run(["readelf", "-SW", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout.decode()
    return ".symtab" in out


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("binary", BINARIES)
@pytest.mark.parametrize("ver", GO)
def test_chain_stripped(weft, jaeger, go_apps, procs, ver, binary, variant):
    """curl -> a -> b -> c, all one stripped Go binary."""
    exe = os.path.join(L.APPS, ver, binary)
    assert os.path.exists(exe) and not has_symtab(exe), \
        "%s must exist and be stripped (no .symtab)" % exe
    made = []

    def recording_weft(*a, **kw):
        # -v: goprobes names each Go binary it probes, with the pid
        kw["args"] = list(kw.get("args", ())) + ["-v"]
        w = weft(*a, **kw)
        made.append(w)
        return w

    a, b, c = (start(stripped_server, procs, ver, binary, n) for n in "abc")
    run_chain(recording_weft, jaeger, procs, a, b, c, variant,
              "stripped chain %s %s %s" % (ver, binary, variant))
    assert len(made) == 1
    w = made[0]
    w.stop()  # run_chain stopped it already; this waits for its output
    err = w.stderr()
    m = GO_STATS.search(err)
    assert m, "weft printed no Go binary counts at exit:\n%s" % err[-3000:]
    found, probed, stripped = (int(x) for x in m.groups())
    # a, b and c run one executable: one binary, given the linking probes
    # from .gopclntab (other Go programs on the machine count too)
    assert found >= 1 and probed >= 1 and stripped >= 1, \
        "Go binaries %d, probed %d, stripped %d (want the stripped binary probed):\n%s" \
        % (found, probed, stripped, err[-3000:])
    pids = {a.pid, b.pid, c.pid}
    attached = [int(p) for p in re.findall(r"Go binary \S+ \([^)]*\) of pid (\d+): "
                                           r"link probes attached", err)]
    assert pids & set(attached), \
        "weft -v did not say it probed the binary of pids %s:\n%s" % (sorted(pids), err[-3000:])
    missing = [ln for ln in err.splitlines() if "no in-process links" in ln and exe in ln]
    assert not missing, "\n".join(missing)
    n = IN_PROCESS.search(err)
    # a's and b's client spans, linked in process (by the probes: no header
    # carries the server span's id onto the call)
    assert n and int(n.group(1)) >= 2, "in-process links: %s\n%s" % (
        n.group(1) if n else "?", err[-3000:])
