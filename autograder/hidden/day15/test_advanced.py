"""Hidden suite, Day 15 advanced: provoke, diagnose and check_sequence_batch.

provoke: returns a recipe (plain data, see solutions/misuse.py); the grader runs it here with
its own copy of ``run_misuse`` and genuine PyTorch, and only the error raised by that run
counts: judged by its type name and the shape of its message (expected and actual values
that really differ), and read back as its kind by the reference diagnose. An exception built
or caught by the submission is never looked at.

diagnose: fed exceptions raised here by genuinely misusing nn.RNN/nn.GRU/nn.LSTM, their cells
and packing on the test's device (sizes, modules and batch_first varied), wordings recorded
from CUDA and from older torch versions (>= 2.4), plus unrelated exceptions that must give
"unknown".
"""
from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from autograder.hidden.witness import fresh, witnessed
from solutions.checking import expect_equal, fail
from solutions.misuse import validate

# PyTorch's messages, kind by kind (torch 2.x wording; alternatives for modules, cells and devices).
# Where a pattern has two groups, they hold the expected and the actual value, which must differ.
GENUINE = {
    "input_size": [
        ("RuntimeError", r"input\.size\(-1\) must be equal to input_size\. Expected (\d+), got (\d+)"),
        ("RuntimeError", r"input has inconsistent input_size: got (\d+) expected (\d+)"),
    ],
    "hidden_shape": [
        ("RuntimeError", r"Expected hidden(?:\[\d\])? size \(([\d, ]+)\), got \[([\d, ]+)\]"),
        ("RuntimeError", r"hx(?: and cx)? should also be (\d)-D but got \(?(\d)-D"),
        ("RuntimeError", r"hidden\d? has inconsistent hidden_size: got (\d+), expected (\d+)"),
        ("RuntimeError", r"Input batch size (\d+) doesn't match hidden\d? batch size (\d+)"),
        ("ValueError", r"Expected (?:hidden|hx\[\d\]) to be 1D or 2D, got [03-9]\d*D"),
    ],
    "input_rank": [
        ("ValueError", r"Expected input to be 2D or 3D, got [0145-9]\d*D"),
        ("RuntimeError", r"input must have (\d+) dimensions, got (\d+)"),
        ("ValueError", r"Expected input to be 1D or 2D, got [03-9]\d*D"),
    ],
    "device_mismatch": [
        ("RuntimeError", r"not at the same device, found input tensor at (\S+) and \w+ tensor at (\S+)"),
        ("RuntimeError", r"Expected all tensors to be on the same device"),
        ("RuntimeError", r"Tensor on device (\S+) is not on the expected device (\S+)!"),
        ("RuntimeError", r"Expected tensor for argument #\d+ '\w+' to have the same device as tensor for argument"),
    ],
    "dtype_mismatch": [
        ("ValueError", r"input dtype \((\S+)\) does not match weight dtype \((\S+)\)"),
        ("ValueError", r"input must have the type (\S+), got type (\S+)"),
        ("RuntimeError", r"input must have the type (\S+), got type (\S+)"),
        ("RuntimeError", r"(?:mat1 and mat2|m1 and m2) (?:must|to) have the same dtype"),
        ("RuntimeError", r"not the same dtype, found input tensor with (\w+) and \w+ tensor with (\w+)"),
        ("RuntimeError", r"expected scalar type (\w+) but found (\w+)"),
        ("RuntimeError", r"get_mkldnn_dtype: unsupported data type"),
    ],
    "unsorted_lengths": [
        ("RuntimeError", r"`lengths` array must be sorted in decreasing order when `enforce_sorted` is True"),
    ],
    "lengths_device_or_dtype": [
        ("RuntimeError", r"'lengths' argument should be a 1D CPU int64 tensor, but got (?!1D cpu Long tensor)"),
    ],
    "zero_length": [
        ("RuntimeError", r"Length of all samples has to be greater than 0"),
        ("RuntimeError", r"Expected sequence length to be larger than 0"),
    ],
}
PROVOKE_HINT = {
    "input_size": "an input whose last dimension is not the model's input_size",
    "hidden_shape": "a \"hidden\" state whose shape is not (num_layers, B, H)",
    "input_rank": "a 4-D input, such as an image batch",
    "device_mismatch": "the model's \"device\": \"meta\" with a CPU input (or the reverse)",
    "dtype_mismatch": "a float64 input for a float32 model",
    "unsorted_lengths": "the step \"pack\" with lengths that are not in decreasing order",
    "lengths_device_or_dtype": "the step \"pack\" with lengths as a tensor on the meta device (sorted)",
    "zero_length": "the step \"pack\" with a 0 among the lengths",
}


