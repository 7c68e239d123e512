"""Hidden suite, Day 16 intermediate: tbptt_train, clip_grad_norm, hidden_grad_norms against the references."""
from __future__ import annotations

import copy
import re

import pytest
import torch
from torch import nn

from solutions.checking import expect_close, expect_floats, fail, naming_the_case

F64 = torch.float64
F32 = torch.float32


# ---------------------------------------------------------------------------------------------
# tbptt_train
# ---------------------------------------------------------------------------------------------

TBPTT_HINT = ("per chunk of k steps (the last one may be shorter): zero_grad, forward from the carried state, "
              "loss_fn(head(out), y_chunk), backward, clip_grad_norm_ over model and head parameters when clip is "
              "not None, step, then detach the state (h and c for an LSTM)")
SIZE_ONE_HINT = ("keep every dimension even when it has size 1: no .squeeze(), no indexing that drops a dimension "
                 "of size 1; ")
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


def _train(fn, model, head, stream, k, opt_kind, clip, dtype=None):
    """Train copies of model and head on a copy of the stream: (losses, model, head, optimizer)."""
    model, head = copy.deepcopy(model), copy.deepcopy(head)
    if dtype is not None:
        model, head = model.to(dtype), head.to(dtype)
    stream = tuple(t.detach().to(dtype or t.dtype, copy=True) for t in stream)
    optimizer = _optimizer(opt_kind, [*model.parameters(), *head.parameters()])
    try:
        losses = fn(model, head, stream, k, optimizer, nn.MSELoss(), clip)
    except RuntimeError as exc:
        if re.search("second time|modified by an inplace operation", str(exc)):
            fail(f"tbptt_train raised RuntimeError: {str(exc)[:160]}...", DETACH_HINT)
        raise
    return losses, model, head, optimizer


CLIP_IN_TBPTT_HINT = ("clip once per chunk, after backward and before step, with one global norm over the parameters "
                      "of model and head together (torch.nn.utils.clip_grad_norm_), not parameter by parameter")
MODE_HINT = "call model.train() and head.train() before the first chunk, and leave them on"


