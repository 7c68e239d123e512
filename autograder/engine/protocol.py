"""The wire between the grader and a student's worker process.

Two directions, two trust levels:

* grader -> worker (trusted to untrusted): a pickle, built by the grader
  (see ``boundary.py``).  Whatever the worker learns from it, it could have
  learnt from the test's inputs anyway.
* worker -> grader (untrusted to trusted): **plain data only**.  The worker
  process runs student code, which can replace any function in it, so the
  grader treats every byte as hostile: a JSON document naming the structure
  plus raw tensor bytes, decoded here with explicit checks (dtype whitelist,
  sizes that match, depth and count limits).  No pickle, no code, no classes:
  a returned tensor is always rebuilt as an exact ``torch.Tensor``; anything
  the grader cannot rebuild becomes a :class:`ForeignValue` that no check
  accepts.

Frames are ``8-byte big-endian length + body``; bodies start with one tag byte
(``P`` pickle, ``J`` JSON + blobs).
"""
from __future__ import annotations

import builtins
import collections
import ctypes
import json
import os
import re
import select
import struct
import time

import torch

MAX_FRAME = 64 << 20          # bytes in one message from a worker
MAX_DEPTH = 48                # nesting of returned containers
MAX_NODES = 200_000           # values in one message
MAX_TEXT = 2000               # characters kept of an exception message or a repr

_HEADER = struct.Struct(">Q")

DTYPES = {str(d): d for d in (
    torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex64, torch.complex128,
    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}


class ProtocolError(Exception):
    """The worker sent something that is not a valid message."""


# ------------------------------------------------------------------------------------------
# Framing
# ------------------------------------------------------------------------------------------

def write_frame(fd: int, tag: bytes, body: bytes) -> None:
    data = memoryview(_HEADER.pack(len(body) + 1) + tag + body)
    while data:
        n = os.write(fd, data)
        data = data[n:]


def read_frame_blocking(fd: int) -> tuple[bytes, bytes]:
    """Worker side: the grader is trusted, so a plain blocking read is fine."""
    head = _read_exact(fd, _HEADER.size)
    (n,) = _HEADER.unpack(head)
    body = _read_exact(fd, n)
    return body[:1], body[1:]


def _read_exact(fd: int, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class FrameReader:
    """Grader side: non-blocking reads with a deadline and a size cap.

    ``poll`` is called while waiting so the caller can drain the worker's
    output pipe and watch its memory; it may raise to abandon the wait.
    """

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = bytearray()
        os.set_blocking(fd, False)

    def read(self, deadline: float, extra_fds=(), on_ready=None, poll=None) -> tuple[bytes, bytes]:
        while True:
            frame = self._take()
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.fd, *extra_fds], [], [], min(left, 0.2))
            if poll is not None:
                poll()
            for fd in ready:
                if fd != self.fd:
                    on_ready(fd)
                    continue
                try:
                    chunk = os.read(self.fd, 1 << 20)
                except BlockingIOError:
                    continue
                except OSError as exc:  # ECONNRESET when the worker dies mid-write
                    raise EOFError from exc
                if not chunk:
                    raise EOFError
                self.buf += chunk
                if len(self.buf) > MAX_FRAME + _HEADER.size + 1 and self._take() is None:
                    raise ProtocolError(f"message larger than {MAX_FRAME >> 20} MiB")

    def _take(self):
        if len(self.buf) < _HEADER.size:
            return None
        (n,) = _HEADER.unpack_from(self.buf)
        if n == 0 or n > MAX_FRAME + 1:
            raise ProtocolError(f"bad frame length {n}")
        if len(self.buf) < _HEADER.size + n:
            return None
        body = bytes(self.buf[_HEADER.size:_HEADER.size + n])
        del self.buf[:_HEADER.size + n]
        return body[:1], body[1:]


# ------------------------------------------------------------------------------------------
# Plain data: encoding (runs in the worker, so it must never trust the values it walks)
# ------------------------------------------------------------------------------------------

def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous()
    n = t.numel() * t.element_size()
    return ctypes.string_at(t.data_ptr(), n) if n else b""


def _safe_repr(obj) -> str:
    try:
        return repr(obj)[:200]
    except BaseException:  # a repr written by the student may raise anything
        return "<unprintable>"


def _type_name(obj) -> str:
    return getattr(type(obj), "__name__", "object")


