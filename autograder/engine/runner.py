"""The hidden-suite runs: pytest in the grader process, student code behind the boundary.

The hidden suites and the reference solutions are imported here, in a grader
process, never in a worker.  pytest is pinned to the kit (rootdir, ini file,
conftest cut-off at the suites folder) and collects only the suite files named,
so nothing beside a submission (a conftest.py, a pytest.ini) can take part.
A grader configures pytest and collects the suites once (:class:`SuiteSession`), then runs
them for one student after another.
"""
from __future__ import annotations

import contextlib
import copy
import os
import sys
import traceback
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from _pytest.config import (ConftestImportFailure, ExitCode, PluginImportFailure, UsageError, _prepareconfig,
                            print_conftest_import_error, print_plugin_import_error, print_usage_error)
from _pytest.reports import TestReport
from _pytest.runner import CallInfo
from _pytest.skipping import evaluate_skip_marks

from autograder.catalogue import OMITTED
from autograder.engine import protocol
from autograder.engine.disclosure import student_text
from autograder.engine.boundary import CallFailed, Namespace, Session


@dataclass
class Row:
    """One test on one device while it runs; after :func:`merge_devices`, one test on every device."""
    nodeid: str
    test: str
    day: str
    level: str
    exercise: str
    device: str
    points: float
    status: str           # passed, failed, not attempted, missing, timed out, crashed, not run, error
    message: str
    fingerprint: str | None = None    # the known mistake that explains a failure (autograder/fingerprints)
    key: str = ""                     # the test without its device: rows of one key merge into one
    devices: list[str] = field(default_factory=list)      # devices it ran on (merged rows)
    failed_on: list[str] = field(default_factory=list)    # devices it failed on
    not_run_on: list[str] = field(default_factory=list)   # devices it was not run on (no GPU here)


