"""Hidden suite, Day 15 basic: rnn_cell and rnn_forward against the references.

Float64 results are compared with float64 tolerances; float32 results against the
reference run in float64 on the same device, with float32 tolerances (GPU float32
differs from the CPU by up to ~8e-6 in values and ~2e-4 in parameter gradients).
"""
from __future__ import annotations

import pytest
import torch

from solutions.checking import expect_close, fail, naming_the_case

F64, F32 = torch.float64, torch.float32
F32_VALUES = {"atol": 1e-5, "rtol": 1e-4}
F32_GRADS = {"atol": 1e-4, "rtol": 1e-3}
CELL_DIMS = {"batch row": 0, "hidden unit": 1}
SEQ_DIMS = {"time step": 0, "batch row": 1, "hidden unit": 2}
SEQ_DIMS_BATCH_FIRST = {"batch row": 0, "time step": 1, "hidden unit": 2}
H_N_DIMS = {"layer": 0, "batch row": 1, "hidden unit": 2}
WEIGHT_NAMES = ["W_ih", "W_hh", "b_ih", "b_hh"]
WEIGHT_DIMS = {"W_ih": {"hidden unit": 0, "input feature": 1}, "W_hh": {"hidden unit": 0, "previous hidden unit": 1},
               "b_ih": {"hidden unit": 0}, "b_hh": {"hidden unit": 0}}
CELL_GRAD_DIMS = {"x": {"batch row": 0, "input feature": 1}, "h": CELL_DIMS, **WEIGHT_DIMS}
SEQ_GRAD_DIMS = {"x": {"time step": 0, "batch row": 1, "input feature": 2}, "h0": H_N_DIMS, **WEIGHT_DIMS}
SEQ_GRAD_DIMS_BATCH_FIRST = {**SEQ_GRAD_DIMS, "x": {"batch row": 0, "time step": 1, "input feature": 2}}
SIZE_ONE_HINT = ("keep every dimension even when it has size 1: no .squeeze(), no indexing that drops a dimension "
                 "of size 1, no shapes read from a squeezed tensor")
GRAD_HINT = ("build the result from the inputs with torch operations only: no .detach(), .data, .item(), NumPy, "
             "torch.no_grad() or in-place writes into a preallocated tensor")


def _weights(I, H, device, dtype=F64, bias=True):
    W_ih = torch.randn(H, I, dtype=dtype, device=device) * 0.5
    W_hh = torch.randn(H, H, dtype=dtype, device=device) * 0.5
    b = [torch.randn(H, dtype=dtype, device=device) * 0.5 for _ in range(2)] if bias else [None, None]
    return W_ih, W_hh, *b


def _copies(args, dtype=None, requires_grad=False):
    """Fresh leaf copies of the tensors in ``args`` (None stays None), optionally cast and requiring grad."""
    out = []
    for a in args:
        if a is None:
            out.append(None)
            continue
        c = a.detach().clone() if dtype is None else a.detach().to(dtype)
        out.append(c.requires_grad_(requires_grad))
    return out


def _expect_grads(label, names, got_inputs, got_out, exp_inputs, exp_out, weight, dims, tol=None, dtype=None):
    """Compare d(sum(out * weight))/d(input) of the submission with the reference's, input by input."""
    got_pairs = [(n, t) for n, t in zip(names, got_inputs) if t is not None]
    exp_pairs = [t for t in exp_inputs if t is not None]
    got = torch.autograd.grad((got_out * weight.to(got_out.dtype)).sum(), [t for _, t in got_pairs],
                              allow_unused=True)
    expected = torch.autograd.grad((exp_out * weight.to(exp_out.dtype)).sum(), exp_pairs)
    for (name, _), g, e in zip(got_pairs, got, expected):
        if g is None:
            fail(f"{label}: no gradient reaches {name}: the result does not depend on it through autograd.", GRAD_HINT)
        e = e if dtype is None else e.to(dtype)
        expect_close(f"{label}, gradient with respect to {name}", g, e, dims=dims[name], hint=GRAD_HINT,
                     **(tol or {}))


# ------------------------------------------------------------------------------------ rnn_cell

@pytest.mark.grade("rnn_cell", points=2)
def test_rnn_cell_random_batch(submission, reference, device):
    x = torch.randn(5, 3, dtype=F64, device=device)
    h = torch.randn(5, 4, dtype=F64, device=device)
    args = (x, h, *_weights(3, 4, device))
    expect_close("h_next", submission.rnn_cell(*_copies(args)), reference.rnn_cell(*_copies(args)),
                 dims=CELL_DIMS)