class Encoder:
    """Turns a value into JSON-able structure + blobs (worker side)."""

    def __init__(self):
        self.blobs: list[bytes] = []
        self.nodes = 0
        self.grad_outputs: list | None = None   # when a list: (blob, tensor) of tensors requiring grad

    def tensor(self, t: torch.Tensor) -> dict:
        dtype = str(t.dtype)
        if dtype not in DTYPES or t.layout != torch.strided:
            return self.foreign(t)
        self.blobs.append(_tensor_bytes(t))
        if self.grad_outputs is not None and t.requires_grad and (t.is_floating_point() or t.is_complex()):
            self.grad_outputs.append((len(self.blobs) - 1, t))
        return {"$": "tensor", "dtype": dtype, "shape": list(t.shape), "device": str(t.device),
                "rg": bool(t.requires_grad), "b": len(self.blobs) - 1}

    def foreign(self, obj) -> dict:
        return {"$": "foreign", "type": _type_name(obj), "repr": _safe_repr(obj)}

    def encode(self, obj, depth: int = 0):
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise ValueError("the returned value is nested too deeply or is too large")
        t = type(obj)
        if obj is None or t in (bool, str):
            return obj[:1_000_000] if t is str else obj
        if t is int:
            return obj if -2**63 <= obj < 2**63 else {"$": "foreign", "type": "int", "repr": "a huge int"}
        if t is float:
            return obj if obj == obj and obj not in (float("inf"), float("-inf")) else {"$": "float", "v": repr(obj)}
        if t is complex:
            return {"$": "complex", "v": [repr(obj.real), repr(obj.imag)]}
        if t is torch.Tensor:
            return self.tensor(obj)
        if t is torch.nn.Parameter:
            return {**self.tensor(obj), "param": True}
        if t is torch.Size:
            return {"$": "size", "v": [int(d) for d in obj]}
        if t is torch.dtype:
            return {"$": "dtype", "v": str(obj)}
        if t is torch.device:
            return {"$": "device", "v": str(obj)}
        if t is list:
            return [self.encode(v, depth + 1) for v in obj]
        # Tuples of torch's own (torch.return_types.max) and plain tuples travel as tuples;
        # a student's namedtuple unpacks like a tuple in-process, so it does here too.
        if isinstance(obj, tuple) and not isinstance(obj, torch.Size):
            return {"$": "tuple", "v": [self.encode(v, depth + 1) for v in tuple.__iter__(obj)]}
        if t is dict or (isinstance(obj, dict) and t.__module__ == "collections"):
            items = list(dict.items(obj))
            return {"$": "dict", "k": [self.encode(k, depth + 1) for k, _ in items],
                    "v": [self.encode(v, depth + 1) for _, v in items]}
        if isinstance(obj, BaseException):
            return self.exception(obj)
        return self.foreign(obj)

    def exception(self, exc: BaseException) -> dict:
        try:
            args = [a[:MAX_TEXT] if type(a) is str else a for a in exc.args
                    if type(a) in (str, int, float, bool)] if len(exc.args) <= 4 else []
            if len(args) != len(exc.args):
                args = [str(exc)[:MAX_TEXT]]
        except BaseException:
            args = ["<unprintable message>"]
        mro = [c.__name__ for c in type(exc).__mro__][:12]
        return {"$": "exc", "type": _type_name(exc), "mro": mro, "args": args}


def pack(header: dict, values: dict) -> bytes:
    """Worker side: one J message (``values`` are encoded with one shared blob list)."""
    enc = Encoder()
    doc = {"h": header, "v": {k: enc.encode(v) for k, v in values.items()}}
    return pack_encoded(doc, enc)


def pack_encoded(doc: dict, enc: Encoder) -> bytes:
    text = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
    sizes = [len(b) for b in enc.blobs]
    head = json.dumps({"doc_len": len(text), "blobs": sizes}).encode()
    return struct.pack(">I", len(head)) + head + text + b"".join(enc.blobs)


# ------------------------------------------------------------------------------------------
# Plain data: decoding (grader side: the input is hostile)
# ------------------------------------------------------------------------------------------

class ForeignValue:
    """A value the worker returned that is not plain data (a NumPy array, a custom object...).

    Each instance's class is named after the original type, so a check's message
    reads "expected a Tensor, got ndarray <repr>"; no check accepts it.
    """

    def __init__(self, description: str):
        self.description = description

    def __repr__(self):
        return self.description


class _ClassCache:
    """Classes made for names a submission chose, at most ``size`` of them alive through the cache.

    A class per name keeps messages readable ("expected a Tensor, got Yes"), but names are the
    student's: unbounded, the cache would keep every name of every student for the life of the grader
    (10 000 names a call, a class each).  Least recently used names are dropped (a dropped class goes
    when its last instance does) and one message may introduce at most ``NEW_NAMES_PER_MESSAGE``."""

    def __init__(self, size: int):
        self.size = size
        self.classes: collections.OrderedDict = collections.OrderedDict()

    def get(self, key, make):
        cls = self.classes.get(key)
        if cls is None:
            cls = self.classes[key] = make()
            while len(self.classes) > self.size:
                self.classes.popitem(last=False)
        else:
            self.classes.move_to_end(key)
        return cls


