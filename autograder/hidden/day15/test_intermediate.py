"""Hidden suite, Day 15 intermediate: lstm_cell and final_hidden against the references.

final_hidden gets an nn.RNN/nn.GRU/nn.LSTM built on the test's device; the reference
runs on a deep copy, so nothing a submission does to its module can reach the truth.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from solutions.checking import LSTM_GATES, expect_close, expect_type, fail, naming_the_case

F64, F32 = torch.float64, torch.float32
F32_VALUES = {"atol": 1e-5, "rtol": 1e-4}
F32_GRADS = {"atol": 1e-4, "rtol": 1e-3}
CELL_DIMS = {"batch row": 0, "hidden unit": 1}
FINAL_DIMS = {"sequence": 0, "hidden unit": 1}
WEIGHT_NAMES = ["W_ih", "W_hh", "b_ih", "b_hh"]
GATE_HINT = ("pre-activations x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, split into blocks of H columns in the order "
             "i, f, g, o; sigmoid for i, f, o and tanh for g; c_next = f * c + i * g, h_next = o * tanh(c_next)")
GRAD_HINT = ("build the result from the inputs with torch operations only: no .detach(), .data, .item(), NumPy, "
             "torch.no_grad() or in-place writes")
SIZE_ONE_HINT = ("keep every dimension even when it has size 1: no .squeeze(), no indexing that drops a dimension "
                 "of size 1")
PACK_HINT = ("pad, then pack with the true lengths (a CPU int64 tensor, even when the data is on the GPU) and "
             "enforce_sorted=False, run the module once, and take the last layer of h_n (h_n[0] of an LSTM's "
             "(h_n, c_n)); PyTorch returns h_n in the input order")


def _copies(args, dtype=None, requires_grad=False):
    out = []
    for a in args:
        if a is None:
            out.append(None)
            continue
        c = a.detach().clone() if dtype is None else a.detach().to(dtype)
        out.append(c.requires_grad_(requires_grad))
    return out


# ------------------------------------------------------------------------------------ lstm_cell

def _lstm_args(B, I, H, device, dtype=F64, bias=True):
    x = torch.randn(B, I, dtype=dtype, device=device)
    h = torch.randn(B, H, dtype=dtype, device=device)
    c = torch.randn(B, H, dtype=dtype, device=device)
    W_ih = torch.randn(4 * H, I, dtype=dtype, device=device) * 0.5
    W_hh = torch.randn(4 * H, H, dtype=dtype, device=device) * 0.5
    b = [torch.randn(4 * H, dtype=dtype, device=device) * 0.5 for _ in range(2)] if bias else [None, None]
    return [x, h, c, W_ih, W_hh, *b]


def _call_lstm(fn, args):
    x, h, c, *weights = args
    return fn(x, (h, c), *weights)


def _state(label, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(f"{label}: expected a tuple (h_next, c_next), got {type(got).__name__}.", "return h_next, c_next")
    return got


def _expect_state(label, got, expected, hint=GATE_HINT, **tol):
    h, c = _state(label, got)
    expect_close(f"{label}: c_next", c, expected[1], dims=CELL_DIMS, hint=hint, **tol)
    expect_close(f"{label}: h_next", h, expected[0], dims=CELL_DIMS, hint=hint, **tol)


@pytest.mark.grade("lstm_cell", points=3)
def test_lstm_cell_random_batch(submission, reference, device):
    args = _lstm_args(5, 3, 4, device)
    _expect_state("lstm_cell", _call_lstm(submission.lstm_cell, _copies(args)),
                  _call_lstm(reference.lstm_cell, _copies(args)))


@pytest.mark.grade("lstm_cell", points=2)
def test_lstm_cell_without_bias(submission, reference, device):
    args = _lstm_args(3, 5, 2, device, bias=False)
    _expect_state("lstm_cell without biases", _call_lstm(submission.lstm_cell, _copies(args)),
                  _call_lstm(reference.lstm_cell, _copies(args)))


@pytest.mark.grade("lstm_cell", points=2)
def test_lstm_cell_float32_batch_of_one(submission, reference, device):
    args = _lstm_args(1, 6, 5, device, dtype=F32)
    expected = _call_lstm(reference.lstm_cell, _copies(args, dtype=F64))
    _expect_state("lstm_cell in float32, batch of one", _call_lstm(submission.lstm_cell, _copies(args)),
                  tuple(e.to(F32) for e in expected), **F32_VALUES)


def _check_lstm_gradients(submission, reference, B, I, H, device, label="lstm_cell", hint=GATE_HINT):
    args = _lstm_args(B, I, H, device)
    w_h = torch.randn(B, H, dtype=F64, device=device)
    w_c = torch.randn(B, H, dtype=F64, device=device)
    got_in, exp_in = _copies(args, requires_grad=True), _copies(args, requires_grad=True)
    expected = _call_lstm(reference.lstm_cell, exp_in)
    with naming_the_case(label, hint):
        got = _state(label, _call_lstm(submission.lstm_cell, got_in))
    _expect_state(label, got, expected, hint=hint)
    got_grads = torch.autograd.grad((got[0] * w_h).sum() + (got[1] * w_c).sum(), got_in, allow_unused=True)
    exp_grads = torch.autograd.grad((expected[0] * w_h).sum() + (expected[1] * w_c).sum(), exp_in)
    for name, g, e in zip(["x", "h", "c", *WEIGHT_NAMES], got_grads, exp_grads):
        if g is None:
            fail(f"{label}: no gradient reaches {name}.", GRAD_HINT)
        where = {"gates": LSTM_GATES, "gate_dim": 0} if name in WEIGHT_NAMES else {"dims": CELL_DIMS}
        expect_close(f"{label}, gradient with respect to {name}", g, e, hint=hint + "; " + GRAD_HINT, **where)


@pytest.mark.grade("lstm_cell", points=3)
def test_lstm_cell_gradients(submission, reference, device):
    _check_lstm_gradients(submission, reference, 4, 3, 5, device)


@pytest.mark.grade("lstm_cell", points=1)
def test_lstm_cell_size_one_dimensions(submission, reference, device):
    for B, I, H in ((1, 3, 2), (3, 1, 2), (3, 2, 1), (1, 1, 1)):
        _check_lstm_gradients(submission, reference, B, I, H, device, label=f"lstm_cell with B={B}, I={I}, H={H}",
                              hint=SIZE_ONE_HINT + "; " + GATE_HINT)


@pytest.mark.grade("lstm_cell", points=1)
def test_lstm_cell_returns_a_new_state_and_leaves_the_old_one(submission, reference, device):
    args = _lstm_args(2, 3, 4, device)
    given = _copies(args)
    got = _call_lstm(submission.lstm_cell, given)
    expect_type("lstm_cell's result", got, (tuple, list), hint="return a tuple (h_next, c_next), like nn.LSTMCell")
    # The point is for a right answer that leaves its inputs alone, not for doing nothing.
    _expect_state("lstm_cell", got, _call_lstm(reference.lstm_cell, _copies(args)))
    for name, before, after in zip(["x", "h", "c", *WEIGHT_NAMES], args, given):
        expect_close(f"{name} after the call", after, before,
                     hint="return new tensors; don't update h, c or the weights in place")


# ------------------------------------------------------------------------------------ final_hidden

def _sequences(lengths, I, device, dtype=F64):
    return [torch.randn(n, I, dtype=dtype, device=device) for n in lengths]


def _expect_final(label, submission, reference, rnn, sequences, hint=PACK_HINT, **tol):
    expected = reference.final_hidden(copy.deepcopy(rnn), _copies(sequences))
    with naming_the_case(label, hint):
        got = submission.final_hidden(rnn, _copies(sequences))
    expect_close(label, got, expected, dims=FINAL_DIMS, hint=hint, **tol)


@pytest.mark.grade("final_hidden", points=3)
def test_final_hidden_gru_unsorted_lengths(submission, reference, device):
    gru = nn.GRU(4, 5, device=device, dtype=F64)
    _expect_final("final hidden states of nn.GRU, lengths [3, 7, 1, 5, 2]", submission, reference, gru,
                  _sequences([3, 7, 1, 5, 2], 4, device))


@pytest.mark.grade("final_hidden", points=3)
def test_final_hidden_lstm_three_layers_batch_first(submission, reference, device):
    lstm = nn.LSTM(3, 4, num_layers=3, batch_first=True, device=device, dtype=F64)
    _expect_final("final hidden states of a 3-layer batch_first nn.LSTM, lengths [2, 6, 4, 6]", submission,
                  reference, lstm, _sequences([2, 6, 4, 6], 3, device))


@pytest.mark.grade("final_hidden", points=2)
def test_final_hidden_rnn_edge_cases(submission, reference, device):
    rnn = nn.RNN(2, 3, num_layers=2, bias=False, device=device, dtype=F64)
    _expect_final("nn.RNN, a batch of one sequence", submission, reference, rnn, _sequences([5], 2, device))
    _expect_final("nn.RNN, every sequence of length 1", submission, reference, rnn, _sequences([1, 1, 1], 2, device))
    rnn_bf = nn.RNN(2, 3, batch_first=True, device=device, dtype=F64)
    _expect_final("batch_first nn.RNN, lengths [1, 4]", submission, reference, rnn_bf, _sequences([1, 4], 2, device))


@pytest.mark.grade("final_hidden", points=1)
def test_final_hidden_size_one_dimensions(submission, reference, device):
    for cls, I, H, layers, lengths, batch_first in ((nn.LSTM, 1, 3, 1, [4, 2], False), (nn.GRU, 2, 1, 2, [3, 1, 2], True),
                                                     (nn.RNN, 1, 1, 1, [1], False), (nn.LSTM, 1, 1, 2, [2, 3], True)):
        rnn = cls(I, H, num_layers=layers, batch_first=batch_first, device=device, dtype=F64)
        _expect_final(f"final_hidden, {cls.__name__}, I={I}, H={H}, {layers} layer(s), lengths {lengths}, "
                      f"batch_first={batch_first}", submission, reference, rnn, _sequences(lengths, I, device),
                      hint=SIZE_ONE_HINT + "; " + PACK_HINT)


@pytest.mark.grade("final_hidden", points=2)
def test_final_hidden_float32(submission, reference, device):
    gru = nn.GRU(3, 6, num_layers=2, batch_first=True, device=device, dtype=F32)
    sequences = _sequences([4, 9, 2], 3, device, dtype=F32)
    expected = reference.final_hidden(copy.deepcopy(gru).double(), _copies(sequences, dtype=F64))
    got = submission.final_hidden(gru, _copies(sequences))
    expect_close("final hidden states of a float32 nn.GRU", got, expected.to(F32), dims=FINAL_DIMS, hint=PACK_HINT,
                 **F32_VALUES)


@pytest.mark.grade("final_hidden", points=2)
def test_final_hidden_gradients(submission, reference, device):
    lstm = nn.LSTM(3, 4, num_layers=2, device=device, dtype=F64)
    ref_lstm = copy.deepcopy(lstm)
    sequences = _sequences([5, 2, 3], 3, device)
    weight = torch.randn(3, 4, dtype=F64, device=device)
    got_seqs, exp_seqs = _copies(sequences, requires_grad=True), _copies(sequences, requires_grad=True)
    got = submission.final_hidden(lstm, got_seqs)
    expected = reference.final_hidden(ref_lstm, exp_seqs)
    expect_close("final hidden states", got, expected, dims=FINAL_DIMS, hint=PACK_HINT)
    names = [name for name, _ in lstm.named_parameters()]
    got_grads = torch.autograd.grad((got * weight).sum(), [*lstm.parameters(), *got_seqs], allow_unused=True)
    exp_grads = torch.autograd.grad((expected * weight).sum(), [*ref_lstm.parameters(), *exp_seqs], allow_unused=True)
    for name, g, e in zip(names + [f"sequences[{i}]" for i in range(3)], got_grads, exp_grads):
        if e is None:
            continue
        if g is None:
            fail(f"final_hidden: no gradient reaches {name}.", GRAD_HINT)
        where = ({"gates": LSTM_GATES, "gate_dim": 0} if name.startswith(("weight", "bias"))
                 else {"dims": {"time step": 0, "input feature": 1}})
        expect_close(f"final_hidden, gradient with respect to {name}", g, e, hint=PACK_HINT, **where)
