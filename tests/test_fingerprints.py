"""Bug fingerprints: every known mistake is told apart from the reference and from the others,
named by `make check` on the public checks, and named by the grading engine on the hidden suites.

The engine part grades one submission per variant (the reference level file with that one
function replaced by the variant) plus the demo class's classic-bug students through one
engine, and asserts that exactly that variant is named.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import selfcheck
from autograder.catalogue import CATALOGUE, levels_of
from autograder.fingerprints import all_variants, match

def _confinable() -> bool:
    """The engine's sandbox works here (as root, or rootless where user namespaces are allowed)."""
    from test_engine_grading import _confinable as confinable   # (tests/ is on sys.path)
    return confinable()


KIT = Path(__file__).resolve().parents[1]
VARIANTS = all_variants()
IDS = [v.key for v in VARIANTS]


def level_of(day: str, exercise: str) -> str:
    return next(lv for lv in levels_of(day) if exercise in CATALOGUE[day][lv])


# ------------------------------------------------------------------------------------------------
# The library itself
# ------------------------------------------------------------------------------------------------

def test_every_exercise_has_known_mistakes():
    for day, levels in CATALOGUE.items():
        for level, names in levels.items():
            for name in names:
                assert [v for v in VARIANTS if (v.day, v.exercise) == (day, name)], f"{day} {name}: no variants"
    for v in VARIANTS:
        assert v.explanation and v.hint and "\n" not in v.explanation + v.hint, v.key
        assert re.fullmatch(r"[a-z0-9_A-Z]+", v.name), v.key


def test_variants_never_ship_to_students():
    from autograder import build
    for files in (build.build_files(release=True), build.build_files(release=False)):
        for path, text in files.items():
            assert "fingerprints" not in str(path) and "autograder.fingerprints" not in str(text), path


# ------------------------------------------------------------------------------------------------
# Separable: on the public checks' inputs and the hidden suites' inputs, as recorded from the
# references, every variant differs from the reference and from every other variant of its exercise
# ------------------------------------------------------------------------------------------------

class _Recording:
    """The ``rnnkit_submission`` plugin: the hidden suites call the references through recorders."""

    def __init__(self):
        self.recorders = {}

    def pytest_configure(self, config):
        config.pluginmanager.register(_Provider(self), "rnnkit_submission")

    def submission_for(self, day):
        refs = match.references(day)
        from types import SimpleNamespace
        names = {}
        for level in levels_of(day):
            for name in CATALOGUE[day][level]:
                rec = self.recorders.setdefault((day, name), match.Recorder(getattr(refs, name), day, name))
                names[name] = rec
        return SimpleNamespace(**names)


class _Provider:
    def __init__(self, recording):
        self.recording = recording

    def submission_for(self, day):
        return self.recording.submission_for(day)


@pytest.fixture(scope="module")
def reference_calls():
    """(day, exercise) -> the calls of the public checks and of the hidden suites, made on the references."""
    calls: dict = {}
    for day in ("day15", "day16"):
        checking = selfcheck._fresh_day_modules(KIT / "solutions" / day)
        refs = match.references(day)
        for level in levels_of(day):
            for name in CATALOGUE[day][level]:
                rec = match.Recorder(getattr(refs, name), day, name)
                status, message = checking.run_public_checks(name, rec)
                assert status == "passed", message
                calls.setdefault((day, name), []).extend(rec.calls)
    plugin = _Recording()
    code = pytest.main(["-p", "no:cacheprovider", "-p", "no:terminal", "--device", "cpu", "-o", "addopts=", "-W", "ignore",
                        "--confcutdir", str(KIT / "autograder" / "hidden"), "--import-mode=importlib",
                        "--rootdir", str(KIT), "-c", str(KIT / "pyproject.toml"),
                        str(KIT / "autograder" / "hidden")], plugins=[plugin])
    assert code == 0, "the hidden suites fail on the references"
    for key, rec in plugin.recorders.items():
        calls.setdefault(key, []).extend(rec.calls)
    return calls


def _outcomes(fn, calls):
    return [match.replay(fn, c) for c in calls]