def merge_devices(rows: list[Row]) -> list[Row]:
    """One row per test, worth its points once whatever the hardware: passed only if it passed on
    every device it ran on; a failure names its device when another device ran too.

    The hidden suites run every test on each device (a CUDA row where there is a GPU); counting
    each row would make a class graded on a GPU box score out of twice a laptop's maximum."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.key or f"{row.day}/{row.level}::{_without_device(row)}", []).append(row)
    merged = []
    for key, group in groups.items():
        ran = [r for r in group if r.status != "not run"]
        bad = [r for r in ran if r.status != "passed"]
        first = bad[0] if bad else (ran or group)[0]
        test = _without_device(first)
        row = replace(first, nodeid=first.nodeid.split("[")[0] + test[len(test.split("[")[0]):], test=test, key=key,
                      devices=[r.device for r in ran], failed_on=[r.device for r in bad],
                      not_run_on=[r.device for r in group if r.status == "not run"])
        if bad and len(ran) > 1:
            passed = [r.device for r in ran if r.status == "passed"]
            where = " and ".join(row.failed_on) + (f" (passed on {', '.join(passed)})" if passed else "")
            row.message = f"on {where}: {first.message}"
            for other in bad[1:]:
                if other.message != first.message:
                    row.message += f"\n  on {other.device}: {other.message}"
        merged.append(row)
    return merged


def _without_device(row: Row) -> str:
    """``test_x[cpu]`` -> ``test_x``; ``test_x[case-cpu]`` -> ``test_x[case]``."""
    name, bracket, params = row.test.partition("[")
    if not bracket:
        return name
    kept = [p for p in params.rstrip("]").split("-") if p != row.device]
    return f"{name}[{'-'.join(kept)}]" if kept else name


class _Provider:
    """Registered as the pytest plugin "rnnkit_submission"; the hidden conftest asks it for code.

    One per :class:`SuiteSession`: it answers for the student being graded (``session`` is set per run)."""

    def __init__(self, session: Session | None):
        self.session = session

    def submission_for(self, day: str) -> Namespace:
        return Namespace(self.session, day)


def explain(exc: BaseException) -> tuple[str, str]:
    """(status, learner-facing message) for the exception that ended a test; never a traceback."""
    if isinstance(exc, CallFailed):
        return exc.status, str(exc)
    text = str(exc)[:protocol.MAX_TEXT]
    if protocol.from_submission(exc):
        text = student_text(text)       # the student's own words: capped (disclosure.py)
        if isinstance(exc, NotImplementedError):
            return "not attempted", "not attempted yet" + (f" ({text})" if text else "")
        return "failed", f"your code raised {type(exc).__name__}" + (f": {text}" if text else "")
    if isinstance(exc, AssertionError):
        return "failed", text or "a hidden check failed"
    if type(exc).__name__ == "Failed":       # pytest.raises: "DID NOT RAISE <class 'ValueError'>"
        return "failed", text.replace("DID NOT RAISE", "your code did not raise")
    return "failed", f"the test could not use what your code returned ({type(exc).__name__}: {student_text(text)})"


class GradingPlugin:
    """The pytest plugin of a :class:`SuiteSession`: registered once, then :meth:`start` per student."""

    def __init__(self, session: Session | None, exercises=None):
        self.session = session
        self.exercises = {tuple(e) for e in exercises} if exercises else None
        self.rows: list[Row] = []
        self.errors: list[str] = []
        self._current: Row | None = None
        self._provider = _Provider(session)

    def start(self, session: Session, errors: list[str]) -> None:
        """A new student: new lists (never cleared in place: the previous student's result holds them)."""
        self.session = self._provider.session = session
        self.rows, self.errors, self._current = [], list(errors), None

    def pytest_configure(self, config):
        config.pluginmanager.register(self._provider, "rnnkit_submission")

    def pytest_collection_modifyitems(self, config, items):
        if self.exercises is None and not OMITTED:
            return
        def exercise(item):      # (the day is the suite's folder: hidden/day16/test_advanced.py)
            marker = item.get_closest_marker("grade")
            return Path(str(item.fspath)).parent.name, marker.args[0] if marker and marker.args else "?"
        def wanted(item):        # an exercise the course omits (OMIT=day16:diagnose) is never graded
            return exercise(item) not in OMITTED and (self.exercises is None or exercise(item) in self.exercises)
        keep = [item for item in items if wanted(item)]
        config.hook.pytest_deselected(items=[item for item in items if not wanted(item)])
        items[:] = keep

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        device = getattr(item, "callspec", None) and item.callspec.params.get("device")
        self.session.begin_test(str(device or "cpu"))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        with self.session.work_limit():    # the test's own work is bounded too (boundary.GRADER_CPU_PER_TEST)
            yield

    def pytest_collectreport(self, report):
        if report.failed:
            last = (str(report.longrepr).strip().splitlines() or ["?"])[-1]
            self.errors.append(f"could not collect {report.nodeid}: {last}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        """Record the outcome and make the report ourselves: pytest's own would format a traceback
        with the test's source for every failure (slow, and nothing here may show test code)."""
        if call.when == "setup":
            self._current = self._row(item)
            self.rows.append(self._current)
        row, exc = self._current, call.excinfo.value if call.excinfo else None
        if exc is None:
            outcome, longrepr = "passed", None
            if call.when == "call" and row.status == "pending":
                row.status = "passed"
        elif isinstance(exc, pytest.skip.Exception):
            outcome, longrepr = "skipped", (str(item.path), (item.location[1] or 0) + 1, f"Skipped: {exc.msg}")
            if row.status == "pending":
                row.status, row.message = "not run", exc.msg
        else:
            outcome = "failed"
            if row.status in ("pending", "passed"):
                if call.when == "call":
                    row.status, row.message = explain(exc)
                    if row.status == "failed":
                        self._fingerprint(row)
                else:   # a fixture or a teardown broke: the grader's problem, not the student's
                    row.status = "error"
                    row.message = f"internal grading error (not your fault): {type(exc).__name__}: {str(exc)[:300]}"
                    self.errors.append(f"{item.nodeid} ({call.when}): {row.message}")
            longrepr = row.message
        if call.when == "teardown" and row.status == "pending":
            row.status, row.message = "error", "internal grading error (not your fault): the test did not run"
        return TestReport(item.nodeid, item.location, {k: 1 for k in item.keywords}, outcome, longrepr,
                          call.when, (), call.duration, call.start, call.stop, item.user_properties)

    def _fingerprint(self, row: Row) -> None:
        """Replay the test's calls through the exercise's known mistakes; name the one that fits."""
        try:
            from autograder.fingerprints import match
            found = match.identify(row.day, row.exercise, self.session.recorded)
        except Exception as exc:  # noqa: BLE001 - a fingerprint bug must not cost the student anything
            self.errors.append(f"fingerprints: {type(exc).__name__}: {str(exc)[:200]}")
            return
        if found is not None:
            row.fingerprint = found.name
            row.message = f"{row.message}\n  {match.describe(found)}"

    def _row(self, item) -> Row:
        marker = item.get_closest_marker("grade")
        path = Path(str(item.fspath))
        device = getattr(item, "callspec", None) and item.callspec.params.get("device")
        exercise, points = (marker.args[0], float(marker.kwargs.get("points", 1))) if marker and marker.args \
            else ("?", 0.0)
        if marker is None:
            self.errors.append(f"{item.nodeid} has no @pytest.mark.grade marker: it counts for nothing")
        params = getattr(item, "callspec", None) and item.callspec.params or {}
        key = f"{item.nodeid.split('[')[0]}[{sorted((k, repr(v)) for k, v in params.items() if k != 'device')}]"
        return Row(item.nodeid, item.name, path.parent.name, path.stem.removeprefix("test_"), exercise,
                   str(device or "cpu"), points, "pending", "", key=key)


_ARGS = ["-p", "no:terminal", "-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:logging", "--assert=plain",
         "-p", "no:unraisableexception", "-p", "no:threadexception", "-p", "no:faulthandler",
         "--import-mode=importlib", "-o", "addopts=", "-W", "ignore"]


class SuiteSession:
    """The hidden suites configured and collected once, then run for one student after another.

    What ``pytest.main`` does per call (plugins, configuration, collection) is done here once per
    grader process and job (files, device, exercises): a student pays only for running the items.
    Each :meth:`run` runs every item through ``pytest_runtest_protocol`` with the next item, the last
    with ``nextitem=None``, so every fixture of any scope is torn down before the next student, and
    pytest's ``runtestprotocol`` gives each item a fresh request (as pytest-rerunfailures relies on).
    A run gives what a ``pytest.main`` of its own gave: collection errors in every student's errors
    (collected once, reported each time), no test run after one (pytest stops there), and the exit
    codes other than 0 and 1 as an error when nothing else explains them.
    """

    def __init__(self, files: list[Path], kit: Path, suites: Path, device: str, exercises=None):
        self.plugin = GradingPlugin(None, exercises)
        self.items: list = []
        self.config = self.session = None
        self._started = False           # session start called: session finish is owed at close
        self._code = 0                  # pytest's exit code when it stopped before any test (else 0)
        self._collect_errors: list[str] = []
        self._startpath = os.getcwd()
        args = [*_ARGS, "--rootdir", str(kit), "-c", str(kit / "pyproject.toml"), "--confcutdir", str(suites),
                "--device", device, *map(str, files)]
        with _pytest_version():
            try:
                self.config = _prepareconfig(args, [self.plugin], prog="pytest.main()")
            except ConftestImportFailure as exc:          # (pytest.main's answers to these, exit codes too)
                print_conftest_import_error(exc, file=sys.stderr)
                self._code = ExitCode.USAGE_ERROR
            except PluginImportFailure as exc:
                print_plugin_import_error(exc, file=sys.stderr)
                self._code = ExitCode.INTERNAL_ERROR
            except UsageError as exc:
                print_usage_error(exc, file=sys.stderr)
                self._code = ExitCode.USAGE_ERROR
            if self.config is not None:
                self._start()
        self._collect_errors = list(self.plugin.errors)

    def _start(self) -> None:
        """``wrap_session`` up to the run loop: configure, session start, collection."""
        config = self.config
        self.session = pytest.Session.from_config(config)
        try:
            config._do_configure()
            config.hook.pytest_sessionstart(session=self.session)
            self._started = True
            config.hook.pytest_collection(session=self.session)
        except UsageError as exc:                          # a suite file that is not there
            print_usage_error(exc, file=sys.stderr)
            self._code = ExitCode.USAGE_ERROR
        except Exception:  # noqa: BLE001 - as wrap_session: an internal error, said on stderr
            traceback.print_exc()
            self._code = ExitCode.INTERNAL_ERROR
        else:
            if self.session.testsfailed:                   # pytest_runtestloop: "N errors during collection"
                self._code = ExitCode.INTERRUPTED
            elif not self.session.items:
                self._code = ExitCode.NO_TESTS_COLLECTED
            else:
                self.items = list(self.session.items)
        self._release_stdin()
        os.chdir(self._startpath)

    def run(self, session: Session) -> GradingPlugin:
        """One student's run: their rows (merged across devices) and errors, in a result of their own."""
        plugin = self.plugin
        plugin.start(session, self._collect_errors)
        code = self._code
        if not code and self.items:
            code = self._run_items()
        if code not in (0, 1) and not plugin.errors:
            plugin.errors.append(f"pytest stopped with exit code {int(code)}")
        result = copy.copy(plugin)
        result.rows = merge_devices(plugin.rows)
        return result

    def _run_items(self) -> int:
        pytest_session, items = self.session, self.items
        pytest_session.testsfailed, pytest_session.shouldfail, pytest_session.shouldstop = 0, False, False
        code = 0
        lean = self._lean()
        with _pytest_version(), (self._captured() if lean else contextlib.nullcontext()):
            try:
                for i, item in enumerate(items):
                    nextitem = items[i + 1] if i + 1 < len(items) else None
                    if lean:
                        self._protocol(item, nextitem)
                        continue
                    item._report_sections.clear()   # (captured output, kept per item by pytest: not ours to keep)
                    item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            except pytest.exit.Exception as exc:
                code = exc.returncode if exc.returncode is not None else ExitCode.INTERRUPTED
            except Exception:  # noqa: BLE001 - as wrap_session: an internal error, said on stderr
                traceback.print_exc()
                code = ExitCode.INTERNAL_ERROR
            finally:
                if code:    # stopped mid-way: what the session finish would tear down, torn down now
                    try:
                        pytest_session._setupstate.teardown_exact(None)
                    except Exception:  # noqa: BLE001
                        traceback.print_exc()
                self._release_stdin()
                os.chdir(self._startpath)
        return code or (1 if pytest_session.testsfailed else 0)

    # -- the lean run protocol ---------------------------------------------------------------
    # pytest's own protocol dispatches a dozen hooks per phase of every test (capture, skipping,
    # warnings, logging, reports for the terminal): about a tenth of a grader's time per student,
    # none of which grading uses.  What it does that grading needs is done here directly: skip marks
    # (pytest's own evaluation), fixtures set up and torn down by pytest's SetupState (nextitem=None
    # last), a fresh request per run, the grading plugin's hooks, output captured (pytest's capture
    # manager, resumed for the whole student) and warnings ignored (the run's ``-W ignore``).  A suite
    # that uses what this does not do (xfail, filterwarnings marks) runs through pytest's protocol.

    def _lean(self) -> bool:
        if getattr(self, "_lean_ok", None) is None:
            self._lean_ok = os.environ.get("RNNKIT_PYTEST_PROTOCOL") != "1" and not any(
                item.get_closest_marker(name) for item in self.items for name in ("xfail", "filterwarnings"))
        return self._lean_ok

    @contextlib.contextmanager
    def _captured(self):
        capman = self.config.pluginmanager.getplugin("capturemanager")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if capman is not None:
                capman.resume_global_capture()
            try:
                yield
            finally:
                if capman is not None:
                    capman.suspend_global_capture(in_=True)
                    capman.read_global_capture()     # (a test's output: nobody's to read, dropped)

    def _protocol(self, item, nextitem) -> None:
        """``runtestprotocol`` with the grading plugin called directly (see above)."""
        plugin, setupstate = self.plugin, item.session._setupstate
        if hasattr(item, "_request") and not item._request:
            item._initrequest()

        def setup():
            plugin.pytest_runtest_setup(item)
            skipped = evaluate_skip_marks(item)
            if skipped is not None:
                raise pytest.skip.Exception(skipped.reason, _use_item_location=True)
            setupstate.setup(item)

        def call():
            with plugin.session.work_limit():
                item.runtest()

        ok = self._phase(item, "setup", setup)
        if ok:
            self._phase(item, "call", call)
        self._phase(item, "teardown", lambda: setupstate.teardown_exact(nextitem))
        item._request, item.funcargs = False, None

    def _phase(self, item, when: str, fn) -> bool:
        info = CallInfo.from_call(fn, when=when, reraise=(pytest.exit.Exception, KeyboardInterrupt))
        report = self.plugin.pytest_runtest_makereport(item, info)
        if report.failed:
            self.session.testsfailed += 1
        return report.passed

    def _release_stdin(self) -> None:
        """Between students the grader's own file descriptors are its own: pytest suspends its output
        capture after each test but keeps stdin on /dev/null, which a grader reading requests on its
        stdin (cluster/host.py) would take for the end of its input."""
        capman = self.config.pluginmanager.getplugin("capturemanager") if self.config else None
        if capman is not None:
            capman.suspend_global_capture(in_=True)

    def close(self) -> None:
        """``wrap_session``'s end: session finish, then unconfigure (output capture stopped)."""
        config, self.config = self.config, None
        if config is None:
            return
        with _pytest_version():
            try:
                if self._started:
                    config.hook.pytest_sessionfinish(session=self.session, exitstatus=self._code or 0)
            finally:
                config._ensure_unconfigure()
                os.chdir(self._startpath)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def _pytest_version():
    """PYTEST_VERSION set while pytest works, as ``pytest.main`` sets it."""
    old = os.environ.get("PYTEST_VERSION")
    os.environ["PYTEST_VERSION"] = pytest.__version__
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTEST_VERSION", None)
        else:
            os.environ["PYTEST_VERSION"] = old


def run_suites(session: Session, files: list[Path], kit: Path, suites: Path, device: str,
               exercises=None) -> GradingPlugin:
    """One student's run in a suite session of its own (graders keep theirs: :class:`SuiteSession`).
    ``exercises``: (day, name) pairs; only their tests run (a regrade of one exercise)."""
    with SuiteSession(files, kit, suites, device, exercises) as suite:
        return suite.run(session)
