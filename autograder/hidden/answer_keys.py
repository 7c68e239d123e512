"""The references' answers, computed once per grader process instead of once per student.

A hidden test calls the reference solutions on inputs seeded from the test's name: the same inputs
for every student, so the same answers (issue 16: 0.2-0.25 of the grader's ~1.1 CPU s per student,
``tbptt_train`` most of it).  A grader grades many students one after another in one process, so
:class:`AnswerKeys` remembers each reference call by

* the function and its arguments exactly, as the boundary pickles them for a worker
  (``boundary._pickle_call``'s pickler and table: the pickle and the raw bytes of every tensor,
  ``.grad``, ``requires_grad`` and Parameter-ness included; modules and optimizers pickle their
  whole state), without pickle's memo (:func:`_contents` says why),
* torch's CPU random state, the grad mode and the default dtype,

and on a hit leaves the world exactly as the real call would: the arguments' changes (values,
``.grad``, ``requires_grad``, training flags, optimizer state), recorded with the worker's own
encoding of a call's effect (``Worker.encode_call``) and written back with the boundary's
(``boundary._apply_mutations``), the random state after the call, and a fresh copy of the result.

Nothing is cached that a hit could not reproduce: a result that is not plain data (tensors, numbers,
str, None, tuples, lists, dicts), carries a graph or shares storage with an argument; an exception;
a parameter replaced by a new tensor; anything on CUDA (GPU grading stays real).  And before an
answer is kept, its recorded effect is applied to a copy of the arguments as they were before the
call, and that copy must pickle to exactly the same bytes as the real arguments after the call: a
change the record cannot say (an attribute set on a module, a list argument appended to) is caught
there and the call is simply not cached.

A reference whose hits cost more than its real calls (rnn_cell, diagnose), or whose answers are
never kept (final_states: a result with a graph), stops being looked up (``AnswerKeys.adaptive``).

``RNNKIT_REFERENCE_CACHE=0`` switches the cache off (the tests compare both ways).
"""
from __future__ import annotations

import collections
import copy
import hashlib
import io
import os
import pickle
import time
import types

import torch

from autograder import tensor_table
from autograder.engine import boundary
from autograder.engine.worker import Worker
from autograder.stateful import stateful_objects

ENV = "RNNKIT_REFERENCE_CACHE"
MAX_BYTES = 64 << 20   # the hidden suites' answer keys: ~0.3 MB (146 answers); a bound for per-student inputs
_PLAIN_SCALARS = (type(None), bool, int, float, complex, str)


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0"


class _Keep:
    """Stands in for the worker's ``protocol.Encoder`` in ``Worker.encode_call``: instead of bytes for
    the wire it keeps a private copy (``copy.deepcopy`` keeps storage shared between tensors shared)."""
    grad_outputs = None

    def encode(self, value):
        return copy.deepcopy(value)


def _iterators(obj, depth: int = 0) -> bool:
    """An iterator among the arguments: pickling it (``boundary._ArgPickler``) would use it up."""
    if isinstance(obj, types.GeneratorType) or type(obj).__name__.endswith("iterator"):
        return True
    if depth < 20 and type(obj) in (list, tuple):
        return any(_iterators(v, depth + 1) for v in obj)
    if depth < 20 and type(obj) is dict:
        return any(_iterators(v, depth + 1) for v in obj.values())
    return False


def _plain(value, taken: set, depth: int = 0) -> bool:
    """Plain data a copy can stand for: no graph, no storage of an argument's, no other objects."""
    if isinstance(value, _PLAIN_SCALARS):
        return type(value) in _PLAIN_SCALARS          # (not a subclass: an IntEnum, a str subclass)
    if type(value) is torch.Tensor:
        return (not value.requires_grad and value.grad_fn is None and value.layout == torch.strided
                and value.device.type == "cpu" and value.untyped_storage().data_ptr() not in taken)
    if depth > 50:
        return False
    if type(value) in (list, tuple):
        return all(_plain(v, taken, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) in _PLAIN_SCALARS and _plain(v, taken, depth + 1) for k, v in value.items())
    return False


def _nbytes(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.untyped_storage().nbytes() + 100
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value) + 50
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values()) + 50
    return 50


def _rebuild(blob: bytes, table_blob: bytes):
    """The arguments as they were pickled, rebuilt as new objects (as the worker rebuilds them)."""
    table = []
    for value, is_param, rg, grad in tensor_table.unpack(table_blob):
        t = torch.nn.Parameter(value, requires_grad=rg) if is_param else value.requires_grad_(rg)
        if grad is not None:
            t.grad = grad
        table.append(t)
    unpickler = pickle.Unpickler(io.BytesIO(blob))
    unpickler.persistent_load = lambda pid: table[pid]
    args, kwargs = unpickler.load()
    return args, kwargs, table


