"""Public checks for Day 15: fixed inputs, PyTorch's own modules as the answer key.

Run them with ``make check`` or, in a notebook, ``check(rnn_cell)``.
Every check draws its inputs from a fixed seed inside ``torch.random.fork_rng``, so
running a check never changes the random numbers your own code draws next.
"""
from __future__ import annotations

import contextlib
import re

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from checking import GRU_GATES, LSTM_GATES, CheckFailure, NotAttempted, call, expect_close, expect_equal, expect_type, fail, public_check
from misuse import RecipeError, run_misuse

F64 = torch.float64
CELL_DIMS = {"batch row": 0, "hidden unit": 1}
SEQ_DIMS = {"time step": 0, "batch row": 1, "hidden unit": 2}
SEQ_DIMS_BATCH_FIRST = {"batch row": 0, "time step": 1, "hidden unit": 2}
H_N_DIMS = {"layer": 0, "batch row": 1, "hidden unit": 2}


@contextlib.contextmanager
def _fixed(seed: int):
    """Draw from a fixed seed without disturbing the caller's random stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _grads(output: torch.Tensor, inputs: list[torch.Tensor], weight: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Gradients of the scalar (output * weight).sum() with respect to each of ``inputs``."""
    return torch.autograd.grad((output * weight).sum(), inputs, allow_unused=True)


def _expect_grads(label: str, names: list[str], got: tuple, expected: tuple, hint: str, gates=None) -> None:
    for name, g, e in zip(names, got, expected):
        if g is None:
            fail(f"{label}: no gradient reaches {name}: the result does not depend on it through autograd.", hint)
        gate_args = {"gates": gates, "gate_dim": 0} if gates is not None and name.startswith(("W_", "b_")) else {}
        expect_close(f"{label}, gradient with respect to {name}", g, e, hint=hint, **gate_args)


# ------------------------------------------------------------------------------------ rnn_cell

def _rnn_cell_module(I=3, H=4, bias=True):
    with _fixed(15):
        return nn.RNNCell(I, H, bias=bias).double()


