"""The exercise catalogue: the contract between solutions, stubs, checks and hidden suites.

Names and signatures here are fixed by the course; ``make exercises`` refuses to
build when ``solutions/`` disagrees with this list.
"""
from __future__ import annotations

DAYS = ("day15", "day16")

CATALOGUE: dict[str, dict[str, tuple[str, ...]]] = {
    "day15": {
        "basic": ("rnn_cell", "rnn_forward"),
        "intermediate": ("lstm_cell", "gru_cell", "final_hidden", "final_states", "masked_sequence_loss"),
        "advanced": ("provoke", "diagnose", "check_sequence_batch"),
    },
    "day16": {
        "basic": ("bptt", "train_step"),
        "intermediate": ("tbptt_train", "clip_grad_norm", "hidden_grad_norms"),
        "advanced": ("provoke", "diagnose", "accumulated_grads", "regression_loss", "inputs_for"),
        "project": ("batchify", "get_batch", "lm_loss", "sample", "evaluate"),
    },
}

# ---------------------------------------------------------------------------- optional exercises
# A course may leave out the exercises marked optional here: OMIT=day16:diagnose (make exercises,
# release, grade, course, gradescope; the environment variable RNNKIT_OMIT for the CLI itself).
# Everything downstream reads CATALOGUE, which is the declared catalogue less the omitted
# exercises, so stubs, notebooks, public checks, hidden tests, points, gradebook columns and
# bundles agree. A release bundle has the omission written into its copy of this file
# (COURSE_OMIT), so a student's rnnkit-check needs no variable.
DECLARED: dict[str, dict[str, tuple[str, ...]]] = CATALOGUE

#: (day, exercise) a course may omit: the second error-reading exercise (Day 16 repeats Day 15's skill).
OPTIONAL: frozenset[tuple[str, str]] = frozenset({("day16", "diagnose")})

COURSE_OMIT = ""       # written by the release: the omission a bundle was made with
OMIT_VARIABLE = "RNNKIT_OMIT"


class OmitError(ValueError):
    """OMIT names an exercise that does not exist or is not optional."""


def parse_omit(text: str) -> frozenset[tuple[str, str]]:
    """``"day16:diagnose,..."`` -> {(day, exercise)}; refuses what is not optional."""
    omitted = set()
    for item in (part.strip() for part in text.replace(" ", ",").split(",")):
        if not item:
            continue
        day, sep, name = item.partition(":")
        if not sep or day not in DECLARED or not any(name in names for names in DECLARED[day].values()):
            raise OmitError(f"OMIT={text}: {item!r} is not an exercise (write day16:diagnose)")
        if (day, name) not in OPTIONAL:
            raise OmitError(f"OMIT={text}: {item} is not optional; a course may omit only "
                            f"{', '.join(f'{d}:{e}' for d, e in sorted(OPTIONAL))}")
        omitted.add((day, name))
    return frozenset(omitted)


def _omit_text() -> str:
    import os
    return os.environ.get(OMIT_VARIABLE, COURSE_OMIT)


try:
    OMITTED: frozenset[tuple[str, str]] = parse_omit(_omit_text())
except OmitError as _bad:   # one line, before any command runs (make grade OMIT=..., the bundle's check)
    raise SystemExit(f"error: {_bad}") from None

CATALOGUE = {day: {level: tuple(n for n in names if (day, n) not in OMITTED) for level, names in levels.items()}
             for day, levels in DECLARED.items()}


def omitted_in(day: str, level: str) -> tuple[str, ...]:
    """The declared exercises of ``day``/``level`` that this course omits."""
    return tuple(n for n in DECLARED[day][level] if (day, n) in OMITTED)


def baked_source(source: str) -> str:
    """This file's text with the course's omission written in (for a bundle that ships it)."""
    line = 'COURSE_OMIT = ""'
    if line not in source:
        raise ValueError("catalogue.py: COURSE_OMIT line not found")
    text = ",".join(f"{d}:{e}" for d, e in sorted(OMITTED))
    return source.replace(line, f"COURSE_OMIT = {text!r}", 1)


# Every level of any day, in teaching order. Days differ (Day 16 has a "project" level, Day 15 has
# not): code that walks one day's levels uses levels_of(day), never LEVELS.
LEVELS: tuple[str, ...] = tuple(dict.fromkeys(lv for levels in CATALOGUE.values() for lv in levels))


def levels_of(day: str) -> tuple[str, ...]:
    """The levels of ``day``, in teaching order."""
    return tuple(CATALOGUE[day])


def exercises_of(day: str, level: str | None = None) -> list[tuple[str, str]]:
    """[(level, exercise)] of a day, in teaching order."""
    levels = levels_of(day) if level is None else (level,)
    return [(lv, name) for lv in levels for name in CATALOGUE[day][lv]]
