"""Correct: einsum for the pre-activations, the gates taken with view(B, 4, H).unbind(1),
the biases added through F.linear."""
import torch
import torch.nn.functional as F

DAY = "day15"
EXPECT = {"lstm_cell": "full"}


def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    pre = F.linear(x, W_ih, b_ih) + torch.einsum("bk,gk->bg", h, W_hh)
    if b_hh is not None:
        pre = pre + b_hh
    i, f, g, o = pre.view(x.shape[0], 4, -1).unbind(1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_next = torch.sigmoid(o) * torch.tanh(c_next)
    return (h_next, c_next)
