"""Day 15 · Advanced: break an RNN on purpose, catch the error, and read it.

Every kind of mistake below makes PyTorch raise. ``provoke`` commits one of them
deliberately and returns the exception; ``diagnose`` reads a caught exception and names
its kind. Shapes: T time steps, B batch, I input features, H hidden units.
"""
from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

ERROR_KINDS: tuple[str, ...] = (
    "input_size",               # the last input dimension is not the module's input_size
    "hidden_shape",             # h0 (or c0) is not (num_layers, B, H)
    "input_rank",               # the input is not 2-D (unbatched) or 3-D (batched)
    "device_mismatch",          # input or state on another device than the parameters
    "dtype_mismatch",           # input or state in another dtype than the parameters
    "unsorted_lengths",         # enforce_sorted=True with lengths not in decreasing order
    "lengths_device_or_dtype",  # lengths given as a tensor that is not a 1-D CPU int64 tensor
    "zero_length",              # a sequence with no real step (a 0 in the lengths, an empty input)
)


def provoke(kind: str) -> Exception:
    """Misuse an RNN (or packing) on purpose so that PyTorch raises the error of ``kind``.

    Build a small module, e.g. ``nn.RNN(input_size=3, hidden_size=4)`` (``nn.LSTM`` or
    ``nn.GRU`` do as well), and a batch ``x: (T, B, I)``, then make the one mistake of
    ``kind``, catch what PyTorch raises and return it:

    - "input_size": feed an input whose last dimension is not ``input_size``.
    - "hidden_shape": pass an initial state whose shape is not (num_layers, B, H).
    - "input_rank": feed a 4-D tensor, such as an image batch (B, C, H, W).
    - "device_mismatch": keep the parameters and the input on different devices. Without a
      GPU use the ``meta`` device: ``nn.RNN(3, 4, device="meta")`` applied to a CPU input.
    - "dtype_mismatch": feed float64 data to a float32 module.
    - "unsorted_lengths": ``pack_padded_sequence(..., enforce_sorted=True)`` with lengths
      that are not in decreasing order.
    - "lengths_device_or_dtype": lengths as a tensor on the wrong device (``meta``; sorted,
      with ``enforce_sorted=True``). Lengths of the wrong dtype raise nothing: PyTorch
      quietly converts them to int64.
    - "zero_length": lengths that contain a 0 (a sequence with no real step).

    Args:
        kind: one of ``ERROR_KINDS``.
    Returns:
        The exception PyTorch raised (not re-raised): e.g. a ``RuntimeError`` whose message
        reads "input.size(-1) must be equal to input_size. Expected 3, got 7".
    Raises:
        ValueError: if ``kind`` is not in ``ERROR_KINDS``.
    """
    raise NotImplementedError("provoke (day15 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 26 lines).")


def diagnose(exc: BaseException) -> str:
    """Name the kind of a caught RNN error from its type and message.

    PyTorch raises these as ``RuntimeError`` or ``ValueError`` (or a subclass); the message
    says what went wrong, in words that vary a little between versions, modules (RNN, LSTM,
    GRU, the cells) and devices. Match the phrases that are specific to each kind (for
    example "Expected hidden size", "input_size", "same device", "dtype", "lengths") rather
    than single common words such as "size", which unrelated errors share.

    Args:
        exc: a caught exception.
    Returns:
        One of ``ERROR_KINDS``, or "unknown" for any other exception.
    """
    raise NotImplementedError("diagnose (day15 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 17 lines).")
