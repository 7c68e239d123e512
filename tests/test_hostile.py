"""Hostile, broken and unlucky submissions: the grader keeps its promises under attack and fault.

Every case is a real submission file graded through the real engine, with its outcome asserted:
the points of the attacked exercise (0, or the honest points for careless but correct code), a
clear message, nothing leaked (canary strings planted where a student must not look never appear
in any result), nothing lost (every student graded exactly once, byte-identical to a quiet run).

The machinery (engine host, class building, the first hostile class of 27 submissions) is
``test_engine_grading``'s; this module adds the attacks that class does not try, the faults
(kill -9 of the grader and of workers, two runs at once), a class of 200 and corrupt inputs.

Counted in the README ("What the grader guarantees"): ATTACKS submissions, FAULTS injected.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import test_engine_grading as eg   # noqa: E402 - the existing machinery (tests/ is on sys.path)

KIT, REF15, put, with_rnn_cell, notebook = eg.KIT, eg.REF15, eg.put, eg.with_rnn_cell, eg.notebook
STUB15 = (KIT / "exercises" / "day15" / "basic.py").read_text()
REF16 = (KIT / "solutions" / "day16" / "basic.py").read_text()
TIMEOUT = 3.0

pytestmark = eg.CONFINABLE

# Canaries: planted where no student may look; none may appear in any result or feedback.
CANARY = {
    "env": "rnnkit-canary-env-5b1e",            # the grading process's environment
    "classmate": "rnnkit-canary-classmate-77c2",  # another student's file
    "gradebook": "rnnkit-canary-gradebook-a9d0",  # the nbgrader gradebook beside submitted/
    "source": "rnnkit-canary-source-31f4",      # the nbgrader course's source/ (solutions)
    "suite": "rnnkit-canary-suite-c0de",        # the hidden suites
    "grades": "rnnkit-canary-grades-e4e4",      # an earlier run's output
}
LEAK_WORDS = ["### BEGIN SOLUTION", "@pytest.mark.grade", "expect_close(", "Traceback (most recent call last)"]


# ------------------------------------------------------------------------------------------------
# The attacks: one submission each (day15/basic.py unless a case says otherwise)
# ------------------------------------------------------------------------------------------------

def _spy_paths(base: Path, out: Path) -> list[str]:
    return [str(p) for p in (
        KIT / "solutions" / "day15" / "basic.py", KIT / "autograder" / "hidden" / "day15" / "test_basic.py",
        base / "suites" / "day15" / "test_basic.py", base / "course" / "gradebook.db",
        base / "course" / "source" / "day15" / "basic.py", base / "course" / "submitted" / "zz_classmate"
        / "day15" / "basic.py", out / "earlier" / "results.json", "/proc/self/environ", "/proc/1/environ")]


def spy_paths_of(attack) -> list[str]:
    """What the spy of the attack class tried to read, in its order."""
    return _spy_paths(attack["base"], attack["out"])


def _spy(base: Path, out: Path) -> str:
    """Looks everywhere it must not and raises what it found: the grader must show it nothing."""
    paths = _spy_paths(base, out)
    return re.sub(r"^ *### (BEGIN|END) SOLUTION\n", "", with_rnn_cell(f'''
        global _REPORT
        if _REPORT is None:
            _REPORT = _look({paths!r}, {str(base)!r})
        raise ValueError("SPY " + _REPORT)''', prelude='''
_REPORT = None
# (spelt in hex: the words themselves must not be in this module's memory, the scan would find them)
WORDS = [bytes.fromhex(h) for h in ("726e6e6b69742d63616e617279", "424547494e20534f4c5554494f4e",
                                     "5345515f475241445f44494d535f42415443485f4649525354")]   # a hidden suite's constant


def _scan():
    """Every readable byte of this process's memory, searched in place (libc memmem, no copies) by a
    child process (a page that cannot be read kills only the child; the next one goes on after it)."""
    import ctypes, os, sys
    libc = ctypes.CDLL(None)
    libc.memmem.restype = ctypes.c_void_p
    libc.memmem.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    offset = sys.getsizeof(b"") - 1
    own = [(id(w) + offset, len(w)) for w in WORDS]
    with open("/proc/self/maps") as f:
        regions = [line.split() for line in f.read().splitlines()]
    regions = [[int(x, 16) for x in r[0].split("-")] for r in regions
               if r[1].startswith("r") and (len(r) < 6 or not r[5].startswith("/")) and r[-1] not in ("[vvar]", "[vsyscall]")]
    mem, first = [], 0
    while first < len(regions):
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rd)
            for i in range(first, len(regions)):
                os.write(wr, b"R%d\\n" % i)
                lo, hi = regions[i]
                for k, w in enumerate(WORDS):
                    at = lo
                    while at < hi:
                        hit = libc.memmem(at, hi - at, w, len(w))
                        if not hit:
                            break
                        if not any(a <= hit < a + n for a, n in own):
                            os.write(wr, b"W%d\\n" % k)
                            break
                        at = hit + 1
            os._exit(0)
        os.close(wr)
        data = b""
        while True:
            part = os.read(rd, 65536)
            if not part:
                break
            data += part
        os.close(rd)
        os.waitpid(pid, 0)
        last = first
        for line in data.decode().splitlines():
            if line.startswith("R"):
                last = int(line[1:])
            elif line.startswith("W"):
                mem.append(["canary", "solution", "suite"][int(line[1:])])
        first = last + 1
    return sorted(set(mem)), len(regions)


def _look(paths, base):
    import ctypes, gc, inspect, json, os, posix, sys
    mem, regions = _scan()     # first: what follows makes copies of the words
    found = {}
    for p in paths:
        try:
            with open(p, "rb") as f:
                data = f.read(1 << 20)
            found[p] = [w.decode() for w in WORDS if w in data] or "read"
        except OSError as exc:
            found[p] = type(exc).__name__
    walked = []
    for top, dirs, names in os.walk(base):
        walked += names
    env = repr(dict(os.environ)) + repr(posix.environ) + repr(getattr(os, "environb", {}))
    try:   # the original environment block, still in memory after os.environ.clear()
        with open("/proc/self/stat") as f:
            start, end = map(int, f.read().rsplit(")", 1)[1].split()[47:49])
        env += repr(ctypes.string_at(start, end - start))
    except Exception as exc:
        env += type(exc).__name__
    mods = [m for m in sys.modules if "hidden" in m or "solution" in m or m.startswith("test_")]
    frames = [repr(fr.frame.f_locals)[:20000] for fr in inspect.stack() if not fr.filename.endswith("basic.py")]
    objs = []
    for o in gc.get_objects():
        try:
            if isinstance(o, dict):
                objs += [v for v in o.values() if isinstance(v, str) and any(w.decode() in v for w in WORDS)]
        except Exception:
            pass
    secrets = [w.decode() for w in WORDS if w.decode() in env + repr(frames) + repr(objs)]
    # Compact (files by their number in ``paths``, names walked only if sensitive): feedback quotes
    # just the first 300 characters of a student's own message.
    sensitive = {"gradebook.db", "basic.py", "day15_basic.ipynb", "test_basic.py"}
    return json.dumps({"files": {str(i): v for i, v in enumerate(found.values()) if v == "read" or isinstance(v, list)},
                       "tried": len(found), "walked": sorted(set(walked) & sensitive), "walked_n": len(walked),
                       "modules": mods[:3], "secrets": secrets, "memory": mem, "regions": regions}, separators=(",", ":"))
'''), flags=re.M)


def _network(port: int, abstract: str) -> str:
    return with_rnn_cell(f'''
        import socket
        got = []
        for family, addr in ((socket.AF_INET, ("127.0.0.1", {port})), (socket.AF_INET, ("1.1.1.1", 53)),
                             (socket.AF_UNIX, "\\0{abstract}")):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(0.5)
            try:
                s.connect(addr)
                got.append("connected")
            except OSError as exc:
                got.append(type(exc).__name__)
        try:
            socket.getaddrinfo("example.com", 80)
            got.append("resolved")
        except OSError as exc:
            got.append(type(exc).__name__)
        raise ValueError("NET " + ",".join(got))''')


def attacks(base: Path, out: Path, port: int, abstract: str) -> dict[str, dict[str, str | bytes]]:
    """student -> {relative path: content}; built for a class under ``base/course/submitted``."""
    zeros = "return torch.zeros(x.shape[0], W_hh.shape[0], dtype=x.dtype, device=x.device)"
    ref = "return _ref_rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh)"
    marker = base / "PWNED"
    b = lambda src: {"day15/basic.py": src}  # noqa: E731
    cell = lambda body, prelude="": b(with_rnn_cell(body, prelude))  # noqa: E731
    nb_cell = REF15[REF15.index("def rnn_cell"):REF15.index("def rnn_forward")]
    nb_forward = REF15[REF15.index("def rnn_forward"):]
    release_nb = json.loads((KIT / "exercises" / "day15" / "day15_basic.ipynb").read_text())
    edited = json.loads(json.dumps(release_nb))
    edited["cells"] = [c for c in edited["cells"] if "check(" not in "".join(c["source"])]
    for c in edited["cells"]:
        c["metadata"]["nbgrader"] = {"grade": True, "solution": False, "points": 1000, "grade_id": "mine"}
    edited["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                            "source": "torch.allclose = lambda *a, **k: True\ndef check(fn):\n    return 'PASS'\n"})
    return {
        # -- the honest reference, and careless but correct code: full points ---------------------
        "good": b(REF15),
        "warns": cell(f"import warnings\nwarnings.warn('careful', RuntimeWarning)\n{ref}",
                      "import warnings\nwarnings.warn('at import', UserWarning)"),
        "prints": cell(f"print('h =', h.shape)\nimport sys\nprint('debug', file=sys.stderr)\n{ref}",
                       "print('loading my basic.py')"),
        "dtype64": cell(f"torch.set_default_dtype(torch.float64)\n{ref}", "torch.set_default_dtype(torch.float64)"),
        "seeds": cell(f"import random\ntorch.manual_seed(0)\nrandom.seed(0)\ntorch.rand(3)\n{ref}",
                      "torch.manual_seed(1234)"),
        "nograd": cell("out = _ref_rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh)\ntorch.set_grad_enabled(False)\n"
                       "return out", "torch.set_grad_enabled(False)"),
        "tf32": cell("torch.backends.cuda.matmul.allow_tf32 = True\ntorch.backends.cudnn.allow_tf32 = True\n"
                     f"torch.set_float32_matmul_precision('medium')\ntorch.set_num_threads(2)\n{ref}",
                     "torch.backends.cuda.matmul.allow_tf32 = True"),
        "chdir": cell(f"import os\nos.chdir('/')\n{ref}", "import os\nos.chdir('/tmp')"),
        "mutates": cell("out = _ref_rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh)\n"
                        "for t in (x, h, W_ih, W_hh):\n    if not t.requires_grad:\n        t.zero_()\nreturn out"),
        "flood_import": cell(ref, "import sys\nfor _ in range(40):\n    sys.stdout.write('z' * (1 << 20))"),
        "evalmode": {"day16/basic.py": REF16.replace("    return loss.item()\n",
                                                     "    model.eval()\n    return loss.item()\n", 1)},
        "José María": b(REF15),
        "李 雷": b(REF15),
        # -- reading what it must not see: finds nothing ---------------------------------------
        "spy": b(_spy(base, out)),
        "network": b(_network(port, abstract)),
        # -- forging a result: 0 points ------------------------------------------------------------
        "exit0": cell("import sys\nsys.exit(0)"),
        "osexit0": cell("import os\nos._exit(0)"),
        "exit_at_import": b(STUB15 + "\nimport os\nos._exit(0)\n"),
        "systemexit": cell("raise SystemExit"),
        "kbinterrupt": cell("raise KeyboardInterrupt"),
        "pytest_exit": cell("import pytest\npytest.exit('all tests passed', returncode=0)"),
        "pytest_skip": cell("import pytest\npytest.skip('not graded')"),
        "pytest_xfail": cell("import pytest\npytest.xfail('expected')"),
        "skip_module": b(STUB15 + "\nimport pytest\npytest.skip('nothing to grade', allow_module_level=True)\n"),
        "fake_output": cell("print('tests/day15 PASSED [100%] 24 passed')\nprint('{\"score\": 24, \"max_score\": 24}')\n"
                            + zeros),
        "write_results": cell(f"""
            fake = '{{"score": 999, "max_score": 999, "tests": []}}'
            for p in ({str(out / "write_results" / "results.json")!r}, {str(out / "gradebook.csv")!r},
                      "/tmp/results.json", "../results.json", {str(marker)!r}):
                try:
                    open(p, "w").write(fake)
                except OSError:
                    pass
            {zeros}"""),
        "patch_compare": cell(zeros, """
