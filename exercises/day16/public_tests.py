"""Public checks for Day 16: fixed inputs, PyTorch itself as the answer key.

The answer keys come from autograd, ``nn.RNN``/``nn.RNNCell``/``nn.LSTMCell``,
``torch.nn.utils.clip_grad_norm_`` and plainly written PyTorch training loops.
Run them with ``make check`` or, in a notebook, ``check(bptt)``.
"""
from __future__ import annotations

import copy
import re
import warnings

import torch
from torch import nn

from checking import (NotAttempted, call, expect_close, expect_equal, expect_float, expect_floats, expect_type, fail,
                      public_check)
from misuse import RecipeError, run_misuse

F64 = torch.float64

X_DIMS = {"time step": 0, "batch row": 1, "input feature": 2}
H_DIMS = {"batch row": 0, "hidden unit": 1}


def _params_of(*modules):
    return [p for m in modules for p in m.parameters()]


def _expect_same_parameters(what, got_modules, expected_modules, hint):
    for got_m, exp_m in zip(got_modules, expected_modules):
        for (name, got), expected in zip(got_m.named_parameters(), exp_m.parameters()):
            expect_close(f"{what}: parameter {name}", got.detach(), expected.detach(), hint=hint)


# ---------------------------------------------------------------------------------------------
# bptt
# ---------------------------------------------------------------------------------------------

BPTT_HINTS = {
    "W_ih": "dW_ih sums da_t.T @ x[t] over every step, where da_t = dh_t * (1 - h_t**2) and dh_t = "
            "grad_output[t] + da_{t+1} @ W_hh (the recurrent term)",
    "W_hh": "dW_hh sums da_t.T @ h_{t-1} over every step, with h_{-1} = h0 at the first step; "
            "da_t = dh_t * (1 - h_t**2) and dh_t includes the recurrent term da_{t+1} @ W_hh",
    "b_ih": "each bias gradient is da_t summed over the batch rows and over all time steps",
    "b_hh": "each bias gradient is da_t summed over the batch rows and over all time steps",
    "x": "dx[t] = da_t @ W_ih, with da_t = (grad_output[t] + da_{t+1} @ W_hh) * (1 - h_t**2)",
    "h0": "the gradient reaching h0 is da_0 @ W_hh: the recurrent term of the first step",
}
BPTT_DIMS = {
    "x": X_DIMS, "h0": H_DIMS, "W_ih": {"hidden unit": 0, "input feature": 1},
    "W_hh": {"hidden unit (row)": 0, "hidden unit (column)": 1},
    "b_ih": {"hidden unit": 0}, "b_hh": {"hidden unit": 0},
}
BPTT_KEYS = ("W_ih", "W_hh", "b_ih", "b_hh", "x", "h0")


def _bptt_case(T=4, B=2, I=3, H=5, bias=True, h0_layer_dim=False, last_step_only=False, seed=16):
    """Inputs and autograd's gradients of sum(output * grad_output) for a one-layer nn.RNN."""
    torch.manual_seed(seed)
    rnn = nn.RNN(I, H, bias=bias).double()
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(2.0)  # recurrent weights large enough to matter
    x = torch.randn(T, B, I, dtype=F64, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=F64, requires_grad=True)
    grad_output = torch.randn(T, B, H, dtype=F64)
    if last_step_only:
        grad_output[:-1] = 0
    output, _ = rnn(x, h0)
    output.backward(grad_output)
    expected = {"x": x.grad, "h0": h0.grad if h0_layer_dim else h0.grad[0],
                "W_ih": rnn.weight_ih_l0.grad, "W_hh": rnn.weight_hh_l0.grad,
                "b_ih": rnn.bias_ih_l0.grad if bias else None, "b_hh": rnn.bias_hh_l0.grad if bias else None}
    args = (x.detach().clone(), (h0 if h0_layer_dim else h0[0]).detach().clone(),
            rnn.weight_ih_l0.detach().clone(), rnn.weight_hh_l0.detach().clone(),
            rnn.bias_ih_l0.detach().clone() if bias else None, rnn.bias_hh_l0.detach().clone() if bias else None,
            grad_output)
    return args, expected


def _check_bptt(bptt, args, expected, what, hint_prefix=""):
    got = call(bptt, *args)
    expect_type(f"{what}: the result", got, dict, hint='return a dict with keys "x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"')
    missing = [key for key in BPTT_KEYS if key not in got]
    if missing:
        fail(f"{what}: the result has no key {missing[0]!r} (keys: {sorted(got)}).",
             'return a dict with keys "x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"')
    for key in BPTT_KEYS:
        if expected[key] is None:
            if got[key] is not None:
                fail(f"{what}: the gradient of {key} should be None when {key} is None, got {type(got[key]).__name__}.",
                     "a bias that is None has no gradient: put None in the dict for it")
            continue
        expect_close(f"{what}: gradient of {key}", got[key], expected[key], dims=BPTT_DIMS[key],
                     hint=hint_prefix + BPTT_HINTS[key])


@public_check("bptt")
def bptt_matches_autograd(bptt):
    args, expected = _bptt_case()
    _check_bptt(bptt, args, expected, "bptt, T=4, B=2")


@public_check("bptt")
def bptt_loss_on_last_step_only(bptt):
    args, expected = _bptt_case(T=6, last_step_only=True, seed=161)
    _check_bptt(bptt, args, expected, "bptt, grad_output zero except at the last step",
                hint_prefix="a loss on the last step reaches earlier steps only through the recurrent term "
                            "dh_{t-1} += da_t @ W_hh; ")


@public_check("bptt")
def bptt_without_bias(bptt):
    args, expected = _bptt_case(bias=False, seed=162)
    _check_bptt(bptt, args, expected, "bptt without biases")


