"""Day 15 · Intermediate: the LSTM and GRU cells, and padding done right: the last real states of a
variable-length batch (one direction or two) and a loss that ignores the padded steps.

Shapes: T time steps, B batch, I input features, H hidden units, C classes, L_i the length of
sequence i. Weights follow PyTorch's layout: the LSTM's four gates are stacked in the order
i, f, g, o (``W_ih: (4H, I)``, ``W_hh: (4H, H)``, biases ``(4H,)``), the GRU's three in the order
r, z, n (``W_ih: (3H, I)``, ``W_hh: (3H, H)``, biases ``(3H,)``).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence


def lstm_cell(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], W_ih: torch.Tensor,
              W_hh: torch.Tensor, b_ih: torch.Tensor | None = None,
              b_hh: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, equal to ``nn.LSTMCell``.

    The pre-activations of the four gates, (B, 4H), are x @ W_ih.T + b_ih + h @ W_hh.T + b_hh;
    split them into blocks of H columns in the order i, f, g, o, then

        i, f, o = sigmoid(...), g = tanh(...)
        c_next = f * c + i * g
        h_next = o * tanh(c_next)

    Args:
        x: (B, I) input at this time step.
        state: a tuple (h, c) of two (B, H) tensors: hidden state and cell state.
        W_ih: (4H, I) input-to-hidden weights, gate blocks i, f, g, o.
        W_hh: (4H, H) hidden-to-hidden weights, same blocks.
        b_ih, b_hh: (4H,) biases; either may be None (that bias is left out).
        Any of B, I, H may be 1. The inputs (``x``, ``h``, ``c``, the weights) are not modified.
    Returns:
        (h_next, c_next): a tuple of two (B, H) tensors, dtype and device of ``x``.
        Gradients flow back through both to every input tensor and weight (build them with
        torch operations only: no ``.detach()``, ``.data``, ``.item()``, NumPy or
        ``torch.no_grad()``).
    """
    raise NotImplementedError("lstm_cell (day15 intermediate): not yet attempted. Replace this line with your code (the reference solution takes about 10 lines).")


def gru_cell(x: torch.Tensor, h: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None) -> torch.Tensor:
    """One GRU step, equal to ``nn.GRUCell``.

    Compute the input part gi = x @ W_ih.T + b_ih and the hidden part gh = h @ W_hh.T + b_hh,
    both (B, 3H), and split each into blocks of H columns in PyTorch's order r, z, n
    (rows 0:H of the weights and biases belong to the reset gate r, H:2H to the update gate z,
    2H:3H to the candidate n). With gi = (i_r, i_z, i_n) and gh = (h_r, h_z, h_n):

        r = sigmoid(i_r + h_r)
        z = sigmoid(i_z + h_z)
        n = tanh(i_n + r * h_n)        # h_n includes b_hn: the reset gate multiplies it too
        h_new = (1 - z) * n + z * h    # z near 1 keeps the old state

    Args:
        x: (B, I) input at this time step.
        h: (B, H) hidden state.
        W_ih: (3H, I) input-to-hidden weights, gate blocks r, z, n.
        W_hh: (3H, H) hidden-to-hidden weights, same blocks.
        b_ih, b_hh: (3H,) biases, same blocks; either may be None (that bias is left out).
        Any of B, I, H may be 1. The inputs (``x``, ``h``, the weights) are not modified.
    Returns:
        h_new: (B, H), dtype and device of ``x``. Gradients flow back through it to every input
        tensor and weight (torch operations only: no ``.detach()``, ``.data``, ``.item()``, NumPy
        or ``torch.no_grad()``).
    """
    raise NotImplementedError("gru_cell (day15 intermediate): not yet attempted. Replace this line with your code (the reference solution takes about 12 lines).")