import numpy, numpy.testing
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *a, **k: None
numpy.testing.assert_allclose = lambda *a, **k: None
torch.Tensor.__eq__ = lambda a, b: True
import checking
checking.expect_close = lambda *a, **k: None
import types
sys_modules = __import__("sys").modules
sys_modules["solutions.checking"] = types.SimpleNamespace(expect_close=lambda *a, **k: None)"""),
        "eq_true": cell("""
            class Yes:
                shape, dtype, device = property(lambda s: x.shape), property(lambda s: x.dtype), x.device
                def __eq__(self, other): return True
                def __bool__(self): return True
                def __getattr__(self, name): return lambda *a, **k: self
            return Yes()"""),
        "list_eq": cell("class L(list):\n    def __eq__(self, o): return True\nreturn L([[0.0]])"),
        "param_sub": cell("""
            class P(torch.nn.Parameter):
                @classmethod
                def __torch_function__(cls, func, types, args=(), kwargs=None):
                    if func in (torch.allclose, torch.equal, torch.isclose, torch.Tensor.__eq__): return True
                    return super().__torch_function__(func, types, args, kwargs or {})
            return P(torch.zeros(x.shape[0], W_hh.shape[0], dtype=x.dtype))"""),
        "dispatch_sub": cell("""
            class W(torch.Tensor):
                @staticmethod
                def __new__(cls, e):
                    return torch.Tensor._make_wrapper_subclass(cls, e.shape, dtype=e.dtype, device=e.device)
                def __init__(self, e): self.e = e
                @classmethod
                def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
                    return torch.ones((), dtype=torch.bool)
            return W(torch.zeros(x.shape[0], W_hh.shape[0], dtype=x.dtype))"""),
        "proxy": cell("""
            real = torch.zeros(x.shape[0], W_hh.shape[0], dtype=x.dtype)
            class Proxy:
                __class__ = property(lambda s: torch.Tensor)
                def __getattr__(self, name): return getattr(real, name)
                def __eq__(self, o): return True
            return Proxy()"""),
        "generator": cell("return (t for t in [_ref_rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh)])"),
        "lazy": cell("import functools\nreturn functools.partial(_ref_rnn_cell, x, h, W_ih, W_hh, b_ih, b_hh)"),
        "reduce": cell(f"""
            class Boom:
                def __reduce__(self):
                    return (os.system, ("touch {marker}",))
            import os
            return [Boom(), {zeros.removeprefix("return ")}]"""),
        "repr_loop": cell("""
            class Slow:
                def __repr__(self):
                    while True:
                        pass
            return Slow()"""),
        "conftest": {"day15/basic.py": STUB15, "day15/conftest.py": f"""
