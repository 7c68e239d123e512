"""Day 15 references against PyTorch's own modules, the outside oracle (float64, CPU and CUDA).

Also: provoke returns PyTorch's genuine error for every kind and diagnose maps it back;
diagnose says "unknown" for unrelated errors; the public checks pass on the references,
call the stubs "not attempted", and fail classic mistakes with a message and a hint.
"""
from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from autograder import build, selfcheck
from autograder.catalogue import exercises_of
from autograder.loading import load_day, load_module
from solutions import misuse

KIT = Path(__file__).resolve().parents[1]
SOLUTIONS = KIT / "solutions"
ref = load_day(SOLUTIONS, "day15")
ERROR_KINDS = load_module(SOLUTIONS / "day15" / "advanced.py", label="refs_day15").ERROR_KINDS
F64 = torch.float64
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                  reason="GPU: not run (no CUDA device here)"))]
TOL = {"atol": 1e-10, "rtol": 1e-8}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1515)


def _assert_close(got, expected):
    assert got.dtype == expected.dtype and got.device == expected.device
    torch.testing.assert_close(got, expected, **TOL)


def _grads(out, inputs, weight):
    return torch.autograd.grad((out * weight).sum(), inputs)


# ------------------------------------------------------------------------------------ values and gradients

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_cell_equals_nn_RNNCell(device, bias):
    cell = nn.RNNCell(4, 6, bias=bias, device=device, dtype=F64)
    x = torch.randn(5, 4, dtype=F64, device=device, requires_grad=True)
    h = torch.randn(5, 6, dtype=F64, device=device, requires_grad=True)
    params = [cell.weight_ih, cell.weight_hh] + ([cell.bias_ih, cell.bias_hh] if bias else [])
    got, expected = ref.rnn_cell(x, h, *params), cell(x, h)
    _assert_close(got, expected)
    weight = torch.randn_like(expected)
    for g, e in zip(_grads(got, [x, h, *params], weight), _grads(expected, [x, h, *params], weight)):
        _assert_close(g, e)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias, with_h0", [(True, True), (False, False), (True, False)])
def test_rnn_forward_equals_nn_RNN(device, batch_first, bias, with_h0):
    rnn = nn.RNN(3, 5, bias=bias, batch_first=batch_first, device=device, dtype=F64)
    T, B = 7, 4
    x = torch.randn(*((B, T, 3) if batch_first else (T, B, 3)), dtype=F64, device=device, requires_grad=True)
    h0 = torch.randn(1, B, 5, dtype=F64, device=device, requires_grad=True) if with_h0 else None
    params = [rnn.weight_ih_l0, rnn.weight_hh_l0] + ([rnn.bias_ih_l0, rnn.bias_hh_l0] if bias else [])
    output, h_n = ref.rnn_forward(x, h0, *params, batch_first=batch_first)
    exp_output, exp_h_n = rnn(x, h0)
    _assert_close(output, exp_output)
    _assert_close(h_n, exp_h_n)
    inputs = [x, *([h0] if with_h0 else []), *params]
    weight = torch.randn_like(exp_output)
    got = torch.autograd.grad((output * weight).sum() + h_n.sum(), inputs)
    expected = torch.autograd.grad((exp_output * weight).sum() + exp_h_n.sum(), inputs)
    for g, e in zip(got, expected):
        _assert_close(g, e)


