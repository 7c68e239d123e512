"""Day 16 · Project: a character-level language model on real words, end to end.

Shapes: N tokens in one long stream, B batch columns, T = N // B rows, k steps per
truncated-BPTT window, V characters in the vocabulary, H hidden units. Tokens are int64 ids
in [0, V). The recurrent ``model`` is an ``nn.RNN``/``nn.GRU``/``nn.LSTM`` with
``batch_first=False`` and ``input_size == V``; it reads one-hot characters,
``torch.nn.functional.one_hot(ids, V).to(head.weight.dtype)`` of shape (steps, B, V), and ``head``
is an ``nn.Linear(H, V)`` that turns hidden outputs into next-character logits. Its hidden state is
(num_layers, B, H), or the tuple (h, c) of two such tensors for an LSTM.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut one long stream of token ids into ``batch_size`` columns for truncated BPTT.

    With B = batch_size and T = N // B, column b is the contiguous slice
    ``stream[b*T : (b+1)*T]``: reading down a column follows the text, so a hidden state carried
    from one window of rows to the next continues the same column's text. The last N - T*B tokens
    are dropped.

    Args:
        stream: (N,) token ids (any dtype).
        batch_size: B >= 1.
    Returns:
        (T, B): ``out[t, b] == stream[b*T + t]``, same dtype and device as ``stream``.
    Raises:
        ValueError: when batch_size < 1 or N < batch_size (not even one row).
    """
    raise NotImplementedError("batchify (day16 project): not yet attempted. Replace this line with your code (the reference solution takes about 4 lines).")


def get_batch(source: torch.Tensor, i: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The truncated-BPTT window that starts at row ``i``: inputs and their next-token targets.

    With s = min(k, T - 1 - i) steps (the last window of a pass is shorter), the inputs are rows
    [i, i+s) and the targets the same rows shifted by one, [i+1, i+1+s): the target of every input
    token is the token that follows it in its column.

    Args:
        source: (T, B) token ids, as ``batchify`` returns them.
        i: first row of the window, 0 <= i < T - 1.
        k: window length, k >= 1.
    Returns:
        The tuple ``(x, y)``, both (s, B), same dtype and device as ``source``: ``x = source[i:i+s]``,
        ``y = source[i+1:i+1+s]``.
    """
    raise NotImplementedError("get_batch (day16 project): not yet attempted. Replace this line with your code (the reference solution takes about 2 lines).")


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of a language model over every position of a window.

    Flatten both consistently, ``logits`` to (T*B, V) and ``targets`` to (T*B,), so that row
    t*B + b of each is position (t, b), and take the mean of -log softmax(logits)[target] over the
    T*B positions (``F.cross_entropy`` does exactly this on raw logits).

    Args:
        logits: (T, B, V) raw scores (not probabilities), float32 or float64; may require grad.
        targets: (T, B) int64 ids in [0, V).
    Returns:
        A 0-dim tensor in the logits' dtype and device, the mean loss, differentiable with respect to
        ``logits``.
    """
    raise NotImplementedError("lm_loss (day16 project): not yet attempted. Replace this line with your code (the reference solution takes about 2 lines).")


def sample(model: nn.Module, head: nn.Module, prefix: torch.Tensor, n: int,
           temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Generate ``n`` tokens after ``prefix``, free running: each drawn token is the next input.

    In training the model reads the true text (teacher forcing); in generation it reads its own
    draws. Run the whole prefix once from the zero state (``state=None``), then carry the hidden
    state step by step: each step feeds only the newest token (one step, batch of one) with the
    state the previous step returned. At every step (the first one after the prefix included):

        logits = head(output of the last step), shape (1, V)
        temperature == 0: next = logits.argmax(-1)               (greedy)
        temperature > 0:  next = torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1,
                                                   generator=g)   (one draw per step)

    where ``g = torch.Generator(device=prefix.device)`` seeded once with ``g.manual_seed(seed)``
    before the first draw. Inputs are one-hot, ``F.one_hot(ids, V).to(head.weight.dtype)``, with
    V = head.out_features. Put ``model`` and ``head`` in eval mode and compute without gradients
    (``torch.no_grad()``); hand them back in the mode each had (training or eval).

    Args:
        model: ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``, ``batch_first=False``, input_size V, any
            num_layers.
        head: ``nn.Linear(H, V)``.
        prefix: (P,) int64 token ids, P >= 1, on the model's device.
        n: number of tokens to generate, n >= 0.
        temperature: 0 for greedy decoding, > 0 to sample (1 = the model's own distribution).
        seed: seed of the generator that draws the samples.
    Returns:
        (n,) int64: the generated tokens only (not the prefix), on ``prefix``'s device.
    """
    raise NotImplementedError("sample (day16 project): not yet attempted. Replace this line with your code (the reference solution takes about 21 lines).")


def evaluate(model: nn.Module, head: nn.Module, data: torch.Tensor, k: int) -> float:
    """Perplexity of the model on held-out batch columns: exp of the mean loss per predicted token.

    Walk the windows of ``get_batch``'s contract in order, starting rows 0, k, 2k, ... while
    start < T - 1: inputs ``data[i:i+s]``, targets ``data[i+1:i+1+s]`` with s = min(k, T - 1 - i).
    The hidden state starts at zero (``state=None``) and is carried from window to window (the
    columns continue). Sum the cross-entropy of every predicted token, over all windows, divide by
    the number of predicted tokens ((T - 1) * B), and return exp of that mean: a short last window
    counts for its tokens, not as much as a full one. Inputs are one-hot,
    ``F.one_hot(ids, V).to(head.weight.dtype)``, with V = head.out_features.

    Evaluate in eval mode (dropout off) under ``torch.no_grad()``; hand ``model`` and ``head`` back
    in the mode each had (training or eval).

    Args:
        model: ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``, ``batch_first=False``, input_size V, any
            num_layers and dropout.
        head: ``nn.Linear(H, V)``.
        data: (T, B) int64 token ids, T >= 2, as ``batchify`` returns them.
        k: window length, k >= 1 (may exceed T).
    Returns:
        The perplexity, a Python float (>= 1).
    """
    raise NotImplementedError("evaluate (day16 project): not yet attempted. Replace this line with your code (the reference solution takes about 16 lines).")