CLASS_CACHE_SIZE = 256            # names kept (foreign values, exceptions: each)
NEW_NAMES_PER_MESSAGE = 32        # distinct names of one message shown as themselves; the rest as "object"
_FOREIGN_CLASSES = _ClassCache(CLASS_CACHE_SIZE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,60}")


def foreign_value(type_name: str, text: str) -> ForeignValue:
    name = type_name if _NAME.fullmatch(type_name or "") else "object"
    cls = _FOREIGN_CLASSES.get(name, lambda: type(name, (ForeignValue,), {"__module__": "submission"}))
    return cls(str(text)[:200])


# Exceptions rebuilt as themselves; anything else becomes a SubmissionError subclass named
# after the original type that also inherits the nearest of these in the original's MRO, so
# ``pytest.raises(RuntimeError)`` still matches a torch error.  BaseException-only types
# (KeyboardInterrupt, SystemExit) are never rebuilt as themselves: raised in the grader
# they would stop pytest.
SAFE_EXCEPTIONS = {name: getattr(builtins, name) for name in (
    "Exception", "ArithmeticError", "AssertionError", "AttributeError", "BufferError", "EOFError",
    "FloatingPointError", "ImportError", "IndexError", "KeyError", "LookupError", "MemoryError",
    "ModuleNotFoundError", "NameError", "NotImplementedError", "OSError", "OverflowError",
    "RecursionError", "RuntimeError", "StopIteration", "TypeError", "UnboundLocalError",
    "UnicodeError", "ValueError", "ZeroDivisionError", "BlockingIOError", "FileNotFoundError",
    "PermissionError", "TimeoutError", "IsADirectoryError", "NotADirectoryError",
    "FileExistsError", "ChildProcessError", "ProcessLookupError", "ConnectionError",
    "BrokenPipeError", "InterruptedError", "UnicodeDecodeError", "UnicodeEncodeError")}
SAFE_EXCEPTIONS.pop("UnicodeDecodeError")   # their constructors need 5 arguments
SAFE_EXCEPTIONS.pop("UnicodeEncodeError")


class SubmissionError(Exception):
    """An exception from the student's code whose type is not a plain builtin one."""

    type_name = "SubmissionError"


_EXC_CLASSES = _ClassCache(CLASS_CACHE_SIZE)


def rebuild_exception(type_name: str, mro: list, args: list) -> BaseException:
    type_name = type_name if _NAME.fullmatch(str(type_name)) else "Exception"
    args = [a if type(a) in (str, int, float, bool) else str(a) for a in args][:4]
    cls = SAFE_EXCEPTIONS.get(type_name)
    if cls is None:
        base = next((SAFE_EXCEPTIONS[n] for n in mro if isinstance(n, str) and n in SAFE_EXCEPTIONS), Exception)
        bases = (SubmissionError,) if base is Exception else (SubmissionError, base)
        cls = _EXC_CLASSES.get((type_name, base.__name__), lambda: type(
            type_name, bases, {"__module__": "submission", "type_name": type_name}))
    try:
        exc = cls(*args)
    except Exception:
        exc = cls(" ".join(map(str, args)))
    exc._rnnkit_from_submission = True   # the report says "your code raised ..." for these
    return exc


def from_submission(exc: BaseException) -> bool:
    return getattr(exc, "_rnnkit_from_submission", False) is True


