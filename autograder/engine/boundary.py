"""The grader's side of the boundary: ``submission.rnn_cell(x, h, ...)`` in a hidden test.

:class:`Session` holds one student's workers (one per device, started lazily
from the zygote) and turns a call into a request:

* arguments are pickled by :class:`_ArgPickler`: every tensor goes into a side
  table (value, grad, requires_grad, Parameter-ness) so that sharing survives
  (a model and ``list(model.parameters())`` name the same tensors in the
  worker); generators are materialized; classes that the worker cannot import
  (defined in a hidden test) are refused with a message for the test's author;
* the reply is plain data (``protocol.unpack``).  The new state of every argument
  the call changed is written back into the grader's own objects in place
  (tensor values and ``.grad``, modules' training flags and replaced
  parameters, optimizers' ``state_dict``), so a test reads ``model.weight``
  after ``submission.train_step(model, ...)`` as it would in one process;
* a returned tensor that requires grad is attached to the grader's inputs by
  :class:`_Boundary`, a custom autograd Function whose backward asks the worker
  for the vector-Jacobian product through the graph it kept, so
  ``out.sum().backward(); x.grad`` works across the boundary.

What cannot produce a result raises a :class:`CallFailed` (a BaseException, so
a test's ``except Exception`` or ``pytest.raises(ValueError)`` cannot swallow
it): missing code, timeouts, crashes.
"""
from __future__ import annotations

import contextlib
import errno
import importlib.util
import io
import marshal
import os
import pickle
import select
import shutil
import signal
import tempfile
import time
import types
import zlib

import torch

from autograder import tensor_table
from autograder.catalogue import CATALOGUE, levels_of
from autograder.engine import protocol, sandbox
from autograder.stateful import stateful_objects

class CallFailed(BaseException):
    """The call produced no result; ``status`` and ``str()`` go to the report."""
    status = "error"


class Missing(CallFailed):
    status = "missing"


class TimedOut(CallFailed):
    status = "timed out"


class Crashed(CallFailed):
    status = "crashed"


class BoundaryError(CallFailed):
    """The hidden test passed something that cannot cross (a problem of the test, not the student)."""
    status = "error"


class GraderLimit(CallFailed):
    """The hidden test's own work (its reference, its checks) ran past the grader's limit for one test.

    Per-call limits bound the student's code; this bounds what a test does with what came back, so
    that no submission can make a grader compute for minutes (and stall the class behind it)."""
    status = "failed"


# CPU seconds of the grader process (not of the student's worker) that one test may use: honest tests
# take well under a second; a reference looping over inputs a submission inflated would take minutes.
GRADER_CPU_PER_TEST = 60.0


class _WorkerGone(Exception):
    def __init__(self, why: str, outside: bool = False):
        super().__init__(why)
        self.why = why
        self.outside = outside     # killed from outside (kill -9, the OOM killer): not the student's doing


# ------------------------------------------------------------------------------------------
# One worker process
# ------------------------------------------------------------------------------------------

