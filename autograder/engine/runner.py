"""One student's hidden-suite run: pytest in the grader process, student code behind the boundary.

The hidden suites and the reference solutions are imported here, in a grader
process, never in a worker.  pytest is pinned to the kit (rootdir, ini file,
conftest cut-off at the suites folder) and collects only the suite files named,
so nothing beside a submission (a conftest.py, a pytest.ini) can take part.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from _pytest.reports import TestReport

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
    """Registered as the pytest plugin "rnnkit_submission"; the hidden conftest asks it for code."""

    def __init__(self, session: Session):
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
    def __init__(self, session: Session, exercises=None):
        self.session = session
        self.exercises = {tuple(e) for e in exercises} if exercises else None
        self.rows: list[Row] = []
        self.errors: list[str] = []
        self._current: Row | None = None

    def pytest_configure(self, config):
        config.pluginmanager.register(_Provider(self.session), "rnnkit_submission")

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


def run_suites(session: Session, files: list[Path], kit: Path, suites: Path, device: str,
               exercises=None) -> GradingPlugin:
    """``exercises``: (day, name) pairs; only their tests run (a regrade of one exercise)."""
    plugin = GradingPlugin(session, exercises)
    args = ["-p", "no:terminal", "-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:logging", "--assert=plain",
            "-p", "no:unraisableexception", "-p", "no:threadexception", "-p", "no:faulthandler",
            "--import-mode=importlib", "--rootdir", str(kit), "-c", str(kit / "pyproject.toml"), "-o", "addopts=",
            "--confcutdir", str(suites), "-W", "ignore", "--device", device, *map(str, files)]
    code = pytest.main(args, plugins=[plugin])
    if code not in (0, 1) and not plugin.errors:
        plugin.errors.append(f"pytest stopped with exit code {int(code)}")
    plugin.rows = merge_devices(plugin.rows)
    return plugin
