"""Correct: each gate's rows of the stacked weights sliced out and applied on their own
(four small matmuls instead of one), returned as a tuple."""
import torch

DAY = "day15"
EXPECT = {"lstm_cell": "full"}


def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    H = W_hh.shape[1]

    def gate(k):
        rows = slice(k * H, (k + 1) * H)
        pre = x @ W_ih[rows].T + h @ W_hh[rows].T
        if b_ih is not None:
            pre = pre + b_ih[rows]
        if b_hh is not None:
            pre = pre + b_hh[rows]
        return pre

    i, f, g, o = torch.sigmoid(gate(0)), torch.sigmoid(gate(1)), torch.tanh(gate(2)), torch.sigmoid(gate(3))
    c_next = torch.addcmul(f * c, i, g)
    return o * torch.tanh(c_next), c_next
