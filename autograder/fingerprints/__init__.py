"""Bug fingerprints: known-wrong variants of the references, to name a student's classic mistake.

Each :class:`Variant` is the reference of one exercise with one classic mistake made on
purpose (``day15.py``, ``day16.py``).  When a hidden test fails, the grader replays the
calls that test made to the student's function (the arguments as sent, see
:mod:`autograder.fingerprints.match`) through the reference and through every variant of
that exercise; a variant that reproduces what the student's code returned (and changed)
on every call, where the reference does not, names the mistake in the feedback.

Never shipped to students: this package sits beside the hidden suites, in the grader.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Variant:
    day: str
    exercise: str
    name: str            # short, stable key: results.json's "fingerprint", the class summary's rows
    explanation: str     # one line, to the student: what the code does wrong
    hint: str            # one line: how to fix it
    fn: Callable

    @property
    def key(self) -> str:
        return f"{self.day}:{self.exercise}:{self.name}"


REGISTRY: list[Variant] = []


def variant(day: str, exercise: str, name: str, explanation: str, hint: str):
    """Decorator: register ``fn`` as a known-wrong version of ``exercise``."""
    def register(fn: Callable) -> Callable:
        if any(v.day == day and v.exercise == exercise and v.name == name for v in REGISTRY):
            raise ValueError(f"duplicate variant {day}:{exercise}:{name}")
        REGISTRY.append(Variant(day, exercise, name, explanation, hint, fn))
        return fn
    return register


def variants_for(day: str, exercise: str) -> list[Variant]:
    _load()
    return [v for v in REGISTRY if v.day == day and v.exercise == exercise]


def all_variants() -> list[Variant]:
    _load()
    return list(REGISTRY)


def _load() -> None:
    """Import every ``dayNN*.py`` module of this package (each registers its variants on import).

    Discovered rather than listed so that a new exercise's fingerprints live in a module of
    their own (``day15_gru.py``) without an edit here.
    """
    import importlib
    import pkgutil
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("day")):
        importlib.import_module(f"{__name__}.{module}")
