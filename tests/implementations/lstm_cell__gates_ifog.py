"""Wrong: reads the gate blocks in the order i, f, o, g (the docstring: i, f, g, o)."""
import torch

DAY = "day15"
EXPECT = {"lstm_cell": ("loses", r"h_next|c_next|gate|differ")}


def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    gates = x @ W_ih.T + h @ W_hh.T
    if b_ih is not None:
        gates = gates + b_ih
    if b_hh is not None:
        gates = gates + b_hh
    i, f, o, g = gates.chunk(4, dim=1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next
