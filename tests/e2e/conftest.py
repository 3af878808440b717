"""pytest fixtures for weft's end-to-end tests (run as root: weft loads eBPF).

  python3 -m pytest -v tests/e2e            # builds weft (make) and the Go apps first
  WEFT_E2E_NO_BUILD=1 ...                    # use what is already built
  WEFT_E2E_HOOKS=sock ...                    # only one hook mode
  WEFT_E2E_SERVERS=go1.26,python ...         # only some servers

Not root: every test that needs weft skips with the reason. Root, but weft
cannot load or attach: those tests fail (the BPF tests must really run).
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as L  # noqa: E402
import link_lib as LL  # noqa: E402

SERVER_KINDS = [k for k in os.environ.get("WEFT_E2E_SERVERS", "go1.19,go1.26,python").split(",") if k]
HOOK_MODES = [k for k in os.environ.get("WEFT_E2E_HOOKS", "sock,syscalls").split(",") if k]
# go1.26 runs with OTEL_SERVICE_NAME set (service.name from /proc/PID/environ);
# the others without (service.name = executable name).
SERVICE_NAMES = {"go1.26": "weft-e2e-go126"}


def _is_root():
    return os.geteuid() == 0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def weft_sanitizer_check():
    """After each test: every weft it started that has exited must show no
    sanitizer report (and, under WEFT_E2E_SANITIZED, have exited 0 when the
    harness stopped it). Wefts still running are the test's to stop; they
    are checked after a later test, once they have exited."""
    yield
    bad, running = [], []
    for w in L.Weft.started:
        if w.proc.poll() is None:
            running.append(w)
            continue
        for r in (w._r1, w._r2):
            r.join(5)
        errs = w.sanitizer_errors()
        if errs:
            bad.append("%s\n  %s" % (" ".join(w.cmd), "\n  ".join(errs)))
    L.Weft.started[:] = running
    if bad:
        pytest.fail("weft under the sanitizers:\n" + "\n".join(bad), pytrace=False)


def _run(cmd, what):
    p = subprocess.run(cmd, cwd=L.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        pytest.fail("%s failed (%s):\n%s" % (what, " ".join(cmd), p.stdout.decode()[-6000:]),
                    pytrace=False)


@pytest.fixture(scope="session")
def weft_bin():
    """build/weft, built once per session; skips when not root."""
    if not _is_root():
        pytest.skip("needs root: weft loads eBPF programs (run the suite with sudo)")
    if not os.environ.get("WEFT_E2E_NO_BUILD"):
        _run(["make", "-s"], "make")
    if not os.access(L.WEFT, os.X_OK):
        pytest.fail("%s was not built" % L.WEFT, pytrace=False)
    return L.WEFT


@pytest.fixture(scope="session")
def go_apps():
    if not os.environ.get("WEFT_E2E_NO_BUILD"):
        _run([os.path.join(L.REPO, "tests", "apps", "build.sh")], "tests/apps/build.sh")
    return L.APPS


def start_server(kind, **kw):
    kw.setdefault("service_name", SERVICE_NAMES.get(kind))
    try:
        return L.Server(kind, **kw)
    except L.Failed as e:
        err = str(e)
    pytest.fail(err, pytrace=False)


@pytest.fixture(scope="module", params=SERVER_KINDS)
def server(request, go_apps):
    """One long-lived server per kind and test module."""
    s = start_server(request.param)
    yield s
    s.stop()


@pytest.fixture
def fresh_server(request, go_apps):
    """A factory of servers owned by one test (for tests that kill them)."""
    made = []

    def make(kind, **kw):
        s = start_server(kind, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


@pytest.fixture(params=HOOK_MODES)
def hooks(request):
    return request.param


@pytest.fixture
def weft(request, weft_bin):
    """Factory: weft(ports=[...], hooks="sock", args=[...]) starts weft with
    --output json, filtered to the ports, and waits until it is tracing.
    All instances are stopped at teardown; their output is printed when the
    test failed."""
    runs = []

    def start(ports=(), hooks=None, args=(), env=None, output="json"):
        argv = []
        for p in ports:
            argv += ["-P", str(p)]
        if hooks:
            argv += ["--hooks", hooks]
        argv += list(args)
        w = L.Weft(argv, env=env, output=output)
        runs.append(w)
        err = None
        try:
            w.wait_ready()
        except L.Failed as e:
            err = str(e)
        if err:
            pytest.fail(err, pytrace=False)
        return w
    yield start
    for w in runs:
        try:
            w.stop()
        except L.Failed:
            pass
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for w in runs:
            print(w.describe())


@pytest.fixture(scope="session")
def jaeger_bin():
    if not os.access(L.JAEGER, os.X_OK):
        pytest.fail("%s missing: run scripts/install-jaeger.sh" % L.JAEGER, pytrace=False)
    return L.JAEGER


@pytest.fixture(scope="module")
def jaeger(jaeger_bin, tmp_path_factory):
    log = open(tmp_path_factory.mktemp("jaeger") / "jaeger.log", "wb")
    try:
        j = L.Jaeger(jaeger_bin, logfile=log)
    except L.Failed as e:
        log.close()
        pytest.fail("%s (log: %s)" % (e, log.name), pytrace=False)
    yield j
    j.stop()
    log.close()


def start(fn, *a, **kw):
    """fn(*a, **kw); a harness failure (L.Failed) fails the test, briefly."""
    try:
        return fn(*a, **kw)
    except L.Failed as e:
        err = str(e)
    pytest.fail(err, pytrace=False)


@pytest.fixture
def procs(request):
    """The test's services (link_lib.Procs), all stopped at the end; their
    stderr is printed when the test failed."""
    p = LL.Procs()
    yield p
    p.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("--- test services ---\n" + p.describe())