@public_check("rnn_cell")
def rnn_cell_matches_nn_RNNCell(rnn_cell):
    cell = _rnn_cell_module()
    with _fixed(151):
        x = torch.randn(2, 3, dtype=F64)
        h = torch.randn(2, 4, dtype=F64)
    got = call(rnn_cell, x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    expect_close("h_next", got, cell(x, h), dims=CELL_DIMS,
                 hint="h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh): both biases, tanh, transposed weights")


@public_check("rnn_cell")
def rnn_cell_without_bias(rnn_cell):
    cell = _rnn_cell_module(bias=False)
    with _fixed(152):
        x = torch.randn(2, 3, dtype=F64)
        h = torch.randn(2, 4, dtype=F64)
    got = call(rnn_cell, x, h, cell.weight_ih, cell.weight_hh)
    expect_close("h_next without biases", got, cell(x, h), dims=CELL_DIMS,
                 hint="b_ih and b_hh default to None: skip each bias when it is None")


@public_check("rnn_cell")
def rnn_cell_batch_of_one(rnn_cell):
    cell = _rnn_cell_module(I=5, H=2)
    with _fixed(153):
        x = torch.randn(1, 5, dtype=F64)
        h = torch.randn(1, 2, dtype=F64)
    got = call(rnn_cell, x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    expect_close("h_next for a batch of one", got, cell(x, h), dims=CELL_DIMS,
                 hint="keep the batch dimension: (1, H), not (H,); no squeeze, no loop over rows")


@public_check("rnn_cell")
def rnn_cell_gradients_match(rnn_cell):
    cell = _rnn_cell_module()
    with _fixed(154):
        x = torch.randn(3, 3, dtype=F64, requires_grad=True)
        h = torch.randn(3, 4, dtype=F64, requires_grad=True)
        weight = torch.randn(3, 4, dtype=F64)
    params = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    got = call(rnn_cell, x, h, *params)
    expect_close("h_next", got, cell(x, h), dims=CELL_DIMS,
                 hint="h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)")
    inputs = [x, h, *params]
    _expect_grads("rnn_cell", ["x", "h", "W_ih", "W_hh", "b_ih", "b_hh"], _grads(got, inputs, weight),
                  _grads(cell(x, h), inputs, weight),
                  hint="build h_next from the inputs with torch operations only: no .detach(), .data, .item(), "
                       "NumPy or torch.no_grad()")


# ------------------------------------------------------------------------------------ rnn_forward

def _rnn_module(I=3, H=5, bias=True, batch_first=False):
    with _fixed(16):
        return nn.RNN(I, H, bias=bias, batch_first=batch_first).double()


def _rnn_params(rnn: nn.RNN) -> list:
    return [rnn.weight_ih_l0, rnn.weight_hh_l0, getattr(rnn, "bias_ih_l0", None), getattr(rnn, "bias_hh_l0", None)]


@public_check("rnn_forward")
def rnn_forward_matches_nn_RNN(rnn_forward):
    rnn = _rnn_module()
    with _fixed(161):
        x = torch.randn(4, 2, 3, dtype=F64)     # (T, B, I)
        h0 = torch.randn(1, 2, 5, dtype=F64)    # (1, B, H)
    got = call(rnn_forward, x, h0, *_rnn_params(rnn))
    expected_out, expected_h_n = rnn(x, h0)
    expect_type("rnn_forward's result", got, tuple, hint="return a tuple (output, h_n), like nn.RNN")
    if len(got) != 2:
        fail(f"rnn_forward returned a tuple of {len(got)} items; expected (output, h_n).",
             "return output, h_n")
    output, h_n = got
    expect_close("output", output, expected_out, dims=SEQ_DIMS,
                 hint="output[t] is the hidden state after step t: start from h0[0], feed each step's new state "
                      "into the next, and stack the states along dim 0")
    expect_close("h_n", h_n, expected_h_n, dims=H_N_DIMS,
                 hint="h_n is the state after the last step, with the layer dimension kept: (1, B, H)")


@public_check("rnn_forward")
def rnn_forward_batch_first(rnn_forward):
    rnn = _rnn_module(batch_first=True)
    with _fixed(162):
        x = torch.randn(3, 4, 3, dtype=F64)     # (B, T, I)
        h0 = torch.randn(1, 3, 5, dtype=F64)    # (1, B, H): batch_first never applies to h0/h_n
    output, h_n = call(rnn_forward, x, h0, *_rnn_params(rnn), batch_first=True)
    expected_out, expected_h_n = rnn(x, h0)
    expect_close("output with batch_first=True", output, expected_out, dims=SEQ_DIMS_BATCH_FIRST,
                 hint="with batch_first=True, x is (B, T, I): step through x[:, t], and return output as (B, T, H)")
    expect_close("h_n with batch_first=True", h_n, expected_h_n, dims=H_N_DIMS,
                 hint="h_n stays (1, B, H) whatever batch_first says")


@public_check("rnn_forward")
def rnn_forward_h0_none_without_bias(rnn_forward):
    rnn = _rnn_module(bias=False)
    with _fixed(163):
        x = torch.randn(5, 2, 3, dtype=F64)
    output, h_n = call(rnn_forward, x, None, *_rnn_params(rnn))
    expected_out, expected_h_n = rnn(x)
    expect_close("output with h0=None and no biases", output, expected_out, dims=SEQ_DIMS,
                 hint="h0=None means a zero initial state of shape (B, H), with x's dtype and device "
                      "(x.new_zeros or torch.zeros(..., dtype=x.dtype, device=x.device)); skip biases that are None")
    expect_close("h_n with h0=None and no biases", h_n, expected_h_n, dims=H_N_DIMS,
                 hint="h_n is the last state, shape (1, B, H)")


@public_check("rnn_forward")
def rnn_forward_gradients_match(rnn_forward):
    rnn = _rnn_module()
    with _fixed(164):
        x = torch.randn(4, 2, 3, dtype=F64, requires_grad=True)
        h0 = torch.randn(1, 2, 5, dtype=F64, requires_grad=True)
        w_out = torch.randn(4, 2, 5, dtype=F64)
    params = _rnn_params(rnn)
    output, h_n = call(rnn_forward, x, h0, *params)
    expected_out, expected_h_n = rnn(x, h0)
    expect_close("output", output, expected_out, dims=SEQ_DIMS, hint="check the forward pass first")
    inputs = [x, h0, *params]
    got = torch.autograd.grad((output * w_out).sum() + h_n.sum(), inputs, allow_unused=True)
    expected = torch.autograd.grad((expected_out * w_out).sum() + expected_h_n.sum(), inputs)
    _expect_grads("rnn_forward", ["x", "h0", "W_ih", "W_hh", "b_ih", "b_hh"], got, expected,
                  hint="the gradient flows back through every step: don't detach the state between steps, and "
                       "don't write into a preallocated tensor in place; collect the states in a list and torch.stack")


# ------------------------------------------------------------------------------------ lstm_cell

def _lstm_cell_module(I=3, H=4, bias=True):
    with _fixed(17):
        return nn.LSTMCell(I, H, bias=bias).double()


def _lstm_cell_inputs(cell: nn.LSTMCell, B: int, seed: int, requires_grad: bool = False):
    with _fixed(seed):
        x = torch.randn(B, cell.input_size, dtype=F64, requires_grad=requires_grad)
        h = torch.randn(B, cell.hidden_size, dtype=F64, requires_grad=requires_grad)
        c = torch.randn(B, cell.hidden_size, dtype=F64, requires_grad=requires_grad)
    return x, h, c


def _lstm_cell_params(cell: nn.LSTMCell) -> list:
    return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]


_GATE_HINT = ("pre-activations = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, shape (B, 4H), both biases when given; "
              "PyTorch stacks the gates in the order i, f, g, o (rows 0:H, H:2H, 2H:3H, 3H:4H of W_ih, W_hh and the "
              "biases); sigmoid for i, f and o, tanh for g; c_next = f * c + i * g and h_next = o * tanh(c_next)")


def _lstm_result(got) -> tuple[torch.Tensor, torch.Tensor]:
    expect_type("lstm_cell's result", got, tuple, hint="return a tuple (h_next, c_next), like nn.LSTMCell")
    if len(got) != 2:
        fail(f"lstm_cell returned a tuple of {len(got)} items; expected (h_next, c_next).", "return h_next, c_next")
    return got


def _locate_mixed_up_gates(lstm_cell) -> None:
    """Name the gate blocks used in the wrong role, if that is the mistake.

    Every gate block gets the same weights and biases, so all four pre-activations are
    equal; then the gradient with respect to a block's bias differs from PyTorch's
    exactly in the blocks that are swapped, and nowhere when the order is right.
    """
    I, H, B = 3, 4, 2
    with _fixed(175):
        W_ih = torch.randn(H, I, dtype=F64).repeat(4, 1)
        W_hh = torch.randn(H, H, dtype=F64).repeat(4, 1)
        b_ih = torch.randn(H, dtype=F64).repeat(4).requires_grad_()
        b_hh = torch.randn(H, dtype=F64).repeat(4)
        x, h, c = (torch.randn(B, n, dtype=F64) for n in (I, H, H))
        w_h, w_c = torch.randn(B, H, dtype=F64), torch.randn(B, H, dtype=F64)
    cell = nn.LSTMCell(I, H).double()
    with torch.no_grad():
        for param, value in zip(_lstm_cell_params(cell), (W_ih, W_hh, b_ih, b_hh)):
            param.copy_(value)
    exp_h, exp_c = cell(x, (h, c))
    expected = torch.autograd.grad((exp_h * w_h).sum() + (exp_c * w_c).sum(), cell.bias_ih)[0]
    got_h, got_c = _lstm_result(call(lstm_cell, x, (h, c), W_ih, W_hh, b_ih, b_hh))
    if got_h.grad_fn is None or got_c.grad_fn is None:
        return
    got = torch.autograd.grad((got_h * w_h).sum() + (got_c * w_c).sum(), b_ih, allow_unused=True)[0]
    if got is None:
        return
    off = [gate for k, gate in enumerate(LSTM_GATES)
           if not torch.allclose(got[k * H:(k + 1) * H], expected[k * H:(k + 1) * H], rtol=1e-8, atol=1e-10)]
    if 0 < len(off) < len(LSTM_GATES):
        expect_close("d(h_next, c_next)/d(gate pre-activation)", got, expected, gates=LSTM_GATES, gate_dim=0,
                     hint=f"these gate blocks play the wrong role: {', '.join(off)}. " + _GATE_HINT)


@public_check("lstm_cell")
def lstm_cell_matches_nn_LSTMCell(lstm_cell):
    cell = _lstm_cell_module()
    x, h, c = _lstm_cell_inputs(cell, B=2, seed=171)
    got_h, got_c = _lstm_result(call(lstm_cell, x, (h, c), *_lstm_cell_params(cell)))
    exp_h, exp_c = cell(x, (h, c))
    try:
        expect_close("c_next", got_c, exp_c, dims=CELL_DIMS, hint=_GATE_HINT)
        expect_close("h_next", got_h, exp_h, dims=CELL_DIMS, hint=_GATE_HINT)
    except CheckFailure:
        _locate_mixed_up_gates(lstm_cell)  # a sharper message when the gate order is the mistake
        raise


@public_check("lstm_cell")
def lstm_cell_without_bias(lstm_cell):
    cell = _lstm_cell_module(I=2, H=3, bias=False)
    x, h, c = _lstm_cell_inputs(cell, B=3, seed=172)
    got_h, got_c = _lstm_result(call(lstm_cell, x, (h, c), cell.weight_ih, cell.weight_hh))
    exp_h, exp_c = cell(x, (h, c))
    hint = "b_ih and b_hh default to None: skip each bias when it is None"
    expect_close("c_next without biases", got_c, exp_c, dims=CELL_DIMS, hint=hint)
    expect_close("h_next without biases", got_h, exp_h, dims=CELL_DIMS, hint=hint)


@public_check("lstm_cell")
def lstm_cell_gradients_match(lstm_cell):
    cell = _lstm_cell_module()
    x, h, c = _lstm_cell_inputs(cell, B=3, seed=173, requires_grad=True)
    with _fixed(174):
        w_h, w_c = torch.randn(3, 4, dtype=F64), torch.randn(3, 4, dtype=F64)
    params = _lstm_cell_params(cell)
    got_h, got_c = _lstm_result(call(lstm_cell, x, (h, c), *params))
    exp_h, exp_c = cell(x, (h, c))
    inputs = [x, h, c, *params]
    got = torch.autograd.grad((got_h * w_h).sum() + (got_c * w_c).sum(), inputs, allow_unused=True)
    expected = torch.autograd.grad((exp_h * w_h).sum() + (exp_c * w_c).sum(), inputs)
    _expect_grads("lstm_cell", ["x", "h", "c", "W_ih", "W_hh", "b_ih", "b_hh"], got, expected,
                  hint=_GATE_HINT + "; build everything with torch operations (no .detach() or in-place writes)",
                  gates=LSTM_GATES)


# ------------------------------------------------------------------------------------ final_hidden

def _sequences(lengths, I, seed):
    with _fixed(seed):
        return [torch.randn(n, I, dtype=F64) for n in lengths]


def _alone(rnn: nn.Module, seq: torch.Tensor) -> torch.Tensor:
    """The last layer's hidden state after running one sequence by itself: (H,)."""
    batch = seq.unsqueeze(0) if rnn.batch_first else seq.unsqueeze(1)
    _, state = rnn(batch)
    h_n = state[0] if isinstance(state, tuple) else state
    return h_n[-1, 0]


_PACK_HINT = ("the last row of a padded batch is padding for every shorter sequence: pack the padded batch with the "
              "true lengths (pack_padded_sequence(..., lengths, enforce_sorted=False), lengths a CPU int64 tensor) "
              "and take h_n of the packed run, whose last layer is h_n[-1] (for an LSTM, h_n is the first item of "
              "(h_n, c_n)); PyTorch gives its rows back in the input order")


def _check_final_hidden(final_hidden, rnn: nn.Module, sequences: list[torch.Tensor], label: str) -> None:
    expected = torch.stack([_alone(rnn, s) for s in sequences])
    got = call(final_hidden, rnn, [s.clone() for s in sequences])
    expect_close(label, got, expected, dims={"sequence": 0, "hidden unit": 1}, hint=_PACK_HINT)


@public_check("final_hidden")
def final_hidden_gru_unsorted_lengths(final_hidden):
    with _fixed(18):
        gru = nn.GRU(3, 4).double()
    _check_final_hidden(final_hidden, gru, _sequences([3, 5, 2], 3, 181),
                        "final hidden states of nn.GRU, lengths [3, 5, 2]")


@public_check("final_hidden")
def final_hidden_lstm_two_layers_batch_first(final_hidden):
    with _fixed(19):
        lstm = nn.LSTM(2, 3, num_layers=2, batch_first=True).double()
    _check_final_hidden(final_hidden, lstm, _sequences([2, 6, 4, 1], 2, 182),
                        "final hidden states of a 2-layer batch_first nn.LSTM, lengths [2, 6, 4, 1]")


@public_check("final_hidden")
def final_hidden_rnn_one_sequence(final_hidden):
    with _fixed(20):
        rnn = nn.RNN(3, 2).double()
    _check_final_hidden(final_hidden, rnn, _sequences([4], 3, 183), "final hidden state of one sequence")



# ------------------------------------------------------------------------------------ gru_cell

def _gru_cell_module(I=3, H=4, bias=True):
    with _fixed(25):
        return nn.GRUCell(I, H, bias=bias).double()


def _gru_cell_params(cell: nn.GRUCell) -> list:
    return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]


