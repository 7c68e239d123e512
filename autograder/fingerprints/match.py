"""Replaying a failed test's calls through the reference and the known-wrong variants.

A :class:`Call` is what one call of a student's function looked like from the caller's
side: the arguments exactly as sent (pickled, tensors in a side table, the format of the
grading engine's boundary), the random seed and grad mode it ran under, what came back
(a value or an exception) and the state of every argument tensor afterwards (values,
``.grad``, modules' training flags).  :func:`identify` re-runs the calls on fresh copies of
the same arguments through the reference and every variant of the exercise and names the
variant that reproduces the student's outcome on every call, where the reference does not.

Used on the trusted side only: the grader (``engine/boundary.py`` records, ``engine/runner.py``
asks) and ``make check`` (``selfcheck.py``, in-process).
"""
from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import io
import math
import pickle
import random
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from autograder import tensor_table
from autograder.fingerprints import Variant, variants_for
from autograder.stateful import stateful_objects

KIT = Path(__file__).resolve().parents[2]
REPLAY_BUDGET_S = 20.0      # per failed test: a pathological case gives up rather than stall the grader
MAX_CALLS = 64


@functools.lru_cache(maxsize=None)
def references(day: str):
    from autograder.loading import load_day
    return load_day(KIT / "solutions", day)


# ------------------------------------------------------------------------------------------
# Outcomes
# ------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    failed: bool                 # the call raised
    result: Any                  # the value returned (tensors detached) or the exception raised
    after: list                  # per argument tensor: (value, grad or None) after the call
    training: list               # per module argument: training flags of its submodules


@dataclass
class Call:
    day: str
    name: str
    blob: bytes                  # pickled (args, kwargs), tensors as persistent ids into ``table``
    table: bytes                 # rows (value, is_parameter, requires_grad, grad), packed by tensor_table
    seed: int | None
    grad: bool
    outcome: Outcome
    rng: torch.Tensor | None = None     # in-process calls: the CPU generator's state before the call
    extra: dict = field(default_factory=dict)


