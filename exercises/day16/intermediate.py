"""Day 16 · Intermediate: truncated BPTT, gradient clipping, and measuring vanishing gradients.

Shapes: T time steps, B batch, I input features, H hidden units, O prediction features,
k steps per truncated-BPTT chunk. Recurrent modules are ``nn.RNN``/``nn.GRU``/``nn.LSTM``
with ``batch_first=False``: inputs (T, B, I), outputs (T, B, H), hidden state
(num_layers, B, H), or the tuple (h, c) of two such tensors for an LSTM.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def tbptt_train(model: nn.Module, head: nn.Module, stream: tuple[torch.Tensor, torch.Tensor], k: int,
                optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                clip: float | None = None) -> list[float]:
    """Train on one long sequence with truncated backpropagation through time.

    The stream is cut into chunks of ``k`` time steps: steps [0, k), [k, 2k), ...; the last
    chunk is shorter when k does not divide T. The hidden state is carried from chunk to
    chunk, so the forward pass sees the whole history, but it is detached between chunks,
    so each backward pass goes back at most k steps and memory does not grow with T.
    The first chunk starts from the zero state (``state=None``); the state is never reset
    after that.

    For every chunk of inputs (k, B, I) and targets (k, B, O), in order:
        1. clear the gradients (optimizer.zero_grad());
        2. run ``model`` on the chunk from the carried state: hidden outputs (k, B, H), new state;
        3. the loss is loss_fn(head(hidden outputs), target chunk); backpropagate it;
        4. when ``clip`` is not None, clip the global gradient norm of the parameters of ``model``
           and ``head`` together to ``clip`` with torch.nn.utils.clip_grad_norm_;
        5. optimizer.step();
        6. detach the new state (each of h and c for an LSTM) and carry it to the next chunk.

    Args:
        model: ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` with ``batch_first=False``, any ``num_layers``.
        head: nn.Module mapping the hidden outputs (k, B, H) to predictions (k, B, O).
            Put both in training mode (``.train()``) before the first chunk, also when they were
            handed over in eval mode, and leave them in it.
        stream: ``(inputs, targets)``: inputs (T, B, I) and targets aligned with them, (T, B, O)
            (for next-step prediction ``targets[t]`` is the input of step t+1).
        k: number of time steps per chunk (k >= 1).
        optimizer: an optimizer over the parameters of ``model`` and ``head``; it takes exactly one
            step per chunk, so afterwards its state (momentum, Adam's moments) is that of ceil(T / k)
            steps.
        loss_fn: called as ``loss_fn(head(out), y_chunk)``, returns a scalar loss.
        clip: max global L2 norm of the gradients of ``model`` and ``head`` together, or None for
            no clipping.
        Any of T, B, I, H, O and k may be 1 (k may also exceed T: one chunk).
    Returns:
        The loss of every chunk, in order: ceil(T / k) Python floats (``loss.item()``), in a list
        or a tuple (a 1-D tensor of the values is accepted too).
    """
    raise NotImplementedError("tbptt_train (day16 intermediate): not yet attempted. Replace this line with your code (the reference solution takes about 19 lines).")


def clip_grad_norm(parameters: torch.Tensor | Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Clip gradients by their global L2 norm, equal to ``torch.nn.utils.clip_grad_norm_``.

    total_norm = sqrt(sum over every gradient g of sum(g**2))   (one norm over all of them)
    Every gradient is multiplied in place by min(1, max_norm / (total_norm + 1e-6)): all of
    them by the same factor, so the direction of the update is kept.

    Args:
        parameters: tensors whose ``.grad`` is clipped: an iterable (a list, or a generator such
            as ``model.parameters()``, which can be read only once: read it into a list first)
            or a single tensor. Tensors whose ``.grad`` is None are skipped (their ``.grad`` stays
            None).
        max_norm: the largest global norm allowed after clipping.
    Returns:
        total_norm: 0-dim tensor (a ``torch.Tensor``, not a Python float), the global norm of the
        gradients *before* clipping, with the dtype and device of the first gradient;
        ``torch.tensor(0.0)`` (float32, CPU) when no tensor has a gradient or there is no tensor.
        Gradients are scaled only when total_norm + 1e-6 > max_norm, and then down, never up:
        compare the norm itself with max_norm, not its square.
    """
    raise NotImplementedError("clip_grad_norm (day16 intermediate): not yet attempted. Replace this line with your code (the reference solution takes about 13 lines).")


def hidden_grad_norms(rnn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """How strongly the last output depends on every earlier hidden state: ||dL/dh_t||.

    L = h_n[-1].sum(): the sum of the top layer of the final hidden state h_n = h_{T-1} (the same
    values as output[-1], but compute L from the state: the output returned by the last step is
    another tensor, and autograd would find h_{T-1} unused). h_t is the hidden state after step
    t, the tensor h of shape (num_layers, B, H) that step t hands to step t+1 (for an LSTM, h of
    the pair (h, c); the path through c is not h_t's). Because ``rnn(x)`` runs all steps in one call, the states are
    only reachable by running the rnn one step at a time, carrying the state.
    For t = T-1 the gradient is 1 on the top layer, so norms[-1] = sqrt(B * H).
    A vanishing gradient shows as norms[t] shrinking quickly as t goes back in time.

    Args:
        rnn: ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``, ``batch_first=False``, one direction, any
            ``num_layers``.
        x: (T, B, I) inputs. Any of T, B, I, H may be 1.
    Returns:
        norms: (T,), norms[t] = L2 norm of dL/dh_t over all its (num_layers, B, H) entries, with
        the dtype and device of ``x``. The rnn's parameters' ``.grad`` are left as they were: None
        stays None (a ``.grad`` of zeros is not None: an optimizer would still step on it), and
        gradients already there are kept unchanged.
    """
    raise NotImplementedError("hidden_grad_norms (day16 intermediate): not yet attempted. Replace this line with your code (the reference solution takes about 8 lines).")