_GRU_HINT = ("gi = x @ W_ih.T + b_ih and gh = h @ W_hh.T + b_hh, each (B, 3H), split into blocks r, z, n (rows 0:H, "
             "H:2H, 2H:3H); r = sigmoid(i_r + h_r), z = sigmoid(i_z + h_z), n = tanh(i_n + r * h_n) with b_hn inside "
             "r * (...), h_new = (1 - z) * n + z * h")


@public_check("gru_cell")
def gru_cell_matches_nn_GRUCell(gru_cell):
    cell = _gru_cell_module()
    with _fixed(251):
        x = torch.randn(2, 3, dtype=F64)
        h = torch.randn(2, 4, dtype=F64)
    got = call(gru_cell, x, h, *_gru_cell_params(cell))
    expect_close("h_new", got, cell(x, h), dims=CELL_DIMS, hint=_GRU_HINT)


@public_check("gru_cell")
def gru_cell_without_bias(gru_cell):
    cell = _gru_cell_module(I=2, H=3, bias=False)
    with _fixed(252):
        x = torch.randn(3, 2, dtype=F64)
        h = torch.randn(3, 3, dtype=F64)
    got = call(gru_cell, x, h, cell.weight_ih, cell.weight_hh)
    expect_close("h_new without biases", got, cell(x, h), dims=CELL_DIMS,
                 hint="b_ih and b_hh default to None: skip each bias when it is None; " + _GRU_HINT)


