"""Hidden suite, Day 16 project: batchify, get_batch, lm_loss, sample, evaluate against the references.

Every truth is computed on copies made before the submission is called (a submission may change its
arguments in place, and the engine writes such changes back). lm_loss is also held against PyTorch's own
nn.CrossEntropyLoss, position by position, so a wrong reference would fail here too. That the reference
sample is the plainest free-running loop is checked once by tests/test_references_day16.py, not again for
every student.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from solutions.checking import expect_close, expect_float, expect_type, fail, naming_the_case

F64 = torch.float64
F32 = torch.float32
TB_DIMS = {"time step (row)": 0, "batch column": 1}
TOKEN_DIMS = {"generated token": 0}

BATCHIFY_HINT = ("column b is stream[b*T:(b+1)*T] with T = N // B: stream[:T*B].view(B, T).t(); the last N - T*B "
                 "tokens are dropped")
GET_BATCH_HINT = "s = min(k, T - 1 - i); x = source[i:i+s], y = source[i+1:i+1+s] (the next row: the next token)"
LOSS_HINT = ("flatten logits to (T*B, V) and targets to (T*B,) the same way (reshape both), then F.cross_entropy on "
             "the raw logits: the mean over all T*B positions")
SAMPLE_HINT = ("run the prefix once from state None; then, n times: logits = head(out[-1]); argmax when temperature "
               "is 0, else torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=g); feed that "
               "one token with the state the step before returned")
EVALUATE_HINT = ("model.eval(), head.eval(), torch.no_grad(); windows of get_batch with the state carried across; sum "
                 "the cross-entropy of every predicted token, divide by (T - 1) * B, return math.exp of that")
MODE_HINT = "remember each module's mode (model.training, head.training) first and restore it with .train(mode)"


# ---------------------------------------------------------------------------------------------
# batchify
# ---------------------------------------------------------------------------------------------

def _check_batchify(submission, reference, stream, batch_size, what):
    truth = reference.batchify(stream.clone(), batch_size)
    with naming_the_case(what, BATCHIFY_HINT):
        got = submission.batchify(stream.clone(), batch_size)
    expect_close(what, got, truth, dims=TB_DIMS, hint=BATCHIFY_HINT)


@pytest.mark.grade("batchify", points=2)
def test_batchify_columns_drop_the_tail(submission, reference, device):
    stream = torch.randint(0, 27, (53,), device=device)
    _check_batchify(submission, reference, stream, 4, "batchify(stream of 53 ids, 4)")
    _check_batchify(submission, reference, torch.arange(14, device=device), 3, "batchify(arange(14), 3)")


@pytest.mark.grade("batchify", points=1)
def test_batchify_exact_fit_one_column_one_row_and_floats(submission, reference, device):
    _check_batchify(submission, reference, torch.arange(12, device=device), 3, "batchify(arange(12), 3): no tail")
    _check_batchify(submission, reference, torch.arange(7, device=device), 1, "batchify(arange(7), 1): one column")
    _check_batchify(submission, reference, torch.arange(5, device=device), 5, "batchify(arange(5), 5): one row")
    _check_batchify(submission, reference, torch.randn(10, dtype=F64, device=device), 2,
                    "batchify(10 float64 values, 2): any dtype")


@pytest.mark.grade("batchify", points=1)
def test_batchify_refuses_impossible_cuts(submission, reference, device):
    for n, b in ((3, 4), (5, 0)):
        try:
            submission.batchify(torch.arange(n, device=device), b)
        except ValueError:
            continue
        except NotImplementedError:
            raise                     # the stub: "not yet attempted", not a wrong answer
        except Exception as exc:  # noqa: BLE001 - the student's crash is the finding
            fail(f"batchify(arange({n}), {b}) raised {type(exc).__name__}: {str(exc)[:200]}; expected ValueError.",
                 "check 1 <= batch_size <= N first and raise ValueError")
        fail(f"batchify(arange({n}), {b}) returned a result; expected a ValueError.",
             "check 1 <= batch_size <= N first and raise ValueError")


# ---------------------------------------------------------------------------------------------
# get_batch
# ---------------------------------------------------------------------------------------------

def _check_get_batch(submission, reference, source, i, k):
    what = f"get_batch(source {tuple(source.shape)}, i={i}, k={k})"
    truth = reference.get_batch(source.clone(), i, k)
    with naming_the_case(what, GET_BATCH_HINT):
        got = submission.get_batch(source.clone(), i, k)
    expect_type(what, got, tuple, hint="return the pair (x, y) as a tuple")
    if len(got) != 2:
        fail(f"{what}: expected a pair (x, y), got {len(got)} items.", "return (x, y)")
    expect_close(f"x of {what}", got[0], truth[0], dims=TB_DIMS, hint=GET_BATCH_HINT)
    expect_close(f"y of {what}", got[1], truth[1], dims=TB_DIMS, hint=GET_BATCH_HINT)


@pytest.mark.grade("get_batch", points=2)
def test_get_batch_every_window_of_a_pass(submission, reference, device):
    source = torch.randint(0, 27, (10, 3), device=device)
    for i in range(0, 9, 4):          # 0, 4, 8: the last window has one step
        _check_get_batch(submission, reference, source, i, 4)


@pytest.mark.grade("get_batch", points=1)
def test_get_batch_window_longer_than_the_source_and_one_column(submission, reference, device):
    _check_get_batch(submission, reference, torch.randint(0, 27, (6, 2), device=device), 0, 20)
    _check_get_batch(submission, reference, torch.randint(0, 27, (5, 1), device=device), 1, 2)


# ---------------------------------------------------------------------------------------------
# lm_loss
# ---------------------------------------------------------------------------------------------

def _check_lm_loss(submission, reference, T, B, V, device, dtype=F64):
    what = f"lm_loss(logits ({T}, {B}, {V}) {str(dtype)[6:]}, targets ({T}, {B}))"
    logits = torch.randn(T, B, V, dtype=dtype, device=device) * 2
    targets = torch.randint(0, V, (T, B), device=device)
    truth_logits = logits.detach().to(F64).requires_grad_(True)
    truth = reference.lm_loss(truth_logits, targets)
    truth.backward()
    # The reference is PyTorch's cross-entropy; held against nn.CrossEntropyLoss one position at a time.
    ce = nn.CrossEntropyLoss()
    by_position = torch.stack([ce(truth_logits.detach()[t, b][None], targets[t, b][None])
                               for t in range(T) for b in range(B)]).mean()
    assert torch.allclose(truth.detach(), by_position), "reference lm_loss disagrees with nn.CrossEntropyLoss"
    mine = logits.detach().clone().requires_grad_(True)
    with naming_the_case(what, LOSS_HINT):
        got = submission.lm_loss(mine, targets.clone())
    expect_close(what, got, truth.detach().to(dtype), hint=LOSS_HINT)
    if got.grad_fn is None:
        fail(f"{what}: the loss is cut off from autograd (no grad_fn).",
             "don't call .item(), .detach() or torch.no_grad() inside lm_loss")
    got.backward()
    expect_close(f"the gradient of {what} with respect to the logits", mine.grad, truth_logits.grad.to(dtype),
                 dims={"time step": 0, "batch column": 1, "character": 2}, hint=LOSS_HINT)


@pytest.mark.grade("lm_loss", points=2)
def test_lm_loss_and_its_gradient_float64(submission, reference, device):
    _check_lm_loss(submission, reference, 4, 3, 7, device)


@pytest.mark.grade("lm_loss", points=1)
def test_lm_loss_float32_and_size_one_dimensions(submission, reference, device):
    _check_lm_loss(submission, reference, 5, 2, 4, device, dtype=F32)
    _check_lm_loss(submission, reference, 1, 1, 3, device)
    _check_lm_loss(submission, reference, 3, 1, 5, device)


# ---------------------------------------------------------------------------------------------
# sample
# ---------------------------------------------------------------------------------------------

def _lm(cell, V, H, device, layers=1, dropout=0.0):
    model = getattr(nn, cell)(V, H, num_layers=layers, dropout=dropout).to(device, F64)
    head = nn.Linear(H, V).to(device, F64)
    with torch.no_grad():       # larger weights than the default: the draws depend on all of their context
        for p in [*model.parameters(), *head.parameters()]:
            p.mul_(4)
    return model, head


def _check_sample(submission, reference, model, head, prefix, n, temperature, seed, what):
    # (That the reference is free-running generation, the whole text from the zero state at every step, is
    # checked once by tests/test_references_day16.py: here it would be the same work again for every student.)
    truth = reference.sample(copy.deepcopy(model), copy.deepcopy(head), prefix.clone(), n, temperature, seed)
    modes = (model.training, head.training)
    # The student's call gets its own copies: a sample that changes the weights cannot move the answer
    # keys of the next cases, which come from the untouched originals.
    model, head = copy.deepcopy(model), copy.deepcopy(head)
    with naming_the_case(what, SAMPLE_HINT):
        got = submission.sample(model, head, prefix.clone(), n, temperature, seed)
    expect_close(what, got, truth, dims=TOKEN_DIMS, hint=SAMPLE_HINT)
    if (model.training, head.training) != modes:
        fail(f"{what}: model.training and head.training were {modes} before the call and "
             f"{(model.training, head.training)} after it.", MODE_HINT)


@pytest.mark.grade("sample", points=2)
def test_sample_greedy_two_layer_gru(submission, reference, device):
    model, head = _lm("GRU", 6, 8, device, layers=2)
    # Several prefixes: the first token after each depends on all of it (out[-1], not out[0]).
    for prefix in ([0, 3, 1, 4], [5, 5, 2], [1, 0, 3, 2, 4], [4, 2]):
        _check_sample(submission, reference, model, head, torch.tensor(prefix, device=device), 10, 0.0, 0,
                      f"sample(2-layer GRU, prefix {prefix}, n=10, temperature=0)")


@pytest.mark.grade("sample", points=2)
def test_sample_lstm_with_temperatures(submission, reference, device):
    model, head = _lm("LSTM", 5, 6, device)
    prefix = torch.tensor([2, 0, 4], device=device)
    for temperature, seed in ((0.5, 3), (2.0, 11)):
        _check_sample(submission, reference, model, head, prefix, 12, temperature, seed,
                      f"sample(LSTM, prefix [2, 0, 4], n=12, temperature={temperature}, seed={seed})")


@pytest.mark.grade("sample", points=1)
def test_sample_hands_the_modules_back_in_their_modes(submission, reference, device):
    model, head = _lm("RNN", 4, 5, device)
    prefix = torch.tensor([1], device=device)
    for model_mode, head_mode in ((True, True), (False, True), (True, False)):
        model.train(model_mode)
        head.train(head_mode)
        _check_sample(submission, reference, model, head, prefix, 5, 1.0, 2,
                      f"sample(RNN, model.training={model_mode}, head.training={head_mode})")


@pytest.mark.grade("sample", points=1)
def test_sample_no_token_and_a_one_token_prefix(submission, reference, device):
    model, head = _lm("GRU", 5, 3, device)
    _check_sample(submission, reference, model, head, torch.tensor([3], device=device), 0, 1.0, 0,
                  "sample(GRU, prefix [3], n=0): an empty (0,) int64 tensor")
    _check_sample(submission, reference, model, head, torch.tensor([3], device=device), 1, 0.0, 0,
                  "sample(GRU, prefix [3], n=1, temperature=0)")


# ---------------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------------

def _check_evaluate(submission, reference, model, head, data, k, what):
    truth = reference.evaluate(copy.deepcopy(model), copy.deepcopy(head), data.clone(), k)
    modes = (model.training, head.training)
    with naming_the_case(what, EVALUATE_HINT):
        got = submission.evaluate(model, head, data.clone(), k)
    expect_float(what, got, truth, rel=1e-9, abs_=1e-9, hint=EVALUATE_HINT)
    if (model.training, head.training) != modes:
        fail(f"{what}: model.training and head.training were {modes} before the call and "
             f"{(model.training, head.training)} after it.", MODE_HINT)


@pytest.mark.grade("evaluate", points=2)
def test_evaluate_windows_with_a_short_last_one(submission, reference, device):
    model, head = _lm("GRU", 6, 5, device)
    data = torch.randint(0, 6, (11, 3), device=device)       # windows of 4: rows 0-3, 4-7, 8-9
    # The truth held against the whole text in one call (a carried state is one long run).
    with torch.no_grad():
        out, _ = model(F.one_hot(data[:-1], 6).to(F64))
        whole = torch.exp(F.cross_entropy(head(out).reshape(-1, 6), data[1:].reshape(-1))).item()
    assert abs(reference.evaluate(copy.deepcopy(model), copy.deepcopy(head), data, 4) - whole) < 1e-9 * whole
    _check_evaluate(submission, reference, model, head, data, 4, "evaluate(GRU, data (11, 3), k=4)")


@pytest.mark.grade("evaluate", points=2)
def test_evaluate_dropout_model_handed_over_in_training_mode(submission, reference, device):
    model, head = _lm("LSTM", 5, 6, device, layers=2, dropout=0.5)
    model.train()
    head.train()
    data = torch.randint(0, 5, (9, 2), device=device)
    _check_evaluate(submission, reference, model, head, data, 3,
                    "evaluate(2-layer LSTM with dropout 0.5, handed over in training mode, data (9, 2), k=3)")
    model.eval()
    _check_evaluate(submission, reference, model, head, data, 3,
                    "evaluate(the same LSTM handed over in eval mode, head in training mode)")


@pytest.mark.grade("evaluate", points=1)
def test_evaluate_window_longer_than_the_data_and_two_rows(submission, reference, device):
    model, head = _lm("RNN", 4, 3, device)
    _check_evaluate(submission, reference, model, head, torch.randint(0, 4, (6, 2), device=device), 50,
                    "evaluate(RNN, data (6, 2), k=50): one window")
    _check_evaluate(submission, reference, model, head, torch.randint(0, 4, (2, 1), device=device), 1,
                    "evaluate(RNN, data (2, 1), k=1): one predicted token")
