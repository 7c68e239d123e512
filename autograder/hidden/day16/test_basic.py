"""Hidden suite, Day 16 basic: bptt and train_step against the references."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from solutions.checking import expect_close, expect_float, expect_type, fail

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


@pytest.mark.grade("bptt", points=2)
def test_bptt_random_sequence(submission, reference, device):
    args = _bptt_args(T=6, B=3, I=4, H=5, device=device)
    _compare_grads(submission.bptt(*args), reference.bptt(*args), "bptt, T=6, B=3")


@pytest.mark.grade("bptt", points=2)
def test_bptt_recurrent_path_long_sequence(submission, reference, device):
    # Only the last step has a loss: every earlier gradient travels through W_hh.
    args = _bptt_args(T=25, B=2, I=3, H=6, device=device, w_scale=0.6, last_step_only=True)
    _compare_grads(submission.bptt(*args), reference.bptt(*args), "bptt, T=25, loss on the last step only",
                   hint="a loss on the last step reaches earlier steps only through the recurrent term "
                        "dh_{t-1} += da_t @ W_hh (times tanh' = 1 - h**2 at every step); " + HINT)


@pytest.mark.grade("bptt", points=1)
def test_bptt_without_bias(submission, reference, device):
    args = _bptt_args(T=5, B=2, I=3, H=4, device=device, bias=False)
    _compare_grads(submission.bptt(*args), reference.bptt(*args), "bptt without biases")


@pytest.mark.grade("bptt", points=1)
def test_bptt_single_step(submission, reference, device):
    args = _bptt_args(T=1, B=4, I=2, H=3, device=device)
    _compare_grads(submission.bptt(*args), reference.bptt(*args), "bptt, sequence of 1 step")


@pytest.mark.grade("bptt", points=1)
def test_bptt_batch_of_one_h0_with_layer_dim(submission, reference, device):
    args = _bptt_args(T=4, B=1, I=3, H=4, device=device, h0_layer_dim=True)
    _compare_grads(submission.bptt(*args), reference.bptt(*args), "bptt, B=1, h0 of shape (1, B, H)",
                   hint="h0 may come as (1, B, H), nn.RNN's layout: use h0[0] and return its gradient in h0's "
                        "shape; " + HINT)


@pytest.mark.grade("bptt", points=1)
def test_bptt_float32(submission, reference, device):
    args = _bptt_args(T=8, B=3, I=4, H=5, device=device, dtype=F32)
    truth = reference.bptt(*[None if a is None else a.double() for a in args])
    truth = {k: None if v is None else v.float() for k, v in truth.items()}
    _compare_grads(submission.bptt(*args), truth, "bptt in float32 (compared with the float64 truth)",
                   atol=1e-4, rtol=1e-3,
                   hint="keep the inputs' dtype (torch.zeros_like) and compute in it; " + HINT)


# ---------------------------------------------------------------------------------------------
# train_step
# ---------------------------------------------------------------------------------------------

def _compare_modules(what, got_model, expected_model, atol=None, rtol=None, hint=None):
    for (name, got), expected in zip(got_model.state_dict().items(), expected_model.state_dict().values()):
        if not got.is_floating_point():
            continue
        expect_close(f"{what}: {name}", got, expected, atol=atol, rtol=rtol, hint=hint)


STEP_HINT = ("model.train(); optimizer.zero_grad(); forward over the whole sequence (the prediction is model(x), "
             "or its first element when it returns a tuple); loss = loss_fn(prediction, y); loss.backward(); "
             "optimizer.step(); return loss.item()")


def _run_both(submission, reference, model, make_optimizer, x, y, loss_fn, prepare=None):
    """Train a copy with each; return (their loss, their model, our loss, our model)."""
    theirs, ours = copy.deepcopy(model), copy.deepcopy(model)
    if prepare is not None:
        prepare(theirs)
        prepare(ours)
    got = submission.train_step(theirs, x, y, make_optimizer(theirs), copy.deepcopy(loss_fn))
    expected = reference.train_step(ours, x, y, make_optimizer(ours), copy.deepcopy(loss_fn))
    return got, theirs, expected, ours


@pytest.mark.grade("train_step", points=2)
def test_train_step_rnn_sgd(submission, reference, device):
    model = nn.RNN(3, 5).to(device, F64)
    x = torch.randn(7, 4, 3, dtype=F64, device=device)
    y = torch.randn(7, 4, 5, dtype=F64, device=device)
    got, theirs, expected, ours = _run_both(submission, reference, model,
                                            lambda m: torch.optim.SGD(m.parameters(), lr=0.3), x, y, nn.MSELoss())
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

    got, theirs, expected, ours = _run_both(
        submission, reference, model, lambda m: torch.optim.SGD(m.parameters(), lr=0.2, momentum=0.9),
        x, y, nn.MSELoss(), prepare=stale)
    expect_float("train_step's loss with stale gradients", got, expected, rel=1e-9, abs_=1e-12, hint=STEP_HINT)
    _compare_modules("after train_step with gradients left from an earlier batch", theirs, ours,
                     hint="call optimizer.zero_grad() before loss.backward(): backward adds into .grad")


@pytest.mark.grade("train_step", points=1)
def test_train_step_model_in_eval_mode(submission, reference, device):
    T, B = 5, 4
    model = nn.Sequential(nn.Flatten(0, 1), nn.Linear(3, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 2),
                          nn.Unflatten(0, (T, B))).to(device, F64)
    model.eval()
    x = torch.randn(T, B, 3, dtype=F64, device=device)
    y = torch.randn(T, B, 2, dtype=F64, device=device)
    got, theirs, expected, ours = _run_both(submission, reference, model,
                                            lambda m: torch.optim.Adam(m.parameters(), lr=0.05), x, y, nn.MSELoss())
    hint = "call model.train() first: in eval mode BatchNorm uses its running statistics and dropout is off"
    expect_float("train_step's loss, model handed over in eval mode", got, expected, rel=1e-9, abs_=1e-12, hint=hint)
    _compare_modules("after train_step, model handed over in eval mode (parameters and BatchNorm statistics)",
                     theirs, ours, hint=hint)


@pytest.mark.grade("train_step", points=1)
def test_train_step_lstm_float32(submission, reference, device):
    model = nn.LSTM(4, 6).to(device, F32)
    x = torch.randn(9, 2, 4, device=device)
    y = torch.randn(9, 2, 6, device=device)
    theirs = copy.deepcopy(model)
    got = submission.train_step(theirs, x, y, torch.optim.SGD(theirs.parameters(), lr=0.1), nn.MSELoss())
    truth = copy.deepcopy(model).double()
    expected = reference.train_step(truth, x.double(), y.double(), torch.optim.SGD(truth.parameters(), lr=0.1),
                                    nn.MSELoss())
    expect_float("train_step's loss (nn.LSTM, float32)", got, expected, rel=1e-4, abs_=1e-6, hint=STEP_HINT)
    _compare_modules("after train_step (nn.LSTM, float32, compared with float64)", theirs, truth.float(),
                     atol=1e-4, rtol=1e-3, hint=STEP_HINT)


@pytest.mark.grade("train_step", points=1)
def test_train_step_classifier_one_step_one_sequence(submission, reference, device):
    model = nn.Sequential(nn.Flatten(0, 1), nn.Linear(3, 4)).to(device, F64)
    x = torch.randn(1, 1, 3, dtype=F64, device=device)
    y = torch.tensor([2], device=device)
    got, theirs, expected, ours = _run_both(submission, reference, model,
                                            lambda m: torch.optim.SGD(m.parameters(), lr=1.0), x, y,
                                            nn.CrossEntropyLoss())
    expect_float("train_step's loss (T=1, B=1, CrossEntropyLoss)", got, expected, rel=1e-9, abs_=1e-12,
                 hint=STEP_HINT)
    _compare_modules("after train_step (T=1, B=1)", theirs, ours, hint=STEP_HINT)