def _witnessed(submission, kind):
    """The error PyTorch raises when the grader runs the submission's recipe for ``kind``."""
    recipe, exc = witnessed(submission, kind, PROVOKE_HINT[kind])
    if kind == "zero_length":
        _expect_no_negative_length(recipe)
    return exc


def _expect_no_negative_length(recipe):
    """PyTorch words a negative length like a 0 ("... an element in 'lengths' that is <= 0"): only the
    recipe tells the mistake of zero_length (a sequence with no real step) from an impossible length."""
    lengths = validate(recipe)["lengths"]
    values = lengths["values"] if isinstance(lengths, dict) else (lengths or [])
    negative = [v for v in values if v < 0]
    if negative:
        fail(f"provoke('zero_length')'s recipe has the lengths {values}: {negative[0]} is not the length of a sequence "
             f"with no real step, it is no length at all (PyTorch happens to word both errors alike).",
             "use lengths that contain a 0, e.g. [T, 0], all others between 1 and T")


def _expect_genuine(submission, reference, kind):
    exc = _witnessed(submission, kind)
    name, message = type(exc).__name__, str(exc)
    for type_name, pattern in GENUINE[kind]:
        m = re.search(pattern, message)
        if name == type_name and m:
            groups = [g.strip() for g in m.groups()]
            if len(groups) != 2 or groups[0] != groups[1]:
                break
    else:
        fail(f"provoke({kind!r})'s recipe makes PyTorch raise {name}: {message[:200]!r}, which is not the error of "
             f"{kind}.", f"commit that mistake instead: {PROVOKE_HINT[kind]}")
    expect_equal(f"the kind of the error provoke({kind!r})'s recipe raises ({name}: {message[:120]!r})",
                 reference.diagnose(exc), kind, hint=f"commit that mistake instead: {PROVOKE_HINT[kind]}")
    return exc


@pytest.mark.grade("provoke", points=2)
def test_provoke_shape_kinds(submission, reference):
    for kind in ("input_size", "hidden_shape", "input_rank"):
        _expect_genuine(submission, reference, kind)


@pytest.mark.grade("provoke", points=2)
def test_provoke_device_and_dtype_kinds(submission, reference):
    for kind in ("device_mismatch", "dtype_mismatch"):
        _expect_genuine(submission, reference, kind)


@pytest.mark.grade("provoke", points=2)
def test_provoke_packing_kinds(submission, reference):
    for kind in ("unsorted_lengths", "lengths_device_or_dtype", "zero_length"):
        _expect_genuine(submission, reference, kind)


@pytest.mark.grade("provoke", points=1)
def test_provoke_rejects_unknown_kinds(submission, reference):
    _expect_genuine(submission, reference, "input_size")  # a provoke that only ever raises ValueError earns nothing here
    for kind in ("no_such_kind", "Input_Size", ""):
        try:
            result = submission.provoke(fresh(kind))
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:
            fail(f"provoke({kind!r}) raised {type(exc).__name__}: {exc}; expected ValueError.",
                 "raise ValueError when kind is not in ERROR_KINDS")
        fail(f"provoke({kind!r}) returned {result!r:.100} instead of raising ValueError.",
             "raise ValueError when kind is not in ERROR_KINDS")


@pytest.mark.grade("provoke", points=1)
def test_provoke_recipes_are_one_mistake_each(submission, reference):
    """Eight recipes, eight different errors: each kind's recipe raises its own kind, on the grader's side."""
    for kind in GENUINE:
        exc = _witnessed(submission, kind)
        expect_equal(f"the kind of the error provoke({kind!r})'s recipe raises ({type(exc).__name__}: "
                     f"{str(exc)[:120]!r})", reference.diagnose(exc), kind,
                     hint=f"commit that mistake: {PROVOKE_HINT[kind]}")


# ------------------------------------------------------------------------------------ diagnose

def _raised(misuse):
    try:
        misuse()
    except Exception as exc:
        return exc
    raise AssertionError(f"kit bug: the misuse raised nothing in torch {torch.__version__}")


