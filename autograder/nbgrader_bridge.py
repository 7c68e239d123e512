"""Hidden tests inside an nbgrader kernel: the graded cell of each exercise calls :func:`hidden_points`.

nbgrader runs test cells in the student's own kernel, so this path inherits
nbgrader's trust model (the student's code shares the process with the tests;
see the README's nbgrader section). It exists so that a course that already
runs ``nbgrader autograde`` gets the same points as ``make grade`` for every
honest submission: the same hidden suites, the same seeds, the same marks.

The cell's last expression is the score, which nbgrader reads as partial credit.
"""
from __future__ import annotations

import contextlib
import io
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

KIT_ROOT = Path(__file__).resolve().parents[1]


class _Provider:
    """The pytest plugin "rnnkit_submission" that the hidden suites' ``submission`` fixture asks for."""

    def __init__(self, functions: dict):
        self.functions = functions

    def submission_for(self, day: str) -> SimpleNamespace:
        return SimpleNamespace(**self.functions)


class _Points:
    """Runs only the tests of one exercise and adds up the points of those that pass."""

    def __init__(self, exercise: str, functions: dict):
        self.exercise = exercise
        self.functions = functions
        self.tests: dict[str, tuple[float, bool]] = {}     # test, whatever the device -> (points, passed on each)

    # Each test is worth its points once (as in the engine): on a GPU machine it runs on the CPU and
    # on CUDA and earns them only by passing on both, so a cell never scores above its maximum.
    @property
    def earned(self) -> float:
        return sum(points for points, passed in self.tests.values() if passed)

    @property
    def possible(self) -> float:
        return sum(points for points, _ in self.tests.values())

    def _count(self, report, points: float, passed: bool) -> None:
        key = dict(report.user_properties).get("test", report.nodeid)
        self.tests[key] = (points, self.tests.get(key, (points, True))[1] and passed)

    def pytest_configure(self, config):
        config.pluginmanager.register(_Provider(self.functions), "rnnkit_submission")

    def pytest_collection_modifyitems(self, items):
        items[:] = [item for item in items
                    if (mark := item.get_closest_marker("grade")) and mark.args and mark.args[0] == self.exercise]

    def pytest_runtest_setup(self, item):
        item.user_properties.append(("points", float(item.get_closest_marker("grade").kwargs.get("points", 1))))
        params = getattr(item, "callspec", None) and item.callspec.params or {}
        item.user_properties.append(("test", f"{item.nodeid.split('[')[0]}"
                                             f"{sorted((k, repr(v)) for k, v in params.items() if k != 'device')}"))

    def pytest_runtest_logreport(self, report):
        points = dict(report.user_properties).get("points", 0.0)
        if report.when == "call" and not report.skipped:
            self._count(report, points, report.passed)
        elif report.when == "setup" and report.failed:
            self._count(report, points, False)


def hidden_points(day: str, level: str, exercise: str, namespace: dict) -> float:
    """Points earned by ``namespace[exercise]`` (and its helpers) on the hidden tests of ``exercise``."""
    import pytest

    functions = {name: value for name, value in namespace.items() if callable(value)}
    points = _Points(exercise, functions)
    suite = KIT_ROOT / "autograder" / "hidden" / day / f"test_{level}.py"
    args = [str(suite), "-p", "no:cacheprovider", "-p", "no:terminal", "--device", "all",
            "--import-mode=importlib", "--rootdir", str(KIT_ROOT), "-c", str(KIT_ROOT / "pyproject.toml"),
            "-o", "addopts=", "-W", "ignore"]
    # Nothing may reach stderr: nbgrader scores a test cell that writes to stderr zero.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if str(KIT_ROOT) not in sys.path:
            sys.path.insert(0, str(KIT_ROOT))
        pytest.main(args, plugins=[points])
    return points.earned
