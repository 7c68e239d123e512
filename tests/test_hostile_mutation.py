"""Mutating an input in place never raises a score, on any exercise of the catalogue (issue 11).

A hidden test that computes its reference on the objects it handed the submission, after the call,
can be made to agree with a wrong answer: zero ``grad_output`` and the true gradient is zero, set the
targets to the outputs and the loss is zero.  The rule is that a reference is computed from inputs the
submission never touched; this test checks it for every exercise at once, without knowing any suite:

* W_copy: a wrong submission.  It answers what the reference answers on *altered copies* of its
  inputs (every floating tensor, ``.grad``, parameter and buffer zeroed, or halved); the grader's
  inputs are left alone.
* W_mut: the same wrong answers, but computed after altering the grader's inputs *in place*.

They return the same values, so W_mut may score less (tests that check the inputs are left alone),
never more: score(W_mut) <= score(W_copy) for each exercise.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

import test_engine_grading as eg   # noqa: E402 - the existing machinery (tests/ is on sys.path)
from autograder.catalogue import CATALOGUE, DAYS, levels_of

KIT, put = eg.KIT, eg.put

pytestmark = [pytest.mark.slow,
              eg.CONFINABLE]

ATTACK = '''

# ---- the attack (tests/test_hostile_mutation.py) -------------------------------------------------
import copy as _attack_copy
import torch as _attack_torch

_ALTER = {alter!r}
_IN_PLACE = {in_place!r}


def _attack_walk(obj, seen):
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, _attack_torch.Tensor):
        with _attack_torch.no_grad():
            for t in (obj, obj.grad):
                if t is not None and t.is_floating_point():
                    t.zero_() if _ALTER == "zero" else t.mul_(0.5)
    elif isinstance(obj, _attack_torch.nn.Module):
        for t in [*obj.parameters(), *obj.buffers()]:
            _attack_walk(t, seen)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _attack_walk(v, seen)
    elif isinstance(obj, dict):
        for v in obj.values():
            _attack_walk(v, seen)


def _attack(fn):
    def attacked(*args, **kwargs):
        # (model.parameters() arrives as an iterator: read it once, so both variants alter what it yields)
        args = tuple(list(a) if hasattr(a, "__next__") else a for a in args)
        if not _IN_PLACE:
            args, kwargs = _attack_copy.deepcopy((args, kwargs))
        _attack_walk((args, kwargs), set())
        return fn(*args, **kwargs)
    attacked.__name__ = fn.__name__
    return attacked


for _name in {names!r}:
    if _name in globals():
        globals()[_name] = _attack(globals()[_name])
'''

STUDENTS = {f"{alter}_{'mut' if in_place else 'copy'}": (alter, in_place)
            for alter in ("zero", "halve") for in_place in (True, False)}


def submission(alter: str, in_place: bool, day: str, level: str) -> str:
    ref = (KIT / "solutions" / day / f"{level}.py").read_text()
    return ref + ATTACK.format(alter=alter, in_place=in_place, names=list(CATALOGUE[day][level]))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("mutation")
    for student, (alter, in_place) in STUDENTS.items():
        for day in DAYS:
            for level in levels_of(day):
                put(base / "class" / student / day / f"{level}.py", submission(alter, in_place, day, level))
    host = eg.Host(dict(os.environ))
    try:
        summary = host.grade(base / "class", base / "out", timeout=5.0, jobs=2, device="cpu")
    finally:
        host.close()
    assert sorted(summary["graded"]) == sorted(STUDENTS) and not summary["failed"], summary
    return base / "out"


def points(out, student: str) -> dict[tuple[str, str], float]:
    data = json.loads((out / student / "results.json").read_text())
    got: dict[tuple[str, str], float] = {}
    for t in data["tests"]:
        key = (t["day"], t["exercise"])
        got[key] = got.get(key, 0) + t["score"]
    return got


EXERCISES = [(d, e) for d in DAYS for lv in levels_of(d) for e in CATALOGUE[d][lv]]


@pytest.mark.parametrize("alter", ["zero", "halve"])
@pytest.mark.parametrize("day, exercise", EXERCISES, ids=[f"{d}-{e}" for d, e in EXERCISES])
def test_mutating_the_inputs_never_raises_a_score(graded, alter, day, exercise):
    mut, copy = points(graded, f"{alter}_mut"), points(graded, f"{alter}_copy")
    assert mut.get((day, exercise), 0) <= copy.get((day, exercise), 0), (
        f"{day} {exercise}: {mut.get((day, exercise))} points when the inputs are {alter}ed in place, "
        f"{copy.get((day, exercise))} when copies are: a hidden test computes its reference on the inputs "
        "after the call")