def _expect_kinds(submission, cases):
    """Raise every misuse first (a kit bug shows as such), then ask the submission about each."""
    caught = [(_raised(misuse), kind) for misuse, kind in cases]
    for exc, kind in caught:
        shown = f"{type(exc).__name__}: {str(exc)[:140]}"
        hint = ("not an RNN error: it should give 'unknown' (check the exception type and match phrases specific "
                "to each kind, not common words like 'size' or 'hidden')" if kind == "unknown"
                else f"PyTorch raises this message for {kind}; match the phrases that are specific to that kind, "
                     "across modules (RNN, GRU, LSTM), devices and versions")
        expect_equal(f"diagnose({shown!r})", submission.diagnose(exc), kind, hint=hint)


def _other_device(device):
    return torch.device("meta") if torch.device(device).type == "cpu" else torch.device("cpu")


def _batch(T, B, I, device, batch_first=False, dtype=torch.float32):
    return torch.randn(*((B, T, I) if batch_first else (T, B, I)), device=device, dtype=dtype)


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_input_size_errors(submission, device):
    gru = nn.GRU(5, 3, batch_first=True, device=device)
    lstm = nn.LSTM(2, 6, num_layers=2, device=device)
    rnn = nn.RNN(8, 4, device=device)
    _expect_kinds(submission, [
        (lambda: gru(_batch(4, 2, 6, device, batch_first=True)), "input_size"),
        (lambda: lstm(_batch(3, 5, 7, device)), "input_size"),
        (lambda: rnn(_batch(6, 1, 4, device)), "input_size"),
        (lambda: rnn(torch.randn(6, 9, device=device)), "input_size"),    # unbatched (T, I)
        (lambda: nn.RNNCell(4, 3, device=device)(torch.randn(2, 5, device=device)), "input_size"),
        (lambda: nn.GRUCell(4, 3, device=device)(torch.randn(2, 1, device=device)), "input_size"),
        (lambda: nn.LSTMCell(2, 3, device=device)(torch.randn(1, 6, device=device)), "input_size"),
    ])


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_hidden_shape_errors(submission, device):
    rnn = nn.RNN(3, 4, device=device)
    gru = nn.GRU(3, 5, num_layers=2, batch_first=True, device=device)
    lstm = nn.LSTM(3, 2, batch_first=True, device=device)
    x, x_bf = _batch(6, 2, 3, device), _batch(6, 2, 3, device, batch_first=True)
    x_bf3 = _batch(6, 3, 3, device, batch_first=True)
    zeros = lambda *shape: torch.zeros(*shape, device=device)  # noqa: E731
    _expect_kinds(submission, [
        (lambda: rnn(x, zeros(1, 3, 4)), "hidden_shape"),                   # wrong batch
        (lambda: rnn(x, zeros(1, 2, 7)), "hidden_shape"),                   # wrong H
        (lambda: rnn(x, zeros(2, 4)), "hidden_shape"),                      # 2-D h0 for a 3-D input
        (lambda: gru(x_bf, zeros(1, 2, 5)), "hidden_shape"),                # one layer's state for two layers
        (lambda: gru(x_bf3, zeros(3, 2, 5)), "hidden_shape"),               # h0 laid out batch first
        (lambda: lstm(x_bf, (zeros(1, 2, 2), zeros(1, 2, 3))), "hidden_shape"),  # wrong c0
        (lambda: lstm(x_bf, (zeros(1, 6, 2), zeros(1, 6, 2))), "hidden_shape"),  # T taken for the batch
        (lambda: lstm(x_bf, (zeros(2, 2), zeros(2, 2))), "hidden_shape"),        # hx and cx without the layer dim
        (lambda: rnn(x[:, 0], zeros(1, 1, 4)), "hidden_shape"),                 # unbatched input, 3-D h0
        (lambda: nn.RNNCell(3, 4, device=device)(x[0], zeros(2, 5)), "hidden_shape"),          # cell: wrong H
        (lambda: nn.GRUCell(3, 4, device=device)(x[0], zeros(3, 4)), "hidden_shape"),          # cell: wrong B
        (lambda: nn.LSTMCell(3, 4, device=device)(x[0], (zeros(2, 4), zeros(2, 3))), "hidden_shape"),  # wrong c
        (lambda: nn.RNNCell(3, 4, device=device)(x[0], zeros(1, 2, 4)), "hidden_shape"),       # 3-D state for a cell
        (lambda: nn.LSTMCell(3, 4, device=device)(x[0], (zeros(1, 2, 4),) * 2), "hidden_shape"),
    ])


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_device_and_dtype_errors(submission, device):
    other = _other_device(device)
    rnn = nn.RNN(3, 4, device=device)
    gru = nn.GRU(3, 4, batch_first=True, device=device)
    lstm64 = nn.LSTM(3, 4, device=device, dtype=torch.float64)
    x = _batch(5, 2, 3, device)
    _expect_kinds(submission, [
        (lambda: rnn(x.to(other)), "device_mismatch"),
        (lambda: nn.LSTM(3, 4, device=other)(x), "device_mismatch"),
        (lambda: gru(x.transpose(0, 1), torch.zeros(1, 2, 4, device=other)), "device_mismatch"),
        (lambda: rnn(x.double()), "dtype_mismatch"),
        (lambda: lstm64(x), "dtype_mismatch"),
        (lambda: gru(x.transpose(0, 1), torch.zeros(1, 2, 4, device=device, dtype=torch.float64)), "dtype_mismatch"),
        (lambda: rnn(x, torch.zeros(1, 2, 4, device=device, dtype=torch.float64)), "dtype_mismatch"),
        (lambda: nn.LSTM(3, 4, device=device)(x, (torch.zeros(1, 2, 4, device=device, dtype=torch.float64),) * 2),
         "dtype_mismatch"),
        (lambda: nn.RNNCell(3, 4, device=device)(x[0].to(other)), "device_mismatch"),
        (lambda: nn.LSTMCell(3, 4, device=device)(x[0], (torch.zeros(2, 4, device=other),) * 2), "device_mismatch"),
        (lambda: nn.GRUCell(3, 4, device=other)(x[0]), "device_mismatch"),
        (lambda: nn.GRUCell(3, 4, device=device)(x[0].double()), "dtype_mismatch"),
        (lambda: nn.LSTMCell(3, 4, device=device)(x[0], (torch.zeros(2, 4, device=device, dtype=torch.float64),) * 2),
         "dtype_mismatch"),
    ])


