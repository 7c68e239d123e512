"""Known mistakes named from precomputed summaries: the student bundle's stand-in for the fingerprints.

The kit names a known mistake by replaying a student's calls through known-wrong variants of
the reference (``autograder/fingerprints``); a student bundle cannot ship those variants (they
are the reference with one bug).  Instead, ``make release`` runs every variant through the
public checks once and keeps only a *summary* of each call's outcome (shapes, dtypes and three
sums of every tensor returned or changed, exception types and messages, training flags).
The self-check summarises the student's calls the same way: the one variant whose summaries
match every call, where the reference's do not, names the mistake.  The summaries cannot be
turned back into code, and the public checks' inputs are public anyway.

Shipped in the student bundle (no import of anything but torch and the standard library).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

TABLE_NAME = "known_mistakes.json"
FORMAT = 1


# ------------------------------------------------------------------------------------------
# Summaries
# ------------------------------------------------------------------------------------------

def _tensor_summary(t) -> list:
    import torch
    x = t.detach().to("cpu")
    if x.is_complex():
        x = torch.view_as_real(x)
    x = x.to(torch.float64).reshape(-1)
    nan = int(torch.isnan(x).sum())
    x = torch.nan_to_num(x, nan=0.0, posinf=1e300, neginf=-1e300)
    weights = torch.cos(torch.arange(x.numel(), dtype=torch.float64) * 0.7)   # position-sensitive
    return ["T", list(t.shape), str(t.dtype), nan,
            [float(x.sum()), float(x.abs().sum()), float((x * weights).sum())]]


def summarize(value: Any, depth: int = 0) -> Any:
    """A JSON-able summary of a value returned (or raised) by a call."""
    import torch
    if depth > 20:
        return ["O", "deep"]
    if isinstance(value, BaseException):
        try:
            message = str(value)[:300]
        except Exception:  # noqa: BLE001
            message = "?"
        return ["E", type(value).__name__, message]
    if isinstance(value, torch.Tensor):
        return _tensor_summary(value)
    if value is None or type(value) in (bool, str):
        return ["V", value]
    if type(value) in (int, float):
        return ["N", type(value).__name__, value if math.isfinite(value) else repr(value)]
    if type(value) in (list, tuple):
        return ["L", type(value).__name__, [summarize(v, depth + 1) for v in value]]
    if type(value) is dict:
        return ["D", [[repr(k), summarize(v, depth + 1)] for k, v in value.items()]]
    return ["O", type(value).__name__]


def _argument_state(args: tuple, kwargs: dict) -> list:
    """What the call may have changed: argument tensors (value and grad), modules' parameters, flags."""
    import torch
    out, seen = [], set()

    def tensor(t):
        if id(t) in seen:
            return
        seen.add(id(t))
        out.append([_tensor_summary(t), None if t.grad is None else _tensor_summary(t.grad)])

    def visit(obj, depth):
        if depth > 20 or id(obj) in seen:
            return
        if isinstance(obj, torch.Tensor):
            tensor(obj)
        elif isinstance(obj, torch.nn.Module):
            seen.add(id(obj))
            out.append(["training", [m.training for m in obj.modules()]])
            for p in obj.parameters():
                tensor(p)
        elif type(obj) in (list, tuple):
            for v in obj:
                visit(v, depth + 1)
        elif type(obj) is dict:
            for v in obj.values():
                visit(v, depth + 1)

    visit(list(args) + list(kwargs.values()), 0)
    return out


class SummaryRecorder:
    """Wraps a function: calls it as usual and keeps a summary of each call's outcome."""

    def __init__(self, fn: Callable):
        import functools
        self.fn = fn
        self.calls: list = []
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        try:
            result = self.fn(*args, **kwargs)
        except NotImplementedError:
            raise
        except Exception as exc:
            self._keep(True, exc, args, kwargs)
            raise
        self._keep(False, result, args, kwargs)
        return result

    def _keep(self, failed, result, args, kwargs):
        try:
            self.calls.append([failed, summarize(result), _argument_state(args, kwargs)])
        except Exception:  # noqa: BLE001 - a value we cannot summarise: this call tells nothing
            self.calls.append(None)


# ------------------------------------------------------------------------------------------
# Comparing summaries
# ------------------------------------------------------------------------------------------

def _close_tensor(a: list, b: list) -> bool:
    if a[1] != b[1] or a[2] != b[2] or a[3] != b[3]:
        return False
    n = max(1, math.prod(a[1]) if a[1] else 1)
    if "float64" in a[2]:
        atol, rtol = 1e-7, 1e-5
    elif "float16" in a[2]:
        atol, rtol = 1e-2, 1e-2
    else:
        atol, rtol = 1e-4, 1e-3
    scale = abs(b[4][1])
    return all(abs(x - y) <= n * atol + rtol * scale for x, y in zip(a[4], b[4]))


def same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list) and a and b and a[0] == "T" and b[0] == "T":
        return _close_tensor(a, b)
    if isinstance(a, list) and isinstance(b, list) and len(a) == 3 and len(b) == 3 and a[0] == b[0] == "N":
        x, y = a[2], b[2]
        if isinstance(x, str) or isinstance(y, str):
            return x == y
        return math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-8)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _explains(expected: list, calls: list, *, prefix: bool) -> bool:
    if None in calls or (len(calls) != len(expected) and not prefix) or len(calls) > len(expected):
        return False
    return all(same(c, e) for c, e in zip(calls, expected))


def identify(table: dict, day: str, exercise: str, calls: list) -> dict | None:
    """The one known mistake whose summaries match every call, where the reference's do not."""
    entry = table.get("exercises", {}).get(f"{day}:{exercise}")
    if not entry or not calls:
        return None
    if _explains(entry["reference"], calls, prefix=True):
        return None
    named = [v for v in entry["variants"] if _explains(v["calls"], calls, prefix=False)]
    return named[0] if len(named) == 1 else None


def describe(found: dict) -> str:
    """The lines appended to a failed check's message (the kit's ``fingerprints.match.describe``)."""
    return f"This looks like a known mistake ({found['name']}): {found['explanation']}\n  Hint: {found['hint']}"


def load_table(folder: Path | None = None) -> dict | None:
    """The table shipped beside this module (a student bundle), or None (the kit)."""
    path = Path(folder or Path(__file__).resolve().parent) / TABLE_NAME
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return table if isinstance(table, dict) and table.get("format") == FORMAT else None


def seed_like_release() -> None:
    """The random state ``make release`` ran the variants under (the checks draw from fixed seeds anyway)."""
    import random

    import torch
    torch.manual_seed(0)
    random.seed(0)


class TableNamer:
    """``selfcheck``'s namer in a student bundle: summaries in, a known mistake out."""

    def __init__(self, table: dict):
        self.table = table

    def wrap(self, fn: Callable, day: str, exercise: str):
        seed_like_release()
        return SummaryRecorder(fn)

    def name(self, day: str, exercise: str, recorder) -> tuple[str, str] | None:
        found = identify(self.table, day, exercise, recorder.calls)
        return None if found is None else (found["name"], describe(found))
