"""A spy 'student' (``day15/basic.py``): looks everywhere in its worker for what it must not find.

Graded through the real CLI by tests/test_spy.py, which fills ``NEEDLES`` and ``PATHS`` in a copy
of this file.  When a hidden test calls ``rnn_cell`` or ``rnn_forward`` it searches
- every readable byte of its process's anonymous memory (freed heap pages included),
- the frames up the stack (``sys._getframe()``) and everything reachable from their locals,
- every object ``gc`` knows and what they refer to (module globals, caches, dataclasses),
- ``sys.modules`` (names and files), the open file descriptors, the environment,
- the files at ``PATHS`` (the classmates', the solutions, the hidden suites, the grades),
for the needles: a classmate's canary, lines of the solutions, lines of the hidden suites, a
canary in the grader's environment.  It also checks that no tensor reached it except the
arguments of its calls (the hidden inputs of other tests stay in the grader).  Needles are stored
as hex of the reversed bytes, so nothing in this file's text or its constants matches one, and
decoded into one object each, which the scans skip.  A control needle, planted in this module's
globals and in a local, must be found by the memory, gc and frame scans: a scan that cannot see
is not a clean one.  It reports through its feedback: ``raise ValueError("SPY ...")``.
"""
import ctypes
import gc
import os
import re
import sys

import torch

NEEDLES = {}        # kind -> [hex of the reversed needle bytes]   (filled in by tests/test_spy.py)
PATHS = {}          # kind -> [paths it must not be able to read]  (filled in by tests/test_spy.py)

_WORDS = [(kind, bytes.fromhex(h)[::-1]) for kind, hexes in NEEDLES.items() for h in hexes]
_PLANTED = bytes(bytearray([w for kind, w in _WORDS if kind == "control"][0]))   # a copy, not a needle
_SEEN = {"report": None, "received": set(), "unsent": False}


def _memory_hits() -> set:
    """(kind, "memory") for each needle found in the process's readable anonymous memory, outside the
    needle objects themselves; searched in place by libc memmem in a child (an unreadable page kills only
    the child, the next one goes on after it)."""
    libc = ctypes.CDLL(None)
    libc.memmem.restype = ctypes.c_void_p
    libc.memmem.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    offset = sys.getsizeof(b"") - 1
    own = [(id(w) + offset, len(w)) for _, w in _WORDS]
    with open("/proc/self/maps") as f:
        rows = [line.split() for line in f.read().splitlines()]
    regions = [[int(x, 16) for x in r[0].split("-")] for r in rows
               if r[1].startswith("r") and (len(r) < 6 or not r[5].startswith("/"))
               and r[-1] not in ("[vvar]", "[vsyscall]", "[vvar_vclock]")]
    found, first = set(), 0
    while first < len(regions):
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rd)
            for i in range(first, len(regions)):
                os.write(wr, b"R%d\n" % i)
                lo, hi = regions[i]
                for k, (_, w) in enumerate(_WORDS):
                    at = lo
                    while at < hi:
                        hit = libc.memmem(at, hi - at, w, len(w))
                        if not hit:
                            break
                        if not any(a <= hit < a + n for a, n in own):
                            os.write(wr, b"W%d\n" % k)
                            break
                        at = hit + 1
            os._exit(0)
        os.close(wr)
        data = b""
        while part := os.read(rd, 65536):
            data += part
        os.close(rd)
        os.waitpid(pid, 0)
        last = first
        for line in data.decode().splitlines():
            if line.startswith("R"):
                last = int(line[1:])
            elif line.startswith("W"):
                found.add((_WORDS[int(line[1:])][0], "memory"))
        first = last + 1
    return found


class _Matcher:
    def __init__(self):
        self.kinds = [kind for kind, _ in _WORDS]
        self.texts = [w.decode("utf-8", "replace") for _, w in _WORDS]
        self.skip = {id(w) for _, w in _WORDS} | {id(t) for t in self.texts}
        self.re_b = re.compile(b"|".join(re.escape(w) for _, w in _WORDS))
        self.re_s = re.compile("|".join(re.escape(t) for t in self.texts))
        self.skip |= {id(self.re_b), id(self.re_s), id(self.re_b.pattern), id(self.re_s.pattern)}

    def kinds_in(self, value) -> set:
        if id(value) in self.skip:
            return set()
        t = type(value)
        if t is str:
            rx, texts = self.re_s, self.texts
        elif t in (bytes, bytearray):
            rx, texts = self.re_b, [w for _, w in _WORDS]
        else:
            return set()
        if rx.search(value) is None:
            return set()
        return {k for k, w in zip(self.kinds, texts) if w in value}


