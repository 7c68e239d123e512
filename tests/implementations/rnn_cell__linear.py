"""Correct: torch.nn.functional.linear does the matmul and the optional bias in one call."""
import torch
import torch.nn.functional as F

DAY = "day15"
EXPECT = {"rnn_cell": "full"}


def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.tanh(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh))
