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
    ### BEGIN SOLUTION
    if kind not in ERROR_KINDS:
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(ERROR_KINDS)}")
    T, B, I, H, C = 12, 6, 3, 8, 5
    rnn = nn.RNN(I, H)
    head = nn.Linear(H, 2)
    optimizer = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=0.1)
    loss_fn = nn.MSELoss()
    x = torch.randn(T, B, I)
    y = torch.randn(T, B, 2)
    with warnings.catch_warnings(record=True):  # recorded, so none reaches stderr
        try:
            if kind == "backward_twice":
                # Truncated BPTT that carries the hidden state without detaching it: the second
                # chunk's backward runs into the first chunk's graph, freed by the first backward.
                state = None
                for x_chunk, y_chunk in zip(x.split(4), y.split(4)):
                    optimizer.zero_grad()
                    out, state = rnn(x_chunk, state)
                    loss_fn(head(out), y_chunk).backward()
                    optimizer.step()
            elif kind == "inplace_modification":
                # Clamping predictions in place: sigmoid saved its output for the backward pass.
                out, _ = rnn(x)
                prob = torch.sigmoid(head(out))
                prob.clamp_(min=1e-3)
                loss_fn(prob, y).backward()
            elif kind == "loss_without_grad":
                # Evaluation code (no_grad) reused for training.
                with torch.no_grad():
                    out, _ = rnn(x)
                    loss = loss_fn(head(out), y)
                loss.backward()
            elif kind == "target_dtype":
                # Class indices stored as floats: CrossEntropyLoss wants int64 (long) indices.
                classifier = nn.Linear(H, C)
                out, _ = rnn(x)
                labels = torch.randint(0, C, (T, B)).float()
                nn.CrossEntropyLoss()(classifier(out).reshape(T * B, C), labels.reshape(T * B))
            elif kind == "target_shape":
                # Logits flattened to (T*B, C) but labels left as (T, B).
                classifier = nn.Linear(H, C)
                out, _ = rnn(x)
                labels = torch.randint(0, C, (T, B))
                nn.CrossEntropyLoss()(classifier(out).reshape(T * B, C), labels)
            elif kind == "device_mismatch":
                # The model moved to another device (meta stands in for a GPU), the data left behind.
                rnn.to("meta")
                rnn(x)
            elif kind == "hidden_shape":
                # A hidden state carried from a batch of 4 sequences into a last batch of 2.
                state = None
                for x_batch in (x[:, :4], x[:, 4:]):
                    out, state = rnn(x_batch, state)
                    state = state.detach()
        except Exception as exc:  # the genuine PyTorch error is the result
            return exc
    raise AssertionError(f"provoke({kind!r}): the mistake ran without an error")
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    if not isinstance(exc, (RuntimeError, ValueError)):
        return "unknown"
    message = str(exc)
    patterns = (
        ("backward_twice", r"backward through the graph a second time|saved tensors after they have already been freed"),
        ("inplace_modification", r"modified by an inplace operation|leaf Variable that requires grad is being used in an in-place"),
        ("loss_without_grad", r"does not require grad and does not have a grad_fn"),
        ("target_dtype", r"expected target dtype|expected scalar type Long|floating point type for target"
                         r"|Found dtype \w+ but expected|can't be cast to the desired output type"
                         r"|nll_loss\w*\" not implemented for '(Float|Double|Half|BFloat16)'"),
        ("target_shape", r"target batch_size|Expected target size|target tensor expected|multi-target"
                         r"|Target size .* must be the same as input size|Using a target size"
                         r"|must match the size of tensor b"),
        ("device_mismatch", r"same device|two devices|expected device|device type|to be on (the )?(cpu|cuda|gpu)"),
        ("hidden_shape", r"Expected hidden(\[\d\])? size|hx should also be"),
    )
    for kind, pattern in patterns:
        if re.search(pattern, message, flags=re.IGNORECASE):
            return kind
    return "unknown"
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    model.zero_grad()
    norms = []
    for _ in range(steps):
        prediction = model(x)
        if isinstance(prediction, tuple):
            prediction = prediction[0]
        loss_fn(prediction, y).backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item())
    return norms
    ### END SOLUTION
