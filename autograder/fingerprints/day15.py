"""Day 15's known mistakes: each function is the reference with one classic bug."""
from __future__ import annotations

import re

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from autograder.fingerprints import variant

D = "day15"


# ------------------------------------------------------------------------------------ rnn_cell

def _cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None, *, act=torch.tanh, use_b_ih=True, use_b_hh=True, transpose=True):
    """The reference rnn_cell, with switches for the classic mistakes."""
    pre = (x @ W_ih.T + h @ W_hh.T) if transpose else (x @ W_ih + h @ W_hh)
    if b_ih is not None and use_b_ih:
        pre = pre + b_ih
    if b_hh is not None and use_b_hh:
        pre = pre + b_hh
    return act(pre)


CELL_BUGS = {   # name: (switches, explanation, hint)
    "missing_b_hh": (dict(use_b_hh=False), "the hidden-to-hidden bias b_hh is never added.",
                     "h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh): add both biases when they are not None"),
    "missing_b_ih": (dict(use_b_ih=False), "the input-to-hidden bias b_ih is never added.",
                     "h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh): add both biases when they are not None"),
    "sigmoid_not_tanh": (dict(act=torch.sigmoid), "the nonlinearity is a sigmoid instead of tanh.",
                         "nn.RNN's default nonlinearity is tanh: h_next = torch.tanh(pre-activation)"),
    "relu_not_tanh": (dict(act=torch.relu), "the nonlinearity is a ReLU instead of tanh.",
                      "nn.RNN's default nonlinearity is tanh: h_next = torch.tanh(pre-activation)"),
    "weights_not_transposed": (dict(transpose=False), "the weights are used as they are stored, not transposed "
                               "(x @ W_ih instead of x @ W_ih.T).",
                               "PyTorch stores W_ih as (H, I) and W_hh as (H, H): multiply by W_ih.T and W_hh.T"),
}


def _register_cell_bugs():
    for name, (switches, explanation, hint) in CELL_BUGS.items():
        def cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None, _s=switches):
            return _cell(x, h, W_ih, W_hh, b_ih, b_hh, **_s)
        variant(D, "rnn_cell", name, "rnn_cell: " + explanation, hint)(cell)


_register_cell_bugs()


# ------------------------------------------------------------------------------------ rnn_forward

def _forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, batch_first=False, *, cell=_cell, steps=None,
             carry=True, use_h0=True, honour_batch_first=True, h_n_step=-1):
    """The reference rnn_forward, with switches for the classic mistakes."""
    transpose = batch_first and honour_batch_first
    if transpose:
        x = x.transpose(0, 1)
    T, B, _ = x.shape
    H = W_hh.shape[0]
    h_start = x.new_zeros(B, H) if (h0 is None or not use_h0) else h0[0]
    h = h_start
    outputs = []
    for t in (range(T) if steps is None else steps(T)):
        h_new = cell(x[t], h, W_ih, W_hh, b_ih, b_hh)
        outputs.append(h_new)
        h = h_new if carry else h_start
    output = torch.stack(outputs)
    if transpose:
        output = output.transpose(0, 1)
    return output, outputs[h_n_step].unsqueeze(0)


FORWARD_BUGS = {
    "state_never_updated": (dict(carry=False), "every step starts again from h0: the new hidden state is never "
                            "carried to the next step.",
                            "inside the loop, assign the step's result back to h (h = rnn_cell(x[t], h, ...))"),
    "off_by_one_last_step_missing": (dict(steps=lambda T: range(T - 1)), "the time loop stops one step early "
                                     "(range(T - 1)): the last time step is never run.",
                                     "loop over every step: for t in range(T)"),
    "off_by_one_first_step_skipped": (dict(steps=lambda T: range(1, T)), "the time loop starts at step 1: the first "
                                      "time step is never run.", "loop over every step: for t in range(T)"),
    "batch_first_ignored": (dict(honour_batch_first=False), "batch_first=True is ignored: a (B, T, I) input is "
                            "walked as if it were (T, B, I).",
                            "with batch_first, transpose x to (T, B, I) first and the output back to (B, T, H)"),
    "h0_ignored": (dict(use_h0=False), "the given h0 is ignored: the loop always starts from zeros.",
                   "start from h0[0] when h0 is given, from zeros only when h0 is None"),
    "h_n_from_first_step": (dict(h_n_step=0), "h_n is the state after the first step, not after the last one.",
                            "h_n is the state after the last step: output[-1] (time-major), with the layer dim kept"),
}


