"""Hidden suite, Day 16 advanced: provoke, diagnose, accumulated_grads, regression_loss and inputs_for.

provoke returns a recipe (plain data, see solutions/misuse.py); the grader runs it here with its
own copy of ``run_misuse`` and genuine PyTorch, and only the error raised by that run counts
(its type name and message, and the reference diagnose reading it back). diagnose is fed genuine
errors from misused modules, cells and losses of other kinds and sizes than provoke's, wordings
recorded from CUDA and older torch versions, and unrelated errors that must give "unknown".
accumulated_grads: the reference runs on copies made before the submission is called.
"""
from __future__ import annotations

import copy
import re
import warnings

import pytest
import torch
from torch import nn

from autograder.hidden.witness import fresh, witnessed
from solutions.checking import expect_close, expect_equal, expect_floats, fail

F64 = torch.float64

#: PyTorch's own wording for each kind (2.x), as full as the message allows: type names, pattern.
GENUINE = {
    "backward_twice": ({"RuntimeError"}, r"Trying to backward through the graph a second time"),
    "inplace_modification": ({"RuntimeError"},
                             r"one of the variables needed for gradient computation has been modified by an inplace "
                             r"operation: \[.+\].* is at version \d+; expected version \d+"
                             r"|a leaf Variable that requires grad is being used in an in-place operation"),
    "loss_without_grad": ({"RuntimeError"}, r"element 0 of tensors does not require grad and does not have a grad_fn"),
    "target_dtype": ({"RuntimeError", "NotImplementedError"},
                     r"expected target dtype to be Long or Byte, but got \w+|expected scalar type Long but found \w+"
                     r"|Expected floating point type for target with class probabilities, got \w+"
                     r"|Found dtype \w+ but expected \w+|result type \w+ can't be cast to the desired output type \w+"
                     r"|\"nll_loss\w*\" not implemented for '\w+'"),
    "target_shape": ({"RuntimeError", "ValueError"},
                     r"Expected input batch_size \(\d+\) to match target batch_size \(\d+\)"
                     r"|Expected target size \[[\d, ]+\], got \[[\d, ]+\]"
                     r"|0D or 1D target tensor expected, multi-target not supported"
                     r"|Target size \(.+\) must be the same as input size \(.+\)"
                     r"|Using a target size \(.+\) that is different to the input size"
                     r"|The size of tensor a \(\d+\) must match the size of tensor b \(\d+\)"),
    "device_mismatch": ({"RuntimeError"},
                        r"Expected all tensors to be on the same device|found at least two devices"
                        r"|are not at the same device|is not on the expected device"),
    "hidden_shape": ({"RuntimeError"},
                     r"Expected hidden(\[\d\])? size \([\d, ]+\), got \[[\d, ]+\]"
                     r"|For (un)?batched \d-D input, hx( and cx)? should also be \d-D"
                     r"|Input batch size \d+ doesn't match hidden\d batch size \d+"),
}


# ---------------------------------------------------------------------------------------------
# provoke
# ---------------------------------------------------------------------------------------------

PROVOKE_HINT = {
    "backward_twice": "truncated BPTT whose second chunk runs on the state carried from the first, not detached",
    "inplace_modification": "\"sigmoid\" then \"inplace_clamp\" on the prediction before the loss",
    "loss_without_grad": "a \"forward\" with \"no_grad\" (or \"detach_output\") before the loss and backward",
    "target_dtype": "class indices stored as floats for CrossEntropyLoss (\"fill\": \"classes\", dtype float32)",
    "target_shape": "logits flattened to (T*B, C) with the labels left (T, B)",
    "device_mismatch": "the model's \"device\": \"meta\" with data on the CPU",
    "hidden_shape": "a state carried from a forward on a batch of 4 into a forward on a batch of 2",
}


def _check_provoked(submission, reference, kind):
    _, exc = witnessed(submission, kind, PROVOKE_HINT[kind])
    type_names, pattern = GENUINE[kind]
    name, message = type(exc).__name__, str(exc)
    if name not in type_names or not re.search(pattern, message):
        fail(f"provoke({kind!r})'s recipe makes PyTorch raise {name}: {message[:240]!r}, which is not the error of "
             f"{kind}.", f"commit that mistake instead: {PROVOKE_HINT[kind]}")
    expect_equal(f"the kind of the error provoke({kind!r})'s recipe raises", reference.diagnose(exc), kind,
                 hint=f"commit that mistake instead: {PROVOKE_HINT[kind]}")