class WorkerHandle:
    def __init__(self, client, spec: dict, start_timeout: float, rss_limit: int | None):
        self.spec = spec
        self.keeper, sock, self.out_r, self.status_r = client.spawn(spec)
        self.sock = sock
        self.chan = sock.fileno()
        self.keeper_fd = os.pidfd_open(self.keeper)
        self.worker_fd = None
        self.reader = protocol.FrameReader(self.chan)
        os.set_blocking(self.out_r, False)
        self.seq = 0
        self.alive = True
        self.rss_limit = rss_limit
        self.rss_base = 0
        self.next_rss = 0.0
        self.loaded: set[tuple[str, str]] = set()
        self.status_buf = b""
        try:
            self._start(start_timeout)
        except TimeoutError:
            self.close()
            # No line of the student's has run yet: a start this slow is the machine's, graded again.
            raise _WorkerGone(f"it did not start within {start_timeout:g} s", outside=True) from None
        except _WorkerGone:
            self.close()
            raise
        if rss_limit is not None:
            self.rss_base = sandbox.tree_rss(self.worker_pid)

    def _start(self, timeout: float) -> None:
        line = self._status_line(timeout)
        if not line.startswith("P") or not line[1:].isdigit():
            # No line at all: its keeper vanished (killed from outside) before a line of the student's ran.
            raise _WorkerGone(f"the worker could not start ({line[1:].strip() or 'no answer'})", outside=not line)
        self.worker_pid = int(line[1:])
        try:
            self.worker_fd = os.pidfd_open(self.worker_pid)
        except OSError:
            pass
        header, values = self.receive(time.monotonic() + timeout)
        if "error" in values:
            raise _WorkerGone(str(values["error"]))

    # -- I/O ------------------------------------------------------------------------------
    def _status_line(self, timeout: float) -> str:
        """The keeper's next report: "P<worker pid>", then "S<wait status>" (or "E<error>")."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.status_buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.status_r], [], [], max(left, 0))
            chunk = os.read(self.status_r, 1024) if r else b""
            if not chunk:
                break
            self.status_buf += chunk
        line, _, self.status_buf = self.status_buf.partition(b"\n")
        return line.decode(errors="replace")

    def _drain(self, fd: int) -> None:
        """Read the worker's stdout/stderr as it comes and drop it: a flood never blocks the worker,
        never fills the grader's memory, and nothing it prints reaches a report."""
        try:
            os.read(fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            pass

    def _watch(self) -> None:
        """CUDA workers have no RLIMIT_AS: watch their resident memory from here instead."""
        if self.rss_limit is None or time.monotonic() < self.next_rss:
            return
        self.next_rss = time.monotonic() + 0.25
        if sandbox.tree_rss(self.worker_pid) - self.rss_base > self.rss_limit:
            self.kill()
            raise _WorkerGone(f"it used more than {self.rss_limit >> 20} MiB of memory")

    def send(self, msg: dict, deadline: float) -> int:
        self.seq += 1
        msg["id"] = self.seq
        body = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        data = memoryview(protocol._HEADER.pack(len(body) + 1) + b"P" + body)
        while data:
            try:
                n = os.write(self.chan, data)
                data = data[n:]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                    raise self._gone() from None
                raise
            if time.monotonic() > deadline:
                raise TimeoutError
            # The worker is busy (or stuck): keep draining its output while we wait to write.
            r, _, _ = select.select([self.out_r], [self.chan], [], 0.2)
            if r:
                self._drain(self.out_r)
            self._watch()
        return self.seq

    def receive(self, deadline: float, want: int = 0):
        while True:
            try:
                tag, body = self.reader.read(deadline, [self.out_r], self._drain, self._watch)
            except EOFError:
                raise self._gone() from None
            except protocol.ProtocolError as exc:
                self.kill()
                raise _WorkerGone(f"it sent an unreadable message ({exc})") from None
            if tag != b"J":
                self.kill()
                raise _WorkerGone("it sent an unreadable message")
            try:
                header, values, by_blob = protocol.unpack(body, cuda_ok=self.spec["cuda"])
            except protocol.ProtocolError as exc:
                self.kill()
                raise _WorkerGone(f"it sent an unreadable message ({exc})") from None
            if header.get("id") == want:
                self.last_blobs = by_blob
                return header, values
            # A stale answer (or a forged one from a process the student forked): ignore it.

    def request(self, msg: dict, timeout: float):
        deadline = time.monotonic() + timeout
        want = self.send(msg, deadline)
        return self.receive(deadline, want)

    # -- life and death ---------------------------------------------------------------------
    def _gone(self) -> _WorkerGone:
        """The worker is dead: why, from its keeper's report."""
        self.alive = False
        line = self._status_line(2.0)
        status = int(line[1:]) if line.startswith("S") and line[1:].isdigit() else None
        self.kill()
        # Killed from outside (kill -9, the kernel's OOM killer, its keeper killed): student code cannot
        # do this (the worker is PID 1 of its namespace), so the student is graded again (scheduler).
        outside = status is None or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL)
        if status is None:
            return _WorkerGone("it stopped answering", outside)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
            why = {signal.SIGXCPU: "it used up its CPU time", signal.SIGSEGV: "a segmentation fault",
                   signal.SIGKILL: "it was killed (out of memory?)", signal.SIGXFSZ: "it wrote too large a file",
                   signal.SIGABRT: "it aborted"}.get(sig, "")
            return _WorkerGone(f"killed by {name}" + (f": {why}" if why else ""), outside)
        return _WorkerGone(f"it exited with code {os.WEXITSTATUS(status)} (sys.exit, os._exit or a fatal error)",
                           outside)

    def kill(self) -> None:
        self.alive = False
        for fd in (self.worker_fd, self.keeper_fd):
            if fd is not None:
                try:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                except OSError:
                    pass
        try:
            os.killpg(self.keeper, signal.SIGKILL)
        except OSError:
            pass

    def close(self) -> None:
        self.kill()
        for fd in (self.out_r, self.status_r, self.worker_fd, self.keeper_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.sock.close()


# ------------------------------------------------------------------------------------------
# Arguments: grader -> worker
# ------------------------------------------------------------------------------------------

ALLOWED_ROOTS = {"torch", "builtins", "collections", "copyreg", "math", "functools", "operator",
                 "_operator", "_collections", "numbers", "enum", "typing", "_codecs", "copy"}


class _ArgPickler(pickle.Pickler):
    def __init__(self, buf, table: list):
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self.table = table
        self.index: dict[int, int] = {}

    def persistent_id(self, obj, _plain=frozenset({str, int, float, bool, type(None), bytes, list, tuple, dict})):
        # Called for every object pickled (a test's list of 13 000 words: 13 000 calls); the plain types
        # first, without isinstance: pickling such a list takes half the time.
        if type(obj) in _plain:
            return None
        if isinstance(obj, torch.Tensor):
            if id(obj) not in self.index:
                self.index[id(obj)] = len(self.table)
                self.table.append(obj)
            return self.index[id(obj)]
        return None

    def reducer_override(self, obj):
        if isinstance(obj, types.GeneratorType) or type(obj).__name__.endswith("iterator"):
            return iter, (list(obj),)     # model.parameters(): send the list, the worker gets an iterator
        if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
            module = getattr(obj, "__module__", None) or ""
            if module.split(".")[0] not in ALLOWED_ROOTS:
                raise BoundaryError(
                    f"the test passed {module}.{getattr(obj, '__qualname__', obj)} to the submission: only "
                    "objects of torch's and Python's own classes can cross to the worker (no classes or lambdas "
                    "defined in a hidden test; see docs/authoring.md)")
        return NotImplemented


def _pickle_call(args: tuple, kwargs: dict) -> tuple[bytes, bytes, list]:
    table: list[torch.Tensor] = []
    buf = io.BytesIO()
    try:
        _ArgPickler(buf, table).dump((args, kwargs))
    except BoundaryError:
        raise
    except Exception as exc:
        raise BoundaryError(f"the test's arguments cannot be sent to the submission: {exc}") from None
    rows = [(t.detach(), isinstance(t, torch.nn.Parameter), t.requires_grad,
             None if t.grad is None else t.grad.detach()) for t in table]
    return buf.getvalue(), tensor_table.pack(rows), table


# ------------------------------------------------------------------------------------------
# Results and state: worker -> grader
# ------------------------------------------------------------------------------------------

def _bad(what: str) -> BaseException:
    return protocol.rebuild_exception("RuntimeError", [], [what])


class ChangedInput(CallFailed):
    """The submission changed an argument's shape, dtype or device: refused, nothing is written back.

    Honest code never needs to (in-place updates keep all three), and accepting it would let a
    submission hand the hidden test's reference other inputs than the test made (a sequence of
    300 000 steps the grader then loops over, outside the per-call limit)."""
    status = "failed"


def _form(t) -> str:
    where = "" if t.device.type == "cpu" else f" on {t.device}"
    return f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}{where}"


