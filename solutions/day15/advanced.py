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
    ### BEGIN SOLUTION
    if kind not in ERROR_KINDS:
        raise ValueError(f"unknown error kind {kind!r}; expected one of {ERROR_KINDS}")
    T, B, I, H = 5, 2, 3, 4
    rnn = nn.RNN(input_size=I, hidden_size=H)
    x = torch.zeros(T, B, I)
    try:
        if kind == "input_size":
            rnn(torch.zeros(T, B, I + 4))
        elif kind == "hidden_shape":
            lstm = nn.LSTM(input_size=I, hidden_size=H)
            lstm(x, (torch.zeros(1, B + 1, H), torch.zeros(1, B + 1, H)))
        elif kind == "input_rank":
            rnn(torch.zeros(B, 1, T, I))
        elif kind == "device_mismatch":
            nn.RNN(input_size=I, hidden_size=H, device="meta")(x)
        elif kind == "dtype_mismatch":
            rnn(x.to(torch.float64))
        elif kind == "unsorted_lengths":
            pack_padded_sequence(x, torch.tensor([2, T]), enforce_sorted=True)
        elif kind == "lengths_device_or_dtype":
            pack_padded_sequence(x, torch.tensor([T, 2], device="meta"), enforce_sorted=True)
        elif kind == "zero_length":
            pack_padded_sequence(x, torch.tensor([T, 0]), enforce_sorted=True)
    except Exception as exc:  # the point of the exercise: keep PyTorch's own error
        return exc
    raise RuntimeError(f"provoke({kind!r}): the misuse raised nothing in torch {torch.__version__}")
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    if not any(cls.__name__ in ("RuntimeError", "ValueError") for cls in type(exc).__mro__):
        return "unknown"
    message = str(exc).lower()
    patterns = [  # first match wins: the lengths and device/dtype messages also mention hidden/input
        ("unsorted_lengths", r"sorted in decreasing order|enforce_sorted"),
        ("lengths_device_or_dtype", r"'lengths' argument should be|lengths.*\b(cpu|int64|device|dtype)\b"),
        ("zero_length", r"length of all samples|lengths?\b.*(greater than 0|<= ?0)|sequence length to be larger"),
        ("device_mismatch", r"same device|expected device|two devices|device type|is on .* but expected"),
        ("dtype_mismatch", r"dtype|scalar type|must have the type|data type|same type"),
        ("hidden_shape", r"expected hidden|hidden\[\d\]|\bhx\b|\bcx\b|hidden\d|hidden_size|hidden size"),
        ("input_rank", r"expected input to be \w+ or \w+|input must have \d+ dimensions"),
        ("input_size", r"input_size|input size|input\.size\(-1\)|mat1 and mat2 shapes cannot be multiplied"),
    ]
    for kind, pattern in patterns:
        if re.search(pattern, message):
            return kind
    return "unknown"
    ### END SOLUTION
