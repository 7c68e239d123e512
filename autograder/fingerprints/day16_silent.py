"""Day 16's known mistakes in regression_loss and inputs_for (the silent ones): the reference with one bug each."""
from __future__ import annotations

import torch

from autograder.fingerprints import variant

D = "day16"


# ------------------------------------------------------------------------------------ regression_loss

@variant(D, "regression_loss", "broadcasts",
         "regression_loss: the shapes are not checked, so (N, 1) against (N,) broadcasts to (N, N) and every "
         "prediction is compared with every target.",
         "drop a trailing dimension of size 1 (pred.squeeze(-1)) before subtracting, and raise ValueError for any "
         "other mismatch")
def regression_loss_broadcasts(pred, target):
    return ((pred - target) ** 2).mean()


@variant(D, "regression_loss", "flattens_everything",
         "regression_loss: both tensors are flattened, so shapes with the same number of elements ((2N,) and "
         "(N, 2)) are matched element by element instead of refused.",
         "only a trailing dimension of size 1 may differ; compare the shapes, never reshape(-1)")
def regression_loss_flattens(pred, target):
    if pred.numel() != target.numel():
        raise ValueError(f"regression_loss: {tuple(pred.shape)} and {tuple(target.shape)}")
    return ((pred.reshape(-1) - target.reshape(-1)) ** 2).mean()


@variant(D, "regression_loss", "trailing_one_dropped_unchecked",
         "regression_loss: a trailing dimension of size 1 is dropped whenever the ranks differ by one, without "
         "checking the other dimensions: (5, 1) against (1,) then broadcasts, and (5, 1) against (3,) raises "
         "torch's own error instead of ValueError.",
         "drop the trailing 1 only when the rest agrees (pred.shape[:-1] == target.shape); otherwise raise "
         "ValueError")
def regression_loss_trailing_one_unchecked(pred, target):
    if pred.shape != target.shape:
        if pred.dim() == target.dim() + 1 and pred.shape[-1] == 1:
            pred = pred.squeeze(-1)
        elif target.dim() == pred.dim() + 1 and target.shape[-1] == 1:
            target = target.squeeze(-1)
        else:
            raise ValueError(f"regression_loss: {tuple(pred.shape)} and {tuple(target.shape)}")
    return ((pred - target) ** 2).mean()


@variant(D, "regression_loss", "sum_not_mean",
         "regression_loss: the squared errors are summed, not averaged.",
         "a mean squared error divides by the number of elements: .mean(), not .sum()")
def regression_loss_sum(pred, target):
    if pred.shape != target.shape:
        if pred.dim() == target.dim() + 1 and pred.shape[-1] == 1 and pred.shape[:-1] == target.shape:
            pred = pred.squeeze(-1)
        elif target.dim() == pred.dim() + 1 and target.shape[-1] == 1 and target.shape[:-1] == pred.shape:
            target = target.squeeze(-1)
        else:
            raise ValueError(f"regression_loss: {tuple(pred.shape)} and {tuple(target.shape)}")
    return ((pred - target) ** 2).sum()


# ------------------------------------------------------------------------------------ inputs_for

def _inputs_for(model, x, h0, *, dtype=True, keep_ints=True, state=True, both_of_lstm=True):
    """The reference inputs_for, with switches for the classic mistakes."""
    weight = next(model.parameters())

    def moved(t):
        floating = t.is_floating_point() or not keep_ints
        return t.to(device=weight.device, dtype=weight.dtype if (dtype and floating) else t.dtype)

    if h0 is None:
        return moved(x), None
    if not state:
        return moved(x), h0
    if isinstance(h0, (tuple, list)):
        return moved(x), (moved(h0[0]), moved(h0[1]) if both_of_lstm else h0[1])
    return moved(x), moved(h0)


@variant(D, "inputs_for", "device_but_not_dtype",
         "inputs_for: the tensors go to the parameters' device but keep their own dtype.",
         "convert floating tensors to the parameters' dtype as well: t.to(device=w.device, dtype=w.dtype)")
def inputs_for_device_only(model, x, h0=None):
    return _inputs_for(model, x, h0, dtype=False)


@variant(D, "inputs_for", "h0_left_behind",
         "inputs_for: x is moved but h0 is returned where it was.",
         "the initial state is an input too: move h0 (both h0 and c0 of an LSTM) like x")
def inputs_for_h0_left_behind(model, x, h0=None):
    return _inputs_for(model, x, h0, state=False)


@variant(D, "inputs_for", "c0_left_behind",
         "inputs_for: of an LSTM's (h0, c0) only h0 is moved.",
         "move both tensors of the state: tuple(s.to(...) for s in state)")
def inputs_for_c0_left_behind(model, x, h0=None):
    return _inputs_for(model, x, h0, both_of_lstm=False)


@variant(D, "inputs_for", "token_ids_made_float",
         "inputs_for: integer token ids are converted to the parameters' floating dtype; nn.Embedding needs "
         "integer indices.",
         "convert only floating tensors (t.is_floating_point()); move integer ones to the device and keep their dtype")
def inputs_for_token_ids_float(model, x, h0=None):
    return _inputs_for(model, x, h0, keep_ints=False)