@public_check("gru_cell")
def gru_cell_gradients_match(gru_cell):
    cell = _gru_cell_module()
    with _fixed(253):
        x = torch.randn(3, 3, dtype=F64, requires_grad=True)
        h = torch.randn(3, 4, dtype=F64, requires_grad=True)
        weight = torch.randn(3, 4, dtype=F64)
    params = _gru_cell_params(cell)
    got = call(gru_cell, x, h, *params)
    expect_close("h_new", got, cell(x, h), dims=CELL_DIMS, hint=_GRU_HINT)
    inputs = [x, h, *params]
    _expect_grads("gru_cell", ["x", "h", "W_ih", "W_hh", "b_ih", "b_hh"], _grads(got, inputs, weight),
                  _grads(cell(x, h), inputs, weight),
                  hint=_GRU_HINT + "; build everything with torch operations (no .detach() or in-place writes)",
                  gates=GRU_GATES)


# ------------------------------------------------------------------------------------ final_states

def _alone_states(rnn: nn.Module, seq: torch.Tensor) -> torch.Tensor:
    """The top layer's state of each direction after running one sequence by itself: (D*H,).

    Read from the output of that run (no padding): the forward direction's state after the last
    step, and the backward direction's after it has read the sequence back to step 0."""
    output, _ = rnn(seq.unsqueeze(1))                       # (L, 1, D*H)
    if not rnn.bidirectional:
        return output[-1, 0]
    H = rnn.hidden_size
    return torch.cat([output[-1, 0, :H], output[0, 0, H:]])


