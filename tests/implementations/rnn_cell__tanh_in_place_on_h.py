"""Wrong: writes the new state into h in place when h needs no gradient (the docstring: the
inputs are not modified)."""
import torch

DAY = "day15"
EXPECT = {"rnn_cell": ("loses", r"after the call")}


def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    pre = x @ W_ih.T + h @ W_hh.T
    if b_ih is not None:
        pre = pre + b_ih
    if b_hh is not None:
        pre = pre + b_hh
    if h.requires_grad:
        return torch.tanh(pre)
    return h.copy_(torch.tanh(pre))