def _same_form(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device


def _argument_names(args: tuple, kwargs: dict, stateful: list) -> dict[int, str]:
    """id(tensor) -> how a learner knows it: "argument 2", "argument h", "parameter weight of argument 1"."""
    names: dict[int, str] = {}
    top = [(f"argument {k + 1}", v) for k, v in enumerate(args)] + [(f"argument {k}", v) for k, v in kwargs.items()]
    for label, value in top:
        if isinstance(value, torch.Tensor):
            names.setdefault(id(value), label)
        elif isinstance(value, torch.nn.Module):
            for n, t in [*value.named_parameters(), *value.named_buffers()]:
                names.setdefault(id(t), f"{n} of {label}")
        elif type(value) in (list, tuple):
            for j, v in enumerate(value):
                if isinstance(v, torch.Tensor):
                    names.setdefault(id(v), f"element {j} of {label}")
    return names


def _refuse(what: str, old, new) -> ChangedInput:
    return ChangedInput(f"your function replaced {what} {_form(old)} by a {_form(new)} tensor: functions must "
                        "not change their inputs' shape, dtype or device (update them in place, or return a new "
                        "tensor)")


def _check_optimizer_state(opt, state: dict) -> str | None:
    """Why an optimizer state sent back cannot be taken (a state tensor of another shape than its
    parameter, another dtype or device is refused as for an argument), or None."""
    groups, saved = state.get("param_groups"), state.get("state")
    if type(groups) is not list or type(saved) is not dict:
        return None            # (load_state_dict says what is wrong)
    params = [p for g in opt.param_groups for p in g["params"]]
    ids = [i for g in groups if type(g) is dict and type(g.get("params")) is list for i in g["params"]]
    by_id = dict(zip(ids, params))
    for idx, entry in saved.items():
        p = by_id.get(idx)
        if p is None or type(entry) is not dict:
            continue
        for key, v in entry.items():
            if isinstance(v, torch.Tensor) and v.dim() > 0 and not (v.shape == p.shape and v.device == p.device):
                return f"the optimizer's state {key!s:.40} {_form(v)} for a parameter {_form(p)}"
    return None


def _apply_mutations(table: list, stateful: list, values: dict, names=None) -> None:
    """Write the worker's changes to the arguments into the grader's own objects, in place.

    Every change is checked first and written only if all are acceptable: a value, ``.grad`` or
    swapped parameter of another shape, dtype or device than the grader's tensor is refused
    (:class:`ChangedInput`), and then nothing at all is written back.  ``names`` (id(tensor) -> how a
    learner knows it) may be a function that makes them: called only when a change is refused."""
    made = []

    def name(t, default: str) -> str:
        if not made:
            made.append((names() if callable(names) else names) or {})
        return made[0].get(id(t), default)
    mut, mods, opts = values.get("mut"), values.get("mods"), values.get("opts")
    if type(mut) is not list or type(mods) is not list or type(opts) is not list:
        raise Crashed("the worker sent an unreadable answer")
    label = lambda t, k: name(t, f"tensor {k + 1} of the arguments")  # noqa: E731
    for entry in mut:
        i = entry.get("i") if type(entry) is dict else None
        if type(i) is not int or not 0 <= i < len(table):
            raise Crashed("the worker sent an unreadable answer")
        t, v, g = table[i], entry.get("v"), entry.get("g")
        if type(v) is torch.Tensor and not _same_form(v, t):
            raise _refuse(label(t, i), t, v)
        if type(g) is torch.Tensor and not _same_form(g, t):
            raise _refuse(f"the .grad of {label(t, i)}", t, g)
    modules = [o for o in stateful if isinstance(o, torch.nn.Module)]
    optimizers = [o for o in stateful if not isinstance(o, torch.nn.Module)]
    swaps = []
    for module, state in zip(modules, mods):
        if type(state) is not dict:
            continue
        named = dict(module.named_parameters())
        named.update(dict(module.named_buffers()))
        for pair in state.get("swapped") or []:
            if type(pair) is list and len(pair) == 2 and pair[0] in named and type(pair[1]) is torch.Tensor:
                old = named[pair[0]]
                if not _same_form(pair[1], old):
                    raise _refuse(name(old, f"the model's {str(pair[0])[:60]}"), old, pair[1])
                swaps.append((old, pair[1]))
    for opt, state in zip(optimizers, opts):
        why = _check_optimizer_state(opt, state) if type(state) is dict else None
        if why:
            raise ChangedInput(f"your function left {why}: functions must not change their inputs' shape, "
                               "dtype or device")
    with torch.no_grad():
        for entry in mut:
            t, v, g = table[entry["i"]], entry.get("v"), entry.get("g")
            try:
                if type(v) is torch.Tensor:
                    t.copy_(v)
                if entry.get("gclear") is True:
                    t.grad = None
                if type(g) is torch.Tensor:
                    t.grad = g
                if type(entry.get("rg")) is bool and t.is_leaf:
                    t.requires_grad_(entry["rg"])
            except RuntimeError as exc:
                raise _bad(f"your code changed an argument in a way that cannot be copied back ({exc})") from None
        for old, new in swaps:
            old.copy_(new)
    for module, state in zip(modules, mods):
        if type(state) is not dict:
            continue
        subs = dict(module.named_modules())
        for pair in state.get("training") or []:
            if type(pair) is list and len(pair) == 2 and pair[0] in subs and type(pair[1]) is bool:
                subs[pair[0]].training = pair[1]
    for opt, state in zip(optimizers, opts):
        if type(state) is dict:
            try:
                opt.load_state_dict(state)
            except (ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise _bad(f"your code left the optimizer in a state that cannot be copied back ({exc})") from None


def _replace(obj, mapping: dict):
    if isinstance(obj, torch.Tensor):
        return mapping.get(id(obj), obj)
    if type(obj) is list:
        return [_replace(v, mapping) for v in obj]
    if type(obj) is tuple:
        return tuple(_replace(v, mapping) for v in obj)
    if type(obj) is dict:
        return {k: _replace(v, mapping) for k, v in obj.items()}
    return obj


class _Link:
    """What a backward() through a returned tensor needs: which worker, which call, which inputs."""

    def __init__(self, session, handle, call_id: int, outputs: list, inputs: list):
        self.session, self.handle, self.call_id = session, handle, call_id
        self.outputs, self.inputs = outputs, inputs


class _Boundary(torch.autograd.Function):
    @staticmethod
    def forward(ctx, link, *inputs):
        ctx.link = link
        ctx.set_materialize_grads(False)
        return tuple(link.outputs)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.link.session.vjp(ctx.link, grads))


# ------------------------------------------------------------------------------------------
# One student
# ------------------------------------------------------------------------------------------

_PYC_CACHE: dict[str, bytes] = {}
_PYC_CACHE_SIZE = 64


def _helper_bytecode(files: dict, public: dict) -> dict[str, dict[str, bytes]]:
    """Bytecode of the kit's helper modules (checking.py, misuse.py, public_tests.py) among a worker's files.

    A student's code imports them, and every worker compiled them again from source: about 55 ms of
    CPU per student (issue 16), for the same text every time.  They are the kit's public files, not
    the student's, so the grader compiles each text once and the worker writes the result where the
    import system looks for it (a hash-checked .pyc: Python compares it with the source's hash and
    compiles the source itself if they differ).  Only helpers whose text is exactly the kit's."""
    out: dict[str, dict[str, bytes]] = {}
    for day, helpers in public.items():
        for name, text in helpers.items():
            if files.get(day, {}).get(name) != text or not name.endswith(".py"):
                continue
            pyc = _PYC_CACHE.get(text)
            if pyc is None:
                data = text.encode("utf-8")
                try:
                    code = compile(data, name, "exec", dont_inherit=True)
                except (SyntaxError, ValueError):
                    continue
                pyc = (importlib.util.MAGIC_NUMBER + (0b11).to_bytes(4, "little")   # hash-based, checked
                       + importlib.util.source_hash(data) + marshal.dumps(code))
                if len(_PYC_CACHE) >= _PYC_CACHE_SIZE:
                    _PYC_CACHE.clear()
                _PYC_CACHE[text] = pyc
            out.setdefault(day, {})[name] = pyc
    return out


def level_of(day: str, name: str) -> str | None:
    return next((lv for lv in levels_of(day) if name in CATALOGUE[day][lv]), None)


class Session:
    """One student's code and workers, for the duration of one pytest run."""

    def __init__(self, client, code, options):
        self.client = client
        self.code = code                  # extract.StudentCode
        self.opt = options                # engine.Options
        self.workers: dict[str, WorkerHandle] = {}
        self.load_errors: dict[tuple[str, str], str] = {}
        self.functions: dict[tuple[str, str], bool] = {}     # (day, level) loaded -> names found
        self.timed_out: dict[tuple[str, str], str] = {}
        self.device = "cpu"
        self.calls_in_test = 0
        self.disturbed = False            # a worker was killed from outside: the student is graded again
        self.recorded: list = []          # this test's calls, for naming a known mistake (fingerprints)
        # Without the sandbox there is no private /tmp: the workers share a throw-away folder.
        self.workdir = "" if options.sandbox else tempfile.mkdtemp(prefix="rnnkit-worker-")

    # -- called by the pytest plugin --------------------------------------------------------
    def begin_test(self, device: str) -> None:
        self.device = device
        self.calls_in_test = 0
        self.recorded = []

    @contextlib.contextmanager
    def work_limit(self, seconds: float | None = None):
        """Around one test in the grader: past ``seconds`` of the grader's own CPU time (ITIMER_PROF: time
        spent waiting for the worker does not count) the test fails with :class:`GraderLimit`, for this
        student only; the workers are restarted (one may have been left mid-call)."""
        seconds = GRADER_CPU_PER_TEST if seconds is None else seconds
        fired = []

        def on_limit(signum, frame):
            fired.append(True)
            raise GraderLimit(f"internal limit: the hidden test's own work on what your function returned or "
                              f"changed took more than {seconds:g} s of the grader's time and was stopped (this "
                              "test scores 0; did your function change or inflate its inputs?)")

        previous = signal.signal(signal.SIGPROF, on_limit)
        signal.setitimer(signal.ITIMER_PROF, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)
            if fired:
                for device in list(self.workers):
                    self._drop(device)

    def close(self) -> None:
        for handle in self.workers.values():
            handle.close()
        self.workers.clear()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- workers ----------------------------------------------------------------------------
    def _worker(self, device: str) -> WorkerHandle:
        handle = self.workers.get(device)
        if handle is not None and handle.alive:
            return handle
        if handle is not None:
            handle.close()
        cuda = device == "cuda"
        handle = WorkerHandle(self.client, self.opt.worker_spec(cuda, self.workdir), 120.0 if cuda else 30.0,
                              self.opt.memory_bytes if cuda else None)
        self.workers[device] = handle
        files = self.code.worker_files()
        pyc = _helper_bytecode(files, getattr(self.code, "public", {}))
        try:
            handle.request({"op": "files", "files": files, "pyc": pyc}, 30.0)
        except TimeoutError:
            self._drop(device)
            raise _WorkerGone("it did not take the files within 30 s", outside=True) from None
        return handle

    def _drop(self, device: str) -> None:
        handle = self.workers.pop(device, None)
        if handle is not None:
            handle.close()

    def _ensure_loaded(self, device: str, day: str) -> WorkerHandle:
        """A live worker on ``device`` with every loadable level of ``day`` imported."""
        while True:
            try:
                handle = self._worker(device)
            except _WorkerGone as exc:
                # Killed while it started (kill -9 of the worker or its keeper): graded again (scheduler).
                self.disturbed |= exc.outside
                raise Crashed(f"the process that runs your code could not start: {exc.why}") from None
            for level in levels_of(day):
                if not self.code.has(day, level) or (day, level) in self.load_errors \
                        or (day, level) in handle.loaded:
                    continue
                source = self.code.source_name(day, level)
                try:
                    header, values = handle.request(
                        {"op": "load", "day": day, "level": level, "names": list(CATALOGUE[day][level])},
                        self.opt.timeout)
                except TimeoutError:
                    self.load_errors[(day, level)] = (
                        f"importing {source} did not finish within {self.opt.timeout:g} s "
                        "(code outside functions runs at import: move demos out of it)")
                    self._drop(device)
                    break
                except _WorkerGone as exc:
                    self.disturbed |= exc.outside
                    self.load_errors[(day, level)] = f"importing {source} crashed the process ({exc.why})"
                    self._drop(device)
                    break
                handle.loaded.add((day, level))
                if "error" in values:
                    self.load_errors[(day, level)] = self.code.describe_error(day, level, values["error"],
                                                                              header.get("line"))
                else:
                    found = header.get("functions")
                    self.functions[(day, level)] = [n for n in found if type(n) is str] \
                        if type(found) is list else []
            else:
                return handle

    # -- a call -----------------------------------------------------------------------------
    def call(self, day: str, name: str, args: tuple, kwargs: dict):
        level = level_of(day, name)
        if not self.code.has(day, level):
            raise Missing(self.code.missing_message(day, level))
        if (day, name) in self.timed_out:
            raise TimedOut(f"not run: {name} ran out of time in an earlier test ({self.timed_out[(day, name)]})")
        self.calls_in_test += 1
        seed = zlib.crc32(f"{torch.initial_seed()}:{self.calls_in_test}".encode())
        grad = torch.is_grad_enabled()
        stateful = stateful_objects(args, kwargs)
        blob, table_blob, table = _pickle_call(args, kwargs)
        inputs = [t for t in table if t.requires_grad]      # (the worker lists the same ones)
        device = "cuda" if self.device == "cuda" or any(t.is_cuda for t in table) else "cpu"
        handle = self._ensure_loaded(device, day)
        if (day, level) in self.load_errors:
            raise Missing(self.load_errors[(day, level)])
        if name not in self.functions.get((day, level), ()):
            raise Missing(self.code.function_problem(day, level, name)
                          or f"{self.code.source_name(day, level)} defines no function {name}")
        req = {"op": "call", "day": day, "fn": name, "seed": seed, "grad": grad, "args": blob, "table": table_blob}
        try:
            header, values = handle.request(req, self.opt.timeout)
        except TimeoutError:
            self._drop(device)
            why = f"{name} did not return within {self.opt.timeout:g} s"
            self.timed_out[(day, name)] = why
            raise TimedOut(f"{why}: stopped (an endless loop, or far too slow?)") from None
        except _WorkerGone as exc:
            self.disturbed |= exc.outside
            self._drop(device)
            raise Crashed(f"the process running your {name} died: {exc.why}") from None
        _apply_mutations(table, stateful, values, lambda: _argument_names(args, kwargs, stateful))
        result = values.get("result")
        self._record(day, name, blob, table_blob, seed, grad, header.get("failed") is True, result, table, stateful)
        if header.get("failed") is True:
            if isinstance(result, BaseException) and protocol.from_submission(result):
                raise result
            raise Crashed("the worker sent an unreadable answer")
        graph = header.get("graph")
        if grad and inputs and type(graph) is list and graph:
            outputs = [handle.last_blobs.get(b) for b in graph if type(b) is int]
            outputs = [t for t in outputs if type(t) is torch.Tensor and (t.is_floating_point() or t.is_complex())]
            if outputs:
                link = _Link(self, handle, header["id"], outputs, inputs)
                attached = _Boundary.apply(link, *inputs)
                result = _replace(result, {id(o): a for o, a in zip(outputs, attached)})
        return result

    def _record(self, day, name, blob, table_blob, seed, grad, failed, result, table, stateful) -> None:
        """Keep the call as sent and its outcome: a failed test replays it through known mistakes."""
        from autograder.fingerprints import match
        try:
            outcome = match.Outcome(failed, match.plain(result), match.snapshot(table),
                                    match.training_flags(stateful))
        except Exception:  # noqa: BLE001 - nothing to fingerprint, grading goes on
            return
        self.recorded.append(match.Call(day, name, blob, table_blob, seed, grad, outcome))

    def vjp(self, link: _Link, grads: tuple) -> list:
        handle = link.handle
        if not handle.alive or self.workers.get("cuda" if handle.spec["cuda"] else "cpu") is not handle:
            raise Crashed("the gradient of your result is gone: the process that computed it was restarted")
        packed = tensor_table.pack_tensors(list(grads))
        try:
            header, values = handle.request({"op": "vjp", "call": link.call_id, "grads": packed},
                                            self.opt.timeout)
        except TimeoutError:
            self._drop("cuda" if handle.spec["cuda"] else "cpu")
            raise TimedOut(f"the backward pass through your code did not finish within {self.opt.timeout:g} s") \
                from None
        except _WorkerGone as exc:
            self.disturbed |= exc.outside
            self._drop("cuda" if handle.spec["cuda"] else "cpu")
            raise Crashed(f"the backward pass through your code crashed: {exc.why}") from None
        if "error" in values:
            err = values["error"]
            raise err if protocol.from_submission(err) else Crashed("the worker sent an unreadable answer")
        got = values.get("grads")
        if type(got) is not list or len(got) != len(link.inputs):
            raise Crashed("the worker sent an unreadable answer")
        out = []
        for g, x in zip(got, link.inputs):
            if g is not None and (type(g) is not torch.Tensor or g.shape != x.shape or g.dtype != x.dtype
                                  or g.device != x.device):
                raise _bad("the gradient your code produced does not match its input's shape, dtype or device")
            out.append(g)
        return out


class Namespace:
    """``submission`` in a hidden test: one attribute per catalogue function of the day."""

    def __init__(self, session: Session, day: str):
        self._session, self._day = session, day

    def _source(self, level: str) -> str | None:
        """The text graded for one level of this day (for hidden tests that check how code is written)."""
        code = self._session.code.levels.get((self._day, level))
        return None if code is None else code.source

    def __getattr__(self, name: str):
        if name.startswith("_") or level_of(self._day, name) is None:
            raise AttributeError(name)
        session, day = self._session, self._day

        def remote(*args, **kwargs):
            return session.call(day, name, args, kwargs)

        remote.__name__ = remote.__qualname__ = name
        return remote
