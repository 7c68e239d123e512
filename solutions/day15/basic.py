"""Day 15 · Basic: the Elman RNN step and the loop that carries the hidden state.

Shapes: T time steps, B batch, I input features, H hidden units.
Weights follow PyTorch's layout: ``W_ih: (H, I)``, ``W_hh: (H, H)``, biases ``(H,)``.
"""
from __future__ import annotations

import torch


def rnn_cell(x: torch.Tensor, h: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None) -> torch.Tensor:
    """One tanh RNN step, equal to ``nn.RNNCell``.

    h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)

    Args:
        x: (B, I) input at this time step.
        h: (B, H) hidden state from the previous step.
        W_ih: (H, I) input-to-hidden weights.
        W_hh: (H, H) hidden-to-hidden weights.
        b_ih, b_hh: (H,) biases; either may be None (that bias is left out).
        Any of B, I, H may be 1. The inputs are not modified.
    Returns:
        h_next: (B, H), same dtype and device as ``x``. Gradients flow back through it to
        every input tensor and weight (build it with torch operations only: no ``.detach()``,
        ``.data``, ``.item()``, NumPy or ``torch.no_grad()``).
    """
    ### BEGIN SOLUTION
    pre = x @ W_ih.T + h @ W_hh.T
    if b_ih is not None:
        pre = pre + b_ih
    if b_hh is not None:
        pre = pre + b_hh
    return torch.tanh(pre)
    ### END SOLUTION


def rnn_forward(x: torch.Tensor, h0: torch.Tensor | None, W_ih: torch.Tensor, W_hh: torch.Tensor,
                b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None,
                batch_first: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the tanh RNN over a whole sequence, equal to a one-layer ``nn.RNN``.

    The same weights are used at every step: h_t = rnn_cell(x_t, h_{t-1}).

    Args:
        x: (T, B, I), or (B, T, I) when ``batch_first``.
        h0: (1, B, H) initial hidden state, or None for zeros.
        W_ih, W_hh, b_ih, b_hh: as in :func:`rnn_cell` (``W_hh: (H, H)`` gives H).
        batch_first: layout of ``x`` and of ``output`` (never of ``h0`` or ``h_n``).
        Any of T, B, I, H may be 1.
    Returns:
        output: (T, B, H), or (B, T, H) when ``batch_first``: the hidden state after every step.
        h_n: (1, B, H): the hidden state after the last step.
        Both have the dtype and device of ``x``. Gradients flow back through both to every
        input tensor and weight (build them with torch operations only: no ``.detach()``,
        ``.data``, ``.item()``, NumPy or ``torch.no_grad()``).
    """
    ### BEGIN SOLUTION
    if batch_first:
        x = x.transpose(0, 1)
    T, B, _ = x.shape
    H = W_hh.shape[0]
    h = x.new_zeros(B, H) if h0 is None else h0[0]
    outputs = []
    for t in range(T):
        h = rnn_cell(x[t], h, W_ih, W_hh, b_ih, b_hh)
        outputs.append(h)
    output = torch.stack(outputs)
    if batch_first:
        output = output.transpose(0, 1)
    return output, h.unsqueeze(0)
    ### END SOLUTION