@pytest.mark.grade("provoke", points=1)
def test_provoke_backward_twice(submission, reference):
    _check_provoked(submission, reference, "backward_twice")


@pytest.mark.grade("provoke", points=1)
def test_provoke_inplace_modification(submission, reference):
    _check_provoked(submission, reference, "inplace_modification")


@pytest.mark.grade("provoke", points=1)
def test_provoke_loss_without_grad(submission, reference):
    _check_provoked(submission, reference, "loss_without_grad")


@pytest.mark.grade("provoke", points=1)
def test_provoke_target_dtype(submission, reference):
    _check_provoked(submission, reference, "target_dtype")


@pytest.mark.grade("provoke", points=1)
def test_provoke_target_shape(submission, reference):
    _check_provoked(submission, reference, "target_shape")


@pytest.mark.grade("provoke", points=1)
def test_provoke_device_mismatch(submission, reference):
    _check_provoked(submission, reference, "device_mismatch")


@pytest.mark.grade("provoke", points=1)
def test_provoke_hidden_shape(submission, reference):
    _check_provoked(submission, reference, "hidden_shape")


@pytest.mark.grade("provoke", points=1)
def test_provoke_unknown_kind_raises_value_error(submission, reference):
    _check_provoked(submission, reference, "loss_without_grad")  # raising ValueError for everything earns nothing
    try:
        result = submission.provoke(fresh("exploding_keyboard"))
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as raised:
        fail(f"provoke('exploding_keyboard') raised {type(raised).__name__}: {str(raised)[:120]}; expected ValueError.",
             "raise ValueError for a kind that is not in ERROR_KINDS")
    fail(f"provoke('exploding_keyboard') returned {type(result).__name__}; expected it to raise ValueError.",
         "raise ValueError for a kind that is not in ERROR_KINDS")


# ---------------------------------------------------------------------------------------------
# diagnose
# ---------------------------------------------------------------------------------------------