@public_check("bptt")
def bptt_h0_with_layer_dim(bptt):
    args, expected = _bptt_case(T=3, B=1, h0_layer_dim=True, seed=163)
    _check_bptt(bptt, args, expected, "bptt, h0 of shape (1, B, H)",
                hint_prefix="h0 may come as (1, B, H) like nn.RNN's: use h0[0] inside and give its gradient "
                            "h0's shape; ")


# ---------------------------------------------------------------------------------------------
# train_step
# ---------------------------------------------------------------------------------------------

def _correct_step(model, x, y, optimizer, loss_fn):
    """A correct full-BPTT step, written out: the answer key."""
    model.train()
    optimizer.zero_grad()
    out = model(x)
    loss = loss_fn(out[0] if isinstance(out, tuple) else out, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _train_step_pair(make_model, make_optimizer, seed):
    torch.manual_seed(seed)
    model = make_model()
    key_model = copy.deepcopy(model)
    return model, make_optimizer(model), key_model, make_optimizer(key_model)


@public_check("train_step")
def train_step_loss_and_update(train_step):
    model, opt, key_model, key_opt = _train_step_pair(lambda: nn.RNN(3, 4).double(),
                                                      lambda m: torch.optim.SGD(m.parameters(), lr=0.5), 160)
    x = torch.randn(5, 2, 3, dtype=F64)
    y = torch.randn(5, 2, 4, dtype=F64)
    loss_fn = nn.MSELoss()
    expected_loss = _correct_step(key_model, x, y, key_opt, loss_fn)
    got = call(train_step, model, x, y, opt, loss_fn)
    expect_float("train_step's returned loss", got, expected_loss, rel=1e-9, abs_=1e-12,
                 hint="return loss.item() of this batch, computed before optimizer.step(); nn.RNN returns "
                      "(output, h_n): the prediction is output")
    _expect_same_parameters("after one train_step", [model], [key_model],
                            "zero_grad, forward over the whole sequence, loss, backward, then optimizer.step()")


@public_check("train_step")
def train_step_clears_stale_gradients(train_step):
    model, opt, key_model, key_opt = _train_step_pair(lambda: nn.GRU(3, 4).double(),
                                                      lambda m: torch.optim.SGD(m.parameters(), lr=0.5), 161)
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)  # left over from an earlier batch
    x = torch.randn(4, 2, 3, dtype=F64)
    y = torch.randn(4, 2, 4, dtype=F64)
    _correct_step(key_model, x, y, key_opt, nn.MSELoss())
    call(train_step, model, x, y, opt, nn.MSELoss())
    _expect_same_parameters("train_step with gradients left over from an earlier batch", [model], [key_model],
                            "call optimizer.zero_grad() before loss.backward(): backward adds to .grad, so old "
                            "gradients would be added to this batch's")


@public_check("train_step")
def train_step_uses_training_mode(train_step):
    def make_model():
        return nn.Sequential(nn.Flatten(0, 1), nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2),
                             nn.Unflatten(0, (5, 3))).double()
    model, opt, key_model, key_opt = _train_step_pair(make_model, lambda m: torch.optim.SGD(m.parameters(), lr=0.5),
                                                      162)
    model.eval()
    key_model.eval()
    x = torch.randn(5, 3, 3, dtype=F64)
    y = torch.randn(5, 3, 2, dtype=F64)
    expected_loss = _correct_step(key_model, x, y, key_opt, nn.MSELoss())
    got = call(train_step, model, x, y, opt, nn.MSELoss())
    hint = ("call model.train() first: a model left in eval mode normalises with BatchNorm's running statistics "
            "and skips dropout, so it trains a different function")
    expect_float("train_step's loss, model handed over in eval mode", got, expected_loss, rel=1e-9, abs_=1e-12,
                 hint=hint)
    _expect_same_parameters("after train_step, model handed over in eval mode", [model], [key_model], hint)


# ---------------------------------------------------------------------------------------------
# tbptt_train
# ---------------------------------------------------------------------------------------------

