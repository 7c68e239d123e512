"""Fair and comparable grades: the same maximum on every machine, "not attempted" judged against the
kit's own generated release, and a resume key that covers everything a grade depends on.

The device merge and the resume key are checked as functions (a CUDA row is simulated: these
machines have no GPU); one real grading run, on a copy of the kit whose ``exercises/`` a TA has
filled in, checks the maximum against the suites' points and the release-based choice of file.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import build
from autograder.catalogue import DAYS, levels_of
from autograder.engine import report, scheduler
from autograder.engine.runner import Row, merge_devices

def _confinable() -> bool:
    """The engine's sandbox works here (as root, or rootless where user namespaces are allowed)."""
    from test_engine_grading import _confinable as confinable   # (tests/ is on sys.path)
    return confinable()


KIT = Path(__file__).resolve().parents[1]


def row(test: str, device: str, status: str = "passed", message: str = "", points: float = 2.0,
        exercise: str = "rnn_cell") -> Row:
    return Row(f"autograder/hidden/day15/test_basic.py::{test}[{device}]", f"{test}[{device}]", "day15", "basic",
               exercise, device, points, status, message, key=f"autograder/hidden/day15/test_basic.py::{test}[[]]")


SUITE = [("test_rnn_cell_random", 2.0, "rnn_cell"), ("test_rnn_cell_no_bias", 1.0, "rnn_cell"),
         ("test_rnn_forward_seq", 3.0, "rnn_forward")]


def graded(devices_run: list[str], devices_skipped: list[str] = ()) -> dict:
    """results.json of a student who passes everything, graded on ``devices_run``."""
    rows = []
    for test, points, exercise in SUITE:
        rows += [row(test, d, points=points, exercise=exercise) for d in devices_run]
        rows += [row(test, d, "not run", "GPU: not run", points, exercise) for d in devices_skipped]
    return report.results("ann", merge_devices(rows), [], devices_run, "GPU: ...")


# ------------------------------------------------------------------------------------------------ one maximum

def test_the_maximum_is_the_same_on_a_laptop_and_on_a_gpu_box():
    laptop, laptop_all, gpu_box = graded(["cpu"]), graded(["cpu"], ["cuda"]), graded(["cpu", "cuda"])
    assert laptop["max_score"] == laptop_all["max_score"] == gpu_box["max_score"] == 6
    assert laptop["score"] == gpu_box["score"] == 6
    for data in (laptop, laptop_all, gpu_box):       # each test once, under the same name everywhere
        assert [t["name"] for t in data["tests"]] == [t["name"] for t in gpu_box["tests"]]
        assert len(data["tests"]) == len(SUITE)
    assert [t["devices"] for t in gpu_box["tests"]] == [["cpu", "cuda"]] * 3
    assert [t["not_run_on"] for t in laptop_all["tests"]] == [["cuda"]] * 3


def test_a_test_failing_only_on_cuda_earns_nothing_and_names_cuda():
    rows = [row("test_rnn_cell_random", "cpu"),
            row("test_rnn_cell_random", "cuda", "failed", "h_next: expected on cuda:0, got it on cpu"),
            row("test_rnn_cell_no_bias", "cpu", points=1.0), row("test_rnn_cell_no_bias", "cuda", points=1.0)]
    data = report.results("ann", merge_devices(rows), [], ["cpu", "cuda"], "GPU: run on a test GPU.")
    first, second = data["tests"]
    assert (first["score"], first["max_score"], first["status"]) == (0, 2, "failed")
    assert first["failed_on"] == ["cuda"] and first["device"] == "cuda"
    assert first["output"].startswith("on cuda (passed on cpu): h_next: expected on cuda:0")
    assert (second["score"], data["score"], data["max_score"]) == (1, 1, 3)
    assert "on cuda (passed on cpu): h_next" in report.feedback(data)


def test_a_test_failing_on_both_devices_says_both_and_each_message():
    rows = [row("test_rnn_cell_random", "cpu", "failed", "h_next: 3 of 12 values differ"),
            row("test_rnn_cell_random", "cuda", "timed out", "rnn_cell did not return within 5 s")]
    (merged,) = merge_devices(rows)
    assert merged.status == "failed" and merged.failed_on == ["cpu", "cuda"] and merged.devices == ["cpu", "cuda"]
    assert merged.message == ("on cpu and cuda: h_next: 3 of 12 values differ\n"
                              "  on cuda: rnn_cell did not return within 5 s")