def _raised(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
        except Exception as exc:
            return exc
    raise AssertionError("the misuse did not raise")  # a broken test, not a broken submission


def _expect_kinds(submission, errors, kind):
    for exc in errors:
        expect_equal(f"diagnose({type(exc).__name__}: {str(exc)[:120]!r})", submission.diagnose(exc), kind,
                     hint="match the exception type and a stable part of PyTorch's message with re.search; sizes, "
                          "dtypes, devices and module names in the message change from case to case")


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_backward_twice(submission, device):
    gru = nn.GRU(4, 6, num_layers=2).to(device)
    x = torch.randn(7, 3, 4, device=device)

    def twice():
        out, _ = gru(x)
        loss = out.mean()
        loss.backward()
        loss.backward()

    def tbptt_without_detach():
        lstm = nn.LSTM(4, 5).to(device)
        state = None
        for chunk in x.split(3):
            out, state = lstm(chunk, state)
            out.sum().backward()

    def autograd_grad_twice():
        out, h = gru(x)
        torch.autograd.grad(h.sum(), list(gru.parameters()))
        torch.autograd.grad(h.sum(), list(gru.parameters()))

    _expect_kinds(submission, [_raised(twice), _raised(tbptt_without_detach), _raised(autograd_grad_twice)],
                  "backward_twice")


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_inplace_modification(submission, device):
    lstm = nn.LSTM(3, 4).to(device)
    x = torch.randn(5, 2, 3, device=device)

    def sigmoid_then_inplace():
        out, _ = lstm(x)
        p = torch.sigmoid(out)
        p.add_(0.1)
        p.sum().backward()

    def overwrite_tanh_output():
        h = torch.tanh(nn.Linear(3, 6).to(device)(x))
        h[0] = 0.0
        h.sum().backward()

    def manual_sgd_without_no_grad():
        out, _ = lstm(x)
        out.sum().backward()
        for p in lstm.parameters():
            p -= 0.01 * p.grad

    def retain_graph_instead_of_detach():
        opt = torch.optim.Adam(lstm.parameters())
        state = None
        for chunk in x.split(2):
            opt.zero_grad()
            out, state = lstm(chunk, state)
            out.sum().backward(retain_graph=True)
            opt.step()

    _expect_kinds(submission, [_raised(sigmoid_then_inplace), _raised(overwrite_tanh_output),
                               _raised(manual_sgd_without_no_grad), _raised(retain_graph_instead_of_detach)],
                  "inplace_modification")


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_loss_without_grad(submission, device):
    rnn = nn.RNN(2, 3).to(device)
    x = torch.randn(4, 5, 2, device=device)
    y = torch.randn(4, 5, 3, device=device)

    def under_no_grad():
        with torch.no_grad():
            loss = nn.MSELoss()(rnn(x)[0], y)
        loss.backward()

    def from_detached_output():
        nn.L1Loss()(rnn(x)[0].detach(), y).backward()

    def frozen_model():
        frozen = nn.GRU(2, 3).to(device).requires_grad_(False)
        nn.MSELoss()(frozen(x)[0], y).backward()

    _expect_kinds(submission, [_raised(under_no_grad), _raised(from_detached_output), _raised(frozen_model)],
                  "loss_without_grad")


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_target_dtype(submission, device):
    logits = torch.randn(8, 5, device=device)
    cpu_logits = logits.cpu()  # float class indices fail inside the CUDA kernel, with other words
    _expect_kinds(submission, [
        _raised(lambda: nn.CrossEntropyLoss()(cpu_logits, torch.randint(0, 5, (8,)).float())),
        _raised(lambda: nn.NLLLoss()(cpu_logits.log_softmax(1), torch.randint(0, 5, (8,)).double())),
        _raised(lambda: nn.CrossEntropyLoss()(torch.randn(4, 3, 6), torch.randint(0, 3, (4, 6), dtype=torch.int32))),
        _raised(lambda: nn.CrossEntropyLoss()(logits, torch.zeros(8, 5, dtype=torch.long, device=device))),
        _raised(lambda: nn.BCEWithLogitsLoss()(logits, torch.ones(8, 5, dtype=torch.long, device=device))),
        _raised(lambda: nn.BCELoss()(logits.sigmoid(), torch.ones(8, 5, dtype=torch.long, device=device))),
        _raised(lambda: nn.BCELoss()(logits.sigmoid(), torch.ones(8, 5, dtype=F64, device=device))),
        _raised(lambda: nn.NLLLoss()(cpu_logits.log_softmax(1), torch.randint(0, 5, (8,)).half())),
    ], "target_dtype")


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_target_shape(submission, device):
    out = torch.randn(6, 2, 7, device=device)  # (T, B, C) logits of a sequence classifier
    _expect_kinds(submission, [
        _raised(lambda: nn.CrossEntropyLoss()(out.reshape(12, 7), torch.zeros(6, 2, dtype=torch.long, device=device))),
        _raised(lambda: nn.CrossEntropyLoss()(out, torch.zeros(6, 2, dtype=torch.long, device=device))),
        _raised(lambda: nn.MSELoss()(out, torch.randn(6, 2, 3, device=device))),
        _raised(lambda: nn.BCEWithLogitsLoss()(out, torch.rand(6, 2, 1, device=device))),
        _raised(lambda: nn.NLLLoss()(out.reshape(12, 7), torch.zeros(5, dtype=torch.long, device=device))),
        _raised(lambda: nn.NLLLoss()(out.permute(1, 2, 0), torch.zeros(2, 5, dtype=torch.long, device=device))),
        _raised(lambda: nn.CrossEntropyLoss()(out.reshape(12, 7), torch.zeros(12, 2, dtype=torch.long, device=device))),
        _raised(lambda: nn.L1Loss()(out, torch.randn(6, 3, 7, device=device))),
        _raised(lambda: nn.BCELoss()(out.sigmoid(), torch.rand(6, 2, 1, device=device))),
    ], "target_shape")


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_device_mismatch(submission, device):
    other = "meta" if torch.device(device).type == "cpu" else "cpu"
    x = torch.randn(5, 2, 3, device=device)
    errors = [
        _raised(lambda: nn.RNN(3, 4).to(other)(x)),
        _raised(lambda: nn.Linear(3, 4).to(other)(x)),
        _raised(lambda: nn.MSELoss()(x, torch.randn(5, 2, 3, device=other))),
        _raised(lambda: nn.GRU(3, 4).to(device)(x, torch.zeros(1, 2, 4, device=other))),
        _raised(lambda: nn.LSTM(3, 4).to(device)(x, (torch.zeros(1, 2, 4, device=other),) * 2)),
        _raised(lambda: nn.GRUCell(3, 4).to(other)(x[0])),
        _raised(lambda: nn.LSTMCell(3, 4).to(device)(x[0], (torch.zeros(2, 4, device=other),) * 2)),
        _raised(lambda: nn.BCEWithLogitsLoss()(x, torch.rand(5, 2, 3, device=other))),
    ]
    _expect_kinds(submission, errors, "device_mismatch")


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_hidden_shape(submission, device):
    x = torch.randn(6, 3, 2, device=device)
    _expect_kinds(submission, [
        _raised(lambda: nn.RNN(2, 5).to(device)(x, torch.zeros(1, 8, 5, device=device))),
        _raised(lambda: nn.LSTM(2, 4).to(device)(x, (torch.zeros(1, 2, 4, device=device),) * 2)),
        _raised(lambda: nn.GRU(2, 4, num_layers=2).to(device)(x, torch.zeros(1, 3, 4, device=device))),
        _raised(lambda: nn.RNN(2, 5).to(device)(x, torch.zeros(3, 5, device=device))),
        _raised(lambda: nn.LSTM(2, 4).to(device)(x, (torch.zeros(3, 4, device=device),) * 2)),   # "hx and cx"
        _raised(lambda: nn.GRU(2, 4).to(device)(x[:, 0], torch.zeros(1, 1, 4, device=device))),  # unbatched input
        _raised(lambda: nn.RNNCell(2, 5).to(device)(x[0], torch.zeros(8, 5, device=device))),   # cells, carried
        _raised(lambda: nn.LSTMCell(2, 4).to(device)(x[0], (torch.zeros(5, 4, device=device),) * 2)),
    ], "hidden_shape")


# Wordings this machine may not produce, recorded as literals: CUDA's (no GPU needed to grade them) and those
# of older torch versions the kit supports (pyproject: torch>=2.4).
RECORDED = [
    # aten/src/ATen/native/cuda/Loss.cu (AT_DISPATCH on the target's dtype): float class indices on CUDA
    (NotImplementedError, '"nll_loss_forward_reduce_cuda_kernel_2d_index" not implemented for \'Float\'',
     "target_dtype"),
    # aten/src/ATen/native/LossNLL.cpp in older versions: the target's dtype checked as a scalar type
    (RuntimeError, "expected scalar type Long but found Float", "target_dtype"),
    # aten/src/ATen/core/op_registration/adaption.cpp, common_device_check_failure: torch 2.4's wording, the newer one
    (RuntimeError, "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
                   "(when checking argument for argument target in method wrapper_CUDA_nll_loss_forward)",
     "device_mismatch"),
    (RuntimeError, "Expected all tensors to be on the same device, but got mat1 is on cpu, different from other "
                   "tensors on cuda:0 (when checking argument in method wrapper_CUDA_addmm)", "device_mismatch"),
    # aten/src/ATen/TensorIterator.cpp: element-wise losses (MSELoss...) with the target on the other device
    (RuntimeError, "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
     "device_mismatch"),
    # aten/src/ATen/native/RNN.cpp, check_attributes: RNN/GRU/LSTM on CUDA
    (RuntimeError, "Input and parameter tensors are not at the same device, found input tensor at cpu and parameter "
                   "tensor at cuda:0", "device_mismatch"),
    (RuntimeError, "Input and hidden tensors are not at the same device, found input tensor at cuda:0 and hidden tensor "
                   "at cpu", "device_mismatch"),
]


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_recorded_cuda_and_older_wordings(submission):
    for cls, message, kind in RECORDED:
        expect_equal(f"diagnose({cls.__name__}: {message[:120]!r})", submission.diagnose(cls(message)), kind,
                     hint=f"PyTorch raises this message for {kind} (on CUDA, or in another torch version >= 2.4); "
                          "match its type and a stable part of it with re.search")


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_unrelated_errors_are_unknown(submission, device):
    errors = [
        ZeroDivisionError("float division by zero"),
        KeyError("weight_hh_l0"),
        TypeError("forward() missing 1 required positional argument: 'input'"),
        _raised(lambda: nn.Embedding(4, 2)(torch.tensor([9]))),  # on CUDA a device-side assert: CPU only
        _raised(lambda: torch.zeros(3, 4, device=device).T.view(12)),
        _raised(lambda: torch.randn(3, device=device).item()),
        _raised(lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)])),
        _raised(lambda: torch.linalg.inv(torch.zeros(3, 3))),
        _raised(lambda: torch.zeros(2, requires_grad=True).numpy()),
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        _raised(lambda: torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=-0.1)),
        _raised(lambda: nn.RNN(2, 3, nonlinearity="sigmoid")),
    ]
    _expect_kinds(submission, errors, "unknown")
    # ... and a real one is still recognised, so that `return "unknown"` scores nothing here.
    _expect_kinds(submission, [_raised(lambda: torch.zeros(2).sum().backward())], "loss_without_grad")