def _detach_state(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def _tbptt_key(model, head, inputs, targets, k, optimizer, loss_fn, clip=None):
    """Truncated BPTT written out with nn modules and a detach: the answer key."""
    losses, state = [], None
    for chunk_inputs, chunk_targets in zip(inputs.split(k), targets.split(k)):
        optimizer.zero_grad()
        out, state = model(chunk_inputs, state)
        loss = loss_fn(head(out), chunk_targets)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(_params_of(model, head), clip)
        optimizer.step()
        state = _detach_state(state)
        losses += [loss.item()]
    return losses


def _check_tbptt(tbptt_train, module_cls, T, B, k, clip=None, seed=0, what="tbptt_train"):
    torch.manual_seed(seed)
    I, H, O = 2, 5, 2
    model = module_cls(I, H).double()
    head = nn.Linear(H, O).double()
    key_model, key_head = copy.deepcopy(model), copy.deepcopy(head)
    inputs = torch.randn(T, B, I, dtype=F64)
    targets = torch.randn(T, B, O, dtype=F64)
    lr = 0.5
    optimizer = torch.optim.SGD(_params_of(model, head), lr=lr)
    key_optimizer = torch.optim.SGD(_params_of(key_model, key_head), lr=lr)
    expected = _tbptt_key(key_model, key_head, inputs, targets, k, key_optimizer, nn.MSELoss(), clip)
    try:
        got = call(tbptt_train, model, head, (inputs, targets), k, optimizer, nn.MSELoss(), clip)
    except RuntimeError as exc:
        if re.search("second time|modified by an inplace operation", str(exc)):
            fail(f"{what}: your code raised RuntimeError: {str(exc)[:160]}...",
                 "detach the carried hidden state after each chunk (state.detach(); for an LSTM each of h and c): "
                 "otherwise the next chunk's backward runs into the previous chunk's graph, which is already freed")
        raise
    hint = ("per chunk of k steps: zero_grad, forward from the carried state, loss_fn(head(out), y_chunk), backward, "
            "clip (when clip is given), step, then detach the state")
    if clip is not None:
        hint = ("clip once per chunk, after backward and before step, with one global norm over the parameters of "
                "model and head together: torch.nn.utils.clip_grad_norm_([*model.parameters(), "
                "*head.parameters()], clip), not parameter by parameter")
    expect_floats(f"{what}: chunk losses", got, expected, rel=1e-9, abs_=1e-12, label="chunk", hint=hint)
    _expect_same_parameters(f"{what}: after training", [model, head], [key_model, key_head], hint)


@public_check("tbptt_train")
def tbptt_rnn_matches_manual_loop(tbptt_train):
    _check_tbptt(tbptt_train, nn.RNN, T=12, B=2, k=4, seed=164, what="tbptt_train, nn.RNN, T=12, k=4")


@public_check("tbptt_train")
def tbptt_last_chunk_shorter(tbptt_train):
    _check_tbptt(tbptt_train, nn.RNN, T=10, B=3, k=4, seed=165, what="tbptt_train, T=10, k=4 (chunks 4, 4, 2)")


@public_check("tbptt_train")
def tbptt_lstm_state_tuple(tbptt_train):
    _check_tbptt(tbptt_train, nn.LSTM, T=9, B=2, k=3, seed=166, what="tbptt_train, nn.LSTM (state (h, c))")


@public_check("tbptt_train")
def tbptt_with_clipping(tbptt_train):
    _check_tbptt(tbptt_train, nn.GRU, T=8, B=2, k=4, clip=0.05, seed=167,
                 what="tbptt_train, nn.GRU, clip=0.05")


# ---------------------------------------------------------------------------------------------
# clip_grad_norm
# ---------------------------------------------------------------------------------------------

def _grad_pair(shapes_and_scales, seed):
    """Two identical lists of leaf tensors with gradients (None where the scale is None)."""
    torch.manual_seed(seed)
    params, key_params = [], []
    for shape, scale in shapes_and_scales:
        p = torch.randn(shape, dtype=F64, requires_grad=True)
        q = p.detach().clone().requires_grad_(True)
        if scale is not None:
            g = torch.randn(shape, dtype=F64)
            p.grad = g / g.norm() * scale
            q.grad = p.grad.clone()
        params.append(p)
        key_params.append(q)
    return params, key_params


def _check_clip(clip_grad_norm, params, key_params, max_norm, what, pass_as=list):
    expected = torch.nn.utils.clip_grad_norm_(key_params, max_norm)
    got = call(clip_grad_norm, pass_as(params), max_norm)
    expect_close(f"{what}: returned total norm", got, expected,
                 hint="return the global norm before clipping as a 0-dim tensor: sqrt of the sum of squares of "
                      "every gradient entry, over all parameters together")
    for i, (p, q) in enumerate(zip(params, key_params)):
        if q.grad is None:
            if p.grad is not None:
                fail(f"{what}: parameter {i} had no gradient and should still have none.",
                     "skip parameters whose .grad is None")
            continue
        expect_close(f"{what}: gradient of parameter {i} after clipping", p.grad, q.grad,
                     hint="multiply every gradient in place by the same factor min(1, max_norm / (total_norm + 1e-6)): "
                          "one global norm, not one norm per parameter")


@public_check("clip_grad_norm")
def clip_when_the_norm_is_too_large(clip_grad_norm):
    params, key_params = _grad_pair([((4, 3), 3.0), ((4,), 0.5), ((2, 4), 4.0)], seed=168)
    _check_clip(clip_grad_norm, params, key_params, 1.0, "clip_grad_norm, norms 3, 0.5, 4, max_norm=1")


@public_check("clip_grad_norm")
def clip_leaves_small_gradients_alone(clip_grad_norm):
    params, key_params = _grad_pair([((3, 3), 0.6), ((3,), 0.8)], seed=169)
    _check_clip(clip_grad_norm, params, key_params, 5.0, "clip_grad_norm, total norm 1 < max_norm=5")


@public_check("clip_grad_norm")
def clip_skips_missing_gradients_and_takes_a_generator(clip_grad_norm):
    params, key_params = _grad_pair([((2, 3), 2.0), ((3,), None), ((3, 3), 1.5), ((2,), None)], seed=170)
    _check_clip(clip_grad_norm, params, key_params, 0.5,
                "clip_grad_norm over a generator, two parameters without gradient",
                pass_as=lambda ps: (p for p in ps))


@public_check("clip_grad_norm")
def clip_compares_the_norm_itself_with_max_norm(clip_grad_norm):
    # Total norm 3 with max_norm 4 (its square, 9, is above 4) and 0.4 with max_norm 0.25 (its square is below).
    for (shape, total), max_norm in ((((2, 3), 3.0), 4.0), (((5,), 0.4), 0.25)):
        params, key_params = _grad_pair([(shape, total)], seed=172)
        _check_clip(clip_grad_norm, params, key_params, max_norm,
                    f"clip_grad_norm, total norm {total:g}, max_norm={max_norm:g} (compare the norm, not its square)")


@public_check("clip_grad_norm")
def clip_a_single_tensor(clip_grad_norm):
    params, key_params = _grad_pair([((5,), 2.5)], seed=171)
    expected = torch.nn.utils.clip_grad_norm_(key_params[0], 1.0)
    got = call(clip_grad_norm, params[0], 1.0)
    expect_close("clip_grad_norm of a single tensor: returned total norm", got, expected,
                 hint="a single tensor counts as a list of one: check isinstance(parameters, torch.Tensor) first")
    expect_close("clip_grad_norm of a single tensor: its gradient", params[0].grad, key_params[0].grad,
                 hint="a single tensor counts as a list of one: check isinstance(parameters, torch.Tensor) first")


# ---------------------------------------------------------------------------------------------
# hidden_grad_norms
# ---------------------------------------------------------------------------------------------

def _norms_key(rnn, x):
    """||d h_{T-1}.sum() / d h_t|| from the matching nn.*Cell unrolled by hand, with retain_grad."""
    I, H = rnn.input_size, rnn.hidden_size
    cell_cls = {nn.RNN: nn.RNNCell, nn.GRU: nn.GRUCell, nn.LSTM: nn.LSTMCell}[type(rnn)]
    cell = cell_cls(I, H).to(x)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(rnn, name + "_l0"))
    B = x.shape[1]
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    hs = []
    for x_t in x:
        if cell_cls is nn.LSTMCell:
            h, c = cell(x_t, (h, c))
        else:
            h = cell(x_t, h)
        h.retain_grad()
        hs.append(h)
    hs[-1].sum().backward()
    return torch.stack([h.grad.norm() for h in hs])


