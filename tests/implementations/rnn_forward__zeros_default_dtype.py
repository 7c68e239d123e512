"""Wrong: h0=None becomes torch.zeros(B, H): float32 on the CPU, whatever the dtype and device of x
(the docstring: None means zeros; results have the dtype and device of x)."""
import torch

DAY = "day15"
EXPECT = {"rnn_forward": ("loses", r"h0=None")}


def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, batch_first=False):
    if batch_first:
        x = x.transpose(0, 1)
    h = torch.zeros(x.shape[1], W_hh.shape[0]) if h0 is None else h0[0]
    outputs = []
    for t in range(x.shape[0]):
        pre = x[t] @ W_ih.T + h @ W_hh.T
        if b_ih is not None:
            pre = pre + b_ih
        if b_hh is not None:
            pre = pre + b_hh
        h = torch.tanh(pre)
        outputs.append(h)
    output = torch.stack(outputs)
    return (output.transpose(0, 1) if batch_first else output), h.unsqueeze(0)