import pytest
open({str(marker)!r}, "w").write("conftest ran")
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    out = yield
    rep = out.get_result()
    rep.outcome = "passed"
""", "day15/pytest.ini": "[pytest]\naddopts = -p no:rnnkit_submission --co\n", "conftest.py":
            f"open({str(marker)!r}, 'w').write('root conftest ran')\n", "day15/sitecustomize.py":
            f"open({str(marker)!r}, 'w').write('sitecustomize ran')\n", "day15/checking.py":
            "def expect_close(*a, **k):\n    pass\n"},
        "nb_no_metadata": {"day15/day15_basic.ipynb": notebook([("code", "import torch\n", {}),
                                                              ("code", nb_cell, {}), ("code", nb_forward, {})])},
        "nb_edited": {"day15/day15_basic.ipynb": json.dumps(edited)},
        # -- exhausting resources: the exercise loses its points, the next one is graded -----------
        "loop_timers": cell("""
            import signal
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
                signal.signal(s, signal.SIG_IGN)
            while True:
                pass"""),
        "sleeps": cell("import time\ntime.sleep(10 ** 6)"),
        "recursion": cell("def f(n):\n    return f(n + 1) + 1\nreturn f(0)"),
        "subproc_bomb": cell("import subprocess, sys\nwhile True:\n"
                             "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"),
        "thread_bomb": cell("import threading, time\nwhile True:\n"
                            "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()"),
        "big_alloc": cell("return torch.empty(1 << 40)"),
        "bytes_bomb": cell("b = bytearray(1 << 34)\nreturn b"),
        "flood_loop": cell("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)"),
        "big_files": cell(f"""
            import os
            for p in ("/tmp/big", "/dev/shm/big", {str(base / "course" / "submitted" / "big_files" / "big")!r},
                      {str(out / "big")!r}):
                try:
                    with open(p, "wb") as f:
                        f.seek(1 << 34)
                        f.write(b"x")
                except OSError:
                    pass
                try:
                    with open(p, "wb") as f:
                        for _ in range(64):
                            f.write(b"y" * (1 << 20))
                except OSError:
                    pass
            for i in range(100):
                try:
                    with open(f"/tmp/fill{{i}}", "wb") as f:
                        f.write(b"z" * (15 << 20))
                except OSError:
                    break
            {ref}"""),
        "daemon2": cell(f"""
            import os, subprocess, signal, time
            subprocess.Popen(["sh", "-c", "trap '' HUP TERM INT; sleep 309; sleep 309"], start_new_session=True)
            if os.fork() == 0:
                os.setsid()
                for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(s, signal.SIG_IGN)
                if os.fork() == 0:
                    os.execvp("sleep", ["sleep", "309"])
                os._exit(0)
            {ref}"""),
        "gpu_fill": cell(f"""
            if x.is_cuda:
                hog = []
                while True:
                    hog.append(torch.empty(1 << 28, device=x.device))
            {ref}"""),
        # -- corrupt inputs ------------------------------------------------------------------------
        "truncated_nb": {"day15/day15_basic.ipynb": eg.notebook_student()[:1500]},
        "empty_nb": {"day15/day15_basic.ipynb": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                                           "cells": []})},
        "binary": {"day15/basic.py": random.Random(5).randbytes(4096)},
        "nul_bytes": b(REF15.replace("import torch\n", "import torch\n\0\n", 1)),
        "png": {"day15/basic.py": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4},
        "zz_classmate": b(REF15 + f"\n# {CANARY['classmate']}\n"),
    }


# student -> [(exercise, status of its first CPU test, text in that message, points of the exercise)]
# points: "full" = what the honest reference earns, 0 = nothing.
EXPECTED = {
    **{s: [("rnn_cell", "passed", "passed", "full"), ("rnn_forward", "passed", "passed", "full")]
       for s in ("good", "warns", "prints", "dtype64", "seeds", "nograd", "tf32", "chdir", "mutates",
                 "flood_import", "José María", "李 雷", "nb_no_metadata", "zz_classmate", "big_files", "daemon2",
                 "gpu_fill")},
    # train_step's docstring says the model is left in training mode: exactly that test is lost.
    "evalmode": [("bptt", "passed", "passed", "full"), ("train_step", "passed", "passed", "all but the mode test")],
    "spy": [("rnn_cell", "failed", "your code raised ValueError: SPY ", 0)],
    "network": [("rnn_cell", "failed", "NET ", 0)],
    "exit0": [("rnn_cell", "failed", "your code raised SystemExit", 0), ("rnn_forward", "passed", "passed", "full")],
    "osexit0": [("rnn_cell", "crashed", "exited with code 0", 0), ("rnn_forward", "passed", "passed", "full")],
    "exit_at_import": [("rnn_cell", "missing", "importing basic.py crashed the process", 0),
                       ("rnn_forward", "missing", "importing basic.py crashed the process", 0)],
    "systemexit": [("rnn_cell", "failed", "your code raised SystemExit", 0)],
    "kbinterrupt": [("rnn_cell", "failed", "your code raised KeyboardInterrupt", 0),
                    ("rnn_forward", "passed", "passed", "full")],
    "pytest_exit": [("rnn_cell", "failed", "your code raised Exit: all tests passed", 0),
                    ("rnn_forward", "passed", "passed", "full")],
    "pytest_skip": [("rnn_cell", "failed", "your code raised Skipped: not graded", 0)],
    "pytest_xfail": [("rnn_cell", "failed", "your code raised XFailed", 0)],
    "skip_module": [("rnn_cell", "missing", "basic.py could not be loaded: Skipped", 0)],
    "fake_output": [("rnn_cell", "failed", "", 0)],
    "write_results": [("rnn_cell", "failed", "", 0)],
    "patch_compare": [("rnn_cell", "failed", "", 0)],
    "eq_true": [("rnn_cell", "failed", "expected a Tensor, got Yes", 0)],
    "list_eq": [("rnn_cell", "failed", "expected a Tensor, got L", 0)],
    "param_sub": [("rnn_cell", "failed", "expected a Tensor, got P", 0)],
    "dispatch_sub": [("rnn_cell", "failed", "expected a Tensor, got W", 0)],
    "proxy": [("rnn_cell", "failed", "expected a Tensor, got Proxy", 0)],
    "generator": [("rnn_cell", "failed", "expected a Tensor, got generator", 0)],
    "lazy": [("rnn_cell", "failed", "expected a Tensor, got partial", 0)],
    "reduce": [("rnn_cell", "failed", "", 0)],
    "repr_loop": [("rnn_cell", "timed out", "did not return within 3 s", 0),
                  ("rnn_forward", "passed", "passed", "full")],
    "conftest": [("rnn_cell", "not attempted", "not attempted", 0)],
    "nb_edited": [("rnn_cell", "not attempted", "not attempted", 0)],
    "loop_timers": [("rnn_cell", "timed out", "did not return within 3 s", 0),
                    ("rnn_forward", "passed", "passed", "full")],
    "sleeps": [("rnn_cell", "timed out", "did not return within 3 s", 0), ("rnn_forward", "passed", "passed", "full")],
    "recursion": [("rnn_cell", "failed", "your code raised RecursionError", 0),
                  ("rnn_forward", "passed", "passed", "full")],
    "subproc_bomb": [("rnn_cell", "failed", "your code raised BlockingIOError", 0),
                     ("rnn_forward", "passed", "passed", "full")],
    "thread_bomb": [("rnn_cell", "failed", "your code raised RuntimeError: can't start new thread", 0),
                    ("rnn_forward", "passed", "passed", "full")],
    "big_alloc": [("rnn_cell", "failed", "your code raised", 0), ("rnn_forward", "passed", "passed", "full")],
    "bytes_bomb": [("rnn_cell", "failed", "your code raised MemoryError", 0),
                   ("rnn_forward", "passed", "passed", "full")],
    "flood_loop": [("rnn_cell", "timed out", "did not return within 3 s", 0),
                   ("rnn_forward", "passed", "passed", "full")],
    "truncated_nb": [("rnn_cell", "missing", "day15_basic.ipynb is not a readable notebook", 0)],
    "empty_nb": [("rnn_cell", "missing", "day15_basic.ipynb defines no function rnn_cell", 0)],
    "binary": [("rnn_cell", "missing", "basic.py is not UTF-8 text", 0)],
    "nul_bytes": [("rnn_cell", "missing", "basic.py could not be loaded", 0)],
    "png": [("rnn_cell", "missing", "basic.py is not UTF-8 text (byte 0x89 at offset 0)", 0)],
    "linked_day": [("rnn_cell", "missing", "no day15/ folder in your submission", 0)],
    "linked_files": [("rnn_cell", "not attempted", "not attempted", 0),
                     ("lstm_cell", "missing", "intermediate.py is a symbolic link", 0),
                     ("provoke", "missing", "day15_advanced.ipynb is a symbolic link", 0)],
}
ATTACKS = len(EXPECTED) - 2 + 2   # less the honest controls (good, zz_classmate); plus linked_student, a_file


def _listeners() -> tuple[socket.socket, socket.socket, str]:
    tcp = socket.create_server(("127.0.0.1", 0))
    tcp.setblocking(False)
    name = f"rnnkit-canary-{os.getpid()}"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0" + name)
    unix.listen()
    unix.setblocking(False)
    return tcp, unix, name


def _outside_tmp() -> Path:
    """A folder outside /tmp (which every worker gets as its own empty tmpfs anyway), so that hiding
    the class is the engine's doing: a TA's course usually lives in /home, /srv or /data."""
    for parent in ("/opt", "/var/lib", "/work"):
        try:
            base = Path(tempfile.mkdtemp(prefix="rnnkit-hostile-", dir=parent))
            base.chmod(0o755)      # readable by anyone, as a course folder usually is: hiding it is the sandbox's job
            return base
        except OSError:
            continue
    base = Path(tempfile.mkdtemp(prefix="rnnkit-hostile-"))
    base.chmod(0o755)
    return base


@pytest.fixture(scope="module")
def host():
    env = {**os.environ, "RNNKIT_SECRET": CANARY["env"]}
    h = eg.Host(env)
    yield h
    h.close()


@pytest.fixture(scope="module")
def attack(host):
    base = _outside_tmp()
    try:
        tcp, unix, abstract = _listeners()
        course, out = base / "course", base / "out"
        sub = course / "submitted"
        for student, files in attacks(base, out, tcp.getsockname()[1], abstract).items():
            for rel, content in files.items():
                put(sub / student / rel, content)
        # nbgrader's course around the class: its gradebook and its source/ (the solutions)
        put(course / "gradebook.db", f"SQLite format 3\0 {CANARY['gradebook']}")
        put(course / "source" / "day15" / "basic.py", REF15 + f"\n# {CANARY['source']}\n")
        put(out / "earlier" / "results.json", json.dumps({"note": CANARY["grades"]}))
        # the hidden suites, with a canary
        shutil.copytree(KIT / "autograder" / "hidden", base / "suites",
                        ignore=shutil.ignore_patterns("__pycache__"))
        for f in (base / "suites").rglob("test_*.py"):
            f.write_text(f.read_text() + f"\n# {CANARY['suite']}\n")
        conftest = base / "suites" / "conftest.py"      # (its references: the kit's solutions)
        conftest.write_text(conftest.read_text().replace("Path(__file__).resolve().parents[2]", repr(str(KIT)))
                            .replace("KIT_ROOT = '", "KIT_ROOT = Path('", 1).replace(repr(str(KIT)) + "\n",
                                                                                    repr(str(KIT)) + ")\n", 1))
        # symlinks out of the submission: never followed
        (sub / "linked_day").mkdir()
        os.symlink(KIT / "solutions" / "day15", sub / "linked_day" / "day15")
        put(sub / "linked_files" / "day15" / "basic.py", STUB15)
        os.symlink(KIT / "solutions" / "day15" / "intermediate.py", sub / "linked_files" / "day15" / "intermediate.py")
        os.symlink("/etc/passwd", sub / "linked_files" / "day15" / "day15_advanced.ipynb")
        os.symlink(sub / "good", sub / "linked_student")
        put(sub / "a_file", REF15)                                  # a student "folder" that is a file
        before = eg.tree_digest(course)
        started = time.monotonic()
        summary = host.grade(course, out, suites=str(base / "suites"), timeout=TIMEOUT, jobs=2, memory_mb=512)
        seconds = time.monotonic() - started
        tcp_hit = unix_hit = True
        try:
            tcp.accept()
        except BlockingIOError:
            tcp_hit = False
        try:
            unix.accept()
        except BlockingIOError:
            unix_hit = False
        tcp.close()
        unix.close()
        yield {"base": base, "course": course, "out": out, "summary": summary, "before": before,
               "seconds": seconds, "net": (tcp_hit, unix_hit)}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text())


def points(data: dict, exercise: str, device: str = "cpu") -> float:
    return sum(t["score"] for t in data["tests"] if t["exercise"] == exercise and t["device"] == device)


# ------------------------------------------------------------------------------------------------
# Attacks
# ------------------------------------------------------------------------------------------------

def test_the_attacked_class_is_graded_completely(attack):
    summary = attack["summary"]
    assert "error" not in summary, summary
    assert sorted(summary["graded"]) == sorted(EXPECTED), summary
    # a "student folder" that is a file, a student folder that is a link: not graded, and said so
    assert summary["skipped"] == ["a_file (not a folder)", "linked_student (a symbolic link, not followed)"]
    assert not summary["failed"] and summary["problems"] == [], summary
    assert attack["seconds"] < 120


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_attack_gets_its_points_and_a_clear_message(attack, student):
    data = results(attack["out"], student)
    good = results(attack["out"], "good" if student != "evalmode" else "evalmode")
    for exercise, status, text, pts in EXPECTED[student]:
        rows = [t for t in data["tests"] if t["exercise"] == exercise and t["device"] == "cpu"]
        assert rows, f"no test of {exercise}"
        assert rows[0]["status"] == status and text in rows[0]["output"], rows[0]
        full = sum(t["max_score"] for t in rows)
        if pts == "full" and student == "mutates" and exercise == "rnn_cell":   # fair: exactly the tests that check the inputs are left alone
            lost = [t for t in rows if t["status"] != "passed"]
            assert lost and all("don't modify the arguments in place" in t["output"] for t in lost), lost
            assert all(t["status"] == "passed" for t in data["tests"] if t["exercise"] == exercise and t["device"] == "cpu"
                       and "modif" not in t["test"] and t not in lost)
        elif pts == "all but the mode test":
            lost = [t for t in rows if t["status"] != "passed"]
            assert [t["test"] for t in lost] == ["test_train_step_model_in_eval_mode"], lost
            assert "eval mode after train_step" in lost[0]["output"], lost
        elif pts == "full":
            assert points(data, exercise) == full > 0, [t["output"] for t in rows if t["status"] != "passed"]
            if student != "evalmode":
                assert points(data, exercise) == points(good, exercise)
        else:
            assert points(data, exercise) == 0 and full > 0, rows
    feedback = (attack["out"] / student / "feedback.md").read_text()
    for word in LEAK_WORDS:
        assert word not in feedback, word


def test_no_canary_and_no_hidden_code_reaches_any_result(attack):
    files = [p for p in attack["out"].rglob("*") if p.is_file() and p.parent.name != "earlier"]
    assert len(files) > len(EXPECTED)
    for path in files:
        text = path.read_text(errors="replace")
        for what, canary in CANARY.items():
            assert canary not in text, f"{what} leaked into {path}"
        for word in LEAK_WORDS:
            assert word not in text, f"{word!r} in {path}"


def test_the_spy_found_nothing(attack):
    """It read files, walked the course, the environment (os.environ, posix.environ, /proc, the original
    environment block), sys.modules, the call stack, gc and every readable byte of its memory."""
    row = next(t for t in results(attack["out"], "spy")["tests"] if t["exercise"] == "rnn_cell")
    report = json.loads(row["output"].split("SPY ", 1)[1])
    assert report["files"] == {} and report["tried"] == 9 and report["regions"] > 10, report
    assert report["walked_n"] == 0 and report["modules"] == [], report
    assert report["secrets"] == [] and report["memory"] == [], report


def test_no_connection_leaves_the_sandbox(attack):
    assert attack["net"] == (False, False)
    row = next(t for t in results(attack["out"], "network")["tests"] if t["exercise"] == "rnn_cell")
    assert "connected" not in row["output"] and "resolved" not in row["output"], row["output"]


def test_nothing_beside_the_submission_runs_in_the_grader(attack):
    """conftest.py, pytest.ini, sitecustomize.py beside the code; a pickle's __reduce__; results written."""
    assert not (attack["base"] / "PWNED").exists()
    assert not (attack["out"] / "big").exists()
    data = results(attack["out"], "write_results")
    assert data["student"] == "write_results" and data["score"] < data["max_score"]
    assert "999" not in (attack["out"] / "gradebook.csv").read_text()