def _check_norms(hidden_grad_norms, rnn_cls, T, B, weight_scale, seed, what):
    torch.manual_seed(seed)
    rnn = rnn_cls(3, 5).double()
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(weight_scale)
    x = torch.randn(T, B, 3, dtype=F64)
    expected = _norms_key(rnn, x)
    got = call(hidden_grad_norms, rnn, x)
    expect_close(what, got, expected, dims={"time step": 0},
                 hint="run the rnn one step at a time (rnn(x[t:t+1], state)), keep each step's hidden state h_t, "
                      "then torch.autograd.grad(h_{T-1}[-1].sum(), [h_0, ..., h_{T-1}]) and take each gradient's norm; "
                      "a single rnn(x) call gives no access to the states the later steps depend on")
    for name, p in rnn.named_parameters():
        if p.grad is not None:
            fail(f"{what}: hidden_grad_norms left a gradient on the rnn's parameter {name}.",
                 "use torch.autograd.grad(loss, states), which returns gradients without touching .grad, "
                 "instead of loss.backward()")


@public_check("hidden_grad_norms")
def norms_of_an_rnn(hidden_grad_norms):
    _check_norms(hidden_grad_norms, nn.RNN, T=8, B=2, weight_scale=1.0, seed=172,
                 what="hidden_grad_norms, nn.RNN, T=8")


@public_check("hidden_grad_norms")
def norms_vanish_with_small_recurrent_weights(hidden_grad_norms):
    _check_norms(hidden_grad_norms, nn.RNN, T=20, B=3, weight_scale=0.3, seed=173,
                 what="hidden_grad_norms, nn.RNN with small W_hh, T=20")


@public_check("hidden_grad_norms")
def norms_of_an_lstm(hidden_grad_norms):
    _check_norms(hidden_grad_norms, nn.LSTM, T=6, B=2, weight_scale=1.0, seed=174,
                 what="hidden_grad_norms, nn.LSTM (gradient with respect to h of (h, c))")


@public_check("hidden_grad_norms")
def norms_of_a_gru(hidden_grad_norms):
    _check_norms(hidden_grad_norms, nn.GRU, T=5, B=1, weight_scale=1.0, seed=175,
                 what="hidden_grad_norms, nn.GRU, batch of 1")


# ---------------------------------------------------------------------------------------------
# provoke and diagnose
# ---------------------------------------------------------------------------------------------

def _raised(fn):
    with warnings.catch_warnings(record=True):
        try:
            fn()
        except Exception as exc:
            return exc
    raise AssertionError("the answer key's mistake did not raise")


def _genuine_errors():
    """The answer key: each mistake committed here with PyTorch, in several variants: [(kind, exception)]."""
    torch.manual_seed(176)
    lstm, gru = nn.LSTM(2, 3), nn.GRU(2, 3)
    x = torch.randn(5, 2, 2)
    y = torch.randn(5, 2, 3)
    logits = torch.randn(6, 4)

    def backward_twice():
        loss = lstm(x)[0].pow(2).mean()
        loss.backward()
        loss.backward()

    def carried_without_detach():
        state = None
        for part in x.split(2):
            out, state = gru(part, state)
            out.sum().backward()

    def activation_changed_in_place():
        act = torch.tanh(lstm(x)[0])
        act.mul_(2)
        act.sum().backward()

    def weights_changed_before_backward():
        opt = torch.optim.SGD(gru.parameters(), lr=0.1)
        loss = gru(x)[0].sum()
        opt.zero_grad()
        gru(x)[0].sum().backward()
        opt.step()
        loss.backward()

    def update_without_no_grad():
        lstm(x)[0].sum().backward()
        for p in lstm.parameters():
            p -= 0.1 * p.grad

    def loss_under_no_grad():
        with torch.no_grad():
            loss = nn.MSELoss()(gru(x)[0], y)
        loss.backward()

    def loss_from_detached():
        nn.MSELoss()(lstm(x)[0].detach(), y).backward()

    def frozen_model():
        frozen = nn.RNN(2, 3).requires_grad_(False)
        nn.L1Loss()(frozen(x)[0], y).backward()

    long_labels = torch.randint(0, 4, (6,))
    on_gpu = []
    if torch.cuda.is_available():  # a GPU's own wordings, for a provoke that uses it
        on_gpu = [
            ("device_mismatch", _raised(lambda: nn.Linear(2, 3).cuda()(torch.randn(4, 2)))),
            ("device_mismatch", _raised(lambda: nn.GRU(2, 3).cuda()(x))),
            ("device_mismatch", _raised(lambda: nn.MSELoss()(torch.randn(3, device="cuda"), torch.randn(3)))),
            ("target_dtype", _raised(lambda: nn.CrossEntropyLoss()(logits.cuda(), long_labels.float().cuda()))),
        ]
    return on_gpu + [
        ("backward_twice", _raised(backward_twice)),
        ("backward_twice", _raised(carried_without_detach)),
        ("inplace_modification", _raised(activation_changed_in_place)),
        ("inplace_modification", _raised(weights_changed_before_backward)),
        ("inplace_modification", _raised(update_without_no_grad)),
        ("loss_without_grad", _raised(loss_under_no_grad)),
        ("loss_without_grad", _raised(loss_from_detached)),
        ("loss_without_grad", _raised(frozen_model)),
        ("target_dtype", _raised(lambda: nn.CrossEntropyLoss()(logits, long_labels.float()))),
        ("target_dtype", _raised(lambda: nn.NLLLoss()(logits.log_softmax(1), long_labels.int()))),
        ("target_dtype", _raised(lambda: nn.CrossEntropyLoss()(logits, torch.zeros(6, 4, dtype=torch.long)))),
        ("target_dtype", _raised(lambda: nn.BCELoss()(logits.sigmoid(), torch.ones(6, 4, dtype=torch.long)))),
        ("target_dtype", _raised(lambda: nn.BCEWithLogitsLoss()(logits, torch.ones(6, 4, dtype=torch.long)))),
        ("target_shape", _raised(lambda: nn.CrossEntropyLoss()(logits, long_labels[:3]))),
        ("target_shape", _raised(lambda: nn.CrossEntropyLoss()(torch.randn(5, 2, 4), torch.zeros(5, 2).long()))),
        ("target_shape", _raised(lambda: nn.CrossEntropyLoss()(logits, torch.zeros(6, 2, dtype=torch.long)))),
        ("target_shape", _raised(lambda: nn.MSELoss()(torch.randn(5, 2, 3), torch.randn(5, 2, 4)))),
        ("target_shape", _raised(lambda: nn.BCEWithLogitsLoss()(logits, torch.rand(6, 1)))),
        ("target_shape", _raised(lambda: nn.BCELoss()(logits.sigmoid(), torch.rand(6, 1)))),
        ("device_mismatch", _raised(lambda: nn.Linear(2, 3).to("meta")(torch.randn(4, 2)))),
        ("device_mismatch", _raised(lambda: nn.GRU(2, 3).to("meta")(x))),
        ("device_mismatch", _raised(lambda: lstm(x, (torch.zeros(1, 2, 3, device="meta"),) * 2))),
        ("device_mismatch", _raised(lambda: nn.MSELoss()(torch.randn(3, device="meta"), torch.randn(3)))),
        ("hidden_shape", _raised(lambda: gru(x, torch.zeros(1, 3, 3)))),
        ("hidden_shape", _raised(lambda: lstm(x, (torch.zeros(1, 4, 3), torch.zeros(1, 4, 3))))),
        ("hidden_shape", _raised(lambda: nn.RNN(2, 3, num_layers=2)(x, torch.zeros(1, 2, 3)))),
        ("hidden_shape", _raised(lambda: gru(x, torch.zeros(2, 3)))),
        ("hidden_shape", _raised(lambda: lstm(x, (torch.zeros(2, 3), torch.zeros(2, 3))))),
    ]


