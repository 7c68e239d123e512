"""Day 16 · Basic: backpropagation through time by hand, and one full-BPTT training step.

Shapes: T time steps, B batch, I input features, H hidden units.
Weights follow PyTorch's layout: ``W_ih: (H, I)``, ``W_hh: (H, H)``, biases ``(H,)``.
The RNN is Day 15's tanh RNN:

    h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)

with ``output[t] = h_t`` the hidden state after step ``t`` and ``h_{-1} = h0``.
"""
from __future__ import annotations

import torch
from torch import nn


def bptt(x: torch.Tensor, h0: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor,
         b_ih: torch.Tensor | None, b_hh: torch.Tensor | None,
         grad_output: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """Backpropagation through time for the tanh RNN, written by hand (no autograd).

    Write the backward pass yourself with the formulas below: no ``.backward()``,
    ``torch.autograd``, ``torch.func`` or hooks, not even in a helper. The grader reads the code
    of ``bptt`` and of everything it calls, and gives no ``bptt`` points to code that uses
    autograd or hides what it calls (``getattr`` with a computed name, ``eval``, imports from
    outside torch and the standard library).

    Forward, for t = 0 .. T-1 (the state before step 0 is h0):
        a_t = x[t] @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh        (B, H)
        h_t = tanh(a_t)                                              (B, H)
        output[t] = h_t                                              output: (T, B, H)

    Backward, given grad_output[t] = dL/doutput[t], walking from t = T-1 down to 0:
        dh_t  = grad_output[t] + da_{t+1} @ W_hh     (the recurrent term; none after the last step)
        da_t  = dh_t * (1 - h_t**2)                  (tanh'(a_t) = 1 - tanh(a_t)**2)
        dx[t] = da_t @ W_ih
        dW_ih += da_t.T @ x[t];  dW_hh += da_t.T @ h_{t-1};  db_ih += da_t.sum(0);  db_hh += da_t.sum(0)
        dh0   = da_0 @ W_hh

    Args:
        x: (T, B, I) inputs.
        h0: (B, H) initial hidden state; (1, B, H), nn.RNN's layout, is accepted too.
        W_ih: (H, I) input-to-hidden weights.
        W_hh: (H, H) hidden-to-hidden weights.
        b_ih, b_hh: (H,) biases, or None for no bias.
        grad_output: (T, B, H) gradient of the loss with respect to ``output``.
        Any of T, B, I, H may be 1. The inputs may require grad.
    Returns:
        A dict of gradients of the loss, equal to what autograd gives:
        ``"x"``: (T, B, I); ``"h0"``: same shape as ``h0``; ``"W_ih"``: (H, I); ``"W_hh"``: (H, H);
        ``"b_ih"``, ``"b_hh"``: (H,), or None where that bias is None.
        Every gradient has the dtype and device of the inputs and no autograd history
        (``requires_grad`` False, even when the inputs require grad).
    """
    ### BEGIN SOLUTION
    with torch.no_grad():
        h_init = h0[0] if h0.dim() == 3 else h0
        # Forward: keep every hidden state, the backward pass needs them.
        hs = []
        h = h_init
        for t in range(x.shape[0]):
            a = x[t] @ W_ih.T + h @ W_hh.T
            if b_ih is not None:
                a = a + b_ih
            if b_hh is not None:
                a = a + b_hh
            h = torch.tanh(a)
            hs.append(h)

        # Backward through time.
        dx = torch.zeros_like(x)
        dW_ih = torch.zeros_like(W_ih)
        dW_hh = torch.zeros_like(W_hh)
        db = torch.zeros_like(W_hh[0])
        dh_next = torch.zeros_like(h_init)          # gradient flowing into h_t from step t+1
        for t in reversed(range(x.shape[0])):
            dh = grad_output[t] + dh_next
            da = dh * (1 - hs[t] ** 2)
            h_prev = hs[t - 1] if t > 0 else h_init
            dx[t] = da @ W_ih
            dW_ih += da.T @ x[t]
            dW_hh += da.T @ h_prev
            db += da.sum(0)
            dh_next = da @ W_hh

        return {
            "x": dx,
            "h0": dh_next.reshape(h0.shape),
            "W_ih": dW_ih,
            "W_hh": dW_hh,
            "b_ih": None if b_ih is None else db.clone(),
            "b_hh": None if b_hh is None else db.clone(),
        }
    ### END SOLUTION


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
               optimizer: torch.optim.Optimizer, loss_fn: nn.Module) -> float:
    """One training step with full backpropagation through time.

    The whole sequence is run forward, so ``loss.backward()`` goes back through every
    time step. The step, in order: put the model in training mode (``model.train()``, also
    when it was handed over in eval mode, and left on afterwards), clear old gradients
    (``optimizer.zero_grad()``: the model may come with gradients of an earlier batch),
    forward, loss, backward, exactly one ``optimizer.step()``. Afterwards the model's
    parameters (and buffers such as BatchNorm's statistics) and the optimizer's state
    (momentum, Adam's moments) are those of that one step.

    Args:
        model: any nn.Module that maps ``x`` to a prediction. ``model(x)`` returns the
            prediction tensor, or a tuple whose first element is the prediction (so an
            ``nn.RNN``/``nn.GRU``/``nn.LSTM`` can be passed as it is: its ``output`` is the prediction).
        x: the input batch, e.g. (T, B, I).
        y: the target batch, in the shape and dtype ``loss_fn`` expects with the prediction,
            e.g. (T, B, H) for ``nn.MSELoss``.
        optimizer: an optimizer over the model's parameters.
        loss_fn: called as ``loss_fn(prediction, y)``, returns a scalar loss.
    Returns:
        The loss of this batch (computed before the update) as a Python float.
    """
    ### BEGIN SOLUTION
    model.train()
    optimizer.zero_grad()
    prediction = model(x)
    if isinstance(prediction, tuple):
        prediction = prediction[0]
    loss = loss_fn(prediction, y)
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION
