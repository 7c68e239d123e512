"""Hidden suite, Day 15 advanced: provoke and diagnose.

provoke: every kind must come back as PyTorch's own exception, judged by its type name
and the shape of its message (expected and actual values that really differ), never by
isinstance on torch-internal classes: the exception may have crossed a process boundary.

diagnose: fed exceptions raised here by genuinely misusing nn.RNN/nn.GRU/nn.LSTM and
packing on the test's device (sizes, modules and batch_first varied), plus unrelated
exceptions that must give "unknown".
"""
from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from solutions.checking import expect_equal, fail

# PyTorch's messages, kind by kind (torch 2.x wording; alternatives for modules, cells and devices).
# Where a pattern has two groups, they hold the expected and the actual value, which must differ.
GENUINE = {
    "input_size": [
        ("RuntimeError", r"input\.size\(-1\) must be equal to input_size\. Expected (\d+), got (\d+)"),
        ("RuntimeError", r"input has inconsistent input_size: got (\d+) expected (\d+)"),
    ],
    "hidden_shape": [
        ("RuntimeError", r"Expected hidden(?:\[\d\])? size \(([\d, ]+)\), got \[([\d, ]+)\]"),
        ("RuntimeError", r"hx(?: and cx)? should also be (\d)-D but got \(?(\d)-D"),
        ("RuntimeError", r"hidden\d? has inconsistent hidden_size: got (\d+), expected (\d+)"),
        ("RuntimeError", r"Input batch size (\d+) doesn't match hidden\d? batch size (\d+)"),
    ],
    "input_rank": [
        ("ValueError", r"Expected input to be 2D or 3D, got [0145-9]\d*D"),
        ("RuntimeError", r"input must have (\d+) dimensions, got (\d+)"),
    ],
    "device_mismatch": [
        ("RuntimeError", r"not at the same device, found input tensor at (\S+) and \w+ tensor at (\S+)"),
        ("RuntimeError", r"Expected all tensors to be on the same device"),
        ("RuntimeError", r"Tensor on device (\S+) is not on the expected device (\S+)!"),
    ],
    "dtype_mismatch": [
        ("ValueError", r"input dtype \((\S+)\) does not match weight dtype \((\S+)\)"),
        ("ValueError", r"input must have the type (\S+), got type (\S+)"),
        ("RuntimeError", r"input must have the type (\S+), got type (\S+)"),
        ("RuntimeError", r"(?:mat1 and mat2|m1 and m2) (?:must|to) have the same dtype"),
        ("RuntimeError", r"not the same dtype, found input tensor with (\w+) and \w+ tensor with (\w+)"),
        ("RuntimeError", r"expected scalar type (\w+) but found (\w+)"),
        ("RuntimeError", r"get_mkldnn_dtype: unsupported data type"),
    ],
    "unsorted_lengths": [
        ("RuntimeError", r"`lengths` array must be sorted in decreasing order when `enforce_sorted` is True"),
    ],
    "lengths_device_or_dtype": [
        ("RuntimeError", r"'lengths' argument should be a 1D CPU int64 tensor, but got (?!1D cpu Long tensor)"),
    ],
    "zero_length": [
        ("RuntimeError", r"Length of all samples has to be greater than 0"),
        ("RuntimeError", r"Expected sequence length to be larger than 0"),
    ],
}
PROVOKE_HINT = {
    "input_size": "feed the module an input whose last dimension is not its input_size",
    "hidden_shape": "pass an initial state whose shape is not (num_layers, B, H)",
    "input_rank": "feed the module a 4-D tensor, such as an image batch",
    "device_mismatch": "put the parameters on device='meta' and the input on the CPU (or the reverse)",
    "dtype_mismatch": "feed float64 data to a float32 module",
    "unsorted_lengths": "pack_padded_sequence(..., enforce_sorted=True) with lengths not in decreasing order",
    "lengths_device_or_dtype": "lengths as a tensor on the 'meta' device, sorted, with enforce_sorted=True",
    "zero_length": "pack_padded_sequence with a 0 among the lengths",
}


def _provoked(submission, kind):
    try:
        exc = submission.provoke(kind)
    except NotImplementedError:
        raise
    except Exception as raised:
        fail(f"provoke({kind!r}) raised {type(raised).__name__}: {str(raised)[:200]} instead of returning it.",
             "catch the error (except Exception as exc) and return it")
    if not isinstance(exc, BaseException):
        fail(f"provoke({kind!r}) returned a {type(exc).__name__}, not an exception.",
             "return the exception object you caught")
    return exc


def _expect_genuine(submission, kind):
    exc = _provoked(submission, kind)
    name, message = type(exc).__name__, str(exc)
    for type_name, pattern in GENUINE[kind]:
        m = re.search(pattern, message)
        if name == type_name and m:
            groups = [g.strip() for g in m.groups()]
            if len(groups) == 2 and groups[0] == groups[1]:
                fail(f"provoke({kind!r}) returned {name}: {message[:200]!r}, whose expected and actual values are "
                     f"equal: not a message PyTorch raises for a real mismatch.",
                     f"make PyTorch raise it: {PROVOKE_HINT[kind]}")
            return exc
    fail(f"provoke({kind!r}) returned {name}: {message[:200]!r}, which is not the error PyTorch raises for {kind}.",
         f"make PyTorch raise it, don't build the exception yourself: {PROVOKE_HINT[kind]}")


@pytest.mark.grade("provoke", points=2)
def test_provoke_shape_kinds(submission):
    for kind in ("input_size", "hidden_shape", "input_rank"):
        _expect_genuine(submission, kind)


@pytest.mark.grade("provoke", points=2)
def test_provoke_device_and_dtype_kinds(submission):
    for kind in ("device_mismatch", "dtype_mismatch"):
        _expect_genuine(submission, kind)


@pytest.mark.grade("provoke", points=2)
def test_provoke_packing_kinds(submission):
    for kind in ("unsorted_lengths", "lengths_device_or_dtype", "zero_length"):
        _expect_genuine(submission, kind)


@pytest.mark.grade("provoke", points=1)
def test_provoke_rejects_unknown_kinds(submission):
    _expect_genuine(submission, "input_size")  # a provoke that only ever raises ValueError earns nothing here
    for kind in ("no_such_kind", "Input_Size", ""):
        try:
            result = submission.provoke(kind)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:
            fail(f"provoke({kind!r}) raised {type(exc).__name__}: {exc}; expected ValueError.",
                 "raise ValueError when kind is not in ERROR_KINDS")
        fail(f"provoke({kind!r}) returned {result!r:.100} instead of raising ValueError.",
             "raise ValueError when kind is not in ERROR_KINDS")


@pytest.mark.grade("provoke", points=1)
def test_provoke_errors_read_back_as_their_kind(submission, reference):
    for kind in GENUINE:
        exc = _provoked(submission, kind)
        expect_equal(f"the kind of provoke({kind!r}) = {type(exc).__name__}: {str(exc)[:120]!r}",
                     reference.diagnose(exc), kind, hint=f"make PyTorch raise it: {PROVOKE_HINT[kind]}")


# ------------------------------------------------------------------------------------ diagnose

def _raised(misuse):
    try:
        misuse()
    except Exception as exc:
        return exc
    raise AssertionError(f"kit bug: the misuse raised nothing in torch {torch.__version__}")


def _expect_kinds(submission, cases):
    """Raise every misuse first (a kit bug shows as such), then ask the submission about each."""
    caught = [(_raised(misuse), kind) for misuse, kind in cases]
    for exc, kind in caught:
        shown = f"{type(exc).__name__}: {str(exc)[:140]}"
        hint = ("not an RNN error: it should give 'unknown' (check the exception type and match phrases specific "
                "to each kind, not common words like 'size' or 'hidden')" if kind == "unknown"
                else f"PyTorch raises this message for {kind}; match the phrases that are specific to that kind, "
                     "across modules (RNN, GRU, LSTM), devices and versions")
        expect_equal(f"diagnose({shown!r})", submission.diagnose(exc), kind, hint=hint)


def _other_device(device):
    return torch.device("meta") if torch.device(device).type == "cpu" else torch.device("cpu")