def test_a_failure_on_the_only_device_keeps_its_message_as_it_is():
    (merged,) = merge_devices([row("test_rnn_cell_random", "cpu", "failed", "h_next: 3 values differ"),
                               row("test_rnn_cell_random", "cuda", "not run", "GPU: not run")])
    assert (merged.status, merged.message, merged.test) == ("failed", "h_next: 3 values differ", "test_rnn_cell_random")


def test_the_gradebook_records_the_devices_each_student_was_graded_on(tmp_path):
    for name, devices in (("ann", ["cpu", "cuda"]), ("bob", ["cpu"])):
        data = graded(devices)
        data["student"] = name
        (tmp_path / name).mkdir()
        report.write_atomic(tmp_path / name / report.RESULTS, report.results_json(data))
    lines = report.gradebook(tmp_path).splitlines()
    assert lines[0].endswith(",total,max,devices")
    assert lines[1:] == ["ann,3,3,6,6,cpu cuda", "bob,3,3,6,6,cpu"]


# ------------------------------------------------------------------------------------------------ resume key

def _kit_copy(root: Path) -> Path:
    kit = root / "kit"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for part in ("autograder", "solutions", "exercises"):
        shutil.copytree(KIT / part, kit / part, ignore=ignore)
    shutil.copy(KIT / "pyproject.toml", kit / "pyproject.toml")
    return kit


OPTIONS = {"devices": ["cpu"], "timeout": 5.0, "memory_mb": 2048, "cpu_s": 600, "sandbox": True}
SCOPE = [("day15", "basic"), ("day15", "intermediate")]


def _key(kit: Path, **changes) -> str:
    return scheduler.resume_inputs(kit, kit / "autograder" / "hidden", SCOPE, **{**OPTIONS, **changes})


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def test_the_resume_key_changes_with_everything_a_grade_depends_on(tmp_path, monkeypatch):
    kit = _kit_copy(tmp_path)
    base = _key(kit)
    assert _key(kit) == base                                  # deterministic
    seen = {base}

    def changed(what: str, key: str) -> None:
        assert key not in seen, f"changing {what} does not change the resume key"
        seen.add(key)

    for option, value in (("devices", ["cpu", "cuda"]), ("timeout", 3.0), ("memory_mb", 1024), ("cpu_s", 60),
                          ("sandbox", False)):
        changed(f"the option {option}", _key(kit, **{option: value}))
    changed("the scope", scheduler.resume_inputs(kit, kit / "autograder" / "hidden", SCOPE[:1], **OPTIONS))
    with monkeypatch.context() as m:
        m.setattr(scheduler.platform, "python_version", lambda: "3.99.0")
        changed("the Python version", _key(kit))
    with monkeypatch.context() as m:
        m.setattr(scheduler.torch, "__version__", "9.9.9")
        changed("the torch version", _key(kit))
    with monkeypatch.context() as m:
        m.setattr(scheduler, "ENGINE_VERSION", "999")
        changed("the engine version", _key(kit))
    edits = [
        ("a hidden suite", kit / "autograder" / "hidden" / "day15" / "test_basic.py", "import torch\n",
         "import torch\n# stricter\n"),
        ("a reference", kit / "solutions" / "day15" / "basic.py", "### END SOLUTION", "pass\n    ### END SOLUTION"),
        ("the release (how stubs are generated)", kit / "autograder" / "build.py", "not yet attempted",
         "not attempted yet"),
        ("the kit version", kit / "pyproject.toml", 'version = "', 'version = "9'),
        ("the engine", kit / "autograder" / "engine" / "boundary.py", "\n", "\n# changed\n"),
        ("a fingerprint", kit / "autograder" / "fingerprints" / "day15.py", "\n", "\n# changed\n"),
    ]
    for what, path, old, new in edits:
        _edit(path, old, new)
        changed(what, _key(kit))


def test_the_release_in_the_key_is_generated_from_the_solutions(tmp_path):
    kit = _kit_copy(tmp_path)
    base = _key(kit)
    stub = kit / "exercises" / "day15" / "basic.py"
    stub.write_text(stub.read_text() + "\n# a TA's try, in their working copy\n")
    assert _key(kit) == base        # exercises/ is not an input: the release is what build makes of solutions/


# ------------------------------------------------------------------------------------------------ real grading