def _walk(roots, match: _Matcher, where: str, limit: int = 300000) -> set:
    """Needles in everything reachable from ``roots`` (containers, instance dicts and slots)."""
    found, seen, todo = set(), set(), list(roots)
    while todo and len(seen) < limit:
        o = todo.pop()
        if id(o) in seen or id(o) in match.skip:
            continue
        seen.add(id(o))
        if type(o) in (str, bytes, bytearray):
            found |= {(k, where) for k in match.kinds_in(o)}
        elif isinstance(o, dict):
            todo += list(o.keys()) + list(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            todo += list(o)
        elif not isinstance(o, (type, type(sys), torch.Tensor)):
            d = getattr(o, "__dict__", None)
            if isinstance(d, dict):
                todo.append(d)
            for slot in getattr(type(o), "__slots__", ()) or ():
                if isinstance(slot, str) and hasattr(o, slot):
                    todo.append(getattr(o, slot))
    return found


def _frame_hits(match: _Matcher) -> set:
    control = _PLANTED      # (the control for this scan: a local of this frame)  # noqa: F841
    found, frame = set(), sys._getframe()
    while frame is not None:
        code = frame.f_code.co_filename
        if re.search(r"/(hidden|solutions|fingerprints)/|conftest|archives\.py|demo\.py", code):
            found.add(("code", "frames"))
        found |= _walk([frame.f_locals], match, "frames")
        frame = frame.f_back
    return found


def _gc_hits(match: _Matcher) -> set:
    found = set()
    for o in gc.get_objects():
        if id(o) in match.skip:
            continue
        try:
            for r in gc.get_referents(o):
                if type(r) in (str, bytes, bytearray):
                    found |= {(k, "gc") for k in match.kinds_in(r)}
        except Exception:  # noqa: BLE001
            pass
    return found


def _module_hits(match: _Matcher) -> set:
    found = set()
    for name, module in list(sys.modules.items()):
        where = str(getattr(module, "__file__", "") or "")
        if re.search(r"hidden|solutions|fingerprints|archives|autograder\.(demo|build|course|summary)|^test_|conftest",
                      name) or re.search(r"/(hidden|solutions|fingerprints|tests)/", where):
            found.add(("module", "modules"))
        found |= {(k, "modules") for k in match.kinds_in(name) | match.kinds_in(where)}
    return found


def _fd_hits(match: _Matcher) -> set:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            found |= {(k, "fds") for k in match.kinds_in(target)}
            if any(target.startswith(p) for ps in PATHS.values() for p in ps):
                found.add(("path", "fds"))
            if target.startswith("/") and os.path.isfile(target):
                found |= {(k, "fds") for k in match.kinds_in(os.pread(int(fd), 1 << 22, 0))}
        except OSError:
            pass
    return found


def _env_hits(match: _Matcher) -> set:
    found = set()
    for k, v in list(os.environ.items()):
        found |= {(kind, "environ") for kind in match.kinds_in(k + "=" + v)}
    for path in ("/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline"):
        try:
            with open(path, "rb") as f:
                found |= {(kind, "environ") for kind in match.kinds_in(f.read())}
        except OSError:
            pass
    try:   # the environment block the process started with
        with open("/proc/self/stat") as f:
            start, end = map(int, f.read().rsplit(")", 1)[1].split()[47:49])
        found |= {(kind, "environ") for kind in match.kinds_in(ctypes.string_at(start, end - start))}
    except (OSError, ValueError):
        pass
    return found


def _file_hits(match: _Matcher) -> set:
    found = set()
    for kind, paths in PATHS.items():
        for p in paths:
            try:
                with open(p, "rb") as f:
                    f.read(1)
                found.add((kind, "files"))
            except OSError:
                pass
    return found


def _fingerprint(t: torch.Tensor):
    d = t.detach().cpu().double()
    return (tuple(t.shape), str(t.dtype), round(float(d.sum()), 6), round(float(d.abs().sum()), 6))


def _tensors_in(value, out: list, depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(value, torch.Tensor):
        out.append(value)
        if value.grad is not None:
            out.append(value.grad)
    elif isinstance(value, torch.nn.Module):
        for t in list(value.parameters()) + list(value.buffers()):
            _tensors_in(t, out, depth + 1)
    elif isinstance(value, torch.optim.Optimizer):
        for group in value.param_groups:
            _tensors_in(group["params"], out, depth + 1)
        for state in value.state.values():
            _tensors_in(state, out, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            _tensors_in(v, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _tensors_in(v, out, depth + 1)


def _unsent_tensors(args, kwargs) -> bool:
    """A tensor of more than three values in this process that no call of ours received: the grader's
    inputs of another test (or anything else of the grader's) reached the worker."""
    received = []
    _tensors_in([args, kwargs], received)
    _SEEN["received"] |= {_fingerprint(t) for t in received}
    for o in gc.get_objects():
        if isinstance(o, torch.Tensor) and o.numel() > 3 and (o.is_floating_point() or o.is_complex()):
            if _fingerprint(o) not in _SEEN["received"]:
                return True
    return False


def _report(args, kwargs) -> str:
    if _SEEN["report"] is None:
        hits = _memory_hits()                 # first: the scans below make copies of the needles
        match = _Matcher()
        for scan in (_frame_hits, _gc_hits, _module_hits, _fd_hits, _env_hits, _file_hits):
            try:
                hits |= scan(match)
            except Exception as exc:  # noqa: BLE001 - a scan that fails is reported, never skipped
                hits.add((f"error-{type(exc).__name__}", scan.__name__.strip("_")))
        control = sorted(where for kind, where in hits if kind == "control")
        found = sorted(f"{kind}@{where}" for kind, where in hits if kind != "control")
        _SEEN["report"] = f"control={'+'.join(control) or 'unseen'} hits={' '.join(found) or 'none'}"
    if not _SEEN["unsent"] and _unsent_tensors(args, kwargs):
        _SEEN["unsent"] = True
        _SEEN["report"] = _SEEN["report"].replace("hits=none", "hits=") + " unsent-tensor@gc"
    return "SPY " + _SEEN["report"]


def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    raise ValueError(_report((x, h, W_ih, W_hh, b_ih, b_hh), {}))


def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, batch_first=False):
    raise ValueError(_report((x, h0, W_ih, W_hh, b_ih, b_hh), {"batch_first": batch_first}))
