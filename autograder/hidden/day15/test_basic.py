"""Hidden suite, Day 15 basic: rnn_cell and rnn_forward against the references."""
from __future__ import annotations

import pytest
import torch

from solutions.checking import expect_close

F64 = torch.float64


def _weights(I, H, device, dtype=F64, bias=True):
    W_ih = torch.randn(H, I, dtype=dtype, device=device) * 0.5
    W_hh = torch.randn(H, H, dtype=dtype, device=device) * 0.5
    b = [torch.randn(H, dtype=dtype, device=device) * 0.5 for _ in range(2)] if bias else [None, None]
    return W_ih, W_hh, *b


@pytest.mark.grade("rnn_cell", points=2)
def test_rnn_cell_random_batch(submission, reference, device):
    x = torch.randn(5, 3, dtype=F64, device=device)
    h = torch.randn(5, 4, dtype=F64, device=device)
    args = (x, h, *_weights(3, 4, device))
    expect_close("h_next", submission.rnn_cell(*args), reference.rnn_cell(*args),
                 dims={"batch row": 0, "hidden unit": 1})
