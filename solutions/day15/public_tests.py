"""Public checks for Day 15: fixed inputs, PyTorch's own modules as the answer key.

Run them with ``make check`` or, in a notebook, ``check(rnn_cell)``.
"""
from __future__ import annotations

import torch
from torch import nn

from checking import call, expect_close, public_check


def _rnn_cell_module(I=3, H=4, bias=True):
    torch.manual_seed(15)
    return nn.RNNCell(I, H, bias=bias).double()


@public_check("rnn_cell")
def rnn_cell_matches_nn_RNNCell(rnn_cell):
    cell = _rnn_cell_module()
    x = torch.randn(2, 3, dtype=torch.float64)
    h = torch.randn(2, 4, dtype=torch.float64)
    got = call(rnn_cell, x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    expect_close("h_next", got, cell(x, h), dims={"batch row": 0, "hidden unit": 1},
                 hint="h_next = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh): both biases, tanh, transposed weights")


@public_check("rnn_cell")
def rnn_cell_without_bias(rnn_cell):
    cell = _rnn_cell_module(bias=False)
    x = torch.randn(2, 3, dtype=torch.float64)
    h = torch.randn(2, 4, dtype=torch.float64)
    got = call(rnn_cell, x, h, cell.weight_ih, cell.weight_hh)
    expect_close("h_next without biases", got, cell(x, h), dims={"batch row": 0, "hidden unit": 1},
                 hint="b_ih and b_hh default to None: skip each bias when it is None")