# Wordings this machine may not produce, recorded as literals: CUDA's (no GPU needed to grade them) and
# those of older torch versions the kit supports (pyproject: torch>=2.4).
RECORDED = [
    # aten/src/ATen/native/RNN.cpp, check_attributes: RNN/GRU/LSTM on CUDA (every version >= 2.4)
    (RuntimeError, "Input and parameter tensors are not at the same device, found input tensor at cpu and parameter "
                   "tensor at cuda:0", "device_mismatch"),
    (RuntimeError, "Input and hidden tensors are not at the same device, found input tensor at cuda:0 and hidden tensor "
                   "at cpu", "device_mismatch"),
    (RuntimeError, "Input and hidden tensors are not the same dtype, found input tensor with Float and hidden tensor "
                   "with Double", "dtype_mismatch"),
    (RuntimeError, "Input and parameter tensors are not the same dtype, found input tensor with Float and parameter "
                   "tensor with Half", "dtype_mismatch"),
    # aten/src/ATen/core/op_registration/adaption.cpp, common_device_check_failure: the cells (addmm) on CUDA,
    # the wording of torch 2.4 and the newer one
    (RuntimeError, "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
                   "(when checking argument for argument mat1 in method wrapper_CUDA_addmm)", "device_mismatch"),
    (RuntimeError, "Expected all tensors to be on the same device, but got mat1 is on cpu, different from other "
                   "tensors on cuda:0 (when checking argument in method wrapper_CUDA_addmm)", "device_mismatch"),
    # aten/src/ATen/TensorUtils.cpp, checkSameDevice: cuDNN's RNN with tensors on two GPUs
    (RuntimeError, "Expected tensor for argument #1 'input' to have the same device as tensor for argument #2 "
                   "'weight'; but device 1 does not equal 0 (while checking arguments for cudnn_rnn)", "device_mismatch"),
    # torch/nn/modules/rnn.py before the dtype check was reworded ("input dtype ... does not match weight dtype")
    (ValueError, "input must have the type torch.float32, got type torch.float64", "dtype_mismatch"),
    # torch/nn/modules/rnn.py: GRU and LSTM word the rank error without "tensor"
    (ValueError, "GRU: Expected input to be 2D or 3D, got 4D instead", "input_rank"),
]


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_recorded_cuda_and_older_wordings(submission):
    for cls, message, kind in RECORDED:
        exc = cls(message)
        expect_equal(f"diagnose({cls.__name__}: {message[:140]!r})", submission.diagnose(exc), kind,
                     hint=f"PyTorch raises this message for {kind} (on CUDA, or in another torch version >= 2.4); "
                          "match the phrases that are specific to that kind")


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_packing_errors(submission, device):
    padded = pad_sequence([torch.randn(n, 3, device=device) for n in (3, 6, 2, 5)])      # (6, 4, 3)
    padded_bf = pad_sequence([torch.randn(n, 2, device=device) for n in (4, 1)], batch_first=True)
    wrong_place = torch.device(device) if torch.device(device).type == "cuda" else torch.device("meta")
    _expect_kinds(submission, [
        (lambda: pack_padded_sequence(padded, torch.tensor([3, 6, 2, 5])), "unsorted_lengths"),
        (lambda: pack_padded_sequence(padded_bf, [1, 4], batch_first=True), "unsorted_lengths"),
        (lambda: pack_padded_sequence(padded[:, [1, 3, 0, 2]], torch.tensor([6, 5, 3, 2], device=wrong_place)),
         "lengths_device_or_dtype"),
        (lambda: pack_padded_sequence(padded, torch.tensor([3, 6, 0, 5]), enforce_sorted=False), "zero_length"),
        (lambda: pack_padded_sequence(padded_bf, torch.tensor([4, 0]), batch_first=True), "zero_length"),
        (lambda: nn.GRU(3, 4, device=device)(padded[:0]), "zero_length"),   # a batch of empty sequences
    ])


