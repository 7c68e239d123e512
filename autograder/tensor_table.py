"""The tensors of one call's arguments, as bytes: the grader packs them, a worker (or a replay) unpacks them.

A table is a list of rows ``(value, is_parameter, requires_grad, grad)`` (``grad`` a tensor or None),
built by the boundary's pickler (every tensor of the arguments, once).  ``torch.save``/``torch.load``
would do, and did, but they write and parse a zip archive with a pickle per call: about 0.5 ms on each
side of every call, a large share of a student's marginal cost (issue 16; a student is hundreds of
calls).  Here a plain tensor travels as dtype, shape, strides, device and its storage's raw bytes, ten times
cheaper.

What ``torch.save`` keeps and raw bytes would not (storage shared between two tensors of the table,
a view into a larger storage, conjugate or negative bits, a tensor subclass, an unusual device) is
not worth a fast path: such a table goes through ``torch.save`` whole, so what the worker rebuilds is
the same either way.  Only the grader (trusted) writes these bytes; they are never read from a worker.
"""
from __future__ import annotations

import ctypes
import io
import pickle

import torch

_FAST, _SAVED = b"R", b"T"
_DTYPES = {str(d): d for d in (
    torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex64, torch.complex128,
    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}


def _dense(shape, stride) -> bool:
    """Every element at its own offset, no gaps: contiguous in some order of the dimensions (a
    transposed matrix too), so the storage's bytes are exactly the tensor's."""
    step = 1
    for size, st in sorted(((z, s) for z, s in zip(shape, stride) if z != 1), key=lambda d: d[1]):
        if st != step:
            return False
        step *= size
    return True


def _plain(t: torch.Tensor) -> bool:
    """Rebuilt exactly from dtype, shape, strides, device and bytes: the tensor is its whole storage."""
    return (type(t) is torch.Tensor and t.layout == torch.strided and str(t.dtype) in _DTYPES
            and t.device.type in ("cpu", "cuda") and not t.is_conj() and not t.is_neg()
            and t.storage_offset() == 0 and _dense(t.shape, t.stride())
            and t.untyped_storage().nbytes() == t.numel() * t.element_size())


def _raw(t: torch.Tensor) -> tuple:
    storage = t.untyped_storage() if t.device.type == "cpu" else t.untyped_storage().cpu()
    data = ctypes.string_at(storage.data_ptr(), storage.nbytes()) if storage.nbytes() else b""
    return str(t.dtype), tuple(t.shape), tuple(t.stride()), str(t.device), data


def _tensor(raw: tuple) -> torch.Tensor:
    dtype, shape, stride, device, data = raw
    # A storage of torch's own (resizable, like torch.load's), filled in place: one copy of the bytes,
    # in storage order (the strides say where each element is).
    t = torch.empty_strided(shape, stride, dtype=_DTYPES[dtype])
    if t.untyped_storage().nbytes() != len(data):
        raise ValueError("a packed tensor's bytes do not match its shape")
    if data:
        ctypes.memmove(t.data_ptr(), data, len(data))
    return t if device == "cpu" else t.to(device)


def pack(rows: list) -> bytes:
    tensors = [t for value, _, _, grad in rows for t in (value, grad) if t is not None]
    storages = [t.untyped_storage().data_ptr() for t in tensors if t.numel()]
    if all(map(_plain, tensors)) and len(set(storages)) == len(storages):
        return _FAST + pickle.dumps([(_raw(v), p, rg, None if g is None else _raw(g)) for v, p, rg, g in rows],
                                    protocol=pickle.HIGHEST_PROTOCOL)
    buf = io.BytesIO()
    torch.save(rows, buf)
    return _SAVED + buf.getvalue()


def unpack(data: bytes) -> list:
    """The rows as packed: fresh tensors (a row's value without its Parameter class: see the boundary)."""
    if data[:1] == _FAST:
        return [(_tensor(v), p, rg, None if g is None else _tensor(g)) for v, p, rg, g in pickle.loads(data[1:])]
    if data[:1] == _SAVED:
        return torch.load(io.BytesIO(data[1:]), weights_only=False)
    raise ValueError("not a packed tensor table")


def pack_tensors(tensors: list) -> bytes:
    """A list of tensors or None (gradients for a backward pass), through the same table
    (a None travels as an empty tensor marked in the row's parameter slot)."""
    return pack([(torch.empty(0) if t is None else t.detach(), t is None, False, None) for t in tensors])


def unpack_tensors(data: bytes) -> list:
    return [None if flag else value for value, flag, _, _ in unpack(data)]
