"""Correct: projects every input step at once (one big matmul), then only the recurrence loops;
output built with torch.cat of unsqueezed states, returned as a list (a sequence of two)."""
import torch

DAY = "day15"
EXPECT = {"rnn_forward": "full"}


def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, batch_first=False):
    if batch_first:
        x = x.permute(1, 0, 2)
    projected = torch.matmul(x, W_ih.transpose(0, 1))            # (T, B, H)
    if b_ih is not None:
        projected = projected + b_ih
    if b_hh is not None:
        projected = projected + b_hh
    h = h0[0] if h0 is not None else x.new_zeros(x.shape[1], W_hh.shape[0])
    out = []
    t = 0
    while t < x.shape[0]:
        h = torch.tanh(projected[t] + h.mm(W_hh.t()))
        out.append(h.unsqueeze(0))
        t += 1
    output = torch.cat(out, dim=0)
    return [output.permute(1, 0, 2) if batch_first else output, h.unsqueeze(0)]
