"""A 'student' for the engine's own tests: ``rnn_cell(op, ...)`` does whatever ``op`` says.

Copied into a class folder as ``day15/basic.py`` and graded against the probe suite
(``suite.py`` beside it), whose tests check on the grader's side what crossed the boundary.
"""
import math
import os
import socket
import sys

import torch
from torch import nn


class Evil(torch.Tensor):
    """Makes every comparison true, in the process that runs it."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.Tensor.__eq__, torch.isclose):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


class ShapeError(RuntimeError):
    pass


def _spy(paths):
    seen = {}
    for p in paths:
        try:
            with open(p, "rb") as f:
                f.read(1)
            seen[p] = "read"
        except OSError as exc:
            seen[p] = type(exc).__name__
    writable = []
    for folder in ("/work", "/usr", "/etc", "/var/tmp", "/dev/shm", "/tmp"):
        try:
            with open(os.path.join(folder, ".probe"), "w") as f:
                f.write("x")
            writable.append(folder)
        except OSError:
            pass
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=0.5)
        net = True
    except OSError:
        net = False
    return {"files": seen, "env": sorted(os.environ), "uid": os.getuid(), "pid": os.getpid(),
            "procs": sorted(int(d) for d in os.listdir("/proc") if d.isdigit()), "writable": writable,
            "net": net, "modules": sorted(m for m in sys.modules if "solution" in m or "hidden" in m
                                          or m.startswith("test_") or m.startswith("_day"))}


def rnn_cell(op, *args, **kwargs):
    if op == "types":
        return {"i": 3, "f": 2.5, "s": "text", "n": None, "b": True, "t": (1, (2.0, "x")), "l": [1, [2]],
                "size": torch.Size([2, 3]), "dtype": torch.float64, "device": torch.device("cpu"),
                "nan": math.nan, "inf": -math.inf, "c": 1 + 2j, "big": 2**70, "k": {1: "one", (2, 3): "pair"},
                "t16": torch.arange(6, dtype=torch.float16).reshape(2, 3), "b8": torch.tensor([True, False]),
                "param": nn.Parameter(torch.ones(2)), "view": torch.arange(10.)[2:8:2],
                "empty": torch.zeros(0, 3, dtype=torch.int64)}
    if op == "evil":
        return torch.zeros(2, 2).as_subclass(Evil)
    if op == "foreign":
        import numpy as np
        return [np.zeros(3), np.float64(1.5), object(), (i for i in range(3)), rnn_cell, nn.Linear(2, 2)]
    if op == "raise":
        raise {"ValueError": ValueError, "KeyError": KeyError, "KeyboardInterrupt": KeyboardInterrupt,
               "SystemExit": SystemExit, "NotImplementedError": NotImplementedError}[args[0]](*args[1:])
    if op == "raise_custom":
        raise ShapeError("expected (T, B, I)")
    if op == "return_exc":
        return ValueError("as a value")
    if op == "train":
        model, opt, loss_fn, x, y = args
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        model.eval()
        return loss.item()
    if op == "clip":
        params, max_norm = args
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    if op == "forward":
        module, x = args
        return torch.tanh(module(x))
    if op == "square":
        return args[0] ** 2, {"twice": args[0] * 2}
    if op == "detached":
        return (args[0] * 2).detach()
    if op == "same_object":
        model, params = args
        return params[0] is model.weight and params[1] is model.bias
    if op == "inplace":
        args[0].add_(1)
        args[1].grad = torch.ones_like(args[1])
        return None
    if op == "pollute":
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.set_num_threads(2)
        os.chdir("/")
        return None
    if op == "state":
        return {"dtype": str(torch.get_default_dtype()), "grad": torch.is_grad_enabled(),
                "tf32": torch.backends.cuda.matmul.allow_tf32, "threads": torch.get_num_threads(),
                "cwd": os.path.basename(os.getcwd())}
    if op == "rand":
        return torch.rand(3)
    if op == "echo":
        return None
    if op == "spy":
        return _spy(args[0])
    if op == "device":
        x = args[0]
        return x * 2, torch.zeros(2)
    raise ValueError(f"unknown op {op!r}")


def rnn_forward(*args, **kwargs):
    raise NotImplementedError("rnn_forward: not written yet")