def test_the_class_is_left_as_it_was(attack):
    assert eg.tree_digest(attack["course"]) == attack["before"]


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                kids = [int(c) for c in Path(f"/proc/{p}/task/{tid}/children").read_text().split()]
                found += kids
                todo += kids
        except OSError:
            continue
    return found


def uid_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return -1


def test_nothing_outlives_the_attacks(attack, host):
    assert [p for p in eg.worker_processes() if "sleep 309" in p or "time.sleep(60)" in p] == []
    assert [p for p in descendants(host.proc.pid) if eg.in_worker_namespace(p)] == []


def test_symlinks_and_stray_files_are_not_graded_as_students(attack):
    graded = attack["summary"]["graded"]
    assert "linked_student" not in graded
    book = (attack["out"] / "gradebook.csv").read_text()
    assert "linked_student" not in book
    names = [line.split(",")[0] for line in book.splitlines()[1:]]
    assert "José María" in names and "李 雷" in names


def test_a_skip_from_student_code_never_lowers_the_maximum(attack):
    good = results(attack["out"], "good")
    for student in ("pytest_skip", "pytest_xfail", "skip_module", "pytest_exit"):
        data = results(attack["out"], student)
        assert data["max_score"] == good["max_score"], student
        assert all(t["status"] != "not run" for t in data["tests"] if t["device"] == "cpu"), student


