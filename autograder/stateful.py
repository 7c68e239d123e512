"""Which arguments of a call carry state that the call may change (modules and optimizers).

Shared by the engine's worker and grader sides and by the fingerprint replay, which must
list them in the same order; free of the engine's import-time settings, so ``make check``
can use it too.
"""
from __future__ import annotations

import torch


def stateful_objects(args: tuple, kwargs: dict) -> list:
    """Modules and optimizers among the arguments, in a fixed order (grader and worker agree)."""
    found, seen = [], set()

    def visit(obj, depth):
        if depth > 20 or id(obj) in seen:
            return
        if isinstance(obj, (torch.nn.Module, torch.optim.Optimizer)):
            seen.add(id(obj))
            found.append(obj)
        elif type(obj) in (list, tuple):
            for v in obj:
                visit(v, depth + 1)
        elif type(obj) is dict:
            for v in obj.values():
                visit(v, depth + 1)

    visit(list(args) + list(kwargs.values()), 0)
    return found