@pytest.mark.parametrize("device", DEVICES)
def test_rnn_forward_single_step_batch_of_one(device):
    rnn = nn.RNN(2, 3, device=device, dtype=F64)
    x = torch.randn(1, 1, 2, dtype=F64, device=device)
    output, h_n = ref.rnn_forward(x, None, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    exp_output, exp_h_n = rnn(x)
    _assert_close(output, exp_output)
    _assert_close(h_n, exp_h_n)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_equals_nn_LSTMCell(device, bias):
    cell = nn.LSTMCell(3, 4, bias=bias, device=device, dtype=F64)
    x, h, c = (torch.randn(5, n, dtype=F64, device=device, requires_grad=True) for n in (3, 4, 4))
    params = [cell.weight_ih, cell.weight_hh] + ([cell.bias_ih, cell.bias_hh] if bias else [])
    got = ref.lstm_cell(x, (h, c), *params)
    expected = cell(x, (h, c))
    assert isinstance(got, tuple) and len(got) == 2
    for g, e in zip(got, expected):
        _assert_close(g, e)
    w_h, w_c = torch.randn_like(expected[0]), torch.randn_like(expected[1])
    inputs = [x, h, c, *params]
    got_grads = torch.autograd.grad((got[0] * w_h).sum() + (got[1] * w_c).sum(), inputs)
    exp_grads = torch.autograd.grad((expected[0] * w_h).sum() + (expected[1] * w_c).sum(), inputs)
    for g, e in zip(got_grads, exp_grads):
        _assert_close(g, e)


def _alone(rnn, seq):
    batch = seq.unsqueeze(0) if rnn.batch_first else seq.unsqueeze(1)
    _, state = rnn(batch)
    return (state[0] if isinstance(state, tuple) else state)[-1, 0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_final_hidden_equals_running_each_sequence_alone(device, cls, batch_first, num_layers):
    rnn = cls(3, 4, num_layers=num_layers, batch_first=batch_first, device=device, dtype=F64)
    sequences = [torch.randn(n, 3, dtype=F64, device=device) for n in (3, 7, 1, 5)]
    got = ref.final_hidden(rnn, sequences)
    _assert_close(got, torch.stack([_alone(rnn, s) for s in sequences]))


@pytest.mark.parametrize("device", DEVICES)
def test_final_hidden_equals_the_padded_output_at_each_length(device):
    """Second oracle (one layer): the padded run's output at step L_b - 1, before any padding is read."""
    lstm = nn.LSTM(2, 3, device=device, dtype=F64)
    lengths = [4, 2, 6]
    sequences = [torch.randn(n, 2, dtype=F64, device=device) for n in lengths]
    output, _ = lstm(pad_sequence(sequences))
    expected = torch.stack([output[n - 1, b] for b, n in enumerate(lengths)])
    _assert_close(ref.final_hidden(lstm, sequences), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_final_hidden_gradients_equal_each_sequence_alone(device):
    gru = nn.GRU(2, 3, num_layers=2, device=device, dtype=F64)
    sequences = [torch.randn(n, 2, dtype=F64, device=device, requires_grad=True) for n in (2, 5, 3)]
    params = list(gru.parameters())
    weight = torch.randn(3, 3, dtype=F64, device=device)
    got = torch.autograd.grad((ref.final_hidden(gru, sequences) * weight).sum(), params + sequences)
    alone = torch.stack([_alone(gru, s) for s in sequences])
    expected = torch.autograd.grad((alone * weight).sum(), params + sequences)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-9, rtol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("B, I, H", [(5, 3, 4), (1, 1, 1)])
def test_gru_cell_equals_nn_GRUCell(device, bias, B, I, H):
    cell = nn.GRUCell(I, H, bias=bias, device=device, dtype=F64)
    x, h = (torch.randn(B, n, dtype=F64, device=device, requires_grad=True) for n in (I, H))
    params = [cell.weight_ih, cell.weight_hh] + ([cell.bias_ih, cell.bias_hh] if bias else [])
    got, expected = ref.gru_cell(x, h, *params), cell(x, h)
    _assert_close(got, expected)
    weight = torch.randn_like(expected)
    for g, e in zip(_grads(got, [x, h, *params], weight), _grads(expected, [x, h, *params], weight)):
        _assert_close(g, e)


def _alone_states(rnn, seq):
    _, state = rnn(seq.unsqueeze(1))
    h_n = state[0] if isinstance(state, tuple) else state
    return torch.cat(list(h_n[-(2 if rnn.bidirectional else 1):, 0]))


def _padded_with_noise(lengths, I, device, T=None):
    """(T, B, I) holding the sequences, with random values (not zeros) in the padding."""
    sequences = [torch.randn(n, I, dtype=F64, device=device) for n in lengths]
    padded = torch.randn(T or max(lengths), len(lengths), I, dtype=F64, device=device)
    for b, seq in enumerate(sequences):
        padded[:len(seq), b] = seq
    return sequences, padded, torch.tensor(lengths)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_final_states_equals_running_each_sequence_alone(device, cls, bidirectional, num_layers):
    rnn = cls(3, 4, num_layers=num_layers, bidirectional=bidirectional, device=device, dtype=F64)
    sequences, padded, lengths = _padded_with_noise([3, 7, 1, 5], 3, device, T=9)
    got = ref.final_states(rnn, padded, lengths)
    assert got.shape == (4, 8 if bidirectional else 4)
    _assert_close(got, torch.stack([_alone_states(rnn, s) for s in sequences]))


@pytest.mark.parametrize("device", DEVICES)
def test_final_states_sit_where_the_docstring_says_in_output(device):
    """Second oracle: forward at output[L_b - 1, b, :H], backward at output[0, b, H:]; h_n[-1] is only backward."""
    gru = nn.GRU(2, 3, bidirectional=True, device=device, dtype=F64)
    _, padded, lengths = _padded_with_noise([4, 2, 6], 2, device)
    packed_out, h_n = gru(pack_padded_sequence(padded, lengths, enforce_sorted=False))
    output, _ = pad_packed_sequence(packed_out)
    expected = torch.stack([torch.cat([output[n - 1, b, :3], output[0, b, 3:]]) for b, n in enumerate([4, 2, 6])])
    got = ref.final_states(gru, padded, lengths)
    _assert_close(got, expected)
    _assert_close(got[:, 3:], h_n[-1])
    assert not torch.allclose(got[:, :3], h_n[-1])


@pytest.mark.parametrize("device", DEVICES)
def test_final_states_gradients_equal_each_sequence_alone(device):
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, device=device, dtype=F64)
    sequences, padded, lengths = _padded_with_noise([2, 5, 3], 2, device)
    padded.requires_grad_()
    params = list(lstm.parameters())
    weight = torch.randn(3, 6, dtype=F64, device=device)
    got = torch.autograd.grad((ref.final_states(lstm, padded, lengths) * weight).sum(), params + [padded])
    alone_inputs = [padded[:n, b] for b, n in enumerate(lengths.tolist())]
    alone = torch.stack([_alone_states(lstm, s) for s in alone_inputs])
    expected = torch.autograd.grad((alone * weight).sum(), params + [padded])
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-9, rtol=1e-7)
    for b, n in enumerate(lengths.tolist()):
        assert (got[-1][n:, b] == 0).all(), "the padding got a gradient"


def _ignore_index_loss(logits, targets, lengths):
    """PyTorch's own answer: nn.CrossEntropyLoss with the padded targets set to ignore_index."""
    padded_targets = targets.clone()
    for b, n in enumerate(lengths.tolist()):
        padded_targets[n:, b] = -100
    T, B, C = logits.shape
    return nn.CrossEntropyLoss(ignore_index=-100)(logits.reshape(T * B, C), padded_targets.reshape(T * B))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("T, lengths", [(7, [7, 2, 5, 1]), (6, [3, 2, 1]), (1, [1])])
def test_masked_sequence_loss_equals_ignore_index(device, dtype, T, lengths):
    C = 5
    logits = torch.randn(T, len(lengths), C, dtype=dtype, device=device, requires_grad=True)
    targets = torch.randint(0, C, (T, len(lengths)), device=device)
    lengths = torch.tensor(lengths)
    got = ref.masked_sequence_loss(logits, targets, lengths)
    expected = _ignore_index_loss(logits, targets, lengths)
    assert got.dim() == 0 and got.dtype == dtype and got.device == logits.device
    tol = TOL if dtype == F64 else {"atol": 1e-6, "rtol": 1e-5}
    torch.testing.assert_close(got, expected, **tol)
    (g,) = torch.autograd.grad(got, logits)
    (e,) = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(g, e, **tol)


# ------------------------------------------------------------------------------------ provoke / diagnose

KEY_PHRASE = {
    "input_size": "input_size",
    "hidden_shape": "hidden",
    "input_rank": "2D or 3D",
    "device_mismatch": "same device",
    "dtype_mismatch": "dtype",
    "unsorted_lengths": "sorted in decreasing order",
    "lengths_device_or_dtype": "1D CPU int64 tensor",
    "zero_length": "greater than 0",
}


def test_error_kinds_cover_the_required_ones():
    required = {"input_size", "hidden_shape", "device_mismatch", "dtype_mismatch", "unsorted_lengths",
                "lengths_device_or_dtype"}
    assert required <= set(ERROR_KINDS)
    assert set(ERROR_KINDS) == set(KEY_PHRASE)
    assert len(set(ERROR_KINDS)) == len(ERROR_KINDS)


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_provoke_returns_a_recipe_whose_run_raises_pytorchs_error(kind):
    recipe = ref.provoke(kind)
    assert type(recipe) is dict and misuse.validate(recipe)
    exc = misuse.run_misuse(recipe)
    assert type(exc).__name__ in ("RuntimeError", "ValueError")
    assert KEY_PHRASE[kind] in str(exc)
    torch_dir = str(Path(torch.__file__).parent)
    assert any(path.startswith(torch_dir) for path in _traceback_files(exc)), "not raised inside torch"
    assert ref.diagnose(exc) == kind


def _traceback_files(exc):
    tb, files = exc.__traceback__, []
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    return files


def test_provoke_rejects_an_unknown_kind():
    with pytest.raises(ValueError):
        ref.provoke("no_such_kind")


def _raised(misuse):
    try:
        misuse()
    except Exception as exc:
        return exc
    raise AssertionError("the misuse raised nothing")


@pytest.mark.parametrize("device", DEVICES)
def test_diagnose_reads_module_errors_on_the_device(device):
    other = "meta" if device == "cpu" else "cpu"
    x = torch.randn(5, 2, 3, device=device)
    cases = {
        "input_size": [lambda: nn.GRU(4, 2, device=device)(x), lambda: nn.LSTM(2, 2, batch_first=True, device=device)(x)],
        "hidden_shape": [lambda: nn.RNN(3, 4, device=device)(x, torch.zeros(1, 5, 4, device=device)),
                         lambda: nn.LSTM(3, 4, device=device)(x, (torch.zeros(2, 4, device=device),) * 2)],
        "input_rank": [lambda: nn.RNN(3, 4, device=device)(x[None])],
        "device_mismatch": [lambda: nn.RNN(3, 4, device=device)(x.to(other)),
                            lambda: nn.GRU(3, 4, device=device)(x, torch.zeros(1, 2, 4, device=other))],
        "dtype_mismatch": [lambda: nn.LSTM(3, 4, device=device)(x.double()),
                           lambda: nn.GRU(3, 4, device=device)(x, torch.zeros(1, 2, 4, device=device, dtype=F64))],
        "unsorted_lengths": [lambda: pack_padded_sequence(x, [2, 5])],
        "lengths_device_or_dtype": [lambda: pack_padded_sequence(x, torch.tensor([5, 2], device=other))
                                    if device == "cpu" else pack_padded_sequence(x, torch.tensor([5, 2], device=device))],
        "zero_length": [lambda: pack_padded_sequence(x, [5, 0]), lambda: nn.RNN(3, 4, device=device)(x[:0])],
    }
    assert set(cases) == set(ERROR_KINDS)
    for kind, misuses in cases.items():
        for misuse in misuses:
            exc = _raised(misuse)
            assert ref.diagnose(exc) == kind, (kind, type(exc).__name__, str(exc))


def test_diagnose_reads_the_cells_errors_too():
    cases = [
        (lambda: nn.GRUCell(3, 4)(torch.zeros(2, 3), torch.zeros(1, 2, 4)), "hidden_shape"),
        (lambda: nn.LSTMCell(3, 4)(torch.zeros(2, 3), (torch.zeros(1, 2, 4),) * 2), "hidden_shape"),
        (lambda: nn.LSTMCell(3, 4)(torch.zeros(2, 3), (torch.zeros(2, 4), torch.zeros(2, 5))), "hidden_shape"),
        (lambda: nn.RNNCell(3, 4)(torch.zeros(5, 2, 3)), "input_rank"),
        (lambda: nn.RNNCell(3, 4, device="meta")(torch.zeros(2, 3)), "device_mismatch"),
        (lambda: nn.LSTM(3, 4)(torch.zeros(5, 2, 3), (torch.zeros(2, 4),) * 2), "hidden_shape"),
        (lambda: nn.LSTM(3, 4)(torch.zeros(5, 2, 3), (torch.zeros(1, 2, 4, dtype=F64),) * 2), "dtype_mismatch"),
        (lambda: nn.RNNCell(3, 4)(torch.zeros(2, 5)), "input_size"),
        (lambda: nn.RNNCell(3, 4)(torch.zeros(2, 3), torch.zeros(2, 5)), "hidden_shape"),
        (lambda: nn.LSTMCell(3, 4)(torch.zeros(2, 3), (torch.zeros(3, 4), torch.zeros(3, 4))), "hidden_shape"),
        (lambda: nn.GRUCell(3, 4)(torch.zeros(2, 3).double()), "dtype_mismatch"),
    ]
    for misuse, kind in cases:
        exc = _raised(misuse)
        assert ref.diagnose(exc) == kind, (kind, str(exc))


def test_diagnose_says_unknown_for_unrelated_errors():
    misuses = [
        lambda: 1 / 0,
        lambda: {}["hidden"],
        lambda: int("seven"),
        lambda: torch.zeros(3)[7],
        lambda: torch.zeros(2, 3).view(5),
        lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)]),
        lambda: torch.zeros(2).hidden_size,
        lambda: nn.RNN(3, 4)(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4), 7),
    ]
    for misuse in misuses:
        exc = _raised(misuse)
        assert ref.diagnose(exc) == "unknown", (type(exc).__name__, str(exc))
    assert ref.diagnose(KeyboardInterrupt()) == "unknown"


