"""The worker: the only process that runs student code.

It is forked from the zygote (torch already imported, no hidden test or solution
ever in its memory), confined by ``sandbox`` and then serves requests on one
channel: ``files`` (the student's code), ``load`` (import one level), ``call``
(run one function on inputs built by a hidden test), ``vjp`` (gradients through
the last calls' graphs).  Everything it sends back is plain data
(``protocol.pack``); the grader trusts none of it.

Before every call it puts back the global state student code may have changed
(default dtype and device, grad mode, seeds, TF32, threads, cwd), so one
exercise cannot break the next.
"""
from __future__ import annotations

import importlib.util
import io
import os
import pickle
import random
import signal
import sys
import traceback
import warnings

import torch

from autograder import tensor_table
from autograder.engine import protocol, sandbox
from autograder.stateful import stateful_objects

KEEP_GRAPHS = 16   # calls whose autograd graph stays alive for a later backward()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        return False
    if torch.equal(a, b):
        return True
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return False


def _error_line(exc: BaseException, filename: str) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return exc.lineno
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


class Worker:
    def __init__(self, chan: int, workdir: str, cuda: bool):
        self.chan = chan
        self.workdir = workdir
        self.cuda = cuda
        self.pid = os.getpid()
        self.day_modules: dict[str, dict] = {}
        self.day_names: dict[str, set] = {}
        self.functions: dict[tuple[str, str], object] = {}
        self.graphs: dict[int, tuple[list, list]] = {}
        self.current_day = None
        sys.path.insert(0, workdir)

    # -- plumbing -------------------------------------------------------------------------
    def reply(self, header: dict, values: dict | None = None, enc: protocol.Encoder | None = None) -> None:
        if os.getpid() != self.pid:   # a process the student forked came back through our code
            os._exit(0)
        if enc is not None:
            body = protocol.pack_encoded({"h": header, "v": values}, enc)
        else:
            body = protocol.pack(header, values or {})
        protocol.write_frame(self.chan, b"J", body)

    def loop(self) -> None:
        while True:
            try:
                tag, body = protocol.read_frame_blocking(self.chan)
            except EOFError:
                os._exit(0)
            req = pickle.loads(body)
            op = req["op"]
            if op == "bye":
                os._exit(0)
            getattr(self, "op_" + op)(req)

    # -- requests ---------------------------------------------------------------------------
    def op_files(self, req: dict) -> None:
        for day, files in req["files"].items():
            folder = os.path.join(self.workdir, day)
            os.makedirs(folder, exist_ok=True)
            for name, text in files.items():
                with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
                    f.write(text)
            self.day_names[day] = {os.path.splitext(n)[0] for n in files}
            self.day_modules.setdefault(day, {})
        # The kit's helpers compiled by the grader (boundary._helper_bytecode): hash-checked against the
        # source at import, so a file that differs is compiled from source as before.
        for day, compiled in req.get("pyc", {}).items():
            for name, data in compiled.items():
                try:
                    path = importlib.util.cache_from_source(os.path.join(self.workdir, day, name))
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "wb") as f:
                        f.write(data)
                except (OSError, ValueError, NotImplementedError):
                    pass    # (imported from source then)
        self.reply({"id": req["id"], "op": "files"})

    def enter_day(self, day: str) -> None:
        """Make ``import basic`` (and checking, public_tests) mean this day's files."""
        folder = os.path.join(self.workdir, day)
        if self.current_day != day:
            if self.current_day is not None:
                for name in self.day_names.get(self.current_day, ()):
                    mod = sys.modules.pop(name, None)
                    if mod is not None:
                        self.day_modules[self.current_day][name] = mod
            sys.modules.update(self.day_modules.get(day, {}))
            sys.path[0] = folder
            self.current_day = day
        os.chdir(folder)

    def op_load(self, req: dict) -> None:
        day, level, names = req["day"], req["level"], req["names"]
        self.reset(0, True)
        self.enter_day(day)
        path = os.path.join(self.workdir, day, f"{level}.py")
        header = {"id": req["id"], "op": "load", "functions": []}
        try:
            module = sys.modules.get(level)
            if module is None or getattr(module, "__file__", None) != path:
                spec = importlib.util.spec_from_file_location(level, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[level] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(level, None)
                    raise
            for name in names:
                if callable(getattr(module, name, None)):
                    self.functions[(day, name)] = getattr(module, name)
                    header["functions"].append(name)
        except BaseException as exc:  # noqa: BLE001 - reported as the level's load error
            header["line"] = _error_line(exc, path)
            self.reply(header, {"error": exc})
            return
        self.reply(header)

    def reset(self, seed: int, grad: bool) -> None:
        """Undo what the previous call may have changed in torch's and Python's global state."""
        torch.set_default_dtype(torch.float32)
        torch.set_default_device(None)
        torch.set_grad_enabled(grad)
        torch.autograd.set_detect_anomaly(False)
        if torch.are_deterministic_algorithms_enabled() or torch.is_deterministic_algorithms_warn_only_enabled():
            torch.use_deterministic_algorithms(False)    # (4 ms a call even when already off: asked first)
        torch.set_num_threads(1)
        torch.set_float32_matmul_precision("highest")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        if self.cuda or torch.cuda.is_initialized():
            torch.manual_seed(seed)
        else:
            # A CPU worker: torch.manual_seed would also queue the seed for a CUDA that is not started,
            # with a copy of the call stack (traceback.format_stack), on every call.  CUDA, if student
            # code starts it here, starts from its fixed default seed: still the same on every run.
            torch.random.default_generator.manual_seed(seed)
        random.seed(seed)
        np = sys.modules.get("numpy")
        if np is not None:
            np.random.seed(seed % 2**32)
        sys.setrecursionlimit(3000)
        warnings.resetwarnings()

    def op_call(self, req: dict) -> None:
        self.reset(req["seed"], req["grad"])
        self.enter_day(req["day"])
        # Arguments: tensors travel in a table (values, grads, Parameter-ness) so that the same
        # tensor referenced twice (a model and its parameter list) stays one object here too.
        table = []
        for value, is_param, rg, grad in tensor_table.unpack(req["table"]):
            t = torch.nn.Parameter(value, requires_grad=rg) if is_param else value.requires_grad_(rg)
            if grad is not None:
                t.grad = grad
            table.append(t)
        unpickler = pickle.Unpickler(io.BytesIO(req["args"]))
        unpickler.persistent_load = lambda pid: table[pid]
        args, kwargs = unpickler.load()
        stateful = stateful_objects(args, kwargs)
        before = [(t.detach().clone(), None if t.grad is None else t.grad.detach().clone(), t.requires_grad)
                  for t in table]
        table_ids = {id(t) for t in table}
        fn = self.functions.get((req["day"], req["fn"]))
        failed = False
        try:
            if fn is None:
                raise LookupError(f"{req['fn']} is not loaded")
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - every exception goes back as data
            result, failed = exc, True
        if os.getpid() != self.pid:
            os._exit(0)
        torch.set_grad_enabled(True)   # (the student may have switched it off)
        enc = protocol.Encoder()
        try:
            values = self.encode_call(enc, result, table, before, table_ids, stateful)
        except BaseException as exc:  # noqa: BLE001 - e.g. a result nested 10 000 deep
            enc = protocol.Encoder()
            result, failed = ValueError(f"the value your function returned could not be sent back: {exc}"), True
            values = {"result": enc.encode(result), "mut": [], "mods": [], "opts": []}
        graph = []
        if not failed and req["grad"]:
            outs = enc.grad_outputs
            inputs = [t for t, (_, _, rg0) in zip(table, before) if rg0]   # as the grader sent them
            if outs and inputs:
                self.graphs[req["id"]] = ([t for _, t in outs], inputs)
                while len(self.graphs) > KEEP_GRAPHS:
                    self.graphs.pop(next(iter(self.graphs)))
                graph = [b for b, _ in outs]
        self.reply({"id": req["id"], "op": "call", "failed": failed, "graph": graph}, values, enc)

    @staticmethod
    def encode_call(enc, result, table, before, table_ids, stateful) -> dict:
        """A call's result and what it changed in its arguments, through ``enc`` (the wire's encoder here;
        hidden/answer_keys.py keeps copies of a reference call's changes the same way)."""
        enc.grad_outputs = []   # the result's tensors that carry a graph, with their blob numbers
        values = {"result": enc.encode(result)}
        record, enc.grad_outputs = enc.grad_outputs, None
        mut = []
        for i, (t, (v0, g0, rg0)) in enumerate(zip(table, before)):
            entry = {}
            if not _same(t.detach(), v0):
                entry["v"] = t.detach()
            g = t.grad
            if g is None and g0 is not None:
                entry["gclear"] = True
            elif g is not None and (g0 is None or not _same(g.detach(), g0)):
                entry["g"] = g.detach()
            if t.requires_grad != rg0:
                entry["rg"] = bool(t.requires_grad)
            if entry:
                entry["i"] = i
                mut.append(entry)
        mods, opts = [], []
        for obj in stateful:
            if isinstance(obj, torch.nn.Module):
                training = [[name, m.training] for name, m in obj.named_modules()]
                swapped = [[name, t.detach()]
                           for name, t in list(obj.named_parameters()) + list(obj.named_buffers())
                           if id(t) not in table_ids and t is not None]
                mods.append({"training": training, "swapped": swapped})
            else:
                opts.append(obj.state_dict())
        values["mut"] = enc.encode(mut)
        values["mods"] = enc.encode(mods)
        values["opts"] = enc.encode(opts)
        enc.grad_outputs = record
        return values

    def op_vjp(self, req: dict) -> None:
        self.reset(0, True)
        graph = self.graphs.get(req["call"])
        header = {"id": req["id"], "op": "vjp"}
        if graph is None:
            self.reply(header, {"error": RuntimeError("this result's gradient graph is no longer available")})
            return
        outs, inputs = graph
        grads = tensor_table.unpack_tensors(req["grads"])
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
        try:
            got = torch.autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs],
                                      retain_graph=True, allow_unused=True)
            self.reply(header, {"grads": list(got)})
        except BaseException as exc:  # noqa: BLE001
            self.reply(header, {"error": exc})