_STATES_HINT = ("pack the padded batch with the lengths (enforce_sorted=False) and run the module once; h_n is "
                "(num_layers * D, B, H), each layer's forward row first: the top layer is h_n[-2] (forward) and "
                "h_n[-1] (backward), concatenated to (B, 2H), h_n[-1] alone when unidirectional. In output, the "
                "forward state ends at step L_b - 1 and the backward one at step 0; output[-1] is padding")


def _check_final_states(final_states, rnn: nn.Module, lengths: list[int], I: int, seed: int, label: str) -> None:
    sequences = _sequences(lengths, I, seed)
    padded = pad_sequence(sequences, padding_value=7.0)     # the padding holds 7s, which must not count
    expected = torch.stack([_alone_states(rnn, s) for s in sequences])
    got = call(final_states, rnn, padded.clone(), torch.tensor(lengths, dtype=torch.int64))
    H = rnn.hidden_size
    dims = {"sequence": 0, "feature": 1}
    if got is not None and isinstance(got, torch.Tensor) and got.shape == expected.shape and rnn.bidirectional:
        expect_close(label + ", forward direction (features :H)", got[:, :H], expected[:, :H], dims=dims,
                     hint=_STATES_HINT)
        expect_close(label + ", backward direction (features H:)", got[:, H:], expected[:, H:], dims=dims,
                     hint=_STATES_HINT)
    expect_close(label, got, expected, dims=dims, hint=_STATES_HINT)


@public_check("final_states")
def final_states_bidirectional_gru(final_states):
    with _fixed(26):
        gru = nn.GRU(3, 4, bidirectional=True).double()
    _check_final_states(final_states, gru, [3, 5, 2], 3, 261, "final states of a bidirectional nn.GRU, lengths [3, 5, 2]")


@public_check("final_states")
def final_states_two_layer_bidirectional_lstm(final_states):
    with _fixed(27):
        lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True).double()
    _check_final_states(final_states, lstm, [2, 6, 4, 1], 2, 262,
                        "final states of a 2-layer bidirectional nn.LSTM, lengths [2, 6, 4, 1]")


