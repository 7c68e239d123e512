"""Hidden suite, Day 16 intermediate: tbptt_train, clip_grad_norm, hidden_grad_norms against the references."""
from __future__ import annotations

import copy
import re

import pytest
import torch
from torch import nn

from solutions.checking import expect_close, expect_floats, fail

F64 = torch.float64
F32 = torch.float32


# ---------------------------------------------------------------------------------------------
# tbptt_train
# ---------------------------------------------------------------------------------------------

TBPTT_HINT = ("per chunk of k steps (the last one may be shorter): zero_grad, forward from the carried state, "
              "loss_fn(head(out), y_chunk), backward, clip_grad_norm_ over model and head parameters when clip is "
              "not None, step, then detach the state (h and c for an LSTM)")
DETACH_HINT = ("detach the carried hidden state after each chunk (for an LSTM each of h and c): otherwise the next "
               "chunk's backward runs into the previous chunk's graph, which is already freed")


def _stream(T, B, I, O, device, dtype=F64):
    return torch.randn(T, B, I, dtype=dtype, device=device), torch.randn(T, B, O, dtype=dtype, device=device)


def _optimizer(kind, params):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.3)
    if kind == "small":  # float32 tests: keeps CUDA's float32 gradient noise (~2e-4) small in the parameters
        return torch.optim.SGD(params, lr=0.05)
    if kind == "momentum":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9)
    return torch.optim.Adam(params, lr=0.02)


def _train(fn, model, head, stream, k, opt_kind, clip):
    model, head = copy.deepcopy(model), copy.deepcopy(head)
    optimizer = _optimizer(opt_kind, [*model.parameters(), *head.parameters()])
    try:
        losses = fn(model, head, stream, k, optimizer, nn.MSELoss(), clip)
    except RuntimeError as exc:
        if re.search("second time|modified by an inplace operation", str(exc)):
            fail(f"tbptt_train raised RuntimeError: {str(exc)[:160]}...", DETACH_HINT)
        raise
    return losses, model, head


CLIP_IN_TBPTT_HINT = ("clip once per chunk, after backward and before step, with one global norm over the parameters "
                      "of model and head together (torch.nn.utils.clip_grad_norm_), not parameter by parameter")


def _compare_training(what, got, expected, rel=1e-9, abs_=1e-12, atol=None, rtol=None, hint=TBPTT_HINT):
    (got_losses, got_model, got_head), (losses, model, head) = got, expected
    expect_floats(f"{what}: chunk losses", got_losses, losses, rel=rel, abs_=abs_, label="chunk", hint=hint)
    for label, theirs, ours in (("model", got_model, model), ("head", got_head, head)):
        for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
            expect_close(f"{what}: {label} parameter {name} after training", p.detach(), q.detach().to(p.dtype),
                         atol=atol, rtol=rtol, hint=hint)


def _check_tbptt(submission, reference, model, head, stream, k, opt_kind="sgd", clip=None, what="tbptt_train"):
    got = _train(submission.tbptt_train, model, head, stream, k, opt_kind, clip)
    expected = _train(reference.tbptt_train, model, head, stream, k, opt_kind, clip)
    _compare_training(what, got, expected, hint=TBPTT_HINT if clip is None else CLIP_IN_TBPTT_HINT)


@pytest.mark.grade("tbptt_train", points=2)
def test_tbptt_rnn(submission, reference, device):
    model, head = nn.RNN(3, 6).to(device, F64), nn.Linear(6, 2).to(device, F64)
    _check_tbptt(submission, reference, model, head, _stream(20, 3, 3, 2, device), k=5,
                 what="tbptt_train, nn.RNN, T=20, k=5")


@pytest.mark.grade("tbptt_train", points=2)
def test_tbptt_lstm_state_tuple(submission, reference, device):
    model, head = nn.LSTM(2, 5).to(device, F64), nn.Linear(5, 2).to(device, F64)
    _check_tbptt(submission, reference, model, head, _stream(16, 2, 2, 2, device), k=4, opt_kind="momentum",
                 what="tbptt_train, nn.LSTM (state (h, c)), T=16, k=4")


@pytest.mark.grade("tbptt_train", points=1)
def test_tbptt_last_chunk_shorter_two_layer_gru(submission, reference, device):
    model, head = nn.GRU(3, 4, num_layers=2).to(device, F64), nn.Linear(4, 1).to(device, F64)
    _check_tbptt(submission, reference, model, head, _stream(23, 2, 3, 1, device), k=5, opt_kind="adam",
                 what="tbptt_train, 2-layer nn.GRU, T=23, k=5 (last chunk of 3)")


@pytest.mark.grade("tbptt_train", points=1)
def test_tbptt_with_clipping(submission, reference, device):
    model, head = nn.RNN(3, 5).to(device, F64), nn.Linear(5, 3).to(device, F64)
    stream = _stream(12, 4, 3, 3, device)
    _check_tbptt(submission, reference, model, head, stream, k=3, clip=0.05,
                 what="tbptt_train, clip=0.05 (clipping on every chunk)")
    _check_tbptt(submission, reference, model, head, stream, k=3, clip=100.0,
                 what="tbptt_train, clip=100 (never reached)")