@pytest.mark.grade("rnn_cell", points=2)
def test_rnn_cell_bias_handling(submission, reference, device):
    x = torch.randn(4, 6, dtype=F64, device=device)
    h = torch.randn(4, 3, dtype=F64, device=device)
    W_ih, W_hh, b_ih, b_hh = _weights(6, 3, device)
    for label, biases in (("no biases", (None, None)), ("b_ih only", (b_ih, None)), ("b_hh only", (None, b_hh))):
        args = (x, h, W_ih, W_hh, *biases)
        expect_close(f"h_next with {label}", submission.rnn_cell(*_copies(args)), reference.rnn_cell(*_copies(args)),
                     dims=CELL_DIMS, hint="add each bias on its own, and only when it is not None")


@pytest.mark.grade("rnn_cell", points=2)
def test_rnn_cell_float32_batch_of_one(submission, reference, device):
    x = torch.randn(1, 7, dtype=F32, device=device)
    h = torch.randn(1, 5, dtype=F32, device=device)
    args = (x, h, *_weights(7, 5, device, dtype=F32))
    got = submission.rnn_cell(*_copies(args))
    expected = reference.rnn_cell(*_copies(args, dtype=F64)).to(F32)
    expect_close("h_next in float32, batch of one", got, expected, dims=CELL_DIMS, **F32_VALUES)


@pytest.mark.grade("rnn_cell", points=2)
def test_rnn_cell_gradients(submission, reference, device):
    x = torch.randn(3, 4, dtype=F64, device=device)
    h = torch.randn(3, 6, dtype=F64, device=device)
    args = (x, h, *_weights(4, 6, device))
    weight = torch.randn(3, 6, dtype=F64, device=device)
    got_in, exp_in = _copies(args, requires_grad=True), _copies(args, requires_grad=True)
    got, expected = submission.rnn_cell(*got_in), reference.rnn_cell(*exp_in)
    expect_close("h_next", got, expected, dims=CELL_DIMS)
    _expect_grads("rnn_cell", ["x", "h", *WEIGHT_NAMES], got_in, got, exp_in, expected, weight, CELL_GRAD_DIMS)


@pytest.mark.grade("rnn_cell", points=1)
def test_rnn_cell_size_one_dimensions(submission, reference, device):
    for B, I, H in ((1, 3, 4), (3, 1, 4), (3, 4, 1), (1, 1, 1)):
        x = torch.randn(B, I, dtype=F64, device=device)
        h = torch.randn(B, H, dtype=F64, device=device)
        args = (x, h, *_weights(I, H, device))
        weight = torch.randn(B, H, dtype=F64, device=device)
        got_in, exp_in = _copies(args, requires_grad=True), _copies(args, requires_grad=True)
        label = f"rnn_cell with B={B}, I={I}, H={H}"
        expected = reference.rnn_cell(*exp_in)
        with naming_the_case(label, SIZE_ONE_HINT):
            got = submission.rnn_cell(*got_in)
        expect_close(label, got, expected, dims=CELL_DIMS, hint=SIZE_ONE_HINT)
        _expect_grads(label, ["x", "h", *WEIGHT_NAMES], got_in, got, exp_in, expected, weight, CELL_GRAD_DIMS)


@pytest.mark.grade("rnn_cell", points=1)
def test_rnn_cell_leaves_its_inputs_unchanged(submission, reference, device):
    x = torch.randn(2, 3, dtype=F64, device=device)
    h = torch.randn(2, 4, dtype=F64, device=device)
    args = (x, h, *_weights(3, 4, device))
    given = _copies(args)
    # A function that does nothing leaves its inputs alone too: the point is for a right answer that does.
    expect_close("h_next", submission.rnn_cell(*given), reference.rnn_cell(*_copies(args)),
                 dims={"batch row": 0, "hidden unit": 1})
    for name, before, after in zip(["x", "h", *WEIGHT_NAMES], args, given):
        expect_close(f"{name} after the call", after, before,
                     hint="don't modify the arguments in place (no +=, .add_(), .tanh_() on them): build new tensors")


# ------------------------------------------------------------------------------------ rnn_forward

def _forward_args(T, B, I, H, device, dtype=F64, bias=True, h0=True, batch_first=False):
    x = torch.randn(*((B, T, I) if batch_first else (T, B, I)), dtype=dtype, device=device)
    h_0 = torch.randn(1, B, H, dtype=dtype, device=device) if h0 else None
    return (x, h_0, *_weights(I, H, device, dtype=dtype, bias=bias))


def _expect_forward(label, got, expected, batch_first=False, hint=None, **tol):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(f"{label}: expected a tuple (output, h_n), got {type(got).__name__}.", "return output, h_n")
    expect_close(f"{label}: output", got[0], expected[0], dims=SEQ_DIMS_BATCH_FIRST if batch_first else SEQ_DIMS,
                 hint=hint, **tol)
    expect_close(f"{label}: h_n", got[1], expected[1], dims=H_N_DIMS,
                 hint="h_n is the state after the last step, shape (1, B, H) whatever batch_first says"
                      + (f"; {hint}" if hint else ""), **tol)


