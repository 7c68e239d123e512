"""Hidden suite, Day 16 basic: bptt and train_step against the references.

Every truth is computed from copies made before the submission is called: a submission may change
its arguments in place (and the engine writes such changes back), so it never shapes the truth.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from autograder.hidden.autograd_use import autograd_use
from autograder.textsafe import clean
from solutions.checking import expect_close, expect_float, expect_type, fail, naming_the_case

F64 = torch.float64
F32 = torch.float32
KEYS = ("W_ih", "W_hh", "b_ih", "b_hh", "x", "h0")
DIMS = {
    "x": {"time step": 0, "batch row": 1, "input feature": 2},
    "h0": {"batch row": 0, "hidden unit": 1},
    "W_ih": {"hidden unit": 0, "input feature": 1},
    "W_hh": {"hidden unit (row)": 0, "hidden unit (column)": 1},
    "b_ih": {"hidden unit": 0},
    "b_hh": {"hidden unit": 0},
}
HINT = ("walk back from the last step: dh_t = grad_output[t] + da_{t+1} @ W_hh, da_t = dh_t * (1 - h_t**2); "
        "dW_ih += da_t.T @ x[t], dW_hh += da_t.T @ h_{t-1} (h0 at the first step), db += da_t.sum(0), "
        "dx[t] = da_t @ W_ih, dh0 = da_0 @ W_hh")
SIZE_ONE_HINT = ("keep every dimension even when it has size 1: no .squeeze(), no indexing that drops a dimension "
                 "of size 1, no shapes read from a squeezed tensor; ")


# ---------------------------------------------------------------------------------------------
# bptt
# ---------------------------------------------------------------------------------------------

def _bptt_args(T, B, I, H, device, dtype=F64, bias=True, h0_layer_dim=False, w_scale=0.5, last_step_only=False):
    x = torch.randn(T, B, I, dtype=dtype, device=device)
    h0 = torch.randn(B, H, dtype=dtype, device=device)
    if h0_layer_dim:
        h0 = h0.unsqueeze(0)
    W_ih = torch.randn(H, I, dtype=dtype, device=device) * w_scale
    W_hh = torch.randn(H, H, dtype=dtype, device=device) * w_scale
    b_ih = torch.randn(H, dtype=dtype, device=device) * 0.5 if bias else None
    b_hh = torch.randn(H, dtype=dtype, device=device) * 0.5 if bias else None
    grad_output = torch.randn(T, B, H, dtype=dtype, device=device)
    if last_step_only:
        grad_output[:-1] = 0
    return x, h0, W_ih, W_hh, b_ih, b_hh, grad_output


def _compare_grads(got, expected, what, atol=None, rtol=None, hint=HINT):
    expect_type(f"{what}: the result", got, dict, hint='return a dict with keys "x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"')
    for key in KEYS:
        if key not in got:
            fail(f"{what}: the result has no key {key!r}.", 'return a dict with keys "x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"')
        if expected[key] is None:
            if got[key] is not None:
                fail(f"{what}: the gradient of {key} should be None (no bias).",
                     "a bias that is None has no gradient: put None in the dict for it")
            continue
        dims = {"batch row": 1, "hidden unit": 2} if key == "h0" and expected[key].dim() == 3 else DIMS[key]
        expect_close(f"{what}: gradient of {key}", got[key], expected[key], atol=atol, rtol=rtol, dims=dims, hint=hint)


def _clones(args, dtype=None):
    return [None if a is None else a.detach().to(dtype or a.dtype, copy=True) for a in args]


def _expect_no_autograd(submitted_source):
    """bptt is written by hand: a bptt that reaches autograd loses every bptt test, and is told why."""
    source = submitted_source("basic")
    why = None if source is None else autograd_use(source, "bptt")
    if why is not None:
        fail(f"bptt must compute the gradients by hand, without autograd, but {clean(why, one_line=True)}. "
             "No bptt test gives points to a bptt that uses autograd (backward, torch.autograd, torch.func, "
             "hooks, .grad) or hides what it calls (getattr with a computed name, eval, imports from outside "
             "torch and the standard library).", "write the backward pass with the formulas of the docstring")


def _check_bptt(submission, reference, submitted_source, args, what, truth_dtype=None, atol=None, rtol=None,
                hint=HINT):
    _expect_no_autograd(submitted_source)
    expected = reference.bptt(*_clones(args, truth_dtype))
    if truth_dtype is not None:
        expected = {k: None if v is None else v.to(args[0].dtype) for k, v in expected.items()}
    with naming_the_case(what, hint):
        got = submission.bptt(*_clones(args))
    _compare_grads(got, expected, what, atol=atol, rtol=rtol, hint=hint)


@pytest.mark.grade("bptt", points=2)
def test_bptt_random_sequence(submission, reference, submitted_source, device):
    _check_bptt(submission, reference, submitted_source, _bptt_args(T=6, B=3, I=4, H=5, device=device),
                "bptt, T=6, B=3")


@pytest.mark.grade("bptt", points=2)
def test_bptt_recurrent_path_long_sequence(submission, reference, submitted_source, device):
    # Only the last step has a loss: every earlier gradient travels through W_hh.
    args = _bptt_args(T=25, B=2, I=3, H=6, device=device, w_scale=0.6, last_step_only=True)
    _check_bptt(submission, reference, submitted_source, args, "bptt, T=25, loss on the last step only",
                hint="a loss on the last step reaches earlier steps only through the recurrent term "
                     "dh_{t-1} += da_t @ W_hh (times tanh' = 1 - h**2 at every step); " + HINT)


@pytest.mark.grade("bptt", points=1)
def test_bptt_without_bias(submission, reference, submitted_source, device):
    _check_bptt(submission, reference, submitted_source, _bptt_args(T=5, B=2, I=3, H=4, device=device, bias=False),
                "bptt without biases")


@pytest.mark.grade("bptt", points=2)
def test_bptt_size_one_dimensions(submission, reference, submitted_source, device):
    for T, B, I, H in ((1, 4, 2, 3), (4, 1, 3, 2), (4, 3, 1, 2), (4, 3, 2, 1), (1, 1, 1, 1)):
        _check_bptt(submission, reference, submitted_source, _bptt_args(T=T, B=B, I=I, H=H, device=device),
                    f"bptt with T={T}, B={B}, I={I}, H={H}", hint=SIZE_ONE_HINT + HINT)


@pytest.mark.grade("bptt", points=1)
def test_bptt_batch_of_one_h0_with_layer_dim(submission, reference, submitted_source, device):
    for B, H in ((1, 4), (3, 1)):
        args = _bptt_args(T=4, B=B, I=3, H=H, device=device, h0_layer_dim=True)
        _check_bptt(submission, reference, submitted_source, args, f"bptt, B={B}, H={H}, h0 of shape (1, B, H)",
                    hint="h0 may come as (1, B, H), nn.RNN's layout: use h0[0] and return its gradient in h0's "
                         "shape; " + HINT)


@pytest.mark.grade("bptt", points=1)
def test_bptt_float32(submission, reference, submitted_source, device):
    _check_bptt(submission, reference, submitted_source, _bptt_args(T=8, B=3, I=4, H=5, device=device, dtype=F32),
                "bptt in float32 (compared with the float64 truth)", truth_dtype=F64, atol=1e-4, rtol=1e-3,
                hint="keep the inputs' dtype (torch.zeros_like) and compute in it; " + HINT)


@pytest.mark.grade("bptt", points=1)
def test_bptt_returns_gradients_without_history(submission, reference, submitted_source, device):
    # Inputs that require grad (a model's own weights, say): the gradients returned are plain values.
    args = _bptt_args(T=3, B=2, I=3, H=4, device=device)
    _expect_no_autograd(submitted_source)
    expected = reference.bptt(*_clones(args))
    given = [None if a is None else a.requires_grad_(True) for a in _clones(args)]
    got = submission.bptt(*given)
    _compare_grads(got, expected, "bptt with inputs that require grad")
    for key in KEYS:
        if got[key] is not None and got[key].requires_grad:
            fail(f"bptt with inputs that require grad: the gradient of {key} carries autograd history "
                 "(requires_grad=True).",
                 "compute the backward pass under torch.no_grad() (or on x.detach(), W.detach()...): the "
                 "gradients are results, not part of a graph")


# ---------------------------------------------------------------------------------------------
# train_step
# ---------------------------------------------------------------------------------------------

def _compare_modules(what, got_model, expected_model, atol=None, rtol=None, hint=None):
    for (name, got), expected in zip(got_model.state_dict().items(), expected_model.state_dict().values()):
        if not got.is_floating_point():
            continue
        expect_close(f"{what}: {name}", got, expected, atol=atol, rtol=rtol, hint=hint)


def _compare_optimizers(what, got_opt, expected_opt, atol=None, rtol=None, hint=None):
    """The optimizer's own state after the step (momentum buffers, Adam's moments): one step, on these gradients."""
    got_state, expected_state = got_opt.state_dict()["state"], expected_opt.state_dict()["state"]
    for index, entries in expected_state.items():
        for key, value in entries.items():
            if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
                continue
            got = got_state.get(index, {}).get(key)
            if got is None:
                fail(f"{what}: the optimizer has no {key!r} for parameter {index} after the step.", hint)
            expect_close(f"{what}: optimizer state {key!r} of parameter {index}", got, value.to(got.dtype),
                         atol=atol, rtol=rtol, hint=hint)


def _expect_training_mode(what, model):
    for name, module in model.named_modules():
        if not module.training:
            fail(f"{what}: the model{' part ' + name if name else ''} is in eval mode after train_step.",
                 "call model.train() at the start of the step and leave it on: train_step trains the model")


STEP_HINT = ("model.train(); optimizer.zero_grad(); forward over the whole sequence (the prediction is model(x), "
             "or its first element when it returns a tuple); loss = loss_fn(prediction, y); loss.backward(); "
             "optimizer.step(); return loss.item()")


def _run_both(submission, reference, model, make_optimizer, x, y, loss_fn, prepare=None, truth_dtype=None):
    """Train a copy with each, ours first on copies of everything: (their loss, model, optimizer, ours...)."""
    theirs, ours = copy.deepcopy(model), copy.deepcopy(model)
    if truth_dtype is not None:
        ours = ours.to(truth_dtype)
    if prepare is not None:
        prepare(theirs)
        prepare(ours)
    ours_x, ours_y = (x.detach().clone(), y.detach().clone()) if truth_dtype is None else \
        (x.detach().to(truth_dtype), y.detach().to(truth_dtype))
    our_opt = make_optimizer(ours)
    expected = reference.train_step(ours, ours_x, ours_y, our_opt, copy.deepcopy(loss_fn))
    their_opt = make_optimizer(theirs)
    got = submission.train_step(theirs, x.detach().clone(), y.detach().clone(), their_opt, copy.deepcopy(loss_fn))
    return got, theirs, their_opt, expected, ours, our_opt


@pytest.mark.grade("train_step", points=2)
def test_train_step_rnn_sgd(submission, reference, device):
    model = nn.RNN(3, 5).to(device, F64)
    x = torch.randn(7, 4, 3, dtype=F64, device=device)
    y = torch.randn(7, 4, 5, dtype=F64, device=device)
    got, theirs, _, expected, ours, _ = _run_both(submission, reference, model,
                                                  lambda m: torch.optim.SGD(m.parameters(), lr=0.3), x, y,
                                                  nn.MSELoss())
    expect_float("train_step's loss (nn.RNN, MSE)", got, expected, rel=1e-9, abs_=1e-12, hint=STEP_HINT)
    _compare_modules("after train_step (nn.RNN, SGD)", theirs, ours, hint=STEP_HINT)


@pytest.mark.grade("train_step", points=2)
def test_train_step_clears_stale_gradients(submission, reference, device):
    model = nn.GRU(3, 4, num_layers=2).to(device, F64)
    x = torch.randn(6, 3, 3, dtype=F64, device=device)
    y = torch.randn(6, 3, 4, dtype=F64, device=device)

    def stale(m):  # gradients left over from an earlier batch
        for i, p in enumerate(m.parameters()):
            p.grad = torch.full_like(p, 2.0 + i)

    got, theirs, their_opt, expected, ours, our_opt = _run_both(
        submission, reference, model, lambda m: torch.optim.SGD(m.parameters(), lr=0.2, momentum=0.9),
        x, y, nn.MSELoss(), prepare=stale)
    hint = "call optimizer.zero_grad() before loss.backward(): backward adds into .grad"
    expect_float("train_step's loss with stale gradients", got, expected, rel=1e-9, abs_=1e-12, hint=STEP_HINT)
    _compare_modules("after train_step with gradients left from an earlier batch", theirs, ours, hint=hint)
    _compare_optimizers("after train_step (SGD with momentum)", their_opt, our_opt,
                        hint="one optimizer.step() per call, after backward, on this batch's gradients only")


@pytest.mark.grade("train_step", points=1)
def test_train_step_model_in_eval_mode(submission, reference, device):
    T, B = 5, 4
    model = nn.Sequential(nn.Flatten(0, 1), nn.Linear(3, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 2),
                          nn.Unflatten(0, (T, B))).to(device, F64)
    model.eval()
    x = torch.randn(T, B, 3, dtype=F64, device=device)
    y = torch.randn(T, B, 2, dtype=F64, device=device)
    got, theirs, their_opt, expected, ours, our_opt = _run_both(
        submission, reference, model, lambda m: torch.optim.Adam(m.parameters(), lr=0.05), x, y, nn.MSELoss())
    hint = "call model.train() first: in eval mode BatchNorm uses its running statistics and dropout is off"
    expect_float("train_step's loss, model handed over in eval mode", got, expected, rel=1e-9, abs_=1e-12, hint=hint)
    _compare_modules("after train_step, model handed over in eval mode (parameters and BatchNorm statistics)",
                     theirs, ours, hint=hint)
    _compare_optimizers("after train_step (Adam)", their_opt, our_opt,
                        hint="one optimizer.step() per call, after backward")
    _expect_training_mode("after train_step, model handed over in eval mode", theirs)


@pytest.mark.grade("train_step", points=1)
def test_train_step_lstm_float32(submission, reference, device):
    model = nn.LSTM(4, 6).to(device, F32)
    x = torch.randn(9, 2, 4, device=device)
    y = torch.randn(9, 2, 6, device=device)
    got, theirs, _, expected, truth, _ = _run_both(submission, reference, model,
                                                   lambda m: torch.optim.SGD(m.parameters(), lr=0.1), x, y,
                                                   nn.MSELoss(), truth_dtype=F64)
    expect_float("train_step's loss (nn.LSTM, float32)", got, expected, rel=1e-4, abs_=1e-6, hint=STEP_HINT)
    _compare_modules("after train_step (nn.LSTM, float32, compared with float64)", theirs, truth.float(),
                     atol=1e-4, rtol=1e-3, hint=STEP_HINT)


@pytest.mark.grade("train_step", points=1)
def test_train_step_classifier_one_step_one_sequence(submission, reference, device):
    model = nn.Sequential(nn.Flatten(0, 1), nn.Linear(3, 4)).to(device, F64)
    x = torch.randn(1, 1, 3, dtype=F64, device=device)
    y = torch.tensor([2], device=device)
    got, theirs, _, expected, ours, _ = _run_both(submission, reference, model,
                                                  lambda m: torch.optim.SGD(m.parameters(), lr=1.0), x, y,
                                                  nn.CrossEntropyLoss())
    expect_float("train_step's loss (T=1, B=1, CrossEntropyLoss)", got, expected, rel=1e-9, abs_=1e-12,
                 hint=STEP_HINT)
    _compare_modules("after train_step (T=1, B=1)", theirs, ours, hint=STEP_HINT)