def _compare_training(what, got, expected, rel=1e-9, abs_=1e-12, atol=None, rtol=None, hint=TBPTT_HINT):
    (got_losses, got_model, got_head, got_opt), (losses, model, head, opt) = got, expected
    expect_floats(f"{what}: chunk losses", got_losses, losses, rel=rel, abs_=abs_, label="chunk", hint=hint)
    for label, theirs, ours in (("model", got_model, model), ("head", got_head, head)):
        for (name, p), q in zip(theirs.state_dict().items(), ours.state_dict().values()):
            if p.is_floating_point():
                expect_close(f"{what}: {label} {name} after training", p, q.to(p.dtype), atol=atol, rtol=rtol,
                             hint=hint)
        for name, module in theirs.named_modules():
            if not module.training:
                fail(f"{what}: the {label}{' part ' + name if name else ''} is in eval mode after tbptt_train.",
                     MODE_HINT)
    for index, entries in opt.state_dict()["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                mine = got_opt.state_dict()["state"].get(index, {}).get(key)
                if mine is None:
                    fail(f"{what}: the optimizer has no {key!r} for parameter {index} after training.", hint)
                expect_close(f"{what}: optimizer state {key!r} of parameter {index}", mine, value.to(mine.dtype),
                             atol=atol, rtol=rtol, hint="one optimizer.step() per chunk; " + hint)


def _check_tbptt(submission, reference, model, head, stream, k, opt_kind="sgd", clip=None, what="tbptt_train",
                 hint=None):
    expected = _train(reference.tbptt_train, model, head, stream, k, opt_kind, clip)   # first: nothing touched
    with naming_the_case(what, hint):
        got = _train(submission.tbptt_train, model, head, stream, k, opt_kind, clip)
    _compare_training(what, got, expected, hint=hint or (TBPTT_HINT if clip is None else CLIP_IN_TBPTT_HINT))


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
def test_tbptt_size_one_dimensions(submission, reference, device):
    for cls, T, B, I, H, O, k in ((nn.RNN, 1, 2, 3, 4, 2, 3), (nn.LSTM, 5, 1, 2, 3, 2, 2), (nn.GRU, 5, 2, 1, 3, 1, 2),
                                  (nn.LSTM, 5, 2, 3, 1, 2, 2), (nn.RNN, 3, 1, 1, 1, 1, 1)):
        model, head = cls(I, H).to(device, F64), nn.Linear(H, O).to(device, F64)
        _check_tbptt(submission, reference, model, head, _stream(T, B, I, O, device), k=k, opt_kind="momentum",
                     what=f"tbptt_train, {cls.__name__}, T={T}, B={B}, I={I}, H={H}, O={O}, k={k}",
                     hint=SIZE_ONE_HINT + TBPTT_HINT)


@pytest.mark.grade("tbptt_train", points=1)
def test_tbptt_handed_over_in_eval_mode(submission, reference, device):
    T, B, k = 12, 3, 4
    model = nn.GRU(3, 5).to(device, F64).eval()
    # BatchNorm: batch statistics (and updated running ones) in training mode, the running ones in eval mode.
    # (No bias before it: BatchNorm takes the batch mean away, so that bias's gradient is zero up to
    # rounding, and Adam would step it by +-lr on the sign of the rounding: a correct tbptt_train that
    # sums in another order, or runs on another thread count, would then fail.)
    head = nn.Sequential(nn.Flatten(0, 1), nn.Linear(5, 2, bias=False), nn.BatchNorm1d(2), nn.Unflatten(0, (k, B)))
    head = head.to(device, F64).eval()
    _check_tbptt(submission, reference, model, head, _stream(T, B, 3, 2, device), k=k, opt_kind="adam",
                 what="tbptt_train, model and head handed over in eval mode", hint=MODE_HINT)


@pytest.mark.grade("tbptt_train", points=1)
def test_tbptt_float32(submission, reference, device):
    model, head = nn.LSTM(3, 4).to(device, F32), nn.Linear(4, 2).to(device, F32)
    stream = _stream(12, 3, 3, 2, device, dtype=F32)
    truth = _train(reference.tbptt_train, model, head, stream, 4, "small", None, dtype=F64)
    got = _train(submission.tbptt_train, model, head, stream, 4, "small", None)
    _compare_training("tbptt_train in float32 (compared with float64)", got, truth, rel=1e-4, abs_=1e-6,
                      atol=1e-4, rtol=1e-3)


# ---------------------------------------------------------------------------------------------
# clip_grad_norm
# ---------------------------------------------------------------------------------------------

CLIP_HINT = ("one global L2 norm over every gradient entry of every parameter; multiply every gradient in place by "
             "min(1, max_norm / (total_norm + 1e-6)); return the norm before clipping as a 0-dim tensor")
GENERATOR_HINT = ("model.parameters() is a generator: it can be read only once. Make a list of it first "
                  "(parameters = list(parameters)), then compute the norm and scale from that list")


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


def _compare_clip(what, got, theirs, expected, ours, atol=None, rtol=None, hint=CLIP_HINT):
    expect_close(f"{what}: returned total norm", got, expected, atol=atol, rtol=rtol,
                 hint="return the global norm before clipping as a 0-dim tensor on the gradients' device and "
                      "dtype (torch.tensor(0.0) when no tensor has a gradient); " + hint)
    for i, (p, q) in enumerate(zip(theirs, ours)):
        if q.grad is None:
            if p.grad is not None:
                fail(f"{what}: parameter {i} had no gradient and should have none after clipping.",
                     "skip parameters whose .grad is None")
            continue
        expect_close(f"{what}: gradient of parameter {i}", p.grad, q.grad, atol=atol, rtol=rtol, hint=hint)


def _clip_both(submission, reference, theirs, ours, max_norm, what, form="list", **tol):
    """Ours first (the leaves are separate copies); the submission gets a list, a generator or one tensor."""
    expected = reference.clip_grad_norm(ours[0] if form == "tensor" else list(ours), max_norm)
    given = theirs[0] if form == "tensor" else (p for p in theirs) if form == "generator" else list(theirs)
    with naming_the_case(what, CLIP_HINT):
        got = submission.clip_grad_norm(given, max_norm)
    _compare_clip(what, got, theirs, expected, ours, hint=GENERATOR_HINT if form == "generator" else CLIP_HINT,
                  **tol)


@pytest.mark.grade("clip_grad_norm", points=2)
def test_clip_rnn_gradients_from_a_generator(submission, reference, device):
    model = nn.LSTM(3, 5).to(device, F64)
    x = torch.randn(10, 2, 3, dtype=F64, device=device)
    model(x)[0].pow(2).sum().backward()
    theirs, ours = copy.deepcopy(model), copy.deepcopy(model)  # deepcopy drops .grad: give each its own
    for m in (theirs, ours):
        for p, q in zip(m.parameters(), model.parameters()):
            p.grad = q.grad.clone()
    _clip_both(submission, reference, list(theirs.parameters()), list(ours.parameters()), 0.5,
               "clip_grad_norm(model.parameters(), 0.5) of an LSTM's gradients (a generator, read once)",
               form="generator")


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_uneven_gradients(submission, reference, device):
    # One large and one small gradient: per-parameter clipping would treat them differently.
    theirs, ours = _leaves([((6, 4), 5.0), ((4,), 0.01), ((3, 3), 0.3)], device)
    _clip_both(submission, reference, theirs, ours, 1.0, "clip_grad_norm, one large and two small gradients, "
               "max_norm=1")
    if device.type == "cuda":
        # The norm comes back on the first gradient's device (the docstring, as clip_grad_norm_): only a second
        # real device shows it (a meta gradient cannot be copied to the CPU, by torch's clip_grad_norm_ either).
        on_gpu, on_cpu = _leaves([((6, 4), 5.0), ((4,), 0.01)], device), _leaves([((3, 3), 0.3)], "cpu")
        _clip_both(submission, reference, on_gpu[0] + on_cpu[0], on_gpu[1] + on_cpu[1], 1.0,
                   f"clip_grad_norm, two gradients on {device} and the last one on the CPU, max_norm=1")


@pytest.mark.grade("clip_grad_norm", points=2)
def test_clip_around_the_threshold(submission, reference, device):
    # Total norms below, just below, just above max_norm, and between max_norm and sqrt(max_norm) on either
    # side of 1 (where comparing the squared norm with max_norm clips what it should not, or scales up).
    for max_norm, total in ((10.0, 0.3), (4.0, 3.0), (0.25, 0.4), (2.0, 2.0 * (1 - 1e-3)), (2.0, 2.0 * (1 + 1e-3))):
        theirs, ours = _leaves([((3, 2), 1.0), ((2,), 1.0), ((1, 1), 1.0)], device)
        scale = total / float(torch.sqrt(sum((p.grad ** 2).sum() for p in ours)))
        for p, q in zip(theirs, ours):
            p.grad.mul_(scale)
            q.grad.mul_(scale)
        _clip_both(submission, reference, theirs, ours, max_norm,
                   f"clip_grad_norm, total norm {total:g}, max_norm={max_norm:g}")


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_skips_parameters_without_grad(submission, reference, device):
    theirs, ours = _leaves([((2, 2), None), ((5,), 3.0), ((3,), None), ((2, 3), 2.0)], device)
    _clip_both(submission, reference, theirs, ours, 0.7, "clip_grad_norm, parameters 0 and 2 without gradient")
    for specs, what in (([((2, 2), None), ((3,), None)], "no parameter has a gradient"), ([], "an empty list")):
        theirs, ours = _leaves(specs, device)
        _clip_both(submission, reference, theirs, ours, 0.7, f"clip_grad_norm, {what} (returns torch.tensor(0.0))")


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_single_tensor(submission, reference, device):
    theirs, ours = _leaves([((7,), 4.0)], device)
    _clip_both(submission, reference, theirs, ours, 2.0, "clip_grad_norm of a single tensor (not in a list)",
               form="tensor")


@pytest.mark.grade("clip_grad_norm", points=1)
def test_clip_float32(submission, reference, device):
    theirs, _ = _leaves([((8, 8), 3.0), ((8,), 1.0)], device, dtype=F32)
    truth = [p.detach().double().requires_grad_(True) for p in theirs]
    for q, p in zip(truth, theirs):
        q.grad = p.grad.double()
    expected = reference.clip_grad_norm(truth, 1.0).float()
    expected_leaves = [q.detach().float().requires_grad_(True) for q in truth]
    for e, q in zip(expected_leaves, truth):
        e.grad = q.grad.float()
    with naming_the_case("clip_grad_norm in float32", CLIP_HINT):
        got = submission.clip_grad_norm(theirs, 1.0)
    _compare_clip("clip_grad_norm in float32 (compared with float64)", got, theirs, expected, expected_leaves,
                  atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# hidden_grad_norms
# ---------------------------------------------------------------------------------------------

NORMS_HINT = ("run the rnn one step at a time (rnn(x[t:t+1], state)), keep the hidden state h_t each step hands on "
              "(h of (h, c) for an LSTM), then torch.autograd.grad(h_{T-1}[-1].sum(), [h_0, ..., h_{T-1}]) and "
              "take the norm of each gradient")


def _grads_of(rnn):
    return {name: None if p.grad is None else p.grad.detach().clone() for name, p in rnn.named_parameters()}


def _check_norms(submission, reference, rnn, x, what, atol=None, rtol=None, truth=None):
    """Ours first, on copies of the rnn and of x; the rnn's .grad must be as it was after their call."""
    expected = reference.hidden_grad_norms(copy.deepcopy(rnn), x.detach().clone()) if truth is None else truth
    theirs = copy.deepcopy(rnn)
    for p, q in zip(theirs.parameters(), rnn.parameters()):   # deepcopy drops .grad
        p.grad = None if q.grad is None else q.grad.detach().clone()
    before = _grads_of(theirs)
    with naming_the_case(what, NORMS_HINT):
        got = submission.hidden_grad_norms(theirs, x.detach().clone())
    expect_close(what, got, expected, atol=atol, rtol=rtol, dims={"time step": 0}, hint=NORMS_HINT)
    for name, p in theirs.named_parameters():
        if before[name] is None and p.grad is not None:
            fail(f"{what}: hidden_grad_norms left a gradient on the rnn's parameter {name} (it had none; a .grad of "
                 "zeros is not None: an optimizer would still step on it).",
                 "use torch.autograd.grad(loss, states) instead of loss.backward(): it leaves .grad alone")
        if before[name] is not None and (p.grad is None or not torch.equal(p.grad, before[name])):
            fail(f"{what}: hidden_grad_norms changed the gradient already in the rnn's parameter {name}.grad.",
                 "use torch.autograd.grad(loss, states): it leaves .grad alone (no backward, no zero_grad)")
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
    gru = nn.GRU(4, 3).to(device, F64)
    for p in gru.parameters():   # gradients of an earlier batch, still waiting for optimizer.step()
        p.grad = torch.randn_like(p)
    _check_norms(submission, reference, gru, x, "hidden_grad_norms, nn.GRU whose parameters already hold gradients")


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
def test_norms_size_one_dimensions(submission, reference, device):
    for cls, T, B, I, H in ((nn.RNN, 5, 1, 3, 4), (nn.LSTM, 5, 2, 1, 3), (nn.GRU, 5, 2, 3, 1), (nn.LSTM, 1, 1, 1, 1)):
        _check_norms(submission, reference, cls(I, H).to(device, F64),
                     torch.randn(T, B, I, dtype=F64, device=device),
                     f"hidden_grad_norms, {cls.__name__}, T={T}, B={B}, I={I}, H={H}")


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