@public_check("final_states")
def final_states_unidirectional_rnn(final_states):
    with _fixed(28):
        rnn = nn.RNN(3, 2, num_layers=2).double()
    _check_final_states(final_states, rnn, [4, 1, 3], 3, 263, "final states of a 2-layer nn.RNN, lengths [4, 1, 3]")


# ------------------------------------------------------------------------------------ masked_sequence_loss

_MASK_HINT = ("step t of sequence b is real when t < lengths[b]: keep only those steps (a (T, B) mask, or targets "
              "set to ignore_index on a copy) and average the cross-entropy over the real tokens, sum / lengths.sum(), "
              "not over all T * B positions")


def _loss_inputs(T, B, C, lengths, seed, requires_grad=False):
    with _fixed(seed):
        logits = torch.randn(T, B, C, dtype=F64, requires_grad=requires_grad)
        targets = torch.randint(0, C, (T, B))
    return logits, targets, torch.tensor(lengths, dtype=torch.int64)


def _real_tokens_loss(logits, targets, lengths) -> torch.Tensor:
    """nn.CrossEntropyLoss on the real steps gathered one sequence at a time: the answer key."""
    rows = [logits[:n, b] for b, n in enumerate(lengths.tolist())]
    labels = [targets[:n, b] for b, n in enumerate(lengths.tolist())]
    return nn.CrossEntropyLoss()(torch.cat(rows), torch.cat(labels))


@public_check("masked_sequence_loss")
def masked_sequence_loss_over_real_tokens(masked_sequence_loss):
    logits, targets, lengths = _loss_inputs(6, 4, 5, [6, 2, 4, 1], 291)
    got = call(masked_sequence_loss, logits, targets.clone(), lengths)
    expect_close("masked loss, lengths [6, 2, 4, 1] in a (6, 4, 5) batch", got,
                 _real_tokens_loss(logits, targets, lengths), hint=_MASK_HINT)


@public_check("masked_sequence_loss")
def masked_sequence_loss_shorter_than_the_padding(masked_sequence_loss):
    logits, targets, lengths = _loss_inputs(7, 3, 3, [3, 5, 2], 292)
    got = call(masked_sequence_loss, logits, targets.clone(), lengths)
    expect_close("masked loss, lengths [3, 5, 2] in a batch padded to T = 7", got,
                 _real_tokens_loss(logits, targets, lengths), hint=_MASK_HINT)


@public_check("masked_sequence_loss")
def masked_sequence_loss_gradients(masked_sequence_loss):
    logits, targets, lengths = _loss_inputs(5, 3, 4, [5, 1, 3], 293, requires_grad=True)
    got = call(masked_sequence_loss, logits, targets.clone(), lengths)
    expected = _real_tokens_loss(logits, targets, lengths)
    expect_close("masked loss", got, expected, hint=_MASK_HINT)
    if got.grad_fn is None:
        fail("masked loss: no gradient reaches logits: the result does not depend on it through autograd.",
             "compute the loss from logits with torch operations (no .item(), .detach() or torch.no_grad())")
    (got_grad,) = torch.autograd.grad(got, logits)
    (exp_grad,) = torch.autograd.grad(expected, logits)
    expect_close("gradient with respect to logits", got_grad, exp_grad,
                 dims={"time step": 0, "batch row": 1, "class": 2},
                 hint="the gradient is zero at the padded steps and 1 / lengths.sum() times the softmax minus the "
                      "one-hot target at the real ones; " + _MASK_HINT)


# ------------------------------------------------------------------------------------ provoke / diagnose

# The kind's key phrase: enough to tell the eight kinds apart (the hidden tests read the whole message).
_KEY_PHRASE = {
    "input_size": r"input_size",
    "hidden_shape": r"hidden|\bhx\b",
    "input_rank": r"Expected input to be",
    "device_mismatch": r"device",
    "dtype_mismatch": r"dtype|type",
    "unsorted_lengths": r"sorted in decreasing order",
    "lengths_device_or_dtype": r"'lengths' argument",
    "zero_length": r"greater than 0|larger than 0",
}

_MISUSE = {
    "input_size": "an input whose last dimension is not the model's input_size",
    "hidden_shape": "a \"hidden\" state whose shape is not (num_layers, B, H)",
    "input_rank": "a 4-D input, such as an image batch (B, C, H, W)",
    "device_mismatch": "the model on \"device\": \"meta\" with a CPU input (or the other way round)",
    "dtype_mismatch": "float64 data for a float32 model",
    "unsorted_lengths": "the step \"pack\" with lengths that are not in decreasing order",
    "lengths_device_or_dtype": "the step \"pack\" with lengths as a tensor on the meta device (sorted)",
    "zero_length": "the step \"pack\" with a 0 among the lengths",
}