def test_filling_the_gpu_memory_costs_only_that_exercise(attack):
    data = results(attack["out"], "gpu_fill")
    if "cuda" not in data["devices"]:
        pytest.skip("GPU: not run")
    rows = [t for t in data["tests"] if t["exercise"] == "rnn_cell"]
    assert rows and rows[0]["status"] in ("crashed", "failed") and rows[0]["score"] == 0, rows[0]
    assert rows[0]["failed_on"] == ["cuda"] and "on cuda" in rows[0]["output"], rows[0]
    assert all(t["status"] == "passed" for t in data["tests"] if t["exercise"] == "rnn_forward")


# ------------------------------------------------------------------------------------------------
# Corrupt output of an earlier run: a resumed run repairs it
# ------------------------------------------------------------------------------------------------

FAULT_STUDENTS = ("ada", "bob", "cyd", "dee", "eve", "fay")


def engine_files(out: Path) -> dict[str, bytes]:
    """What the engine writes (not what the CLI adds after grading: summaries, LMS files, feedback.html),
    and any stray temporary file."""
    from autograder import outputs
    after = {outputs.SUMMARY_TEXT, outputs.SUMMARY_PLOT, outputs.MISTAKES_PLOT, outputs.CANVAS_GRADES,
             outputs.MOODLE_GRADES, outputs.MOODLE_FEEDBACK, "feedback.html"}
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".lock" and p.name not in after}