# ---------------------------------------------------------------------------------------------
# accumulated_grads
# ---------------------------------------------------------------------------------------------

ACC_HINT = ("start from cleared gradients (model.zero_grad() once), then `steps` times: forward, loss, backward, "
            "never zero_grad, no optimizer step; after each backward append the global L2 norm of all gradients")


def _accumulate_both(submission, reference, model, x, y, loss_fn, steps, prepare=None):
    """The reference's norms and model, computed first on copies the submission never sees; then the submission's."""
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    if prepare is not None:
        prepare(ours)
        prepare(theirs)
    expected = reference.accumulated_grads(ours, x.clone(), y.clone(), copy.deepcopy(loss_fn), steps)
    got = submission.accumulated_grads(theirs, x, y, copy.deepcopy(loss_fn), steps)
    return got, theirs, expected, ours


def _numbers(got):
    """The returned norms as Python floats, in any form the docstring allows (list, tuple, 1-D float tensor)."""
    if type(got) is torch.Tensor and got.dim() == 1 and got.is_floating_point():
        return got.detach().cpu().tolist()
    return list(got) if isinstance(got, (list, tuple)) else got


@pytest.mark.grade("accumulated_grads", points=2)
def test_accumulated_norms_grow_linearly(submission, reference, device):
    model = nn.LSTM(3, 4).to(device, F64)
    x = torch.randn(6, 2, 3, dtype=F64, device=device)
    y = torch.randn(6, 2, 4, dtype=F64, device=device)
    got, _, expected, _ = _accumulate_both(submission, reference, model, x, y, nn.MSELoss(), 5)
    expect_floats("accumulated_grads, 5 backwards", got, expected, rel=1e-9, abs_=1e-12, label="backward",
                  hint=ACC_HINT)
    got = _numbers(got)
    expect_floats("accumulated_grads divided by the first norm", [g / got[0] for g in got],
                  [float(n) for n in range(1, 6)], rel=1e-9, label="backward",
                  hint="without zero_grad the n-th backward leaves n times the gradient in .grad")


