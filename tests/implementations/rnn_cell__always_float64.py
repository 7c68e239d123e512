"""Wrong: computes in float64 and returns float64 (the docstring: the dtype of x)."""
import torch

DAY = "day15"
EXPECT = {"rnn_cell": ("loses", r"float32.*dtype|dtype.*float32|float64")}


def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    pre = x.double() @ W_ih.double().T + h.double() @ W_hh.double().T
    for b in (b_ih, b_hh):
        if b is not None:
            pre = pre + b.double()
    return torch.tanh(pre)