# The kind's key phrase: enough to tell the seven kinds apart (the hidden tests read the whole message).
_KEY_PHRASE = {
    "backward_twice": r"backward through the graph a second time",
    "inplace_modification": r"inplace operation|in-place operation",
    "loss_without_grad": r"does not require grad",
    "target_dtype": r"dtype|scalar type|cast|not implemented for",
    "target_shape": r"size",
    "device_mismatch": r"device",
    "hidden_shape": r"hidden|\bhx\b",
}


@public_check("provoke")
def provoke_returns_a_recipe_that_raises(provoke):
    for kind in _KEY_PHRASE:
        try:
            recipe = call(provoke, kind)
        except NotAttempted:
            raise
        except Exception as raised:
            fail(f"provoke({kind!r}) raised {type(raised).__name__} instead of returning a recipe: {str(raised)[:200]}",
                 "return the mistake as a recipe (a dict in misuse.py's format); run_misuse runs it")
        if isinstance(recipe, BaseException) or not isinstance(recipe, dict):
            fail(f"provoke({kind!r}) returned {type(recipe).__name__}, not a recipe (a dict): the grader only counts "
                 f"an error it sees PyTorch raise when it runs your recipe itself.",
                 "return the mistake as a dict in misuse.py's format; try it with run_misuse(provoke(kind))")
        try:
            exc = run_misuse(recipe)
        except RecipeError as bad:
            fail(f"provoke({kind!r}) returned a recipe that is not in misuse.py's format: {bad}",
                 "see misuse.py's docstring for the keys, the tensor specs and the steps")
        if exc is None:
            fail(f"provoke({kind!r})'s recipe ran without an error.",
                 "the steps must commit the mistake (see the table in the notebook)")
        if type(exc).__name__ not in ("RuntimeError", "ValueError", "NotImplementedError") \
                or not re.search(_KEY_PHRASE[kind], str(exc)):
            fail(f"provoke({kind!r})'s recipe makes PyTorch raise {type(exc).__name__}: {str(exc)[:160]!r}, which is "
                 f"not the error of {kind}.", "commit that very mistake in the recipe's steps (see the notebook's table)")


@public_check("provoke")
def provoke_rejects_unknown_kinds(provoke):
    try:
        result = call(provoke, "forgot_to_breathe")
    except ValueError:
        return
    except NotAttempted:
        raise
    except Exception as raised:
        fail(f"provoke('forgot_to_breathe') raised {type(raised).__name__}, expected ValueError.",
             "raise ValueError for a kind that is not in ERROR_KINDS")
    fail(f"provoke('forgot_to_breathe') returned {type(result).__name__} instead of raising ValueError.",
         "raise ValueError for a kind that is not in ERROR_KINDS")


@public_check("diagnose")
def diagnose_names_genuine_errors(diagnose):
    for kind, exc in _genuine_errors():
        got = call(diagnose, exc)
        expect_equal(f"diagnose({type(exc).__name__}: {str(exc)[:100]!r})", got, kind,
                     hint="match the exception's type and a stable part of its message (re.search); the same "
                          "mistake made with another module or size gives a message with other numbers in it")


