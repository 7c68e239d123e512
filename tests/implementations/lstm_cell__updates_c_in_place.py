"""Wrong: updates the cell state in place when it needs no gradient (the docstring: the inputs
are not modified, the state returned is new)."""
import torch

DAY = "day15"
EXPECT = {"lstm_cell": ("loses", r"after the call|old state|unchanged|in place|modif")}


def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    gates = x @ W_ih.T + h @ W_hh.T
    if b_ih is not None:
        gates = gates + b_ih
    if b_hh is not None:
        gates = gates + b_hh
    i, f, g, o = gates.chunk(4, dim=1)
    new_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    if not c.requires_grad:
        c = c.copy_(new_c)
    else:
        c = new_c
    return torch.sigmoid(o) * torch.tanh(c), c
