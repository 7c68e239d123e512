"""Correct: loops over x.unbind, squeezes h0, permutes for batch_first, returns a tuple."""
import torch

DAY = "day15"
EXPECT = {"rnn_forward": "full"}


def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, batch_first=False):
    steps = x.unbind(1) if batch_first else x.unbind(0)
    H = W_hh.shape[0]
    h = h0.squeeze(0) if h0 is not None else torch.zeros(steps[0].shape[0], H, dtype=x.dtype, device=x.device)
    states = []
    for x_t in steps:
        pre = torch.addmm(h @ W_hh.T, x_t, W_ih.T)
        pre = pre + (b_ih if b_ih is not None else 0) + (b_hh if b_hh is not None else 0)
        h = torch.tanh(pre)
        states.append(h)
    output = torch.stack(states, dim=1 if batch_first else 0)
    return (output, h[None])
