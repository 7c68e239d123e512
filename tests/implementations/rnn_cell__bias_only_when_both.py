"""Wrong: adds the biases only when both are given (the docstring: either may be None)."""
import torch

DAY = "day15"
EXPECT = {"rnn_cell": ("loses", r"b_ih only|b_hh only")}


def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    pre = x @ W_ih.T + h @ W_hh.T
    if b_ih is not None and b_hh is not None:
        pre = pre + b_ih + b_hh
    return torch.tanh(pre)
