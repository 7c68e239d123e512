"""Day 16 · Advanced: break a sequence training loop on purpose, and read the errors.

``provoke`` writes a training-loop mistake down as a *recipe* (plain data: a model, data and the
steps of a training loop, with the one mistake in it); ``run_misuse(recipe)`` from ``misuse.py``
(beside this file) runs it with PyTorch and returns the error; ``diagnose`` names the mistake
behind an error.
Shapes: T time steps, B batch, I input features, H hidden units, C classes.
"""
from __future__ import annotations

import re

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


def provoke(kind: str) -> dict:
    """Write down one training-loop mistake as a recipe that makes PyTorch raise its error.

    Return a recipe in the format of ``misuse.py`` (plain data, no tensors, no exception): a
    small RNN (``"model"``), its data (``"input"``, ``"target"``), a ``"loss"``, maybe a linear
    ``"head"``, and the ``"steps"`` of a training loop ("zero_grad", "forward", "loss",
    "backward", "step", "detach_state"...) with the one mistake of ``kind`` in them. The grader
    builds and runs it with its own copy of ``run_misuse`` on the CPU, with the ``meta`` device
    standing in for a second device (a recipe that names "cuda" is refused, so grades do not
    depend on the machine). Only the error that PyTorch raises in that run counts: its type and
    message must be one of the wordings of ``kind`` in the notebook's table, and ``diagnose``
    must read it as ``kind``. A recipe that is not in the format, or runs without an error,
    scores nothing. Try yours with ``run_misuse(provoke(kind))``.

    Args:
        kind: one of ``ERROR_KINDS``.
    Returns:
        The recipe: a dict of plain data (str, int, bool, lists, dicts) as ``misuse.py`` describes.
    Raises:
        ValueError: ``kind`` is not in ``ERROR_KINDS``.
    """
    raise NotImplementedError("provoke (day16 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 24 lines).")


def diagnose(exc: BaseException) -> str:
    """Name the training-loop mistake behind an exception, from its type and message.

    Only RuntimeError and ValueError (and their subclasses, NotImplementedError included) are
    PyTorch's errors for these mistakes; any other type, or a message that matches none of the
    kinds, is "unknown". Every wording in the notebook's table counts: from the module API
    (``nn.RNN``, ``nn.GRU``, ``nn.LSTM``) and the cells, from each loss that can make the mistake
    (``CrossEntropyLoss``, ``NLLLoss``, ``MSELoss``, ``L1Loss``, ``BCELoss``, ``BCEWithLogitsLoss``),
    on the CPU and on CUDA, in torch 2.4 and later.

    Args:
        exc: an exception, e.g. the one ``run_misuse(provoke(kind))`` returns.
    Returns:
        One of ``ERROR_KINDS``, or ``"unknown"``.
    """
    raise NotImplementedError("diagnose (day16 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 22 lines).")


def accumulated_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module,
                      steps: int) -> list[float]:
    """Show the silent mistake: backward ``steps`` times without zero_grad, norms after each.

    Starts from cleared gradients (``model.zero_grad()``: stale gradients from before the call
    must not count), then repeats forward, loss, backward on the same batch, never clearing and
    never stepping. ``.backward()`` adds into ``.grad``, so after n backwards every gradient is n
    times the true one and the global norm grows linearly: norms[n-1] = n * norms[0].

    What it leaves: the gradients as they end (``.grad`` holds ``steps`` times one batch's
    gradient, never zeroed at the end); the parameters unchanged (no optimizer step); the model
    in the train/eval mode it was handed in (run it in that mode: never call ``model.train()``
    or ``model.eval()``); ``x``, ``y`` and ``loss_fn`` unchanged.

    Args:
        model: an nn.Module; ``model(x)`` returns the prediction, or a tuple whose first element
            is the prediction (as ``nn.RNN`` does).
        x: input batch, e.g. (T, B, I).
        y: targets for ``loss_fn(prediction, y)``.
        loss_fn: returns a scalar loss.
        steps: number of backward passes (>= 1).
    Returns:
        ``steps`` numbers: the global L2 norm of all the model's gradients (as in
        ``clip_grad_norm_``) after each backward, as a list or a tuple of Python floats (or a 1-D
        floating tensor of them); not a list of tensors.
    """
    raise NotImplementedError("accumulated_grads (day16 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 10 lines).")
