"""Hidden tests inside an nbgrader kernel: the graded cell of each exercise calls :func:`hidden_points`.

nbgrader runs test cells in the student's own kernel, so this path inherits
nbgrader's trust model (the student's code shares the process with the tests;
see the README's nbgrader section). It exists so that a course that already
runs ``nbgrader autograde`` gets the same points as ``make grade`` for every
honest submission: the same hidden suites, the same seeds, the same marks.

The cell's last expression is the score, which nbgrader reads as partial credit. Before it,
the cell prints one line per hidden test that did not pass, with the reason the suite gives
(the learner's message, never the test's code or a whole hidden input): nbgrader's feedback
shows a cell's stdout, and only stdout (a test cell that writes to stderr scores zero).

The kit is imported as an installed package (``pip install .``): nothing here, in the
course's configuration or in its cells, names the folder the kit was laid out from.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

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
        self.reasons: dict[str, list[str]] = {}             # test -> why it did not pass, per device

    # Each test is worth its points once (as in the engine): on a GPU machine it runs on the CPU and
    # on CUDA and earns them only by passing on both, so a cell never scores above its maximum.
    @property
    def earned(self) -> float:
        return sum(points for points, passed in self.tests.values() if passed)

    @property
    def possible(self) -> float:
        return sum(points for points, _ in self.tests.values())

    @staticmethod
    def _key(item) -> str:
        return dict(item.user_properties).get("test", item.nodeid)

    def _count(self, report, points: float, passed: bool) -> None:
        key = dict(report.user_properties).get("test", report.nodeid)
        self.tests[key] = (points, self.tests.get(key, (points, True))[1] and passed)

    def pytest_configure(self, config):
        config.pluginmanager.register(_Provider(self.functions), "rnnkit_submission")
        # The kit's pyproject.toml is not installed with the package: the suites' marks are declared here.
        config.addinivalue_line("markers", "grade(exercise, points): a hidden test worth `points`")
        config.addinivalue_line("markers", "gpu: needs CUDA")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.failed and call.excinfo is not None:
            device = getattr(item, "callspec", None) and item.callspec.params.get("device")
            name = item.originalname + (f" on {device}" if device else "")
            self.reasons.setdefault(self._key(item), []).append(
                f"{name}: {reason(call.excinfo.value, call.when)}")

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


def _disclosure():
    """The engine's cap on a student's own message (``autograder/engine/disclosure.py``), loaded by
    file: importing ``autograder.engine`` would start loading the whole engine into the kernel."""
    path = Path(__file__).resolve().parent / "engine" / "disclosure.py"
    spec = importlib.util.spec_from_file_location("_rnnkit_disclosure", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reason(exc: BaseException, when: str) -> str:
    """Why a hidden test did not pass, in the learner's terms (as the engine words it), one line."""
    from autograder.textsafe import clean

    if when != "call":
        return "internal grading error (not your fault): the test could not be set up"
    text = str(exc)
    if isinstance(exc, AssertionError):        # the suite's own message (run with --assert=plain: no test code)
        said = text
    elif isinstance(exc, NotImplementedError):
        said = "not attempted yet"
    else:                                      # in the kernel, any other exception comes from the student's code
        said = f"raised {type(exc).__name__}" + (f": {_disclosure().student_text(text)}" if text else "")
    return clean(" ".join((said or "a hidden check failed").split()), one_line=True)


def report(exercise: str, points: _Points) -> str:
    """The lines the hidden cell prints: how many tests passed, and why each other one did not."""
    passed = sum(1 for _, ok in points.tests.values() if ok)
    lines = [f"{exercise}: {passed} of {len(points.tests)} hidden tests passed "
             f"({points.earned:g} of {points.possible:g} points)"]
    for whys in points.reasons.values():
        lines += [f"  - {why}" for why in whys]
    return "\n".join(lines)


def hidden_points(day: str, level: str, exercise: str, namespace: dict) -> float:
    """Points earned by ``namespace[exercise]`` (and its helpers) on the hidden tests of ``exercise``;
    prints the reasons of the tests that did not pass (see :func:`report`)."""

    functions = {name: value for name, value in namespace.items() if callable(value)}
    points = _Points(exercise, functions)
    suite = KIT_ROOT / "autograder" / "hidden" / day / f"test_{level}.py"
    args = [str(suite), "-p", "no:cacheprovider", "-p", "no:terminal", "--device", "all",
            "--import-mode=importlib", "--rootdir", str(KIT_ROOT), "-c", os.devnull, "--assert=plain",
            "-o", "addopts=", "-W", "ignore"]
    # Nothing may reach stderr: nbgrader scores a test cell that writes to stderr zero.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if str(KIT_ROOT) not in sys.path:
            sys.path.insert(0, str(KIT_ROOT))
        pytest.main(args, plugins=[points])
    print(report(exercise, points))
    return points.earned