def plain(value, depth: int = 0):
    """A detached copy of a result, safe to keep while the test goes on."""
    if depth > 20:
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if type(value) in (list, tuple):
        return type(value)(plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return {k: plain(v, depth + 1) for k, v in value.items()}
    return value


def snapshot(table: list) -> list:
    return [(t.detach().clone(), None if t.grad is None else t.grad.detach().clone()) for t in table]


def training_flags(stateful: list) -> list:
    return [[m.training for m in obj.modules()] for obj in stateful if isinstance(obj, torch.nn.Module)]


# ------------------------------------------------------------------------------------------
# Arguments: as sent, and rebuilt
# ------------------------------------------------------------------------------------------

class _AsIter:
    """An iterator argument, already read into a list (so recording does not consume it)."""

    def __init__(self, items: list):
        self.items = items


class _Pickler(pickle.Pickler):
    def __init__(self, buf, table: list):
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self.table, self.index = table, {}

    def persistent_id(self, obj):
        if isinstance(obj, torch.Tensor):
            if id(obj) not in self.index:
                self.index[id(obj)] = len(self.table)
                self.table.append(obj)
            return self.index[id(obj)]
        return None

    def reducer_override(self, obj):
        if isinstance(obj, _AsIter):
            return iter, (obj.items,)
        return NotImplemented


def pickle_call(args: tuple, kwargs: dict) -> tuple[bytes, bytes, list]:
    """(blob, table blob, table) in the boundary's format, for an in-process call."""
    table: list = []
    buf = io.BytesIO()
    _Pickler(buf, table).dump((args, kwargs))
    rows = [(t.detach(), isinstance(t, torch.nn.Parameter), t.requires_grad,
             None if t.grad is None else t.grad.detach()) for t in table]
    return buf.getvalue(), tensor_table.pack(rows), table


def rebuild(call: Call) -> tuple[tuple, dict, list]:
    """Fresh copies of the arguments as sent, sharing kept (as the worker rebuilds them)."""
    table = []
    for value, is_param, rg, grad in tensor_table.unpack(call.table):
        value = value.clone()
        t = torch.nn.Parameter(value, requires_grad=rg) if is_param else value.requires_grad_(rg)
        if grad is not None:
            t.grad = grad.clone()
        table.append(t)
    unpickler = pickle.Unpickler(io.BytesIO(call.blob))
    unpickler.persistent_load = lambda pid: table[pid]
    args, kwargs = unpickler.load()
    return args, kwargs, table


def _manual_seed(seed: int) -> None:
    """``torch.manual_seed`` without its cost where CUDA is not initialized: it would queue the seed for a
    later CUDA start with a copy of the call stack (``traceback.format_stack``), the largest part of a
    replay.  A replay on CUDA tensors runs where CUDA is initialized, and is seeded as before."""
    if torch.cuda.is_initialized():
        torch.manual_seed(seed)
    else:
        torch.random.default_generator.manual_seed(seed)


# Outcomes of replays, once per grading process: the reference and the variants are deterministic
# functions of a call's inputs (arguments as sent, seed or generator state, grad mode), and the hidden
# tests' inputs are seeded, so every student who fails the same test replays the same calls.  Keyed by
# the function object (alive for the whole process) and a digest of the inputs; nothing of a student's
# outcome is part of the key or the value.  Bounded: the least recently used are dropped.
_REPLAYS: collections.OrderedDict = collections.OrderedDict()
REPLAY_CACHE_SIZE = 4096


def _inputs_key(call: Call) -> bytes:
    h = hashlib.sha256()
    for part in (call.day, call.name, call.blob, call.table, repr((call.seed, call.grad)),
                 b"" if call.rng is None else call.rng.numpy().tobytes()):
        part = part.encode() if isinstance(part, str) else part
        h.update(len(part).to_bytes(8, "little") + part)
    return h.digest()


def replay_cached(fn: Callable, call: Call) -> Outcome:
    """:func:`replay`, computed once per function and inputs in this process (``_REPLAYS``)."""
    key = (fn, _inputs_key(call))
    found = _REPLAYS.get(key)
    if found is not None:
        _REPLAYS.move_to_end(key)
        return found
    outcome = replay(fn, call)
    _REPLAYS[key] = outcome
    if len(_REPLAYS) > REPLAY_CACHE_SIZE:
        _REPLAYS.popitem(last=False)
    return outcome


def replay(fn: Callable, call: Call) -> Outcome:
    args, kwargs, table = rebuild(call)
    stateful = stateful_objects(args, kwargs)
    rng, py_rng, grad_mode = torch.get_rng_state(), random.getstate(), torch.is_grad_enabled()
    try:
        if call.rng is not None:
            torch.set_rng_state(call.rng)
        elif call.seed is not None:
            _manual_seed(call.seed)
            random.seed(call.seed)
        torch.set_grad_enabled(call.grad)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                result, failed = fn(*args, **kwargs), False
            except Exception as exc:  # noqa: BLE001 - an exception is an outcome like any other
                result, failed = exc, True
        torch.set_grad_enabled(True)
        return Outcome(failed, plain(result), snapshot(table), training_flags(stateful))
    finally:
        torch.set_rng_state(rng)
        random.setstate(py_rng)
        torch.set_grad_enabled(grad_mode)


# ------------------------------------------------------------------------------------------
# Comparing outcomes
# ------------------------------------------------------------------------------------------

def _tolerance(dtype: torch.dtype) -> tuple[float, float]:
    if dtype == torch.float64:
        return 1e-7, 1e-5
    if dtype in (torch.float16, torch.bfloat16):
        return 1e-2, 1e-2
    return 1e-4, 1e-3


def close_tensors(a, b) -> bool:
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if not (a.is_floating_point() or a.is_complex()):
        return bool(torch.equal(a.cpu(), b.cpu()))
    x, y = a.detach().to("cpu", torch.float64), b.detach().to("cpu", torch.float64)
    atol, rtol = _tolerance(a.dtype)
    both_nan = torch.isnan(x) & torch.isnan(y)
    ok = ((x - y).abs() <= atol + rtol * y.abs()) | both_nan | (x == y)
    return bool(ok.all())


def _message(exc: BaseException) -> str:
    try:
        return str(exc)[:300]
    except Exception:  # noqa: BLE001
        return "?"


def same_value(a, b, depth: int = 0) -> bool:
    if depth > 20:
        return False
    if isinstance(a, BaseException) or isinstance(b, BaseException):
        return isinstance(a, BaseException) and isinstance(b, BaseException) \
            and type(a).__name__ == type(b).__name__ and _message(a) == _message(b)
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return close_tensors(a, b)
    if type(a) is bool or type(b) is bool or a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    if type(a) in (int, float) and type(b) in (int, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-8)
    if type(a) in (list, tuple) and type(b) in (list, tuple):
        return len(a) == len(b) and all(same_value(x, y, depth + 1) for x, y in zip(a, b))
    if type(a) is dict and type(b) is dict:
        return a.keys() == b.keys() and all(same_value(a[k], b[k], depth + 1) for k in a)
    return False


def same_outcome(a: Outcome, b: Outcome) -> bool:
    if a.failed != b.failed or not same_value(a.result, b.result):
        return False
    if len(a.after) != len(b.after) or a.training != b.training:
        return False
    for (va, ga), (vb, gb) in zip(a.after, b.after):
        if not close_tensors(va, vb):
            return False
        if (ga is None) != (gb is None) or (ga is not None and not close_tensors(ga, gb)):
            return False
    return True


# ------------------------------------------------------------------------------------------
# Naming the mistake
# ------------------------------------------------------------------------------------------

def explains(fn: Callable, calls: list[Call], deadline: float) -> bool:
    """Does ``fn`` reproduce the outcome of every call?"""
    for call in calls:
        if time.monotonic() > deadline:
            raise TimeoutError
        if not same_outcome(call.outcome, replay_cached(fn, call)):
            return False
    return True


def identify(day: str, exercise: str, calls: list[Call], budget_s: float = REPLAY_BUDGET_S) -> Variant | None:
    """The one known mistake that explains these calls of ``exercise``, or None."""
    calls = [c for c in calls if c.day == day and c.name == exercise][:MAX_CALLS]
    variants = variants_for(day, exercise)
    if not calls or not variants:
        return None
    reference = getattr(references(day), exercise, None)
    deadline = time.monotonic() + budget_s
    try:
        if reference is None or explains(reference, calls, deadline):
            return None      # the code did what the reference does on these calls: no variant can tell more
        named = [v for v in variants if explains(v.fn, calls, deadline)]
    except TimeoutError:
        return None
    return named[0] if len(named) == 1 else None


def describe(v: Variant) -> str:
    """The lines appended to a failed test's message."""
    return f"This looks like a known mistake ({v.name}): {v.explanation}\n  Hint: {v.hint}"


# ------------------------------------------------------------------------------------------
# In-process recording (make check)
# ------------------------------------------------------------------------------------------

class Recorder:
    """Wraps a student's function: calls it as usual and records every call for :func:`identify`."""

    def __init__(self, fn: Callable, day: str, name: str):
        self.fn, self.day, self.name = fn, day, name
        self.calls: list[Call] = []
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        def loosen(a):
            if isinstance(a, types.GeneratorType) or type(a).__name__.endswith("iterator"):
                return _AsIter(list(a))
            return a
        sent = tuple(loosen(a) for a in args)
        sent_kw = {k: loosen(v) for k, v in kwargs.items()}
        run_args = tuple(iter(a.items) if isinstance(a, _AsIter) else a for a in sent)
        run_kw = {k: iter(v.items) if isinstance(v, _AsIter) else v for k, v in sent_kw.items()}
        try:
            blob, tblob, table = pickle_call(sent, sent_kw)
        except Exception:  # noqa: BLE001 - cannot record this one: call it anyway
            blob = None
        rng, grad = torch.get_rng_state(), torch.is_grad_enabled()
        try:
            result = self.fn(*run_args, **run_kw)
        except NotImplementedError:
            raise
        except Exception as exc:
            if blob is not None:
                self._keep(blob, tblob, table, rng, grad, True, exc, run_args, run_kw)
            raise
        if blob is not None:
            self._keep(blob, tblob, table, rng, grad, False, result, run_args, run_kw)
        return result

    def _keep(self, blob, tblob, table, rng, grad, failed, result, args, kwargs):
        try:
            outcome = Outcome(failed, plain(result), snapshot(table), training_flags(stateful_objects(args, kwargs)))
        except Exception:  # noqa: BLE001
            return
        self.calls.append(Call(self.day, self.name, blob, tblob, None, grad, outcome, rng=rng))