@pytest.mark.grade("accumulated_grads", points=1)
def test_accumulated_leaves_the_sum_and_the_parameters(submission, reference, device):
    model = nn.GRU(2, 3).to(device, F64)
    x = torch.randn(4, 3, 2, dtype=F64, device=device)
    y = torch.randn(4, 3, 3, dtype=F64, device=device)
    before = copy.deepcopy(model)
    x_before, y_before = x.clone(), y.clone()
    _, theirs, _, ours = _accumulate_both(submission, reference, model, x, y, nn.MSELoss(), 3)
    for (name, p), q, original in zip(theirs.named_parameters(), ours.parameters(), before.parameters()):
        if p.grad is None:
            fail(f"after accumulated_grads the parameter {name} has no gradient.",
                 "leave the accumulated gradients in .grad: don't zero them at the end")
        expect_close(f"the gradient of {name} left after 3 backwards", p.grad, q.grad,
                     hint="leave the accumulated gradients in .grad (3 times one batch's): don't zero them at the end")
        expect_close(f"the parameter {name} after accumulated_grads", p.detach(), original.detach(),
                     hint="no optimizer step: accumulated_grads only calls backward")
    expect_close("x after accumulated_grads", x, x_before, hint="leave x as it was handed in")
    expect_close("y after accumulated_grads", y, y_before, hint="leave y as it was handed in")