@pytest.mark.grade("diagnose", points=1)
def test_diagnose_input_rank_errors(submission, device):
    _expect_kinds(submission, [
        (lambda: nn.RNN(3, 4, device=device)(torch.randn(2, 1, 5, 3, device=device)), "input_rank"),
        (lambda: nn.LSTM(3, 4, batch_first=True, device=device)(torch.randn(3, device=device)), "input_rank"),
        (lambda: nn.GRU(3, 4, device=device)(torch.randn(2, 2, 2, 2, 3, device=device)), "input_rank"),
        (lambda: nn.RNNCell(3, 4, device=device)(torch.randn(5, 2, 3, device=device)), "input_rank"),
        (lambda: nn.LSTMCell(3, 4, device=device)(torch.randn(1, 5, 2, 3, device=device)), "input_rank"),
    ])


@pytest.mark.grade("diagnose", points=2)
def test_diagnose_unrelated_errors_are_unknown(submission):
    _expect_kinds(submission, [
        (lambda: nn.RNN(3, 4)(torch.randn(2, 1, 7)), "input_size"),  # so that `return "unknown"` scores nothing
        (lambda: 1 / 0, "unknown"),
        (lambda: {"h0": None}["c0"], "unknown"),
        (lambda: float("seven"), "unknown"),
        (lambda: torch.zeros(3)[5], "unknown"),
        (lambda: torch.zeros(2, 3).view(4), "unknown"),
        (lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)]), "unknown"),
        (lambda: torch.zeros(2).hidden_size, "unknown"),
    ])


# ---------------------------------------------------------------------------------------------
# check_sequence_batch: findings compared with the reference's; inputs checked unchanged
# ---------------------------------------------------------------------------------------------

def _findings(submission, reference, module, x, lengths, why, hint):
    x_before = x.clone()
    lengths_copy = lengths.clone() if isinstance(lengths, torch.Tensor) else lengths
    expected = reference.check_sequence_batch(module, x.clone(), lengths_copy)
    got = submission.check_sequence_batch(module, x, lengths)
    shown = lengths.tolist() if isinstance(lengths, torch.Tensor) else lengths
    if shown is not None and len(shown) > 8:      # (300 lengths: said in a few words, not listed)
        shown = f"[{shown[0]}] * {len(shown)}" if len(set(shown)) == 1 else \
            f"[{', '.join(map(str, shown[:4]))}, ...] ({len(shown)} lengths)"
    expect_equal(f"check_sequence_batch({type(module).__name__}(batch_first={module.batch_first}), "
                 f"x {tuple(x.shape)}, lengths={shown}) ({why})", got, expected, hint=hint)
    if not torch.equal(x, x_before):
        fail("check_sequence_batch changed x.", "only read x's shape: leave the batch as it is")


LAYOUT_HINT = ("the module reads axis 1 as the batch when batch_first is False, axis 0 when it is True: that axis must "
               "have len(lengths) entries; if only the other one does, the layout is swapped")
SIZE_HINT = ("compare sizes by value (==, !=, <), never with `is`: Python ints above 256 are distinct objects, so "
             "300 is 300 can be False")