def _contents(args: tuple, kwargs: dict) -> tuple[bytes, bytes, list]:
    """``boundary._pickle_call``'s description of the arguments (its pickler, its table of tensors),
    without pickle's memo.  The memo records which equal strings, tuples... are one object, and that
    says nothing about a value but varies from run to run (an nn.GRU built first in a process shares
    its weight names differently than the next one; a param_group's settings are the defaults' own
    objects until load_state_dict copies them): with it, equal arguments would pickle apart.  Tensors
    are still told apart (and shared) by the table; a cycle raises (``fast`` mode): not cached."""
    table: list = []
    buf = io.BytesIO()
    pickler = boundary._ArgPickler(buf, table)
    pickler.fast = True
    pickler.dump((args, kwargs))
    if any(t.grad_fn is not None for t in table):
        # A backward inside the reference would reach leaves outside the arguments, which a hit could
        # not reproduce.  (Raised before .grad is read: a non-leaf's .grad warns.)
        raise ValueError("an argument has a graph")
    rows = [(t.detach(), isinstance(t, torch.nn.Parameter), t.requires_grad,
             None if t.grad is None else t.grad.detach()) for t in table]
    return buf.getvalue(), tensor_table.pack(rows), table


class _Answer:
    __slots__ = ("values", "rng", "size", "real")

    def __init__(self, values: dict, rng: torch.Tensor, size: int, real: float):
        self.values, self.rng, self.size, self.real = values, rng, size, real    # (real: the call's CPU s)