def _register_forward_bugs():
    for name, (switches, explanation, hint) in FORWARD_BUGS.items():
        def forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, batch_first=False, _s=switches):
            return _forward(x, h0, W_ih, W_hh, b_ih, b_hh, batch_first, **_s)
        variant(D, "rnn_forward", name, "rnn_forward: " + explanation, hint)(forward)
    # A broken step breaks the loop: the cell's mistakes, seen through rnn_forward.
    for name, (switches, explanation, hint) in CELL_BUGS.items():
        def forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, batch_first=False, _s=switches):
            return _forward(x, h0, W_ih, W_hh, b_ih, b_hh, batch_first,
                            cell=lambda *a: _cell(*a, **_s))
        variant(D, "rnn_forward", "step_" + name, "rnn_forward's step (your rnn_cell?): " + explanation, hint)(forward)


_register_forward_bugs()


# ------------------------------------------------------------------------------------ lstm_cell

def _lstm(x, state, W_ih, W_hh, b_ih=None, b_hh=None, *, order="ifgo", tanh_c=True, use_b_hh=True, g_act=torch.tanh):
    h, c = state
    gates = x @ W_ih.T + h @ W_hh.T
    if b_ih is not None:
        gates = gates + b_ih
    if b_hh is not None and use_b_hh:
        gates = gates + b_hh
    blocks = dict(zip(order, gates.chunk(4, dim=1)))
    i, f, g, o = blocks["i"], blocks["f"], blocks["g"], blocks["o"]
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * g_act(g)
    h_next = torch.sigmoid(o) * (torch.tanh(c_next) if tanh_c else c_next)
    return h_next, c_next


LSTM_BUGS = {
    "gate_order_ifog": (dict(order="ifog"), "the gate blocks are unpacked as i, f, o, g; PyTorch stacks them as "
                        "i, f, g, o.", "i, f, g, o = gates.chunk(4, dim=1): the cell candidate g is the third block"),
    "gate_order_fiog": (dict(order="figo"), "the input and forget gates are swapped (blocks unpacked as f, i, g, o).",
                        "i, f, g, o = gates.chunk(4, dim=1): the input gate is the first block"),
    "gate_order_iofg": (dict(order="iofg"), "the gate blocks are unpacked as i, o, f, g (the Keras order is not "
                        "PyTorch's).", "i, f, g, o = gates.chunk(4, dim=1)"),
    "h_without_tanh": (dict(tanh_c=False), "h_next = o * c_next: the tanh of the new cell state is missing.",
                       "h_next = sigmoid(o) * tanh(c_next)"),
    "sigmoid_candidate": (dict(g_act=torch.sigmoid), "the cell candidate g goes through a sigmoid instead of tanh.",
                          "sigmoid for i, f, o; tanh for the candidate g"),
    "missing_b_hh": (dict(use_b_hh=False), "the hidden-to-hidden bias b_hh is never added.",
                     "pre-activations: x @ W_ih.T + b_ih + h @ W_hh.T + b_hh"),
}


def _register_lstm_bugs():
    for name, (switches, explanation, hint) in LSTM_BUGS.items():
        def cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None, _s=switches):
            return _lstm(x, state, W_ih, W_hh, b_ih, b_hh, **_s)
        variant(D, "lstm_cell", name, "lstm_cell: " + explanation, hint)(cell)


