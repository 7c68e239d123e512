"""The exercise catalogue: the contract between solutions, stubs, checks and hidden suites.

Names and signatures here are fixed by the course; ``make exercises`` refuses to
build when ``solutions/`` disagrees with this list.
"""
from __future__ import annotations

DAYS = ("day15", "day16")
LEVELS = ("basic", "intermediate", "advanced")

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


def exercises_of(day: str, level: str | None = None) -> list[tuple[str, str]]:
    """[(level, exercise)] of a day, in teaching order."""
    levels = LEVELS if level is None else (level,)
    return [(lv, name) for lv in levels for name in CATALOGUE[day][lv]]