@pytest.mark.grade("accumulated_grads", points=1)
def test_accumulated_ignores_stale_gradients(submission, reference, device):
    model = nn.RNN(3, 3).to(device, F64)
    x = torch.randn(5, 2, 3, dtype=F64, device=device)
    y = torch.randn(5, 2, 3, dtype=F64, device=device)

    def stale(m):
        for p in m.parameters():
            p.grad = torch.full_like(p, -4.0)

    got, _, expected, _ = _accumulate_both(submission, reference, model, x, y, nn.MSELoss(), 3, prepare=stale)
    expect_floats("accumulated_grads with stale gradients before the call", got, expected, rel=1e-9, abs_=1e-12,
                  label="backward", hint="clear the gradients once before the first backward (model.zero_grad())")


@pytest.mark.grade("accumulated_grads", points=1)
def test_accumulated_float32_classifier_one_step(submission, reference, device):
    model = nn.Sequential(nn.Flatten(0, 1), nn.Linear(4, 3)).to(device)
    x = torch.randn(3, 2, 4, device=device)
    y = torch.randint(0, 3, (6,), device=device)
    expected = reference.accumulated_grads(copy.deepcopy(model).double(), x.double(), y.clone(),
                                           nn.CrossEntropyLoss(), 1)
    got = submission.accumulated_grads(copy.deepcopy(model), x, y, nn.CrossEntropyLoss(), 1)
    expect_floats("accumulated_grads, float32 classifier, 1 backward (compared with float64)", got, expected,
                  rel=1e-4, abs_=1e-6, label="backward", hint=ACC_HINT)


@pytest.mark.grade("accumulated_grads", points=1)
def test_accumulated_keeps_the_models_mode(submission, reference, device):
    """A model handed over in eval mode (with dropout) is run and left in eval mode; one in train mode stays in it."""
    model = nn.Sequential(nn.Linear(3, 5), nn.Dropout(0.5), nn.Tanh(), nn.Linear(5, 2)).to(device, F64).eval()
    x = torch.randn(7, 3, dtype=F64, device=device)
    y = torch.randn(7, 2, dtype=F64, device=device)
    got, theirs, expected, _ = _accumulate_both(submission, reference, model, x, y, nn.MSELoss(), 3)
    expect_equal("the model's training flags after accumulated_grads (handed over in eval mode)",
                 [m.training for m in theirs.modules()], [False] * len(list(theirs.modules())),
                 hint="run the model in the mode it was handed in: don't call model.train() or model.eval()")
    expect_floats("accumulated_grads of a model in eval mode (dropout off)", got, expected, rel=1e-9, abs_=1e-12,
                  label="backward", hint="run the model in the mode it was handed in: don't call model.train()")
    trained = nn.RNN(2, 3).to(device, F64).train()
    theirs = copy.deepcopy(trained)
    submission.accumulated_grads(theirs, torch.randn(4, 2, 2, dtype=F64, device=device),
                                 torch.randn(4, 2, 3, dtype=F64, device=device), nn.MSELoss(), 2)
    expect_equal("the model's training flag after accumulated_grads (handed over in train mode)", theirs.training,
                 True, hint="leave the model in the mode it was handed in: don't call model.eval()")


# ---------------------------------------------------------------------------------------------
# regression_loss: the answer key is nn.MSELoss on tensors of one shape, in float64
# ---------------------------------------------------------------------------------------------

LOSS_HINT = ("drop a trailing dimension of size 1 (on either side) so the shapes are equal, then average "
             "(pred - target) ** 2; never let the two broadcast")


def _mse(pred, target):
    return nn.MSELoss()(pred.detach().to(F64).reshape(target.shape), target.detach().to(F64))