_register_lstm_bugs()


# ------------------------------------------------------------------------------------ final_hidden

def _last_layer(h_n, pick_c=False, layer=-1):
    if isinstance(h_n, tuple):
        h_n = h_n[1] if pick_c else h_n[0]
    return h_n[layer]


@variant(D, "final_hidden", "padded_end",
         "final_hidden: the state is read at the padded end of the batch (the last time step of the padded "
         "tensor), not at each sequence's real end.",
         "pack the padded batch with the true lengths (pack_padded_sequence(..., enforce_sorted=False)) and take "
         "h_n: a padded batch run as it is walks every sequence through the padding")
def final_hidden_padded_end(rnn, sequences):
    padded = pad_sequence(sequences, batch_first=rnn.batch_first)
    out, _ = rnn(padded)
    return out[:, -1] if rnn.batch_first else out[-1]


@variant(D, "final_hidden", "first_layer",
         "final_hidden: h_n[0] (the first layer) is returned instead of the last layer, h_n[-1].",
         "h_n has one row per layer, (num_layers, B, H): the top layer is h_n[-1]")
def final_hidden_first_layer(rnn, sequences):
    lengths = torch.tensor([seq.shape[0] for seq in sequences], dtype=torch.int64)
    padded = pad_sequence(sequences, batch_first=rnn.batch_first)
    packed = pack_padded_sequence(padded, lengths, batch_first=rnn.batch_first, enforce_sorted=False)
    _, h_n = rnn(packed)
    return _last_layer(h_n, layer=0)


@variant(D, "final_hidden", "cell_state",
         "final_hidden: for an LSTM, the cell state c_n is returned instead of the hidden state h_n.",
         "nn.LSTM returns (output, (h_n, c_n)): take h_n, the first of the pair")
def final_hidden_cell_state(rnn, sequences):
    lengths = torch.tensor([seq.shape[0] for seq in sequences], dtype=torch.int64)
    padded = pad_sequence(sequences, batch_first=rnn.batch_first)
    packed = pack_padded_sequence(padded, lengths, batch_first=rnn.batch_first, enforce_sorted=False)
    _, h_n = rnn(packed)
    return _last_layer(h_n, pick_c=True)


@variant(D, "final_hidden", "batch_first_ignored",
         "final_hidden: the sequences are padded time-major, (T, B, I), but packed as the module's layout says: "
         "for a batch_first module, time and batch are mixed up.",
         "pad_sequence(sequences, batch_first=rnn.batch_first): pad and pack with the same batch_first")
def final_hidden_batch_first_ignored(rnn, sequences):
    lengths = torch.tensor([seq.shape[0] for seq in sequences], dtype=torch.int64)
    padded = pad_sequence(sequences)
    packed = pack_padded_sequence(padded, lengths, batch_first=rnn.batch_first, enforce_sorted=False)
    _, h_n = rnn(packed)
    return _last_layer(h_n)


@variant(D, "final_hidden", "sorted_order_kept",
         "final_hidden: the rows come back sorted by length (longest first), not in the order of the sequences.",
         "enforce_sorted=False lets PyTorch sort and unsort for you; h_n is then in the input order")
def final_hidden_sorted_order(rnn, sequences):
    order = sorted(range(len(sequences)), key=lambda b: -sequences[b].shape[0])
    seqs = [sequences[b] for b in order]
    lengths = torch.tensor([seq.shape[0] for seq in seqs], dtype=torch.int64)
    padded = pad_sequence(seqs, batch_first=rnn.batch_first)
    packed = pack_padded_sequence(padded, lengths, batch_first=rnn.batch_first, enforce_sorted=True)
    _, h_n = rnn(packed)
    return _last_layer(h_n)


# ------------------------------------------------------------------------------------ provoke

def _reference(day: str):
    from autograder.fingerprints.match import references
    return references(day)


def _run_misuse(recipe):
    from solutions.misuse import run_misuse
    return run_misuse(recipe)