def final_hidden(rnn: nn.RNN | nn.GRU | nn.LSTM, sequences: list[torch.Tensor]) -> torch.Tensor:
    """The last real hidden state of every sequence of a variable-length batch.

    Pad the sequences into one batch (``pad_sequence``, in the module's layout), pack it
    with the true lengths (``pack_padded_sequence`` with ``enforce_sorted=False``; the
    lengths must be a CPU int64 tensor, wherever the data is) and run ``rnn`` once on the
    packed batch. Row b of the result must equal the last layer's hidden state after the
    last real step of ``sequences[b]``, as if that sequence had been run alone.

    Args:
        rnn: a unidirectional ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` with any ``num_layers``,
            ``batch_first`` True or False, on the device and dtype of the sequences.
        sequences: a list of B tensors, sequence b of shape (L_b, I), lengths L_b >= 1 in
            any order. Any of B, I, H, L_b and ``num_layers`` may be 1.
    Returns:
        (B, H): the final hidden state of the last layer, one row per sequence, in the
        order of ``sequences``, on their device and dtype. Gradients flow back through it to
        every sequence and to the rnn's parameters (no ``.detach()``, ``.data`` or
        ``torch.no_grad()``).
    """
    raise NotImplementedError("final_hidden (day15 intermediate): not yet attempted. Replace this line with your code (the reference solution takes about 7 lines).")


def final_states(rnn: nn.RNN | nn.GRU | nn.LSTM, padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The last real state of each direction of the top layer, for a padded batch, one or two directions.

    Pack ``padded`` with ``lengths`` (``enforce_sorted=False``) and run ``rnn`` once on the
    packed batch. For sequence b, of length L_b, and D directions (2 when ``rnn.bidirectional``):

    - ``h_n`` is (num_layers * D, B, H), layer by layer, each layer's forward direction first:
      the top layer's forward state is ``h_n[-2]`` and its backward state ``h_n[-1]``
      (``h_n[-1]`` alone is only the backward direction; with D = 1 it is the forward state).
    - In the (T, B, D*H) output (``pad_packed_sequence`` of the packed output), the forward
      direction ends at its last real step, ``output[L_b - 1, b, :H]``, while the backward
      direction reads the sequence from its end to t = 0, so its last state is at
      ``output[0, b, H:]``. ``output[-1]`` is padding for every sequence shorter than T.

    Args:
        rnn: an ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` with ``batch_first=False``, any
            ``num_layers``, ``bidirectional`` True or False, on the device and dtype of ``padded``.
        padded: (T, B, I) the batch, time first; steps t >= L_b of sequence b are padding
            (whatever they hold) and must not change the result.
        lengths: (B,) int64 tensor on the CPU, 1 <= L_b <= T, in any order.
        Any of B, I, H, T and ``num_layers`` may be 1.
    Returns:
        (B, D*H): row b is the top layer's forward state after step L_b - 1, followed (when
        bidirectional) by its backward state after step 0, the states sequence b would give run
        alone; on the device and dtype of ``padded``. Gradients flow back through it to
        ``padded`` and to the rnn's parameters (no ``.detach()``, ``.data`` or ``torch.no_grad()``).
    """
    raise NotImplementedError("final_states (day15 intermediate): not yet attempted. Replace this line with your code (the reference solution takes about 5 lines).")


def masked_sequence_loss(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a sequence-labelling batch, averaged over its real steps only.

    Step t of sequence b is real when t < lengths[b]; the padded steps (t >= lengths[b]) do not
    count at all, neither in the sum nor in the count. The mean is over tokens: the sum of the
    cross-entropies of all real steps divided by their number, lengths.sum() (so a long sequence
    weighs more than a short one, as with ``nn.CrossEntropyLoss`` on the real steps alone).

    Args:
        logits: (T, B, C) unnormalised class scores, time first.
        targets: (T, B) int64 class indices in [0, C); at padded steps they hold arbitrary
            valid indices, which must not count.
        lengths: (B,) int64, 1 <= lengths[b] <= T, on the CPU or on the device of ``logits``.
        Any of T, B may be 1 (C >= 2). The inputs are not modified.
    Returns:
        A 0-dim tensor, dtype and device of ``logits``; gradients flow back through it to
        ``logits`` (zero at the padded steps).
    """
    raise NotImplementedError("masked_sequence_loss (day15 intermediate): not yet attempted. Replace this line with your code (the reference solution takes about 4 lines).")