@pytest.mark.grade("regression_loss", points=2)
def test_regression_loss_repairs_a_trailing_one(submission, device):
    for pred_shape, target_shape in (((7, 1), (7,)), ((7,), (7, 1)), ((4, 3, 1), (4, 3)), ((4, 3), (4, 3, 1)),
                                     ((1, 1), (1,)), ((5,), (5,)), ((2, 3), (2, 3))):
        pred = torch.randn(pred_shape, dtype=F64, device=device)
        target = torch.randn(target_shape, dtype=F64, device=device)
        # The answer key from copies made before the call: a function that changes its inputs gains nothing.
        expected = _mse(pred.clone(), target.reshape(pred.shape).clone())
        got = submission.regression_loss(pred, target)
        expect_close(f"regression_loss(pred {pred_shape}, target {target_shape})", got, expected, hint=LOSS_HINT)


@pytest.mark.grade("regression_loss", points=1)
def test_regression_loss_gradient_and_float32(submission, device):
    pred = torch.randn(6, 1, device=device, requires_grad=True)
    target = torch.randn(6, device=device)
    pred0, target0 = pred.detach().clone(), target.clone()      # the answer keys come from the inputs as handed over
    loss = submission.regression_loss(pred, target)
    expect_close("regression_loss, float32 (compared with float64)", loss, _mse(pred0[:, 0], target0).float(),
                 atol=1e-5, rtol=1e-4, hint=LOSS_HINT)
    if not isinstance(loss, torch.Tensor) or loss.grad_fn is None:
        fail("regression_loss(pred, target) has no autograd history: nothing would train.",
             "compute it with tensor operations on pred (no .item(), .detach(), torch.no_grad())")
    loss.backward()
    expect_close("d loss / d pred", pred.grad, (2 * (pred0[:, 0] - target0).to(F64)[:, None] / 6).float(),
                 atol=1e-5, rtol=1e-4, hint="the gradient of a mean of N squared errors is 2 (pred - target) / N, in pred's shape")


@pytest.mark.grade("regression_loss", points=2)
def test_regression_loss_refuses_other_mismatches(submission, device):
    # (5, 1) against (3,) or (1,): a trailing 1 whose other dimensions differ; (3, 0): a trailing 0 is not a 1.
    for pred_shape, target_shape in (((6, 2), (6,)), ((6,), (6, 2)), ((12,), (6, 2)), ((6, 2), (12,)), ((4,), (5,)),
                                     ((4, 1), (1, 4)), ((3, 1, 1), (3,)), ((2, 1), (2, 1, 3)),
                                     ((5, 1), (3,)), ((3,), (5, 1)), ((5, 1), (1,)), ((1,), (5, 1)), ((1, 1), (5,)),
                                     ((5,), (1, 1)), ((3, 0), (3,)), ((3,), (3, 0))):
        pred = torch.randn(pred_shape, dtype=F64, device=device)
        target = torch.randn(target_shape, dtype=F64, device=device)
        try:
            got = submission.regression_loss(pred, target)
        except ValueError:
            continue
        except NotImplementedError:
            raise                     # the stub: "not yet attempted", not a wrong answer
        except Exception as raised:
            fail(f"regression_loss(pred {pred_shape}, target {target_shape}) raised {type(raised).__name__}: "
                 f"{str(raised)[:120]}, expected ValueError.", "check the shapes first and raise ValueError yourself")
        fail(f"regression_loss(pred {pred_shape}, target {target_shape}) returned {type(got).__name__} instead of "
             "raising ValueError.", "only one trailing dimension of size 1 may differ: never broadcast, never flatten")


# ---------------------------------------------------------------------------------------------
# inputs_for: each tensor's own .to(...) with the model's parameter is the answer key; CPU tests
# use a float64 model and float32 data (the dtype stands in for a second device), the GPU run puts
# the model on the GPU and the data on the CPU.
# ---------------------------------------------------------------------------------------------

PLACE_HINT = ("return new tensors on the device of the model's parameters, floating ones in their dtype: "
              "x.to(...) makes a copy, so use what it returns")