@variant(D, "provoke", "returns_the_error_not_the_recipe",
         "provoke: the misuse is run inside provoke and its exception returned, not the recipe; the grader only "
         "counts an error it sees PyTorch raise when it runs the recipe itself.",
         "return the recipe (a dict in misuse.py's format): the grader calls run_misuse on it")
def provoke_returns_the_error(kind):
    return _run_misuse(_reference(D).provoke(kind))


@variant(D, "provoke", "lengths_wrong_dtype_is_silent",
         "provoke: for lengths_device_or_dtype the lengths are a tensor of another dtype on the CPU, which PyTorch "
         "quietly converts to int64: nothing is raised.",
         "put the lengths tensor on the wrong device instead: {\"values\": [...], \"device\": \"meta\"}")
def provoke_lengths_dtype(kind):
    recipe = _reference(D).provoke(kind)
    if kind == "lengths_device_or_dtype":
        recipe = dict(recipe, lengths={"values": recipe["lengths"]["values"], "dtype": "float32"})
    return recipe


# ------------------------------------------------------------------------------------ diagnose

_PATTERNS = [  # the reference's, in its order
    ("unsorted_lengths", r"sorted in decreasing order|enforce_sorted"),
    ("lengths_device_or_dtype", r"'lengths' argument should be|lengths.*\b(cpu|int64|device|dtype)\b"),
    ("zero_length", r"length of all samples|lengths?\b.*(greater than 0|<= ?0)|sequence length to be larger"),
    ("device_mismatch", r"same device|expected device|two devices|device type|is on .* but expected"),
    ("dtype_mismatch", r"dtype|scalar type|must have the type|data type|same type"),
    ("hidden_shape", r"expected hidden|hidden\[\d\]|\bhx\b|\bcx\b|hidden\d|hidden_size|hidden size"),
    ("input_rank", r"expected input to be \w+ or \w+|input must have \d+ dimensions"),
    ("input_size", r"input_size|input size|input\.size\(-1\)|mat1 and mat2 shapes cannot be multiplied"),
]


def _diagnose(exc, patterns, check_type=True):
    if check_type and not any(cls.__name__ in ("RuntimeError", "ValueError") for cls in type(exc).__mro__):
        return "unknown"
    message = str(exc).lower()
    for kind, pattern in patterns:
        if re.search(pattern, message):
            return kind
    return "unknown"


def _moved(first: str, pattern: str | None = None):
    """The reference's patterns with ``first`` tried first (and, if given, a looser pattern for it)."""
    mine = dict(_PATTERNS)
    head = (first, pattern or mine[first])
    return [head] + [(k, p) for k, p in _PATTERNS if k != first]


@variant(D, "diagnose", "hidden_shape_as_input_size",
         "diagnose: hidden-state shape errors are named input_size (the word 'size' is matched before 'hidden').",
         "try the hidden-state phrases ('Expected hidden', 'hx') before the input-size ones, and never match a bare "
         "'size'")
def diagnose_size(exc):
    return _diagnose(exc, _moved("input_size", r"size"))


@variant(D, "diagnose", "dtype_as_device",
         "diagnose: dtype errors are named device_mismatch (the word 'type' is matched as a device word).",
         "look for 'device' phrases ('same device', 'expected device') and dtype phrases ('dtype', 'must have the "
         "type') separately")
def diagnose_dtype_device(exc):
    return _diagnose(exc, _moved("device_mismatch", r"device|type"))


@variant(D, "diagnose", "lengths_all_unsorted",
         "diagnose: every packing error about the lengths is named unsorted_lengths.",
         "three kinds mention lengths: 'sorted in decreasing order' is unsorted_lengths, \"'lengths' argument "
         "should be\" is lengths_device_or_dtype, 'greater than 0' is zero_length")
def diagnose_lengths(exc):
    return _diagnose(exc, _moved("unsorted_lengths", r"length"))


