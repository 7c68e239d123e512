"""The exercise catalogue: the contract between solutions, stubs, checks and hidden suites.

Names and signatures here are fixed by the course; ``make exercises`` refuses to
build when ``solutions/`` disagrees with this list.
"""
from __future__ import annotations

DAYS = ("day15", "day16")

CATALOGUE: dict[str, dict[str, tuple[str, ...]]] = {
    "day15": {
        "basic": ("rnn_cell", "rnn_forward"),
        "intermediate": ("lstm_cell", "final_hidden"),
        "advanced": ("provoke", "diagnose"),
    },
    "day16": {
        "basic": ("bptt", "train_step"),
        "intermediate": ("tbptt_train", "clip_grad_norm", "hidden_grad_norms"),
        "advanced": ("provoke", "diagnose", "accumulated_grads"),
    },
}


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
