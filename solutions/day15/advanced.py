"""Day 15 · Advanced: break an RNN on purpose, run the mistake, and read the error.

Every kind of mistake below makes PyTorch raise. ``provoke`` writes one of them down as a
*recipe* (plain data: a module, its inputs and the steps to take, with the one mistake in it);
``run_misuse(recipe)`` from ``misuse.py`` (beside this file) builds and runs it with PyTorch and
returns the error; ``diagnose`` reads a caught exception and names its kind.
``check_sequence_batch`` finds the mistakes that raise nothing: a batch laid out the other way
round, and a padded batch whose last step is read as data.
Shapes: T time steps, B batch, I input features, H hidden units.
"""
from __future__ import annotations

import re

import torch
from torch import nn

ERROR_KINDS: tuple[str, ...] = (
    "input_size",               # the last input dimension is not the module's input_size
    "hidden_shape",             # h0 (or c0) is not (num_layers, B, H); for a cell, not (B, H)
    "input_rank",               # the input has a rank the module does not take (RNN/GRU/LSTM: 2-D or 3-D; cells: 1-D or 2-D)
    "device_mismatch",          # input or state on another device than the parameters
    "dtype_mismatch",           # input or state in another dtype than the parameters
    "unsorted_lengths",         # enforce_sorted=True with lengths not in decreasing order
    "lengths_device_or_dtype",  # lengths given as a tensor that is not a 1-D CPU int64 tensor
    "zero_length",              # a sequence with no real step (a 0 in the lengths, an empty input)
)


def provoke(kind: str) -> dict:
    """Write down a misuse of an RNN (or of packing) that makes PyTorch raise the error of ``kind``.

    Return a recipe in the format of ``misuse.py`` (plain data, no tensors, no exception); the
    grader builds and runs it with its own copy of ``run_misuse`` on the CPU, with the ``meta``
    device standing in for a second device (a recipe that names "cuda" is refused, so grades do
    not depend on the machine). Only the error that PyTorch raises in that run counts: it must be
    one of the wordings of ``kind`` in the notebook's table, and ``diagnose`` must read it as
    ``kind``. A recipe that is not in the format, or that runs without an error, scores nothing.

    Start from a small module, e.g. ``{"module": "RNN", "input_size": 3, "hidden_size": 4}``
    (LSTM, GRU and the cells do as well) and an input ``{"shape": [T, B, I]}``, then make the one
    mistake of ``kind``:

    - "input_size": an input whose last dimension is not ``input_size``.
    - "hidden_shape": an initial state (``"hidden"``) whose shape is not (num_layers, B, H).
    - "input_rank": a 4-D input, such as an image batch (B, C, H, W).
    - "device_mismatch": the parameters and the input on different devices (the model's
      ``"device": "meta"`` with a CPU input, or the other way round).
    - "dtype_mismatch": float64 data for a float32 module.
    - "unsorted_lengths": the step "pack" (``enforce_sorted`` true) with ``"lengths"`` that are
      not in decreasing order.
    - "lengths_device_or_dtype": lengths as a tensor on the wrong device (``meta``; sorted).
      Lengths of another dtype raise nothing: PyTorch quietly converts them to int64.
    - "zero_length": lengths that contain a 0 (a sequence with no real step).

    Args:
        kind: one of ``ERROR_KINDS``.
    Returns:
        The recipe: a dict of plain data (str, int, bool, lists, dicts) as ``misuse.py`` describes.
    Raises:
        ValueError: if ``kind`` is not in ``ERROR_KINDS``.
    """
    ### BEGIN SOLUTION
    if kind not in ERROR_KINDS:
        raise ValueError(f"unknown error kind {kind!r}; expected one of {ERROR_KINDS}")
    T, B, I, H = 5, 2, 3, 4
    model = {"module": "RNN", "input_size": I, "hidden_size": H}
    x = {"shape": [T, B, I]}
    if kind == "input_size":
        return {"model": model, "input": {"shape": [T, B, I + 4]}}
    if kind == "hidden_shape":
        wrong = {"shape": [1, B + 1, H]}
        return {"model": dict(model, module="LSTM"), "input": x, "hidden": [wrong, wrong]}
    if kind == "input_rank":
        return {"model": model, "input": {"shape": [B, 1, T, I]}}
    if kind == "device_mismatch":
        return {"model": dict(model, device="meta"), "input": x}
    if kind == "dtype_mismatch":
        return {"model": model, "input": {"shape": [T, B, I], "dtype": "float64"}}
    lengths = {"unsorted_lengths": [2, T], "zero_length": [T, 0],
               "lengths_device_or_dtype": {"values": [T, 2], "device": "meta"}}[kind]
    return {"model": model, "input": x, "lengths": lengths, "steps": ["pack", "forward"]}
    ### END SOLUTION