def _placed(what, got, original, weight):
    dtype = weight.dtype if original.is_floating_point() else original.dtype
    if type(got) is not torch.Tensor:
        fail(f"{what}: got {type(got).__name__}, expected a tensor.", PLACE_HINT)
    expect_equal(f"{what}: device", got.device, weight.device, hint=PLACE_HINT)
    expect_equal(f"{what}: dtype", got.dtype, dtype,
                 hint="floating tensors take the parameters' dtype; integer token ids keep theirs")
    expect_close(what, got, original.to(weight.device, dtype), hint="only the device and dtype change, not the values")


def _model_and_data(module, device):
    """A float64 model on ``device``; the data made the usual way: float32, on the CPU."""
    return module.to(device, F64), "cpu"


@pytest.mark.grade("inputs_for", points=1)
def test_inputs_for_x_and_h0(submission, device):
    model, data_device = _model_and_data(nn.GRU(3, 4, num_layers=2), device)
    x, h0 = torch.randn(5, 2, 3, device=data_device), torch.randn(2, 2, 4, device=data_device)
    x0, h00 = x.clone(), h0.clone()             # the answer keys: the inputs as handed over
    got = submission.inputs_for(model, x, h0)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(f"inputs_for(model, x, h0) returned {type(got).__name__}, expected the pair (x, h0).", PLACE_HINT)
    _placed("x", got[0], x0, model.weight_hh_l0)
    _placed("h0", got[1], h00, model.weight_hh_l0)
    if x.dtype != torch.float32 or h0.dtype != torch.float32:
        fail("inputs_for changed x or h0 in place.", "leave the inputs as they are: return new tensors")


@pytest.mark.grade("inputs_for", points=1)
def test_inputs_for_lstm_state(submission, device):
    model, data_device = _model_and_data(nn.LSTM(3, 2, batch_first=True), device)
    x = torch.randn(2, 6, 3, device=data_device)
    h0, c0 = torch.randn(1, 2, 2, device=data_device), torch.randn(1, 2, 2, device=data_device)
    x0, h00, c00 = x.clone(), h0.clone(), c0.clone()     # the answer keys: the inputs as handed over
    got = submission.inputs_for(model, x, (h0, c0))
    state = got[1]
    if not isinstance(state, tuple) or len(state) != 2:
        fail(f"inputs_for(lstm, x, (h0, c0)) gave the state as {type(state).__name__}, expected a tuple (h0, c0).",
             "an LSTM's state holds two tensors: move both, return them as a tuple")
    _placed("x", got[0], x0, model.weight_ih_l0)
    _placed("h0 of (h0, c0)", state[0], h00, model.weight_ih_l0)
    _placed("c0 of (h0, c0)", state[1], c00, model.weight_ih_l0)


@pytest.mark.grade("inputs_for", points=1)
def test_inputs_for_no_state_and_token_ids(submission, device):
    model, data_device = _model_and_data(nn.Sequential(nn.Embedding(20, 4), nn.GRU(4, 3)), device)
    ids = torch.randint(0, 20, (7, 2), device=data_device)
    ids0 = ids.clone()                          # the answer key: the ids as handed over
    got = submission.inputs_for(model, ids, None)
    _placed("token ids (int64)", got[0], ids0, model[0].weight)
    if got[1] is not None:
        fail(f"inputs_for(model, ids, None) gave h0 = {type(got[1]).__name__}, expected None.", "h0=None stays None")
    ids32 = ids0.int()
    _placed("token ids (int32)", submission.inputs_for(model, ids32, None)[0], ids0.int(), model[0].weight)


@pytest.mark.grade("inputs_for", points=1)
def test_inputs_for_already_in_place_and_float32_model(submission, device):
    model = nn.RNN(3, 2).to(device)                     # float32 on the device
    x, h0 = torch.randn(4, 1, 3, dtype=F64, device=device), torch.zeros(1, 1, 2, device=device)
    x0, h00 = x.clone(), h0.clone()             # the answer keys: the inputs as handed over
    got = submission.inputs_for(model, x, h0)
    _placed("float64 x for a float32 model", got[0], x0, model.weight_ih_l0)
    _placed("h0 already in place", got[1], h00, model.weight_ih_l0)