class AnswerKeys:
    """A bounded (least recently used, by bytes) memo of reference calls, for one process."""

    def __init__(self, max_bytes: int = MAX_BYTES, adaptive: bool = True):
        self.max_bytes = max_bytes
        self.entries: collections.OrderedDict = collections.OrderedDict()
        self.size = 0
        self.hits = self.misses = self.uncached = 0
        # A hit costs 0.1-2 ms (the key, the copies): more than a cheap reference (rnn_cell: 0.04 ms,
        # diagnose 0.03 ms), and a reference whose answers are never kept (a result with a graph:
        # final_states) pays for its keys for nothing.  With ``adaptive``, a function is no longer looked
        # up once its hits (5 or more) have cost more CPU in all than the real calls they stood for, or
        # after 3 misses with nothing kept (the answer is the same either way: only the cost differs).
        # Per function and in all, not per hit: tbptt_train's small cases cost about what a hit costs,
        # its large ones 30 times more.
        self.adaptive = adaptive
        self.saved: collections.Counter = collections.Counter()     # fn -> CPU s its hits saved, in all
        self.replayed: collections.Counter = collections.Counter()  # fn -> hits
        self.unkept: collections.Counter = collections.Counter()    # fn -> misses not kept
        self.kept: collections.Counter = collections.Counter()
        self.bypassed: set = set()

    def clear(self) -> None:
        self.entries.clear()
        self.size = 0

    def wrap(self, fn):
        def answer(*args, **kwargs):
            return self.call(fn, args, kwargs)
        answer.__wrapped__ = fn
        answer.__name__ = getattr(fn, "__name__", "answer")
        answer.__qualname__ = getattr(fn, "__qualname__", answer.__name__)
        answer.__doc__ = getattr(fn, "__doc__", None)
        return answer

    def _key(self, fn, args: tuple, kwargs: dict):
        """(key, table, blob, table bytes), or None when the call must simply run."""
        if not enabled() or torch.cuda.is_initialized() or _iterators((args, kwargs)):
            return None
        try:
            blob, table_blob, table = _contents(args, kwargs)
        except (Exception, boundary.BoundaryError):     # (a lambda, a test's own class, a cycle...)
            return None
        for t in table:                         # (on CUDA: graded for real)
            if t.device.type != "cpu" or (t.grad is not None and t.grad.device.type != "cpu"):
                return None
        digest = hashlib.blake2b(digest_size=32)
        for part in (blob, table_blob, torch.get_rng_state().numpy().tobytes()):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
        # Settings that change a float's last bits (threads split a reduction differently; seen: a
        # test process that switched to one thread met answers kept under two) are part of the key.
        numerics = (torch.get_num_threads(), torch.get_float32_matmul_precision(),
                    torch.are_deterministic_algorithms_enabled(), torch.backends.mkldnn.enabled)
        key = (fn, digest.digest(), torch.is_grad_enabled(), torch.get_default_dtype(), numerics)
        return key, table, blob, table_blob

    def call(self, fn, args: tuple, kwargs: dict):
        if fn in self.bypassed:
            self.uncached += 1
            return fn(*args, **kwargs)
        start = time.process_time()
        found = self._key(fn, args, kwargs)
        if found is None:
            self.uncached += 1
            return fn(*args, **kwargs)
        key, table, blob, table_blob = found
        answer = self.entries.get(key)
        if answer is not None:
            self.entries.move_to_end(key)
            self.hits += 1
            result = self._replay(answer, table, args, kwargs)
            self.saved[fn] += answer.real - (time.process_time() - start)
            self.replayed[fn] += 1
            if self.adaptive and self.replayed[fn] >= 5 and self.saved[fn] < 0:
                self.bypassed.add(fn)
            return result
        self.misses += 1
        stateful = stateful_objects(args, kwargs)
        # (what the worker records before a call, to tell what the call changed)
        before = [(t.detach().clone(), None if t.grad is None else t.grad.detach().clone(), t.requires_grad)
                  for t in table]
        start = time.process_time()
        try:
            result = fn(*args, **kwargs)
        except BaseException:                   # raised as without the cache, nothing kept
            self._not_kept(fn)
            raise
        real = time.process_time() - start
        rng = torch.get_rng_state()
        try:
            kept = self._keep(key, result, rng, real, table, before, stateful, blob, table_blob, args, kwargs)
        except (Exception, boundary.ChangedInput, boundary.Crashed):  # noqa: BLE001 - what cannot be recorded
            kept = False          # or checked is not cached; the real call's answer stands (a GraderLimit goes on)
        if kept:
            self.kept[fn] += 1
        else:
            self._not_kept(fn)
        return result

    def _not_kept(self, fn) -> None:
        self.unkept[fn] += 1
        if self.adaptive and self.unkept[fn] >= 3 and not self.kept[fn]:
            self.bypassed.add(fn)

    def _keep(self, key, result, rng, real, table, before, stateful, blob, table_blob, args, kwargs) -> bool:
        if (torch.is_grad_enabled(), torch.get_default_dtype()) != key[2:4]:
            return False                        # the call left torch's grad mode or default dtype changed
        taken = {t.untyped_storage().data_ptr() for t in table}
        taken |= {t.grad.untyped_storage().data_ptr() for t in table if t.grad is not None}
        if not _plain(result, taken):
            return False
        values = Worker.encode_call(_Keep(), result, table, before, {id(t) for t in table}, stateful)
        if any(m.get("swapped") for m in values["mods"]):
            return False                        # a parameter replaced by a new tensor
        # The record must say everything the call did to its arguments: replayed on a copy of the
        # arguments as they were, it must leave that copy pickling to the same bytes as the real ones.
        # The real arguments are compared through a rebuilt copy too, their optimizers reloaded from their
        # own state_dict as a replay's are: unpickling puts some modules' attributes in another order
        # (nn.RNN's __setstate__), load_state_dict a param_group's keys ("params" last), which nothing reads
        # (state_dict() is the same); every value, flag and state entry is compared.
        copy_args, copy_kwargs, copy_table = _rebuild(blob, table_blob)
        boundary._apply_mutations(copy_table, stateful_objects(copy_args, copy_kwargs), copy.deepcopy(values))
        real_args, real_kwargs, _ = _rebuild(*_contents(args, kwargs)[:2])
        for obj in stateful_objects(real_args, real_kwargs):
            if isinstance(obj, torch.optim.Optimizer):
                obj.load_state_dict(obj.state_dict())
        if _contents(copy_args, copy_kwargs)[:2] != _contents(real_args, real_kwargs)[:2]:
            return False
        size = _nbytes(values) + 200
        if size > self.max_bytes:
            return False
        self.entries[key] = _Answer(values, rng, size, real)
        self.size += size
        while self.size > self.max_bytes:
            _, old = self.entries.popitem(last=False)
            self.size -= old.size
        return True

    def _replay(self, answer: _Answer, table: list, args: tuple, kwargs: dict):
        values = copy.deepcopy(answer.values)   # fresh tensors: the test may change them (a .grad accumulates)
        boundary._apply_mutations(table, stateful_objects(args, kwargs), values)
        torch.set_rng_state(answer.rng)
        return values["result"]


KEYS = AnswerKeys()     # one per process: a grader's students share it


def memoized(namespace: types.SimpleNamespace) -> types.SimpleNamespace:
    """The namespace with every function wrapped by :data:`KEYS` (classes and other values as they are)."""
    return types.SimpleNamespace(**{
        name: KEYS.wrap(value) if callable(value) and not isinstance(value, type) else value
        for name, value in vars(namespace).items()})
