"""Day 15 · Intermediate: the LSTM cell, and the last real hidden state of a variable-length batch.

Shapes: T time steps, B batch, I input features, H hidden units, L_i the length of sequence i.
Weights follow PyTorch's layout: the four gates are stacked in the order i, f, g, o, so
``W_ih: (4H, I)``, ``W_hh: (4H, H)``, biases ``(4H,)``.
"""
from __future__ import annotations

import torch
from torch import nn
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