def diagnose(exc: BaseException) -> str:
    """Name the kind of a caught RNN error from its type and message.

    PyTorch raises these as ``RuntimeError`` or ``ValueError`` (or a subclass); any other type
    is "unknown". The message says what went wrong, in words that vary between torch versions
    (2.4 and later), between the module API (``nn.RNN``, ``nn.GRU``, ``nn.LSTM``) and the cell API
    (``nn.RNNCell``, ``nn.GRUCell``, ``nn.LSTMCell``), between packing and the modules, and between
    the CPU and CUDA: every wording in the notebook's table counts. Match the phrases that are
    specific to each kind (for example "Expected hidden size", "input_size", "same device",
    "dtype", "lengths") rather than single common words such as "size", which unrelated errors
    (a ``view``, an index out of range) share: those give "unknown".

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


#: The silent mistakes ``check_sequence_batch`` finds, in the order it reports them.
BATCH_FINDINGS: tuple[str, ...] = (
    "batch_first_mismatch",  # the batch's layout is not the module's: (B, T, I) fed to a time-first module, or back
    "padded_last_step",      # some sequence ends before the last step: output[-1] / h_n of the padded batch read padding
)


def check_sequence_batch(module: nn.Module, x: torch.Tensor, lengths=None) -> list[str]:
    """Find the silent mistakes in feeding the padded batch ``x`` to ``module``: nothing raises for them.

    ``module`` is an ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``: its ``batch_first`` says which axis of a
    3-D input it reads as the batch (axis 0 when true, axis 1 when false) and which as time.
    ``x`` is a padded batch, (T, B, I) or (B, T, I); ``lengths`` holds each sequence's true length,
    one per sequence (a list of ints or a 1-D int tensor, B of them), or is None (unknown).

    Findings, each reported at most once, in this order:

    - "batch_first_mismatch": ``lengths`` is given, the module's batch axis of ``x`` does not have
      ``len(lengths)`` entries but its time axis does: the batch is laid out the other way round
      (a (B, T, I) batch for a time-first module, or the reverse). The module would run without an
      error and mix sequences with time steps.
    - "padded_last_step": ``lengths`` is given and some length is smaller than the number of time
      steps of ``x`` (read on the true time axis: the module's, or the other one when the layout
      is mismatched): for that sequence the last step of the padded batch, ``output[-1]`` and the
      ``h_n`` of an unpacked forward pass, come from padding, not from data.

    Without ``lengths`` nothing can be told: return an empty list. ``x``, ``lengths`` and the module
    are left unchanged; the module is not run.

    Args:
        module: nn.RNN, nn.GRU or nn.LSTM (reads ``module.batch_first``).
        x: (T, B, I) or (B, T, I), any device and dtype.
        lengths: B ints (list, tuple or 1-D tensor), or None.
    Returns:
        The findings, a list of names from ``BATCH_FINDINGS`` in that order; [] when none.
    """
    ### BEGIN SOLUTION
    if lengths is None:
        return []
    lengths = [int(n) for n in lengths]
    batch_axis, time_axis = (0, 1) if module.batch_first else (1, 0)
    findings = []
    if x.shape[batch_axis] != len(lengths) and x.shape[time_axis] == len(lengths):
        findings.append("batch_first_mismatch")
        batch_axis, time_axis = time_axis, batch_axis
    if any(n < x.shape[time_axis] for n in lengths):
        findings.append("padded_last_step")
    return findings
    ### END SOLUTION