@pytest.mark.grade("rnn_forward", points=3)
def test_rnn_forward_sequence(submission, reference, device):
    args = _forward_args(7, 4, 3, 5, device)
    _expect_forward("rnn_forward", submission.rnn_forward(*_copies(args)), reference.rnn_forward(*_copies(args)))


@pytest.mark.grade("rnn_forward", points=2)
def test_rnn_forward_batch_first(submission, reference, device):
    args = _forward_args(6, 3, 4, 2, device, batch_first=True)
    _expect_forward("rnn_forward with batch_first=True",
                    submission.rnn_forward(*_copies(args), batch_first=True),
                    reference.rnn_forward(*_copies(args), batch_first=True), batch_first=True)


@pytest.mark.grade("rnn_forward", points=2)
def test_rnn_forward_h0_none_without_bias(submission, reference, device):
    for batch_first in (False, True):
        args = _forward_args(5, 3, 2, 4, device, bias=False, h0=False, batch_first=batch_first)
        label = f"rnn_forward with h0=None, no biases, batch_first={batch_first}"
        expected = reference.rnn_forward(*_copies(args), batch_first=batch_first)
        with naming_the_case(label, "h0=None means zeros of the dtype and device of x (x.new_zeros(B, H))"):
            got = submission.rnn_forward(*_copies(args), batch_first=batch_first)
        _expect_forward(label, got, expected, batch_first=batch_first)


@pytest.mark.grade("rnn_forward", points=2)
def test_rnn_forward_size_one_dimensions(submission, reference, device):
    for T, B, I, H, batch_first in ((1, 1, 3, 3, False), (1, 1, 3, 3, True), (4, 2, 1, 3, False), (4, 2, 3, 1, True),
                                    (1, 1, 1, 1, False), (3, 1, 1, 1, True)):
        args = _forward_args(T, B, I, H, device, batch_first=batch_first)
        label = f"rnn_forward with T={T}, B={B}, I={I}, H={H}, batch_first={batch_first}"
        got_in, exp_in = _copies(args, requires_grad=True), _copies(args, requires_grad=True)
        expected = reference.rnn_forward(*exp_in, batch_first=batch_first)
        with naming_the_case(label, SIZE_ONE_HINT):
            got = submission.rnn_forward(*got_in, batch_first=batch_first)
        _expect_forward(label, got, expected, batch_first=batch_first, hint=SIZE_ONE_HINT)
        weight = torch.randn(expected[0].numel(), dtype=F64, device=device)
        _expect_grads(label, ["x", "h0", *WEIGHT_NAMES], got_in, got[0].flatten(), exp_in, expected[0].flatten(),
                      weight, SEQ_GRAD_DIMS_BATCH_FIRST if batch_first else SEQ_GRAD_DIMS)


@pytest.mark.grade("rnn_forward", points=2)
def test_rnn_forward_float32(submission, reference, device):
    args = _forward_args(8, 3, 5, 6, device, dtype=F32, h0=False, batch_first=True)
    weight = torch.randn(3, 8, 6, dtype=F64, device=device)
    got_in, exp_in = _copies(args, requires_grad=True), _copies(args, dtype=F64, requires_grad=True)
    got = submission.rnn_forward(*got_in, batch_first=True)
    expected = reference.rnn_forward(*exp_in, batch_first=True)
    _expect_forward("rnn_forward in float32 (h0=None, batch_first=True)", got,
                    tuple(e.to(F32) for e in expected), batch_first=True, **F32_VALUES)
    _expect_grads("rnn_forward in float32", ["x", "h0", *WEIGHT_NAMES], got_in, got[0], exp_in, expected[0],
                  weight, SEQ_GRAD_DIMS_BATCH_FIRST, tol=F32_GRADS, dtype=F32)


@pytest.mark.grade("rnn_forward", points=3)
def test_rnn_forward_gradients(submission, reference, device):
    args = _forward_args(6, 2, 3, 4, device)
    w_out = torch.randn(6, 2, 4, dtype=F64, device=device)
    w_h_n = torch.randn(1, 2, 4, dtype=F64, device=device)
    got_in, exp_in = _copies(args, requires_grad=True), _copies(args, requires_grad=True)
    got = submission.rnn_forward(*got_in)
    expected = reference.rnn_forward(*exp_in)
    _expect_forward("rnn_forward", got, expected)
    # One scalar that depends on every step's output and on h_n: (output * w_out).sum() + (h_n * w_h_n).sum()
    got_all = torch.cat([got[0].flatten(), got[1].flatten()])
    exp_all = torch.cat([expected[0].flatten(), expected[1].flatten()])
    weight = torch.cat([w_out.flatten(), w_h_n.flatten()])
    _expect_grads("rnn_forward", ["x", "h0", *WEIGHT_NAMES], got_in, got_all, exp_in, exp_all, weight, SEQ_GRAD_DIMS)
