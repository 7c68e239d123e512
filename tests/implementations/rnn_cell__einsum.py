"""Correct: einsum instead of matmul, the biases summed from a list (either may be None)."""
import torch

DAY = "day15"
EXPECT = {"rnn_cell": "full"}


def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    terms = [torch.einsum("bi,hi->bh", x, W_ih), torch.einsum("bk,hk->bh", h, W_hh)]
    terms += [b for b in (b_ih, b_hh) if b is not None]
    return torch.tanh(sum(terms[1:], terms[0]))
