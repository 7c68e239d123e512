"""Day 16 · Advanced: break a sequence training loop on purpose, and read the errors.

Shapes: T time steps, B batch, I input features, H hidden units, C classes.
"""
from __future__ import annotations

import re
import warnings

import torch
from torch import nn

#: The training-loop mistakes that ``provoke`` commits and ``diagnose`` names.
ERROR_KINDS = (
    "backward_twice",        # backward through a graph that is already freed (no detach in truncated BPTT)
    "inplace_modification",  # an in-place change of a tensor that autograd saved for the backward pass
    "loss_without_grad",     # the loss has no autograd history (computed under no_grad, or from .detach())
    "target_dtype",          # targets of the wrong dtype for the loss (float class indices for CrossEntropyLoss)
    "target_shape",          # targets of the wrong shape for the loss (not flattened like the logits)
    "device_mismatch",       # model and data on different devices
    "hidden_shape",          # a carried hidden state whose batch size no longer matches the input
)


def provoke(kind: str) -> Exception:
    """Commit one training-loop mistake in a small RNN training loop and return PyTorch's error.

    Every kind runs a genuine RNN (or its loss) on small random data and lets PyTorch raise;
    the exception is caught and returned, not raised. Warnings are recorded, not shown.

    Args:
        kind: one of ``ERROR_KINDS``.
    Returns:
        The exception PyTorch raised (a RuntimeError or ValueError).
    Raises:
        ValueError: ``kind`` is not in ``ERROR_KINDS``.
    """
    raise NotImplementedError("provoke (day16 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 49 lines).")


def diagnose(exc: BaseException) -> str:
    """Name the training-loop mistake behind an exception, from its type and message.

    Only RuntimeError and ValueError (and their subclasses) are PyTorch's errors for these
    mistakes; any other type, or a message that matches none of the kinds, is "unknown".
    The patterns cover the wording of recent PyTorch versions (2.x).

    Args:
        exc: an exception, e.g. one returned by ``provoke``.
    Returns:
        One of ``ERROR_KINDS``, or ``"unknown"``.
    """
    raise NotImplementedError("diagnose (day16 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 20 lines).")


def accumulated_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module,
                      steps: int) -> list[float]:
    """Show the silent mistake: backward ``steps`` times without zero_grad, norms after each.

    Starts from cleared gradients (``model.zero_grad()``), then repeats forward, loss,
    backward on the same batch, never clearing and never stepping. ``.backward()`` adds into
    ``.grad``, so after n backwards every gradient is n times the true one and the global norm
    grows linearly: norms[n-1] = n * norms[0]. The gradients are left as they end (``steps``
    times one batch's gradient); the parameters are not changed.

    Args:
        model: an nn.Module; ``model(x)`` returns the prediction, or a tuple whose first element
            is the prediction (as ``nn.RNN`` does).
        x: input batch, e.g. (T, B, I).
        y: targets for ``loss_fn(prediction, y)``.
        loss_fn: returns a scalar loss.
        steps: number of backward passes (>= 1).
    Returns:
        ``steps`` Python floats: the global L2 norm of all the model's gradients (as in
        ``clip_grad_norm_``) after each backward.
    """
    raise NotImplementedError("accumulated_grads (day16 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 10 lines).")