def _expect_genuine(provoke, kind: str) -> None:
    """Run the recipe as the grader does (run_misuse, genuine PyTorch) and look at the error it raises."""
    try:
        recipe = call(provoke, kind)
    except NotAttempted:
        raise
    except Exception as raised:
        fail(f"provoke({kind!r}) raised {type(raised).__name__}: {raised} instead of returning a recipe.",
             "return the misuse as a recipe (a dict in misuse.py's format); run_misuse runs it")
    if isinstance(recipe, BaseException) or not isinstance(recipe, dict):
        fail(f"provoke({kind!r}) returned {type(recipe).__name__}, not a recipe (a dict): the grader only counts an "
             f"error it sees PyTorch raise when it runs your recipe itself.",
             "return the misuse as a dict in misuse.py's format; try it with run_misuse(provoke(kind))")
    try:
        exc = run_misuse(recipe)
    except RecipeError as bad:
        fail(f"provoke({kind!r}) returned a recipe that is not in misuse.py's format: {bad}",
             f"see misuse.py's docstring; for {kind}: {_MISUSE[kind]}")
    if exc is None:
        fail(f"provoke({kind!r})'s recipe ran without an error.", f"commit the mistake: {_MISUSE[kind]}")
    if type(exc).__name__ not in ("RuntimeError", "ValueError") or not re.search(_KEY_PHRASE[kind], str(exc)):
        fail(f"provoke({kind!r})'s recipe makes PyTorch raise {type(exc).__name__}: {str(exc)[:160]!r}, which is not "
             f"the error of {kind}.", f"commit that mistake instead: {_MISUSE[kind]}")


@public_check("provoke")
def provoke_shape_errors(provoke):
    for kind in ("input_size", "hidden_shape", "input_rank"):
        _expect_genuine(provoke, kind)


@public_check("provoke")
def provoke_device_and_dtype_errors(provoke):
    for kind in ("device_mismatch", "dtype_mismatch"):
        _expect_genuine(provoke, kind)


@public_check("provoke")
def provoke_packing_errors(provoke):
    for kind in ("unsorted_lengths", "lengths_device_or_dtype", "zero_length"):
        _expect_genuine(provoke, kind)


@public_check("provoke")
def provoke_rejects_an_unknown_kind(provoke):
    try:
        result = call(provoke, "no_such_kind")
    except ValueError:
        return
    except NotAttempted:
        raise
    except Exception as exc:
        fail(f"provoke('no_such_kind') raised {type(exc).__name__}: {exc}; expected a ValueError.",
             "check `kind not in ERROR_KINDS` first and raise ValueError(...)")
    fail(f"provoke('no_such_kind') returned {result!r:.80} instead of raising ValueError.",
         "check `kind not in ERROR_KINDS` first and raise ValueError(...)")


def _raised(misuse) -> BaseException:
    try:
        misuse()
    except Exception as exc:
        return exc
    raise AssertionError(f"the misuse raised nothing in torch {torch.__version__} (a bug of the kit)")


def _expect_diagnosis(diagnose, exc: BaseException, kind: str) -> None:
    shown = f"{type(exc).__name__}: {str(exc)[:110]}"
    expect_equal(f"diagnose({shown!r})", call(diagnose, exc), kind,
                 hint=(f"this message means {kind}" if kind != "unknown" else
                       "not an RNN error: match phrases specific to each kind and check the exception type, "
                       "so unrelated errors give 'unknown'"))


@public_check("diagnose")
def diagnose_shape_errors(diagnose):
    with _fixed(21):
        gru, lstm, rnn = nn.GRU(4, 6), nn.LSTM(4, 6, batch_first=True), nn.RNN(4, 6)
    x = torch.zeros(7, 2, 4)
    cases = [
        (lambda: gru(torch.zeros(7, 2, 5)), "input_size"),
        # h0 built as if the time dimension were the batch: (1, T, H) instead of (1, B, H)
        (lambda: lstm(x.transpose(0, 1), (torch.zeros(1, 7, 6), torch.zeros(1, 7, 6))), "hidden_shape"),
        (lambda: rnn(x, torch.zeros(2, 6)), "hidden_shape"),
        (lambda: rnn(torch.zeros(2, 3, 7, 4)), "input_rank"),
    ]
    for misuse, kind in cases:
        _expect_diagnosis(diagnose, _raised(misuse), kind)