@pytest.mark.grade("tbptt_train", points=1)
def test_tbptt_one_chunk_and_one_step_chunks(submission, reference, device):
    model, head = nn.RNN(2, 3).to(device, F64), nn.Linear(3, 2).to(device, F64)
    stream = _stream(6, 1, 2, 2, device)
    _check_tbptt(submission, reference, model, head, stream, k=10, what="tbptt_train, k=10 > T=6 (one chunk)")
    _check_tbptt(submission, reference, model, head, stream, k=1, what="tbptt_train, k=1 (chunks of one step)")


@pytest.mark.grade("tbptt_train", points=1)
def test_tbptt_float32(submission, reference, device):
    model, head = nn.LSTM(3, 4).to(device, F32), nn.Linear(4, 2).to(device, F32)
    inputs, targets = _stream(12, 3, 3, 2, device, dtype=F32)
    got = _train(submission.tbptt_train, model, head, (inputs, targets), 4, "small", None)
    truth = _train(reference.tbptt_train, copy.deepcopy(model).double(), copy.deepcopy(head).double(),
                   (inputs.double(), targets.double()), 4, "small", None)
    _compare_training("tbptt_train in float32 (compared with float64)", got, truth, rel=1e-4, abs_=1e-6,
                      atol=1e-4, rtol=1e-3)


# ---------------------------------------------------------------------------------------------
# clip_grad_norm
# ---------------------------------------------------------------------------------------------

CLIP_HINT = ("one global L2 norm over every gradient entry of every parameter; multiply every gradient in place by "
             "min(1, max_norm / (total_norm + 1e-6)); return the norm before clipping as a 0-dim tensor")


def _leaves(specs, device, dtype=F64):
    """Two independent, identical lists of leaf tensors; a spec is (shape, gradient scale or None)."""
    ours, theirs = [], []
    for shape, scale in specs:
        p = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
        q = p.detach().clone().requires_grad_(True)
        if scale is not None:
            p.grad = torch.randn(shape, dtype=dtype, device=device) * scale
            q.grad = p.grad.clone()
        theirs.append(p)
        ours.append(q)
    return theirs, ours


def _compare_clip(what, got, theirs, expected, ours, atol=None, rtol=None):
    expect_close(f"{what}: returned total norm", got, expected, atol=atol, rtol=rtol, hint=CLIP_HINT)
    for i, (p, q) in enumerate(zip(theirs, ours)):
        if q.grad is None:
            if p.grad is not None:
                fail(f"{what}: parameter {i} had no gradient and should have none after clipping.",
                     "skip parameters whose .grad is None")
            continue
        expect_close(f"{what}: gradient of parameter {i}", p.grad, q.grad, atol=atol, rtol=rtol, hint=CLIP_HINT)