def _forget_environment() -> None:
    """Empty the environment the engine was started with, and overwrite it in memory too: after
    ``os.environ.clear()`` its bytes would still be readable in the block ``/proc/self/stat``
    points to (inherited through every fork) and in the freed objects of ``posix.environ``."""
    import ctypes
    offset = sys.getsizeof(b"") - 1                   # where a bytes object's characters start
    old = list(os.environ._data.items())              # (posix.environ itself on Linux)
    os.environ.clear()
    for pair in old:
        for b in pair:    # (one-byte bytes objects are shared singletons: left alone)
            if type(b) is bytes and len(b) > 1:
                ctypes.memset(id(b) + offset, 0, len(b))
    del old
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])     # env_start, env_end
        if 0 < start < end:
            ctypes.memset(start, 0, end - start)
    except (OSError, ValueError, IndexError):
        pass


def start(chan: int, out_w: int, spec: dict) -> None:
    """Entry of the worker process (PID 1 of its namespace when sandboxed); never returns."""
    try:
        sandbox.die_with_parent()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # an output flood gets EFBIG, not death
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        uid = spec["uid"]
        if spec["sandbox"]:
            sandbox.hide_paths(spec["hide"], {"/tmp": spec["tmp_bytes"], "/dev/shm": spec["tmp_bytes"]},
                               spec["keep"])
            workdir = "/tmp/work"
        else:
            workdir = spec["unsafe_workdir"]
        os.makedirs(workdir, exist_ok=True)
        if spec["sandbox"]:
            os.chown(workdir, uid, uid)
        # stdout/stderr go to a pipe the grader drains with a byte cap; stdin is empty.
        sys.stdout.flush()
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        keep_fds = {0, 1, 2, chan}
        for fd in map(int, os.listdir("/proc/self/fd")):
            if fd not in keep_fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        _forget_environment()
        os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8",
                           "TMPDIR": "/tmp" if spec["sandbox"] else workdir,
                           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                           "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(workdir, ".mpl")})
        lim = spec["limits"]
        sandbox.limit(cpu_s=lim["cpu_s"], nproc=lim["nproc"], fsize=lim["fsize"], nofile=lim["nofile"],
                      address_space=None if spec["cuda"] else sandbox.vm_size() + lim["memory"])
        if spec["sandbox"]:
            sandbox.drop_privileges(uid)
        os.chdir(workdir)
        if spec["cuda"]:
            torch.cuda.init()
            torch.cuda.set_per_process_memory_fraction(spec["gpu_fraction"])
        worker = Worker(chan, workdir, spec["cuda"])
        worker.reply({"id": 0, "op": "ready"})
    except BaseException as exc:  # noqa: BLE001 - tell the grader why the sandbox failed
        try:
            protocol.write_frame(chan, b"J", protocol.pack({"id": 0, "op": "ready"},
                                                           {"error": RuntimeError(f"worker set-up failed: {exc}")}))
        finally:
            os._exit(70)
    worker.loop()
    os._exit(0)