def engine_only(test):
    """A real grading run (a minute or more on 2 shared cores): slow, and it needs the sandbox."""
    return pytest.mark.slow(pytest.mark.skipif(not _confinable(),
                                               reason="no sandbox here: python -m autograder grade says why")(test))


def _notebook(code: str) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": None}]})


def _grade(kit: Path, target: Path, out: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(target), "--out", str(out),
                           "--device", "all", "--jobs", "1", "--timeout", "10"], cwd=kit, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A copy of the kit whose exercises/day15/basic.py a TA has filled in, and a class of two:
    ``ref`` (the reference files) and ``nb`` (the untouched release basic.py beside a notebook
    holding the reference code: the notebook is their work)."""
    root = tmp_path_factory.mktemp("fair")
    kit = _kit_copy(root)
    solution = (KIT / "solutions" / "day15" / "basic.py").read_text()
    (kit / "exercises" / "day15" / "basic.py").write_text(solution)          # the TA's try
    students = root / "class"
    for day in DAYS:
        for level in levels_of(day):
            dest = students / "ref" / day / f"{level}.py"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(KIT / "solutions" / day / f"{level}.py", dest)
    (students / "nb" / "day15").mkdir(parents=True)
    (students / "nb" / "day15" / "basic.py").write_text(build.read_level("day15", "basic").stub_text)
    (students / "nb" / "day15" / "day15_basic.ipynb").write_text(_notebook(solution))
    out = root / "out"
    first = _grade(kit, students, out)
    return {"kit": kit, "class": students, "out": out, "first": first}


def _results(out: Path, student: str) -> dict:
    return json.loads((out / student / report.RESULTS).read_text())


@engine_only
def test_the_maximum_of_a_real_grading_is_the_points_of_the_suites(graded_class):
    data = _results(graded_class["out"], "ref")
    points = sum(sum(build.hidden_points(day).values()) for day in DAYS)
    assert data["max_score"] == points, data["output"]
    assert data["score"] == points, [(t["name"], t["output"]) for t in data["tests"] if t["status"] != "passed"]
    names = [t["name"] for t in data["tests"]]
    assert len(names) == len(set(names)) and not any(re.search(r"\[(cpu|cuda)\]", n) for n in names)
    book = (graded_class["out"] / report.GRADEBOOK).read_text().splitlines()
    assert book[0].endswith(",devices") and all(line.endswith((",cpu", ",cpu cuda")) for line in book[1:])


@engine_only
def test_a_filled_working_copy_of_exercises_does_not_make_a_student_not_attempted(graded_class):
    data = _results(graded_class["out"], "nb")
    basic = [t for t in data["tests"] if t["day"] == "day15" and t["level"] == "basic"]
    assert basic and all(t["status"] == "passed" for t in basic), [(t["name"], t["output"]) for t in basic]
    assert any("graded day15_basic.ipynb (basic.py is the unchanged release file)" in n for n in data["notes"])


@engine_only
def test_an_unchanged_kit_resumes_and_a_new_kit_version_regrades(graded_class, tmp_path):
    kit, student, out = graded_class["kit"], graded_class["class"] / "nb", tmp_path / "out"
    _grade(kit, student, out)
    state = (out / "nb" / report.STATE).read_text()
    again = _grade(kit, student, out)
    assert "graded 0 student(s), 1 unchanged" in again.stdout, again.stdout
    _edit(kit / "pyproject.toml", 'version = "', 'version = "1')
    bumped = _grade(kit, student, out)
    assert "graded 1 student(s), 0 unchanged" in bumped.stdout, bumped.stdout
    assert (out / "nb" / report.STATE).read_text() != state


# ------------------------------------------------------------------------------------------------ nbgrader cells

def test_an_nbgrader_cell_counts_each_test_once_and_needs_every_device(monkeypatch):
    """The hidden-test cell of a notebook scores on nbgrader's scale: never above the exercise's points,
    and a test that fails on the second device (simulated: 'CUDA' present, every CUDA run fails) earns 0."""
    from autograder import nbgrader_bridge
    from autograder.loading import load_day
    reference = {k: v for k, v in vars(load_day(KIT / "solutions", "day15")).items()}
    full = build.hidden_points("day15")["rnn_cell"]
    assert nbgrader_bridge.hidden_points("day15", "basic", "rnn_cell", reference) == full
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert nbgrader_bridge.hidden_points("day15", "basic", "rnn_cell", reference) == 0
