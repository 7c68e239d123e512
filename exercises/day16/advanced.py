"""Day 16 · Advanced: break a sequence training loop on purpose, and read the errors.

``provoke`` writes a training-loop mistake down as a *recipe* (plain data: a model, data and the
steps of a training loop, with the one mistake in it); ``run_misuse(recipe)`` from ``misuse.py``
(beside this file) runs it with PyTorch and returns the error; ``diagnose`` names the mistake
behind an error. ``accumulated_grads``, ``regression_loss`` and ``inputs_for`` are about the
mistakes that raise nothing: gradients that add up, a loss that broadcasts (N, 1) against (N,),
data and state left behind on another device.
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


def regression_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error that never broadcasts: repairs (N, 1) against (N,), refuses any other mismatch.

    ``nn.MSELoss()(pred, target)`` with ``pred`` (N, 1) and ``target`` (N,) broadcasts them to
    (N, N) (only a warning) and averages every prediction against every target: the loss is
    wrong and training quietly learns the mean. This loss repairs that case and refuses the rest:

    - same shape: the mean of ``(pred - target) ** 2`` over every element;
    - shapes that differ only by one trailing dimension of size 1 (``pred`` (..., 1) and
      ``target`` (...), or the other way round, e.g. (N, 1) and (N,), (T, B, 1) and (T, B)):
      drop that dimension, then as above;
    - any other pair of shapes (e.g. (N, 2) against (N,), (N,) against (M,), (2N,) against
      (N, 2)): raise ``ValueError`` naming both shapes; never broadcast, never flatten.

    The result is a 0-D tensor on ``pred``'s device, in ``pred``'s dtype, differentiable with
    respect to ``pred`` (and ``target`` when it requires grad). Inputs are left unchanged.

    Args:
        pred: predictions, any shape, floating.
        target: targets, ``pred``'s shape or differing by a trailing 1, same device and dtype.
    Returns:
        The loss, a 0-D tensor.
    Raises:
        ValueError: the shapes are neither equal nor equal up to one trailing dimension of size 1.
    """
    raise NotImplementedError("regression_loss (day16 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 9 lines).")


def inputs_for(model: nn.Module, x: torch.Tensor, h0=None):
    """Return ``x`` and ``h0`` where ``model``'s forward pass needs them: its parameters' device and dtype.

    ``model.to(device)`` moves the parameters in place, but ``x.to(device)`` makes a *new* tensor
    and leaves ``x`` where it was: discard the result and the data stays behind. ``h0`` is easy to
    forget altogether (and an LSTM's ``(h0, c0)`` holds two tensors). This returns new tensors.

    - Floating tensors (``x``, ``h0``, or both of an LSTM's ``(h0, c0)``) go to the device and the
      dtype of ``model``'s first parameter.
    - Integer tensors (token ids for an ``nn.Embedding``) go to that device and keep their dtype.
    - ``h0=None`` stays None; a tuple ``(h0, c0)`` comes back as a tuple of two tensors.
    - Values are kept (up to the dtype's rounding); ``model``, ``x`` and ``h0`` are left unchanged
      (nothing in place).

    Args:
        model: an nn.Module with at least one parameter.
        x: (T, B, I) or (B, T, I) floating input, or (T, B) / (B, T) integer token ids.
        h0: None, (num_layers, B, H), or a tuple (h0, c0) of two such tensors.
    Returns:
        ``(x, h0)``: ``x`` and ``h0`` (None, a tensor, or a tuple of two) as the model needs them.
    """
    raise NotImplementedError("inputs_for (day16 advanced): not yet attempted. Replace this line with your code (the reference solution takes about 8 lines).")