class Decoder:
    """Rebuilds values from a J message, checking everything."""

    def __init__(self, blobs: list[memoryview], cuda_ok: bool):
        self.blobs = blobs
        self.cuda_ok = cuda_ok
        self.nodes = 0
        self.by_blob: dict[int, torch.Tensor] = {}   # blob number -> the tensor rebuilt from it
        self.names: set[str] = set()                 # type names this message used

    def _name(self, name: str, other: str) -> str:
        """``name``, or ``other`` once this message has used NEW_NAMES_PER_MESSAGE distinct names."""
        if name not in self.names:
            if len(self.names) >= NEW_NAMES_PER_MESSAGE:
                return other
            self.names.add(name)
        return name

    def decode(self, obj, depth: int = 0):
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise ProtocolError("value nested too deeply or too large")
        if obj is None or type(obj) in (bool, int, float, str):
            return obj
        if type(obj) is list:
            return [self.decode(v, depth + 1) for v in obj]
        if type(obj) is not dict:
            raise ProtocolError("unexpected JSON value")
        tag = obj.get("$")
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in self._list(obj, "v"))
        if tag == "dict":
            keys, vals = self._list(obj, "k"), self._list(obj, "v")
            if len(keys) != len(vals):
                raise ProtocolError("dict keys and values differ in length")
            keys = [self.decode(k, depth + 1) for k in keys]
            if not all(k is None or type(k) in (str, int, float, bool, tuple) for k in keys):
                raise ProtocolError("unhashable dict key")
            try:
                return dict(zip(keys, [self.decode(v, depth + 1) for v in vals]))
            except TypeError:   # a tuple key holding a list
                raise ProtocolError("unhashable dict key") from None
        if tag == "tensor":
            return self.tensor(obj)
        if tag == "float":
            v = obj.get("v")
            if v not in ("nan", "inf", "-inf"):
                raise ProtocolError("bad float")
            return float(v)
        if tag == "complex":
            re_, im = self._list(obj, "v")[:2]
            return complex(float(re_), float(im))
        if tag == "size":
            dims = self._list(obj, "v")
            if not all(type(d) is int and d >= 0 for d in dims):
                raise ProtocolError("bad torch.Size")
            return torch.Size(dims)
        if tag == "dtype":
            if obj.get("v") not in DTYPES:
                return foreign_value("dtype", obj.get("v"))
            return DTYPES[obj["v"]]
        if tag == "device":
            return self.device(obj.get("v"))
        if tag == "exc":
            mro = self._list(obj, "mro")
            name = str(obj.get("type"))[:64]
            if name not in SAFE_EXCEPTIONS:   # (builtin exceptions are rebuilt as themselves: no class made)
                name = self._name(name, next((n for n in mro if isinstance(n, str) and n in SAFE_EXCEPTIONS),
                                             "Exception"))
            return rebuild_exception(name, mro, self._list(obj, "args"))
        if tag == "foreign":
            return foreign_value(self._name(str(obj.get("type"))[:64], "object"), str(obj.get("repr"))[:200])
        raise ProtocolError(f"unknown tag {str(tag)[:20]!r}")

    @staticmethod
    def _list(obj: dict, key: str) -> list:
        v = obj.get(key)
        if type(v) is not list:
            raise ProtocolError(f"missing list {key!r}")
        return v

    def device(self, text) -> torch.device:
        if text == "cpu":
            return torch.device("cpu")
        m = re.fullmatch(r"cuda(?::(\d{1,2}))?", str(text))
        if m and self.cuda_ok and int(m.group(1) or 0) < torch.cuda.device_count():
            return torch.device(str(text))
        raise ProtocolError(f"unknown device {str(text)[:20]!r}")

    def tensor(self, obj: dict) -> torch.Tensor:
        dtype = DTYPES.get(obj.get("dtype"))
        shape = obj.get("shape")
        b = obj.get("b")
        if dtype is None or type(shape) is not list or not all(type(d) is int and 0 <= d < 2**40 for d in shape) \
                or len(shape) > 16 or type(b) is not int or not 0 <= b < len(self.blobs):
            raise ProtocolError("bad tensor header")
        device = self.device(obj.get("device"))
        n = 1
        for d in shape:
            n *= d
        blob = self.blobs[b]
        if len(blob) != n * dtype.itemsize:
            raise ProtocolError("tensor size does not match its bytes")
        t = torch.frombuffer(bytearray(blob), dtype=dtype).reshape(shape) if n else torch.empty(shape, dtype=dtype)
        if device.type != "cpu":
            t = t.to(device)
        if obj.get("param") is True:
            t = torch.nn.Parameter(t, requires_grad=bool(obj.get("rg")) and (t.is_floating_point() or t.is_complex()))
        self.by_blob.setdefault(b, t)
        return t


def unpack(body: bytes, cuda_ok: bool):
    """Grader side: (header, {name: decoded value}, {blob number: tensor}) from a J body."""
    try:
        if len(body) < 4:
            raise ProtocolError("short message")
        (hlen,) = struct.unpack_from(">I", body)
        head = json.loads(body[4:4 + hlen])
        doc_len, sizes = head["doc_len"], head["blobs"]
        if type(doc_len) is not int or type(sizes) is not list or not all(type(s) is int and s >= 0 for s in sizes):
            raise ProtocolError("bad message header")
        start = 4 + hlen
        doc = json.loads(body[start:start + doc_len])
        pos = start + doc_len
        if pos + sum(sizes) != len(body):
            raise ProtocolError("message length does not add up")
        view, blobs = memoryview(body), []
        for s in sizes:
            blobs.append(view[pos:pos + s])
            pos += s
        if type(doc) is not dict or type(doc.get("h")) is not dict or type(doc.get("v")) is not dict:
            raise ProtocolError("bad document")
        dec = Decoder(blobs, cuda_ok)
        return doc["h"], {str(k): dec.decode(v) for k, v in doc["v"].items()}, dec.by_blob
    except ProtocolError:
        raise
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError, struct.error) as exc:
        raise ProtocolError(f"unreadable message ({type(exc).__name__})") from None