# ------------------------------------------------------------------------------------ the level files and the public checks

def test_level_files_import_only_torch_and_the_standard_library():
    for level in ("basic", "intermediate", "advanced"):
        tree = ast.parse((SOLUTIONS / "day15" / f"{level}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{level}.py: relative import"
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root == "torch" or root in sys.stdlib_module_names, f"{level}.py imports {root}"


def _tree(tmp_path: Path, replace: dict[str, list[tuple[str, str]]] | None = None, stubs: bool = False) -> Path:
    day = tmp_path / "day15"
    day.mkdir()
    for level in ("basic", "intermediate", "advanced"):
        text = build.read_level("day15", level).stub_text if stubs else \
            (SOLUTIONS / "day15" / f"{level}.py").read_text(encoding="utf-8")
        for old, new in (replace or {}).get(level, []):
            assert old in text, f"the mutation no longer applies to {level}.py: {old!r}"
            text = text.replace(old, new)
        (day / f"{level}.py").write_text(text, encoding="utf-8")
    shutil.copy(SOLUTIONS / "checking.py", day)
    shutil.copy(SOLUTIONS / "misuse.py", day)
    shutil.copy(SOLUTIONS / "day15" / "public_tests.py", day)
    return tmp_path


def test_public_checks_pass_on_the_references():
    rows = selfcheck.check_day(SOLUTIONS, "day15")
    assert [r.exercise for r in rows] == [name for _, name in exercises_of("day15")]
    assert [r.status for r in rows] == ["passed"] * len(rows), [(r.exercise, r.message) for r in rows]


def test_public_checks_call_the_stubs_not_attempted(tmp_path):
    rows = selfcheck.check_day(_tree(tmp_path, stubs=True), "day15")
    assert [r.exercise for r in rows] == [name for _, name in exercises_of("day15")]
    assert [r.status for r in rows] == ["not attempted"] * len(rows), [(r.exercise, r.message) for r in rows]


MISTAKES = {
    "missing b_hh": ("rnn_cell", {"basic": [("    if b_hh is not None:\n        pre = pre + b_hh\n", "")]}),
    "sigmoid for tanh": ("rnn_cell", {"basic": [("return torch.tanh(pre)", "return torch.sigmoid(pre)")]}),
    "h_n without its layer dim": ("rnn_forward", {"basic": [("return output, h.unsqueeze(0)", "return output, h")]}),
    "state detached between steps": ("rnn_forward", {"basic": [("rnn_cell(x[t], h,", "rnn_cell(x[t], h.detach(),")]}),
    "gate order i, f, o, g": ("lstm_cell", {"intermediate": [("i, f, g, o = gates.chunk", "i, f, o, g = gates.chunk")]}),
    "h_n from the padded end": ("final_hidden", {"intermediate": [(
        "    packed = pack_padded_sequence(padded, lengths, batch_first=rnn.batch_first, enforce_sorted=False)\n"
        "    _, h_n = rnn(packed)", "    _, h_n = rnn(padded)")]}),
    "GRU b_hn outside r *": ("gru_cell", {"intermediate": [("n = torch.tanh(i_n + r * h_n)",
                                                              "n = torch.tanh(i_n + r * (h_n - b_hh.chunk(3)[2]) "
                                                              "+ b_hh.chunk(3)[2])")]}),
    "GRU blocks read z, r, n": ("gru_cell", {"intermediate": [("i_r, i_z, i_n = gi.chunk", "i_z, i_r, i_n = gi.chunk"),
                                                              ("h_r, h_z, h_n = gh.chunk", "h_z, h_r, h_n = gh.chunk")]}),
    "final_states takes h_n[-1] only": ("final_states", {"intermediate": [("return torch.cat(list(top), dim=1)",
                                                                          "return top[-1]")]}),
    "masked loss: pads in the mean": ("masked_sequence_loss", {"intermediate": [(
        '    return F.cross_entropy(logits[real], targets[real], reduction="mean")',
        '    per_step = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")\n'
        '    return (per_step * real.flatten()).mean()')]}),
    "provoke lengths of another dtype": ("provoke", {"advanced": [('"device": "meta"}', '"dtype": "float32"}')]}),
    "diagnose reads any 'size'": ("diagnose", {"advanced": [("    patterns = [", '    patterns = [("input_size", "size"),')]}),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_public_checks_fail_classic_mistakes_with_a_hint(tmp_path, mistake):
    exercise, replace = MISTAKES[mistake]
    rows = {r.exercise: r for r in selfcheck.check_day(_tree(tmp_path, replace), "day15")}
    assert rows[exercise].status == "failed", rows[exercise].message
    assert "Hint:" in rows[exercise].message


# ---------------------------------------------------------------------------------------------
# The hidden suites against wrong-per-docstring code: each wrong variant fails the hidden test
# named for it (with the words that say why), and the reference passes that same test.
# ---------------------------------------------------------------------------------------------

import importlib  # noqa: E402
from types import SimpleNamespace  # noqa: E402

HIDDEN = {level: importlib.import_module(f"autograder.hidden.day15.test_{level}") for level in ("basic", "intermediate")}


def _run_hidden(level, test_name, name, fn):
    """Run one hidden test in-process on ``fn`` as the submission's ``name``: None if it passes, else the failure."""
    torch.manual_seed(1234)
    try:
        getattr(HIDDEN[level], test_name)(submission=SimpleNamespace(**{name: fn}), reference=ref,
                                          device=torch.device("cpu"))
    except Exception as exc:  # noqa: BLE001 - any failure counts: a check's message or the wrong code's crash
        return f"{type(exc).__name__}: {exc}"
    return None


def _variant(level, name, old, new):
    """The reference ``name`` with one edit of its source."""
    source = (SOLUTIONS / "day15" / f"{level}.py").read_text()
    assert old in source
    namespace = {}
    exec(compile(source.replace(old, new), f"<{name} variant>", "exec"), namespace)
    return namespace[name]


SIZE_ONE_MISTAKES = {
    # key: (level, hidden test, function, wrong code, words of the failure)
    "rnn_cell_squeezes_W_ih": ("basic", "test_rnn_cell_size_one_dimensions", "rnn_cell",
                               _variant("basic", "rnn_cell", "pre = x @ W_ih.T", "pre = x @ W_ih.squeeze().T"), "I=1"),
    "rnn_forward_H_from_a_squeezed_W_hh": ("basic", "test_rnn_forward_size_one_dimensions", "rnn_forward",
                                           _variant("basic", "rnn_forward", "H = W_hh.shape[0]",
                                                    "H = len(W_hh.squeeze())"), "H=1"),
    "lstm_cell_H_from_a_squeezed_h": ("intermediate", "test_lstm_cell_size_one_dimensions", "lstm_cell",
                                      _variant("intermediate", "lstm_cell", "i, f, g, o = gates.chunk(4, dim=1)",
                                               "i, f, g, o = gates.split(h.squeeze().shape[-1], dim=1)"), "H=1"),
    "final_hidden_squeezes_the_units": ("intermediate", "test_final_hidden_size_one_dimensions", "final_hidden",
                                        _variant("intermediate", "final_hidden", "return h_n[-1]",
                                                 "return h_n.squeeze(-1)[-1]"), "H=1"),
    "gru_cell_H_from_a_squeezed_h": ("intermediate", "test_gru_cell_size_one_dimensions", "gru_cell",
                                     _variant("intermediate", "gru_cell", "i_r, i_z, i_n = gi.chunk(3, dim=1)",
                                              "i_r, i_z, i_n = gi.split(h.squeeze().shape[-1], dim=1)"), "H=1"),
    "final_states_squeezes_the_units": ("intermediate", "test_final_states_size_one_dimensions", "final_states",
                                        _variant("intermediate", "final_states", "return torch.cat(list(top), dim=1)",
                                                 "return torch.cat(list(top.squeeze(-1)), dim=-1)"), "H=1"),
}


@pytest.mark.parametrize("key", sorted(SIZE_ONE_MISTAKES))
def test_hidden_tests_catch_code_that_breaks_on_a_size_one_dimension(key):
    level, test_name, name, fn, words = SIZE_ONE_MISTAKES[key]
    failure = _run_hidden(level, test_name, name, fn)
    assert failure is not None and words in failure, failure
    assert _run_hidden(level, test_name, name, getattr(ref, name)) is None