@public_check("diagnose")
def diagnose_device_and_dtype_errors(diagnose):
    with _fixed(22):
        lstm, gru64 = nn.LSTM(4, 6), nn.GRU(4, 6).double()
    x = torch.zeros(7, 2, 4)
    cases = [
        (lambda: nn.GRU(4, 6, device="meta")(x), "device_mismatch"),
        (lambda: lstm(x.to("meta")), "device_mismatch"),
        (lambda: lstm(x.double()), "dtype_mismatch"),
        (lambda: gru64(x), "dtype_mismatch"),
    ]
    for misuse, kind in cases:
        _expect_diagnosis(diagnose, _raised(misuse), kind)


@public_check("diagnose")
def diagnose_packing_errors(diagnose):
    padded = pad_sequence([torch.zeros(n, 3) for n in (4, 2, 5)])  # (T=5, B=3, I=3)
    cases = [
        (lambda: pack_padded_sequence(padded, torch.tensor([4, 2, 5])), "unsorted_lengths"),
        (lambda: pack_padded_sequence(padded, torch.tensor([5, 4, 2], device="meta")), "lengths_device_or_dtype"),
        (lambda: pack_padded_sequence(padded, torch.tensor([5, 4, 0])), "zero_length"),
    ]
    for misuse, kind in cases:
        _expect_diagnosis(diagnose, _raised(misuse), kind)


@public_check("diagnose")
def diagnose_unrelated_errors_are_unknown(diagnose):
    cases = [
        lambda: 1 / 0,
        lambda: {"h0": 1}["c0"],
        lambda: torch.zeros(3)[5],
        lambda: torch.zeros(2, 3).view(4),
    ]
    for misuse in cases:
        _expect_diagnosis(diagnose, _raised(misuse), "unknown")


# ------------------------------------------------------------------------------------ check_sequence_batch
# Answer keys written by hand from the layout (the module's batch_first) and the lengths.

def _expect_findings(check_sequence_batch, module, x, lengths, expected, why, hint):
    got = call(check_sequence_batch, module, x, lengths)
    expect_equal(f"check_sequence_batch({type(module).__name__}(batch_first={module.batch_first}), x {tuple(x.shape)}, "
                 f"lengths={lengths}) ({why})", got, expected, hint=hint)


@public_check("check_sequence_batch")
def batch_laid_out_the_other_way_round(check_sequence_batch):
    time_first, batch_first = nn.GRU(3, 4), nn.LSTM(3, 4, batch_first=True)
    _expect_findings(check_sequence_batch, time_first, torch.zeros(2, 6, 3), [6, 6], ["batch_first_mismatch"],
                     "a (B, T, I) batch for a time-first module, every sequence full",
                     "the module's batch axis is 1 when batch_first is False: it must have len(lengths) entries")
    _expect_findings(check_sequence_batch, batch_first, torch.zeros(6, 2, 3), [6, 6], ["batch_first_mismatch"],
                     "a (T, B, I) batch for a batch_first module",
                     "with batch_first=True the batch axis is 0")
    _expect_findings(check_sequence_batch, time_first, torch.zeros(6, 2, 3), [6, 6], [],
                     "the right layout, every sequence full", "report nothing when nothing is wrong")


@public_check("check_sequence_batch")
def padded_last_step_is_found(check_sequence_batch):
    time_first, batch_first = nn.RNN(3, 4), nn.GRU(3, 4, batch_first=True)
    _expect_findings(check_sequence_batch, time_first, torch.zeros(6, 3, 3), [6, 2, 6], ["padded_last_step"],
                     "the second sequence has 2 real steps of 6",
                     "a length below the number of time steps means output[-1] is padding for that sequence")
    _expect_findings(check_sequence_batch, batch_first, torch.zeros(3, 6, 3), torch.tensor([6, 6, 5]),
                     ["padded_last_step"], "lengths as a tensor, batch_first",
                     "count the time steps on the module's time axis (axis 1 when batch_first)")
    _expect_findings(check_sequence_batch, time_first, torch.zeros(2, 6, 3), [2, 1, 2, 2, 2, 2],
                     ["padded_last_step"], "6 sequences of up to 2 steps, the right layout",
                     "a layout that fits the lengths is not a mismatch")
    _expect_findings(check_sequence_batch, time_first, torch.zeros(2, 5, 3), [5, 3],
                     ["batch_first_mismatch", "padded_last_step"], "(B, T, I) for a time-first module, and padded",
                     "on a mismatch, count the time steps on the other axis (the data's real time axis), "
                     "and report both findings in the order of BATCH_FINDINGS")
    _expect_findings(check_sequence_batch, time_first, torch.zeros(6, 2, 3), None, [],
                     "no lengths", "without lengths nothing can be told: return []")