@public_check("diagnose")
def diagnose_says_unknown_for_unrelated_errors(diagnose):
    unrelated = [
        ZeroDivisionError("division by zero"),
        KeyError("W_hh"),
        _raised(lambda: nn.Embedding(3, 2)(torch.tensor([7]))),
        _raised(lambda: torch.zeros(2, 3).T.view(6)),
        _raised(lambda: torch.zeros(3).item()),
        _raised(lambda: torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=-1.0)),
    ]
    for exc in unrelated:
        got = call(diagnose, exc)
        expect_equal(f"diagnose({type(exc).__name__}: {str(exc)[:100]!r})", got, "unknown",
                     hint='return "unknown" when neither the type nor the message fits one of ERROR_KINDS')


# ---------------------------------------------------------------------------------------------
# accumulated_grads
# ---------------------------------------------------------------------------------------------

def _accumulation_case(seed):
    torch.manual_seed(seed)
    model = nn.RNN(3, 4).double()
    x = torch.randn(5, 2, 3, dtype=F64)
    y = torch.randn(5, 2, 4, dtype=F64)
    key = copy.deepcopy(model)
    grads = torch.autograd.grad(nn.MSELoss()(key(x)[0], y), list(key.parameters()))
    one = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item()
    return model, x, y, grads, one


@public_check("accumulated_grads")
def accumulated_norms_grow_linearly(accumulated_grads):
    model, x, y, grads, one = _accumulation_case(177)
    got = call(accumulated_grads, model, x, y, nn.MSELoss(), 4)
    expect_floats("accumulated_grads, 4 backwards", got, [one * n for n in range(1, 5)], rel=1e-9, abs_=1e-12,
                  label="backward",
                  hint="after the n-th backward without zero_grad every .grad holds n times the batch's gradient: "
                       "return the global L2 norm over all parameters after each backward")


@public_check("accumulated_grads")
def accumulated_starts_from_zero_and_keeps_the_sum(accumulated_grads):
    model, x, y, grads, one = _accumulation_case(178)
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)  # stale gradients from before
    got = call(accumulated_grads, model, x, y, nn.MSELoss(), 3)
    expect_floats("accumulated_grads with stale gradients before the call", got, [one, 2 * one, 3 * one],
                  rel=1e-9, abs_=1e-12, label="backward",
                  hint="clear the gradients once, before the first backward (model.zero_grad()), and never again")
    for (name, p), g, b in zip(model.named_parameters(), grads, before):
        expect_close(f"the gradient of {name} left after 3 backwards", p.grad, 3 * g,
                     hint="leave the accumulated gradients in .grad when you return: don't zero them afterwards")
        expect_close(f"the parameter {name} after accumulated_grads", p.detach(), b,
                     hint="accumulated_grads only calls backward: no optimizer step, no change to the parameters")


# ---------------------------------------------------------------------------------------------
# regression_loss: the answer key is nn.MSELoss on tensors of one shape (PyTorch's own loss)
# ---------------------------------------------------------------------------------------------

@public_check("regression_loss")
def regression_loss_repairs_a_trailing_one(regression_loss):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(179)
        pred, target = torch.randn(6, 1, dtype=F64, requires_grad=True), torch.randn(6, dtype=F64)
    for p, t, what in ((pred, target, "pred (6, 1), target (6,)"), (pred[:, 0], target[:, None], "pred (6,), target (6, 1)"),
                       (pred[:, 0], target, "pred (6,), target (6,)")):
        got = call(regression_loss, p, t)
        expect_close(f"regression_loss, {what}", got, nn.MSELoss()(pred.detach()[:, 0], target),
                     hint="nn.MSELoss on (N, 1) and (N,) broadcasts to (N, N): drop the trailing 1 first, "
                          "then average (pred - target) ** 2")
    loss = call(regression_loss, pred, target)
    expect_type("regression_loss(...)", loss, torch.Tensor, hint="return the loss as a 0-D tensor, not .item()")
    if loss.grad_fn is None:
        fail("regression_loss(pred, target) has no autograd history: nothing would train.",
             "compute it with tensor operations on pred, no .item(), .detach() or torch.no_grad()")
    grad, = torch.autograd.grad(loss, pred)
    expect_close("d loss / d pred", grad, 2 * (pred.detach()[:, 0] - target)[:, None] / 6,
                 hint="the gradient of a mean over N squared errors is 2 (pred - target) / N")


@public_check("regression_loss")
def regression_loss_refuses_other_mismatches(regression_loss):
    for pred_shape, target_shape in (((6, 2), (6,)), ((12,), (6, 2)), ((6,), (5,)), ((6, 1), (6, 1, 1, 1)),
                                     ((6, 1), (5,))):
        try:
            got = call(regression_loss, torch.zeros(pred_shape, dtype=F64), torch.zeros(target_shape, dtype=F64))
        except ValueError:
            continue
        except NotAttempted:
            raise
        except Exception as raised:
            fail(f"regression_loss(pred {pred_shape}, target {target_shape}) raised {type(raised).__name__}: "
                 f"{str(raised)[:120]}, expected ValueError.", "check the shapes yourself and raise ValueError")
        fail(f"regression_loss(pred {pred_shape}, target {target_shape}) returned {got!r} instead of raising ValueError.",
             "only a trailing dimension of size 1 may differ: never broadcast, never flatten")


# ---------------------------------------------------------------------------------------------
# inputs_for: the answer key is each tensor's own .to(...) with the model's parameter
# ---------------------------------------------------------------------------------------------

def _expect_placed(what, got, original, weight):
    dtype = weight.dtype if original.is_floating_point() else original.dtype
    expect_type(what, got, torch.Tensor, hint="return new tensors, not the model or None")
    expect_equal(f"{what}: dtype", got.dtype, dtype,
                 hint="floating tensors take the parameters' dtype; integer token ids keep theirs")
    expect_equal(f"{what}: device", got.device, weight.device, hint="move it to the parameters' device")
    expect_close(what, got, original.to(weight.device, dtype), hint="only the device and dtype change, not the values")