PADDED_HINT = ("a length smaller than the number of time steps means the last step is padding for that sequence; count "
               "the steps on the true time axis (the other axis when the layout is swapped)")


@pytest.mark.grade("check_sequence_batch", points=1)
def test_batch_first_mismatch_time_first_modules(submission, reference, device):
    for module_cls, (B, T) in ((nn.RNN, (3, 7)), (nn.GRU, (1, 4)), (nn.LSTM, (5, 2))):
        module = module_cls(4, 3).to(device, torch.float64)
        x = torch.randn(B, T, 4, dtype=torch.float64, device=device)
        _findings(submission, reference, module, x, [T] * B, f"a (B, T, I) batch with B={B}, T={T}", LAYOUT_HINT)
    # Sizes above 256: Python keeps one object per small int only, so a size compared with `is` fails here.
    module = nn.RNN(1, 2).to(device, torch.float64)
    _findings(submission, reference, module, torch.zeros(300, 5, 1, dtype=torch.float64, device=device), [5] * 300,
              "a (B, T, I) batch with B=300, T=5", SIZE_HINT)


@pytest.mark.grade("check_sequence_batch", points=1)
def test_batch_first_mismatch_batch_first_modules(submission, reference, device):
    for module_cls, (T, B) in ((nn.GRU, (6, 2)), (nn.LSTM, (3, 4))):
        module = module_cls(2, 3, batch_first=True).to(device)
        x = torch.randn(T, B, 2, device=device)
        _findings(submission, reference, module, x, torch.full((B,), T, dtype=torch.int64),
                  f"a (T, B, I) batch for batch_first, T={T}, B={B}", LAYOUT_HINT)
        _findings(submission, reference, module, x.transpose(0, 1).contiguous(), [T] * B,
                  "the right layout", LAYOUT_HINT)


@pytest.mark.grade("check_sequence_batch", points=1)
def test_padded_last_step(submission, reference, device):
    rnn, gru = nn.RNN(3, 2).to(device), nn.GRU(3, 2, batch_first=True).to(device)
    _findings(submission, reference, rnn, torch.randn(5, 4, 3, device=device), [5, 1, 5, 5],
              "one sequence of 1 step in 5", PADDED_HINT)
    _findings(submission, reference, rnn, torch.randn(5, 4, 3, device=device), [3, 4, 2, 1],
              "unsorted lengths, none full", PADDED_HINT)
    _findings(submission, reference, gru, torch.randn(4, 5, 3, device=device), torch.tensor([5, 5, 4, 5]),
              "batch_first, lengths as a tensor", PADDED_HINT)
    _findings(submission, reference, gru, torch.randn(4, 5, 3, device=device), (5, 5, 5, 5),
              "batch_first, every sequence full", PADDED_HINT)


@pytest.mark.grade("check_sequence_batch", points=1)
def test_both_findings_on_the_true_time_axis(submission, reference, device):
    rnn, lstm = nn.RNN(3, 2).to(device), nn.LSTM(3, 2, batch_first=True).to(device)
    # (B=2, T=6) to a time-first module: the module's "time" axis has 2 steps, the data has 6.
    _findings(submission, reference, rnn, torch.randn(2, 6, 3, device=device), [6, 4], "swapped and padded",
              PADDED_HINT)
    _findings(submission, reference, rnn, torch.randn(2, 6, 3, device=device), [6, 6], "swapped, every sequence full",
              PADDED_HINT)
    _findings(submission, reference, lstm, torch.randn(3, 2, 3, device=device), [2, 3], "swapped, batch_first module",
              PADDED_HINT)


@pytest.mark.grade("check_sequence_batch", points=1)
def test_nothing_to_report(submission, reference, device):
    rnn = nn.GRU(3, 2).to(device)
    _findings(submission, reference, rnn, torch.randn(4, 4, 3, device=device), None, "no lengths: nothing can be told",
              "without lengths, return []")
    _findings(submission, reference, rnn, torch.randn(4, 4, 3, device=device), [4, 4, 4, 4],
              "a square batch, every sequence full", "T == B: the layout cannot be told apart, and nothing is padded")
    _findings(submission, reference, rnn, torch.randn(1, 1, 3, device=device), [1], "one sequence of one step",
              "one step, full length: nothing to report")
    _findings(submission, reference, nn.GRU(1, 2).to(device), torch.zeros(300, 300, 1, device=device), [300] * 300,
              "a square batch of 300 sequences of 300 steps, every sequence full", SIZE_HINT)