def _batch(T, B, I, device, batch_first=False, dtype=torch.float32):
    return torch.randn(*((B, T, I) if batch_first else (T, B, I)), device=device, dtype=dtype)


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_input_size_errors(submission, device):
    gru = nn.GRU(5, 3, batch_first=True, device=device)
    lstm = nn.LSTM(2, 6, num_layers=2, device=device)
    rnn = nn.RNN(8, 4, device=device)
    _expect_kinds(submission, [
        (lambda: gru(_batch(4, 2, 6, device, batch_first=True)), "input_size"),
        (lambda: lstm(_batch(3, 5, 7, device)), "input_size"),
        (lambda: rnn(_batch(6, 1, 4, device)), "input_size"),
        (lambda: rnn(torch.randn(6, 9, device=device)), "input_size"),    # unbatched (T, I)
    ])


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_hidden_shape_errors(submission, device):
    rnn = nn.RNN(3, 4, device=device)
    gru = nn.GRU(3, 5, num_layers=2, batch_first=True, device=device)
    lstm = nn.LSTM(3, 2, batch_first=True, device=device)
    x, x_bf = _batch(6, 2, 3, device), _batch(6, 2, 3, device, batch_first=True)
    x_bf3 = _batch(6, 3, 3, device, batch_first=True)
    zeros = lambda *shape: torch.zeros(*shape, device=device)  # noqa: E731
    _expect_kinds(submission, [
        (lambda: rnn(x, zeros(1, 3, 4)), "hidden_shape"),                   # wrong batch
        (lambda: rnn(x, zeros(1, 2, 7)), "hidden_shape"),                   # wrong H
        (lambda: rnn(x, zeros(2, 4)), "hidden_shape"),                      # 2-D h0 for a 3-D input
        (lambda: gru(x_bf, zeros(1, 2, 5)), "hidden_shape"),                # one layer's state for two layers
        (lambda: gru(x_bf3, zeros(3, 2, 5)), "hidden_shape"),               # h0 laid out batch first
        (lambda: lstm(x_bf, (zeros(1, 2, 2), zeros(1, 2, 3))), "hidden_shape"),  # wrong c0
        (lambda: lstm(x_bf, (zeros(1, 6, 2), zeros(1, 6, 2))), "hidden_shape"),  # T taken for the batch
    ])


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_device_and_dtype_errors(submission, device):
    other = _other_device(device)
    rnn = nn.RNN(3, 4, device=device)
    gru = nn.GRU(3, 4, batch_first=True, device=device)
    lstm64 = nn.LSTM(3, 4, device=device, dtype=torch.float64)
    x = _batch(5, 2, 3, device)
    _expect_kinds(submission, [
        (lambda: rnn(x.to(other)), "device_mismatch"),
        (lambda: nn.LSTM(3, 4, device=other)(x), "device_mismatch"),
        (lambda: gru(x.transpose(0, 1), torch.zeros(1, 2, 4, device=other)), "device_mismatch"),
        (lambda: rnn(x.double()), "dtype_mismatch"),
        (lambda: lstm64(x), "dtype_mismatch"),
        (lambda: gru(x.transpose(0, 1), torch.zeros(1, 2, 4, device=device, dtype=torch.float64)), "dtype_mismatch"),
        (lambda: rnn(x, torch.zeros(1, 2, 4, device=device, dtype=torch.float64)), "dtype_mismatch"),
    ])


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_packing_errors(submission, device):
    padded = pad_sequence([torch.randn(n, 3, device=device) for n in (3, 6, 2, 5)])      # (6, 4, 3)
    padded_bf = pad_sequence([torch.randn(n, 2, device=device) for n in (4, 1)], batch_first=True)
    wrong_place = torch.device(device) if torch.device(device).type == "cuda" else torch.device("meta")
    _expect_kinds(submission, [
        (lambda: pack_padded_sequence(padded, torch.tensor([3, 6, 2, 5])), "unsorted_lengths"),
        (lambda: pack_padded_sequence(padded_bf, [1, 4], batch_first=True), "unsorted_lengths"),
        (lambda: pack_padded_sequence(padded[:, [1, 3, 0, 2]], torch.tensor([6, 5, 3, 2], device=wrong_place)),
         "lengths_device_or_dtype"),
        (lambda: pack_padded_sequence(padded, torch.tensor([3, 6, 0, 5]), enforce_sorted=False), "zero_length"),
        (lambda: pack_padded_sequence(padded_bf, torch.tensor([4, 0]), batch_first=True), "zero_length"),
        (lambda: nn.GRU(3, 4, device=device)(padded[:0]), "zero_length"),   # a batch of empty sequences
    ])


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_input_rank_errors(submission, device):
    _expect_kinds(submission, [
        (lambda: nn.RNN(3, 4, device=device)(torch.randn(2, 1, 5, 3, device=device)), "input_rank"),
        (lambda: nn.LSTM(3, 4, batch_first=True, device=device)(torch.randn(3, device=device)), "input_rank"),
        (lambda: nn.GRU(3, 4, device=device)(torch.randn(2, 2, 2, 2, 3, device=device)), "input_rank"),
    ])


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_unrelated_errors_are_unknown(submission):
    _expect_kinds(submission, [
        (lambda: nn.RNN(3, 4)(torch.randn(2, 1, 7)), "input_size"),  # so that `return "unknown"` scores nothing
        (lambda: 1 / 0, "unknown"),
        (lambda: {"h0": None}["c0"], "unknown"),
        (lambda: float("seven"), "unknown"),
        (lambda: torch.zeros(3)[5], "unknown"),
        (lambda: torch.zeros(2, 3).view(4), "unknown"),
        (lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)]), "unknown"),
        (lambda: torch.zeros(2).hidden_size, "unknown"),
    ])