@public_check("inputs_for")
def inputs_for_matches_the_parameters(inputs_for):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(180)
        rnn, lstm = nn.GRU(3, 4).double(), nn.LSTM(3, 4).double()
        x, h0, c0 = torch.randn(5, 2, 3), torch.zeros(1, 2, 4), torch.ones(1, 2, 4)
    got = call(inputs_for, rnn, x, h0)
    expect_type("inputs_for(gru, x, h0)", got, (tuple, list), hint="return the pair (x, h0)")
    _expect_placed("x from inputs_for(gru float64, x float32, h0)", got[0], x, rnn.weight_hh_l0)
    _expect_placed("h0 from inputs_for(gru float64, x, h0 float32)", got[1], h0, rnn.weight_hh_l0)
    if x.dtype != torch.float32 or h0.dtype != torch.float32:
        fail("inputs_for changed the tensors it was given", "x.to(...) makes a new tensor: return it, leave x alone")
    got = call(inputs_for, lstm, x, (h0, c0))
    if not isinstance(got[1], tuple) or len(got[1]) != 2:
        fail(f"inputs_for(lstm, x, (h0, c0)) gave a state {type(got[1]).__name__}, expected a tuple of two tensors.",
             "an LSTM's state is (h0, c0): move both and return them as a tuple")
    _expect_placed("h0 of an LSTM state", got[1][0], h0, lstm.weight_hh_l0)
    _expect_placed("c0 of an LSTM state", got[1][1], c0, lstm.weight_hh_l0)
    got = call(inputs_for, rnn, x, None)
    if got[1] is not None:
        fail(f"inputs_for(gru, x, None) gave h0 = {type(got[1]).__name__}, expected None.", "h0=None stays None")


@public_check("inputs_for")
def inputs_for_keeps_token_ids_integer(inputs_for):
    model = nn.Sequential(nn.Embedding(10, 3), nn.Linear(3, 2)).double()
    ids = torch.tensor([[1, 2, 3], [4, 5, 9]])
    got = call(inputs_for, model, ids, None)
    _expect_placed("token ids from inputs_for(embedding model, ids int64)", got[0], ids, model[0].weight)


# ---------------------------------------------------------------------------------------------
# project: batchify, get_batch, lm_loss, sample, evaluate (answer keys written out by hand, or
# computed here with nn.GRU / nn.CrossEntropyLoss in the plainest way: the whole text in one call)
# ---------------------------------------------------------------------------------------------

TB_DIMS = {"time step (row)": 0, "batch column": 1}


@public_check("batchify")
def batchify_puts_contiguous_text_in_columns(batchify):
    got = call(batchify, torch.arange(11), 2)
    expect_close("batchify(arange(11), 2)", got, torch.tensor([[0, 5], [1, 6], [2, 7], [3, 8], [4, 9]]), dims=TB_DIMS,
                 hint="column b is stream[b*T:(b+1)*T] with T = N // B: view(B, T) then transpose to (T, B); "
                      "the tail token 10 is dropped")


@public_check("batchify")
def batchify_refuses_more_columns_than_tokens(batchify):
    try:
        call(batchify, torch.arange(3), 4)
    except ValueError:
        return
    except NotAttempted:
        raise
    except Exception as exc:   # noqa: BLE001 - the student's crash is the finding
        fail(f"batchify(arange(3), 4) raised {type(exc).__name__}: {exc}; expected a ValueError.",
             "check N >= batch_size >= 1 first and raise ValueError with a sentence saying why")
    fail("batchify(arange(3), 4) returned a result; expected a ValueError (not even one row of 4 columns).",
         "check N >= batch_size >= 1 first and raise ValueError with a sentence saying why")


@public_check("get_batch")
def get_batch_shifts_the_targets_by_one_row(get_batch):
    source = torch.arange(12).reshape(4, 3)
    got = call(get_batch, source, 0, 2)
    expect_type("get_batch(source, 0, 2)", got, tuple, hint="return the pair (x, y)")
    expect_close("x of get_batch(source (4, 3), 0, 2)", got[0], torch.tensor([[0, 1, 2], [3, 4, 5]]), dims=TB_DIMS,
                 hint="the inputs are rows i .. i+s-1")
    expect_close("y of get_batch(source (4, 3), 0, 2)", got[1], torch.tensor([[3, 4, 5], [6, 7, 8]]), dims=TB_DIMS,
                 hint="the targets are the same rows shifted by one, i+1 .. i+s: each input's next token")


@public_check("get_batch")
def get_batch_shortens_the_last_window(get_batch):
    source = torch.arange(12).reshape(4, 3)
    x, y = call(get_batch, source, 2, 2)
    expect_close("x of get_batch(source (4, 3), 2, 2)", x, torch.tensor([[6, 7, 8]]), dims=TB_DIMS,
                 hint="s = min(k, T - 1 - i): the last target row is row T-1, so this window has one step")
    expect_close("y of get_batch(source (4, 3), 2, 2)", y, torch.tensor([[9, 10, 11]]), dims=TB_DIMS,
                 hint="s = min(k, T - 1 - i): the last target row is row T-1, so this window has one step")


@public_check("lm_loss")
def lm_loss_matches_cross_entropy_position_by_position(lm_loss):
    torch.manual_seed(160)
    logits = torch.randn(3, 2, 5, dtype=F64, requires_grad=True)
    targets = torch.tensor([[0, 4], [2, 2], [3, 1]])
    key_logits = logits.detach().clone().requires_grad_(True)
    ce = nn.CrossEntropyLoss()
    # The mean over positions, one position at a time: no flattening to get wrong.
    key = torch.stack([ce(key_logits[t, b][None], targets[t, b][None]) for t in range(3) for b in range(2)]).mean()
    key.backward()
    got = call(lm_loss, logits, targets)
    expect_close("lm_loss(logits (3, 2, 5), targets (3, 2))", got, key.detach(),
                 hint="flatten logits to (T*B, V) and targets to (T*B,) in the same order (reshape both), then "
                      "F.cross_entropy on the raw logits: the mean over all T*B positions")
    if not got.requires_grad:
        fail("lm_loss: the loss is cut off from autograd.", "don't call .item(), .detach() or torch.no_grad()")
    got.backward()
    expect_close("the gradient of lm_loss with respect to the logits", logits.grad, key_logits.grad,
                 dims={"time step": 0, "batch column": 1, "character": 2},
                 hint="a mean over T*B positions of cross-entropy on raw logits (no softmax before it)")