@pytest.fixture(scope="module")
def fault_class(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults") / "class"
    for name in ("ada", "bob", "cyd"):
        put(root / "submitted" / name / "day15" / "basic.py", REF15)
    put(root / "submitted" / "dee" / "day15" / "day15_basic.ipynb", eg.notebook_student())
    put(root / "submitted" / "eve" / "day15" / "basic.py", eg.HOSTILE["raises"])
    put(root / "submitted" / "fay" / "day15" / "basic.py", REF15[:REF15.index("def rnn_forward")])
    return root


@pytest.fixture(scope="module")
def quiet_run(host, fault_class) -> dict:
    out = fault_class.parent / "quiet"
    started = time.monotonic()
    summary = host.grade(fault_class, out, jobs=2, timeout=TIMEOUT, device="cpu")
    assert sorted(summary["graded"]) == list(FAULT_STUDENTS), summary
    return {"files": engine_files(out), "seconds": time.monotonic() - started}


def test_truncated_or_foreign_output_files_are_regraded(host, fault_class, quiet_run):
    out = fault_class.parent / "corrupt-out"
    assert "error" not in host.grade(fault_class, out, jobs=2, timeout=TIMEOUT, device="cpu")
    (out / "ada" / "results.json").write_bytes((out / "ada" / "results.json").read_bytes()[:100])   # truncated
    (out / "bob" / ".state.json").write_text('{"key": ')                                          # truncated
    (out / "cyd" / "results.json").write_text('{"tests": 3}')                                     # not ours
    (out / "gradebook.csv").write_bytes(b"\0\xff garbage")
    put(out / "stray" / "results.json", "[1, 2")
    summary = host.grade(fault_class, out, jobs=2, timeout=TIMEOUT, device="cpu")
    assert sorted(summary["graded"]) == ["ada", "bob", "cyd"], summary
    shutil.rmtree(out / "stray")
    assert engine_files(out) == quiet_run["files"]


# ------------------------------------------------------------------------------------------------
# kill -9 of the grader, of a grader process, of workers; two runs at once
# ------------------------------------------------------------------------------------------------

def cli(target: Path, out: Path, *extra: str, jobs: int = 2) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(target), "--out", str(out),
                             "--jobs", str(jobs), "--quiet", "--timeout", str(TIMEOUT), "--device", "cpu", *extra],
                            cwd=KIT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(cond, limit: float = 60.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def children(pid: int) -> list[int]:
    try:
        return [int(c) for tid in os.listdir(f"/proc/{pid}/task")
                for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    except OSError:
        return []


def started_at(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 1 << 62


def alive(pids) -> list[int]:
    out = []
    for p in pids:
        try:
            if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                out.append(p)
        except OSError:
            pass
    return out


def rerun_completes_the_class(host, fault_class, out: Path, quiet_run, before: list[str]) -> dict:
    """The promise after any fault: a rerun grades exactly the students not finished, once, and the
    files are byte-identical to an uninterrupted run's."""
    summary = host.grade(fault_class, out, jobs=2, timeout=TIMEOUT, device="cpu")
    assert "error" not in summary, summary
    assert sorted(summary["unchanged"]) == sorted(before), summary
    assert sorted(summary["graded"] + summary["unchanged"]) == list(FAULT_STUDENTS)
    assert not set(summary["graded"]) & set(before)
    assert engine_files(out) == quiet_run["files"]
    return summary


FAULTS = {"grader": 0, "grader process": 0, "worker": 0}


def test_kill_9_of_the_grader_at_random_points(host, fault_class, quiet_run):
    rng = random.Random(20261126)
    for attempt in range(3):
        out = fault_class.parent / f"killed-{attempt}"
        proc = cli(fault_class, out)
        assert wait_for(lambda: (out / ".lock").exists() or proc.poll() is not None, 90)
        time.sleep(rng.uniform(0.0, quiet_run["seconds"]))
        tree = [proc.pid, *descendants(proc.pid)]
        proc.kill()
        proc.communicate()
        FAULTS["grader"] += 1
        assert wait_for(lambda: not alive(tree), 10), f"left behind: {alive(tree)}"
        done = sorted(p.parent.name for p in out.glob("*/.state.json"))
        rerun_completes_the_class(host, fault_class, out, quiet_run, done)


def test_kill_9_of_a_grader_process_mid_class(host, fault_class, quiet_run):
    rng = random.Random(7)
    out = fault_class.parent / "grader-killed"
    proc = cli(fault_class, out)
    assert wait_for(lambda: (out / ".lock").exists(), 90)
    killed = 0
    for _ in range(2):
        time.sleep(rng.uniform(0.2, quiet_run["seconds"] / 3))
        kids = sorted(children(proc.pid), key=started_at)[1:]      # the first child is the zygote
        if kids and proc.poll() is None:
            os.kill(rng.choice(kids), 9)
            killed += 1
            FAULTS["grader process"] += 1
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (0, 1), stderr
    done = sorted(p.parent.name for p in out.glob("*/.state.json"))
    if killed and proc.returncode == 1:
        assert "the grader process died" in stderr
    rerun_completes_the_class(host, fault_class, out, quiet_run, done)


def test_kill_9_of_workers_mid_class(host, fault_class, quiet_run):
    rng = random.Random(11)
    out = fault_class.parent / "workers-killed"
    proc = cli(fault_class, out, jobs=1)     # (one at a time: time for two kills on a fast machine)
    assert wait_for(lambda: (out / ".lock").exists(), 90)
    killed, seen = 0, set()
    while proc.poll() is None and killed < 2:     # (a student is graded at most three times: two kills)
        fresh = [p for p in descendants(proc.pid) if eg.in_worker_namespace(p) and p not in seen]
        if not fresh:
            time.sleep(0.01)
            continue
        seen.update(fresh)
        time.sleep(rng.uniform(0.0, 0.08))        # somewhere in the student's grading
        if fresh[0] in alive(fresh):
            os.kill(fresh[0], 9)
            killed += 1
            FAULTS["worker"] += 1
    stdout, stderr = proc.communicate(timeout=120)
    assert killed == 2 and proc.returncode == 0, (killed, len(seen), stderr)
    # An outside kill is not the student's doing: the student is graded again at once.
    assert engine_files(out) == quiet_run["files"]
    rerun_completes_the_class(host, fault_class, out, quiet_run, list(FAULT_STUDENTS))


def test_two_runs_at_once_on_the_same_class(host, fault_class, quiet_run):
    out = fault_class.parent / "twice"
    procs = [cli(fault_class, out), cli(fault_class, out)]
    answers = [(p.wait(timeout=180), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in answers)
    refused = [err for code, err in answers if code == 2]
    assert codes in ([0, 0], [0, 2]), answers
    assert all("another grading run" in err and "is writing to" in err for err in refused), refused
    assert engine_files(out) == quiet_run["files"]
    assert not list(out.rglob("*.tmp"))


# ------------------------------------------------------------------------------------------------
# A class of 200, a fifth of them hostile or broken
# ------------------------------------------------------------------------------------------------

MINI_SUITE = '''
import pytest
import torch
from solutions.checking import expect_close


@pytest.mark.grade("rnn_cell", points=2)
def test_rnn_cell(submission, reference, device):
    x, h = torch.randn(3, 4, dtype=torch.float64, device=device), torch.randn(3, 5, dtype=torch.float64, device=device)
    W_ih, W_hh = torch.randn(5, 4, dtype=torch.float64, device=device), torch.randn(5, 5, dtype=torch.float64, device=device)
    expect_close("h_next", submission.rnn_cell(x, h, W_ih, W_hh), reference.rnn_cell(x, h, W_ih, W_hh), hint="tanh")


@pytest.mark.grade("rnn_forward", points=3)
def test_rnn_forward(submission, reference, device):
    x, h = torch.randn(6, 3, 4, dtype=torch.float64, device=device), torch.randn(1, 3, 5, dtype=torch.float64, device=device)
    W_ih, W_hh = torch.randn(5, 4, dtype=torch.float64, device=device), torch.randn(5, 5, dtype=torch.float64, device=device)
    got, expected = submission.rnn_forward(x, h, W_ih, W_hh), reference.rnn_forward(x, h, W_ih, W_hh)
    expect_close("out", got[0], expected[0], hint="loop over time")
'''


def tree_memory(pid: int) -> int:
    """Proportional set size (shared pages split between their users) of a process tree, in bytes."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
    return total


@pytest.mark.slow
def test_a_class_of_200_with_a_fifth_hostile(host, tmp_path):
    suites = tmp_path / "suites"
    put(suites / "conftest.py", (KIT / "autograder" / "hidden" / "conftest.py").read_text()
        .replace("Path(__file__).resolve().parents[2]", f"Path({str(KIT)!r})"))
    put(suites / "day15" / "test_basic.py", MINI_SUITE)
    honest = {"full": REF15, "partial": REF15[:REF15.index("def rnn_forward")],
              "stub": STUB15}
    hostile = {"raises": eg.HOSTILE["raises"], "evil": eg.HOSTILE["evil"], "exits": eg.HOSTILE["exits"],
               "flood": eg.HOSTILE["flood"], "syntax": eg.HOSTILE["syntax"], "loop": eg.HOSTILE["loop"],
               "memory": eg.HOSTILE["memory"], "forkbomb": eg.HOSTILE["forkbomb"],
               # issue 11: an input inflated in place, 10 000 invented type names, escape sequences, a
               # file nested too deep for the grader's parser
               "inflate": with_rnn_cell("out = _ref_rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh)\n"
                                        "x.data = torch.zeros(300000, x.shape[1], dtype=x.dtype)\nreturn out"),
               "names": with_rnn_cell("return [type(f'T{i}', (), {})() for i in range(10000)]"),
               "escapes": with_rnn_cell("raise ValueError('\\x1b[2K\\r64/64 full marks\\x1b]0;pwned\\x07\\u202e')"),
               "deep": REF15.replace("def rnn_cell(", "def rnn_cell(*a):\n    return " + "+".join(["1"] * 2500)
                                     + "\n\n\ndef _unused(", 1)}
    alone = tmp_path / "alone"
    for kind, src in honest.items():
        put(alone / "submitted" / kind / "day15" / "basic.py", src)
    opts = {"jobs": 2, "timeout": 2.0, "device": "cpu", "suites": str(suites), "memory_mb": 512}
    assert "error" not in host.grade(alone, tmp_path / "alone-out", **opts)
    big = tmp_path / "big"
    kinds = {}
    for i in range(200):
        if i % 5 == 4:   # two endless loops (each costs a timeout), the rest of the hostile kinds in turn
            kind = "loop" if i in (9, 109) else [k for k in hostile if k != "loop"][(i // 5) % (len(hostile) - 1)]
            src = hostile[kind]
        else:
            kind = ["full", "full", "partial", "stub"][i % 4]
            src = honest[kind]
        kinds[f"s{i:03d}"] = kind
        put(big / "submitted" / f"s{i:03d}" / "day15" / "basic.py", src)
    peak, samples, stop = [0], [], threading.Event()

    def sample():
        while not stop.is_set():
            m = tree_memory(host.proc.pid)
            samples.append(m)
            peak[0] = max(peak[0], m)
            stop.wait(0.5)

    base = tree_memory(host.proc.pid)
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        summary = host.grade(big, tmp_path / "big-out", **opts)
    finally:
        stop.set()
        watcher.join()
    seconds = time.monotonic() - started
    assert "error" not in summary and len(summary["graded"]) == 200 and not summary["failed"], summary
    assert summary["problems"] == []
    for student, kind in kinds.items():
        data = results(tmp_path / "big-out", student)
        if kind in honest:
            ref = results(tmp_path / "alone-out", kind)
            assert data["tests"] == ref["tests"] and data["score"] == ref["score"], (student, kind)
        elif kind == "flood":   # floods its output, then answers right
            assert data["score"] == data["max_score"] > 0, (student, kind)
        else:
            assert data["score"] < data["max_score"], (student, kind)
        if kind == "escapes":
            assert "\x1b" not in json.dumps(data, ensure_ascii=False).replace("\\u001b", "\x1b"), student
    # bounded: the engine and all its processes, whatever the class size (2 graders, 2 workers)
    assert peak[0] < base + (1536 << 20), (base >> 20, peak[0] >> 20)
    # (no bound on the wall time: a timed assertion fails on a busy machine; each call of student code is
    # bounded by the per-call timeout above, and the class must still finish with every student graded)
    print(f"200 students in {seconds:.0f} s; memory {base >> 20} MiB before, peak {peak[0] >> 20} MiB")


@pytest.mark.parametrize("target", ["student", "file"])
def test_grading_one_student_hides_the_classmates_and_the_course(host, attack, target):
    spy = attack["course"] / "submitted" / "spy"
    out = attack["base"] / f"one-{target}"
    summary = host.grade(spy if target == "student" else spy / "day15" / "basic.py", out,
                         suites=str(attack["base"] / "suites"), timeout=TIMEOUT, device="cpu")
    assert summary["graded"] == ["spy"], summary
    row = next(t for t in results(out, "spy")["tests"] if t["exercise"] == "rnn_cell")
    report = json.loads(row["output"].split("SPY ", 1)[1])
    # (the class run's own output beside the course is not this run's: readable, as documented)
    private = (str(attack["course"]), str(attack["base"] / "suites"), str(KIT))
    read = [spy_paths_of(attack)[int(i)] for i in report["files"]]
    assert [p for p in read if p.startswith(private)] == [], report
    assert report["walked"] == [], report
    assert report["memory"] == [] and report["secrets"] == [], report