@pytest.mark.grade("clip_grad_norm", points=2)
def test_clip_rnn_gradients(submission, reference, device):
    model = nn.LSTM(3, 5).to(device, F64)
    x = torch.randn(10, 2, 3, dtype=F64, device=device)
    model(x)[0].pow(2).sum().backward()
    theirs, ours = copy.deepcopy(model), copy.deepcopy(model)  # deepcopy drops .grad: give each its own
    for m in (theirs, ours):
        for p, q in zip(m.parameters(), model.parameters()):
            p.grad = q.grad.clone()
    got = submission.clip_grad_norm(list(theirs.parameters()), 0.5)
    expected = reference.clip_grad_norm(list(ours.parameters()), 0.5)
    _compare_clip("clip_grad_norm of an LSTM's gradients, max_norm=0.5", got, list(theirs.parameters()), expected,
                  list(ours.parameters()))


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_uneven_gradients(submission, reference, device):
    # One large and one small gradient: per-parameter clipping would treat them differently.
    theirs, ours = _leaves([((6, 4), 5.0), ((4,), 0.01), ((3, 3), 0.3)], device)
    got = submission.clip_grad_norm(theirs, 1.0)
    expected = reference.clip_grad_norm(ours, 1.0)
    _compare_clip("clip_grad_norm, one large and two small gradients, max_norm=1", got, theirs, expected, ours)


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_not_reached(submission, reference, device):
    theirs, ours = _leaves([((3, 2), 0.1), ((2,), 0.1)], device)
    got = submission.clip_grad_norm(theirs, 10.0)
    expected = reference.clip_grad_norm(ours, 10.0)
    _compare_clip("clip_grad_norm, total norm below max_norm (gradients unchanged)", got, theirs, expected, ours)


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_skips_parameters_without_grad(submission, reference, device):
    theirs, ours = _leaves([((2, 2), None), ((5,), 3.0), ((3,), None), ((2, 3), 2.0)], device)
    got = submission.clip_grad_norm(theirs, 0.7)
    expected = reference.clip_grad_norm(ours, 0.7)
    _compare_clip("clip_grad_norm, parameters 0 and 2 without gradient", got, theirs, expected, ours)


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_single_tensor(submission, reference, device):
    theirs, ours = _leaves([((7,), 4.0)], device)
    got = submission.clip_grad_norm(theirs[0], 2.0)
    expected = reference.clip_grad_norm(ours[0], 2.0)
    _compare_clip("clip_grad_norm of a single tensor (not in a list)", got, theirs, expected, ours)


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_float32(submission, reference, device):
    theirs, _ = _leaves([((8, 8), 3.0), ((8,), 1.0)], device, dtype=F32)
    truth = [p.detach().double().requires_grad_(True) for p in theirs]
    for q, p in zip(truth, theirs):
        q.grad = p.grad.double()
    got = submission.clip_grad_norm(theirs, 1.0)
    expected = reference.clip_grad_norm(truth, 1.0).float()
    expected_leaves = [q.detach().float().requires_grad_(True) for q in truth]
    for e, q in zip(expected_leaves, truth):
        e.grad = q.grad.float()
    _compare_clip("clip_grad_norm in float32 (compared with float64)", got, theirs, expected, expected_leaves,
                  atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# hidden_grad_norms
# ---------------------------------------------------------------------------------------------

NORMS_HINT = ("run the rnn one step at a time (rnn(x[t:t+1], state)), keep the hidden state h_t each step hands on "
              "(h of (h, c) for an LSTM), then torch.autograd.grad(h_{T-1}[-1].sum(), [h_0, ..., h_{T-1}]) and "
              "take the norm of each gradient")


def _check_norms(submission, reference, rnn, x, what, atol=None, rtol=None, truth=None):
    theirs = copy.deepcopy(rnn)
    got = submission.hidden_grad_norms(theirs, x)
    expected = reference.hidden_grad_norms(copy.deepcopy(rnn), x) if truth is None else truth
    expect_close(what, got, expected, atol=atol, rtol=rtol, dims={"time step": 0}, hint=NORMS_HINT)
    for name, p in theirs.named_parameters():
        if p.grad is not None:
            fail(f"{what}: hidden_grad_norms left a gradient on the rnn's parameter {name}.",
                 "use torch.autograd.grad(loss, states) instead of loss.backward(): it leaves .grad alone")
    return expected


@pytest.mark.grade("hidden_grad_norms", points=2)
def test_norms_rnn(submission, reference, device):
    rnn = nn.RNN(3, 6).to(device, F64)
    _check_norms(submission, reference, rnn, torch.randn(10, 4, 3, dtype=F64, device=device),
                 "hidden_grad_norms, nn.RNN, T=10")


@pytest.mark.grade("hidden_grad_norms", points=2)
def test_norms_lstm_and_gru(submission, reference, device):
    x = torch.randn(8, 2, 4, dtype=F64, device=device)
    _check_norms(submission, reference, nn.LSTM(4, 5).to(device, F64), x,
                 "hidden_grad_norms, nn.LSTM (gradient with respect to h of (h, c))")
    _check_norms(submission, reference, nn.GRU(4, 3).to(device, F64), x, "hidden_grad_norms, nn.GRU")


@pytest.mark.grade("hidden_grad_norms", points=1)
def test_norms_vanish(submission, reference, device):
    rnn = nn.RNN(2, 8).to(device, F64)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.25)
    expected = _check_norms(submission, reference, rnn, torch.randn(30, 3, 2, dtype=F64, device=device),
                            "hidden_grad_norms, small W_hh, T=30 (vanishing gradients)")
    assert expected[0] < 1e-6 * expected[-1], "the kit's own vanishing-gradient example no longer vanishes"


@pytest.mark.grade("hidden_grad_norms", points=1)
def test_norms_single_step(submission, reference, device):
    rnn = nn.GRU(3, 4).to(device, F64)
    x = torch.randn(1, 5, 3, dtype=F64, device=device)
    truth = torch.full((1,), (5 * 4) ** 0.5, dtype=F64, device=device)  # dL/dh_0 is all ones
    _check_norms(submission, reference, rnn, x, "hidden_grad_norms, T=1 (the norm of a (B, H) block of ones)",
                 truth=truth)


@pytest.mark.grade("hidden_grad_norms", points=1)
def test_norms_two_layers(submission, reference, device):
    rnn = nn.RNN(3, 4, num_layers=2).to(device, F64)
    _check_norms(submission, reference, rnn, torch.randn(6, 2, 3, dtype=F64, device=device),
                 "hidden_grad_norms, 2-layer nn.RNN (h_t is the whole (2, B, H) state)")


@pytest.mark.grade("hidden_grad_norms", points=1)
def test_norms_float32(submission, reference, device):
    rnn = nn.LSTM(3, 5).to(device, F32)
    x = torch.randn(12, 2, 3, device=device)
    truth = reference.hidden_grad_norms(copy.deepcopy(rnn).double(), x.double()).float()
    _check_norms(submission, reference, rnn, x, "hidden_grad_norms in float32 (compared with float64)",
                 atol=1e-4, rtol=1e-3, truth=truth)