def _differ(a, b):
    return any(not match.same_outcome(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("exercise", sorted({(v.day, v.exercise) for v in VARIANTS}), ids=lambda k: f"{k[0]}:{k[1]}")
def test_variants_are_separable(reference_calls, exercise):
    day, name = exercise
    calls = reference_calls[exercise]
    assert calls, f"no recorded calls of {day} {name}"
    # Each recorded outcome is the reference's own: replaying it must reproduce it exactly.
    ref = _outcomes(getattr(match.references(day), name), calls)
    assert all(match.same_outcome(c.outcome, o) for c, o in zip(calls, ref))
    mine = [v for v in VARIANTS if (v.day, v.exercise) == exercise]
    outs = {v.name: _outcomes(v.fn, calls) for v in mine}
    for v in mine:
        assert _differ(outs[v.name], ref), f"{v.key} is indistinguishable from the reference"
    for i, a in enumerate(mine):
        for b in mine[i + 1:]:
            assert _differ(outs[a.name], outs[b.name]), f"{a.key} and {b.name} are indistinguishable"


# ------------------------------------------------------------------------------------------------
# make check: the public checks name the mistake
# ------------------------------------------------------------------------------------------------

# Known mistakes that the public checks cannot see (the hidden suites do): they pass `make check`.
PASS_PUBLIC = {"day16:hidden_grad_norms:loss_over_all_layers"}


@pytest.mark.parametrize("v", VARIANTS, ids=IDS)
def test_make_check_names_the_mistake(v):
    checking = selfcheck._fresh_day_modules(KIT / "solutions" / v.day)
    rec = match.Recorder(v.fn, v.day, v.exercise)
    status, message = checking.run_public_checks(v.exercise, rec)
    if v.key in PASS_PUBLIC:
        assert status == "passed", message
        return
    assert status == "failed", message
    found = match.identify(v.day, v.exercise, rec.calls)
    assert found is not None and found.name == v.name, (v.key, found and found.name)


def test_make_check_prints_the_mistake(tmp_path):
    from autograder import build, demo
    build.write_tree(tmp_path, build.build_files(release=False))
    student = next(s for s in demo.STUDENTS if s.name == "dan_missing_bias")
    for rel, data in demo.student_files(student).items():
        (tmp_path / rel).write_bytes(data)
    rows = {r.exercise: r for r in selfcheck.check_day(tmp_path, "day15", ["basic"])}
    assert rows["rnn_cell"].status == "failed" and rows["rnn_cell"].fingerprint == "missing_b_hh"
    assert "This looks like a known mistake (missing_b_hh)" in selfcheck.render(list(rows.values()))
    assert rows["rnn_forward"].fingerprint == "step_missing_b_hh"


# ------------------------------------------------------------------------------------------------
# The grading engine names the mistake: one submission per variant, and the demo class
# ------------------------------------------------------------------------------------------------

PRELUDE = '''

# --- a known mistake, substituted for the reference (built by tests/test_fingerprints.py) ---
import sys as _sys
import types as _types


def _fp_module(name, source):
    module = _types.ModuleType(name)
    module.__path__ = []
    _sys.modules[name] = module
    exec(compile(source, name, "exec"), module.__dict__)
    return module


_fp_module("autograder", "")
_fp = _fp_module("autograder.fingerprints", {init!r})
for _name, _source in {modules!r}:
    _fp_module("autograder.fingerprints." + _name, _source)
{name} = next(v.fn for v in _fp.REGISTRY if (v.day, v.exercise, v.name) == ({day!r}, {name!r}, {variant!r}))
'''


PROVOKE_EDITS = {
    ("day15", "lengths_wrong_dtype_is_silent"): ('"lengths_device_or_dtype": {"values": [T, 2], "device": "meta"}',
                                                 '"lengths_device_or_dtype": {"values": [T, 2], "dtype": "float32"}'),
    ("day16", "backward_twice_state_detached"): ('*chunk[1:], chunk[0], {"op": "forward", "time": [4, 8]}',
                                                 '*chunk[1:], "detach_state", chunk[0], {"op": "forward", "time": [4, 8]}'),
}


def variant_source(v) -> str:
    level = level_of(v.day, v.exercise)
    ref = (KIT / "solutions" / v.day / f"{level}.py").read_text()
    if v.exercise == "provoke":   # written as edits of the reference (the variants themselves need the references)
        if v.name == "returns_the_error_not_the_recipe":
            return ref.replace("def provoke(", "def _recipe_of(", 1) + (
                "\n\ndef provoke(kind):\n    from misuse import run_misuse\n    return run_misuse(_recipe_of(kind))\n")
        old, new = PROVOKE_EDITS[(v.day, v.name)]
        assert ref.count(old) == 1, (v.key, old)
        return ref.replace(old, new)
    if v.exercise == "bptt":   # the grader reads bptt's code (no autograd): written out, not fetched by exec
        import inspect
        from autograder.fingerprints import day16 as fp16
        return (ref + "\n\n" + inspect.getsource(fp16._bptt)
                + f"\n\ndef bptt(*args):\n    return _bptt(*args, **{fp16.BPTT_BUGS[v.name][0]!r})\n")
    fp = KIT / "autograder" / "fingerprints"
    modules = [(path.stem, path.read_text()) for path in sorted(fp.glob("day*.py"))]   # as _load discovers them
    return ref + PRELUDE.format(init=(fp / "__init__.py").read_text(), modules=modules, name=v.exercise,
                                day=v.day, variant=v.name)


DEMO = {"dan_missing_bias": ("day15", "rnn_cell", "missing_b_hh"),
        "eve_gate_order": ("day15", "lstm_cell", "gate_order_ifog"),
        "oli_gru_update": ("day15", "gru_cell", "update_gate_flipped"),
        "finn_no_detach": ("day16", "tbptt_train", "no_detach"),
        "gil_no_zero_grad": ("day16", "train_step", "no_zero_grad"),
        "nia_broadcast_loss": ("day16", "regression_loss", "broadcasts"),
        "pia_batchify_rows": ("day16", "batchify", "rows_not_columns")}


def student_name(v) -> str:
    return re.sub(r"[^a-z0-9_]", "_", v.key.lower())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not _confinable():
        pytest.skip("no sandbox here: python -m autograder grade says why")
    from autograder import demo
    root = tmp_path_factory.mktemp("fingerprints")
    sub = root / "submitted"
    for v in VARIANTS:
        path = sub / student_name(v) / v.day / f"{level_of(v.day, v.exercise)}.py"
        path.parent.mkdir(parents=True)
        path.write_text(variant_source(v))
    for student in demo.STUDENTS:
        if student.name in DEMO:
            for rel, data in demo.student_files(student).items():
                (sub / student.name / rel).parent.mkdir(parents=True, exist_ok=True)
                (sub / student.name / rel).write_bytes(data)
    proc = subprocess.Popen([sys.executable, "-m", "autograder.engine.host", "2"], cwd=KIT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(proc.stdout.readline()) == {"ready": True}
        started = time.monotonic()
        proc.stdin.write(json.dumps({"target": str(root), "out": str(root / "out"),
                                     "options": {"device": "cpu", "jobs": 2, "timeout": 10.0}}) + "\n")
        proc.stdin.flush()
        summary = json.loads(proc.stdout.readline())
        seconds = time.monotonic() - started
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert "error" not in summary, summary
    return {"out": root / "out", "summary": summary, "seconds": seconds}


def _tests(graded, student):
    return json.loads((graded["out"] / student / "results.json").read_text())["tests"]


# Variants the hidden suites cannot tell from another mistake on their inputs (none, today).
NOT_SEPARATED_BY_HIDDEN: set[str] = set()


@pytest.mark.parametrize("v", VARIANTS, ids=IDS)
def test_engine_names_exactly_that_variant(graded, v):
    tests = [t for t in _tests(graded, student_name(v)) if t["exercise"] == v.exercise]
    failed = [t for t in tests if t["status"] != "passed"]
    assert failed, f"{v.key}: every hidden test passes"
    named = {t["fingerprint"] for t in tests if t["fingerprint"]}
    if v.key in NOT_SEPARATED_BY_HIDDEN:
        assert not named - {v.name}
        return
    assert named == {v.name}, (v.key, [(t["test"], t["fingerprint"], t["output"][:200]) for t in failed])
    for t in tests:
        if t["fingerprint"]:
            assert t["status"] == "failed" and f"known mistake ({v.name})" in t["output"]
    assert f"known mistake ({v.name})" in (graded["out"] / student_name(v) / "feedback.md").read_text()


@pytest.mark.parametrize("student", sorted(DEMO))
def test_demo_students_are_told_their_mistake(graded, student):
    day, exercise, name = DEMO[student]
    tests = [t for t in _tests(graded, student) if t["day"] == day and t["exercise"] == exercise]
    assert {t["fingerprint"] for t in tests if t["status"] == "failed"} == {name}, tests
    assert f"known mistake ({name})" in (graded["out"] / student / "feedback.md").read_text()


def test_the_class_summary_counts_the_mistakes(graded):
    from autograder import summary
    text = summary.write_summary(graded["out"])
    assert "Known mistakes" in text
    assert re.search(r"day15 rnn_cell\s+missing_b_hh\s+\d+", text)
    assert (graded["out"] / "summary_mistakes.png").is_file()
    first = (graded["out"] / "summary_mistakes.png").read_bytes()
    summary.write_summary(graded["out"])
    assert (graded["out"] / "summary_mistakes.png").read_bytes() == first