def _char_model(cell, seed, layers=1, dropout=0.0):
    torch.manual_seed(seed)
    model = getattr(nn, cell)(5, 4, num_layers=layers, dropout=dropout).double()
    head = nn.Linear(4, 5).double()
    with torch.no_grad():   # larger weights than the default: the text drawn depends on all of its context
        for p in [*model.parameters(), *head.parameters()]:
            p.mul_(4)
    return model, head


def _free_run_key(model, head, prefix, n, temperature, seed):
    """The plainest free-running generator: the whole text so far, from the zero state, at every step."""
    model, head = copy.deepcopy(model).eval(), copy.deepcopy(head).eval()
    g = torch.Generator().manual_seed(seed)
    text = prefix.clone()
    with torch.no_grad():
        for _ in range(n):
            out, _ = model(nn.functional.one_hot(text, 5).double().unsqueeze(1))
            logits = head(out[-1])
            if temperature == 0:
                token = torch.argmax(logits, dim=-1)
            else:
                token = torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=g)[:, 0]
            text = torch.cat([text, token])
    return text[len(prefix):]


@public_check("sample")
def sample_greedy_continues_the_prefix(sample):
    model, head = _char_model("GRU", 161)
    prefix = torch.tensor([1, 2, 3, 0, 4])
    key = _free_run_key(model, head, prefix, 6, 0, 0)
    got = call(sample, model, head, prefix, 6, 0.0, 0)
    expect_close("sample(GRU, prefix [1, 2, 3, 0, 4], n=6, temperature=0)", got, key, dims={"generated token": 0},
                 hint="run the prefix once from state None, then feed each new token alone with the state of the "
                      "step before; the next token comes from head(out[-1]) (the last step's output)")


@public_check("sample")
def sample_draws_with_the_seeded_generator(sample):
    model, head = _char_model("LSTM", 162)
    model.train()
    head.eval()
    prefix = torch.tensor([4])
    key = _free_run_key(model, head, prefix, 8, 1.5, 7)
    got = call(sample, model, head, prefix, 8, 1.5, 7)
    expect_close("sample(LSTM, prefix [4], n=8, temperature=1.5, seed=7)", got, key, dims={"generated token": 0},
                 hint="one torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=g) per step, "
                      "g = torch.Generator(device=prefix.device) seeded once with g.manual_seed(seed)")
    if (model.training, head.training) != (True, False):
        fail(f"sample: model.training is {model.training} and head.training {head.training} after the call; they "
             "came in as True and False.", "remember each module's mode first and restore it with .train(mode)")


@public_check("evaluate")
def evaluate_is_exp_of_the_mean_loss_per_token(evaluate):
    model, head = _char_model("RNN", 163, layers=2, dropout=0.5)
    model.train()
    torch.manual_seed(164)
    data = torch.randint(0, 5, (7, 2))
    ref_model, ref_head = copy.deepcopy(model).eval(), copy.deepcopy(head).eval()
    with torch.no_grad():   # the state carried across windows = the whole text in one call
        out, _ = ref_model(nn.functional.one_hot(data[:-1], 5).double())
        key = torch.exp(nn.CrossEntropyLoss()(ref_head(out).reshape(-1, 5), data[1:].reshape(-1))).item()
    got = call(evaluate, model, head, data, 4)
    expect_float("evaluate(2-layer RNN with dropout 0.5, in training mode, data (7, 2), k=4)", got, key, rel=1e-9,
                 abs_=1e-9, hint="eval mode (dropout off) and no_grad; windows of get_batch (rows 0-3, then 4-5), the "
                                 "state carried across them, summed loss of every predicted token / their number, "
                                 "then exp (as a Python float)")
    if not (model.training and head.training):
        fail("evaluate: the model and head came in training mode and went back in eval mode.",
             "remember each module's mode first and restore it with .train(mode) before returning")


@public_check("lm_loss")
def lm_loss_keeps_float32_and_size_one_dimensions(lm_loss):
    torch.manual_seed(165)
    for T, B in ((1, 1), (4, 1)):
        logits = torch.randn(T, B, 3)
        targets = torch.randint(0, 3, (T, B))
        key = torch.stack([nn.CrossEntropyLoss()(logits[t, b][None], targets[t, b][None])
                           for t in range(T) for b in range(B)]).mean()
        got = call(lm_loss, logits, targets)
        expect_close(f"lm_loss(float32 logits ({T}, {B}, 3), targets ({T}, {B}))", got, key,
                     hint="reshape(-1, V) and reshape(-1) keep every position even when T or B is 1 (no squeeze); "
                          "the loss keeps the logits' dtype")


@public_check("evaluate")
def evaluate_one_window_longer_than_the_data(evaluate):
    model, head = _char_model("GRU", 166)
    model.eval()
    head.train()
    torch.manual_seed(167)
    data = torch.randint(0, 5, (5, 3))
    with torch.no_grad():
        out, _ = model(nn.functional.one_hot(data[:-1], 5).double())
        key = torch.exp(nn.CrossEntropyLoss()(head(out).reshape(-1, 5), data[1:].reshape(-1))).item()
    got = call(evaluate, model, head, data, 40)
    expect_float("evaluate(GRU, data (5, 3), k=40): one window of 4 rows", got, key, rel=1e-9, abs_=1e-9,
                 hint="s = min(k, T - 1 - i): a window never reaches past the last target row")
    if (model.training, head.training) != (False, True):
        fail(f"evaluate: model.training and head.training are {(model.training, head.training)} after the call; "
             "they came in as (False, True).", "remember each module's mode first and restore it with .train(mode)")
