"""Correct: keeps every step's state in the graph with retain_grad(), one backward() of the
loss, then restores the parameters' .grad exactly as they were (None stays None)."""
import torch

DAY = "day16"
EXPECT = {"hidden_grad_norms": "full"}


def hidden_grad_norms(rnn, x):
    saved = [(p, None if p.grad is None else p.grad.clone()) for p in rnn.parameters()]
    state, hs = None, []
    for x_t in x.split(1):
        _, state = rnn(x_t, state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    hs[-1][-1].sum().backward()
    for p, g in saved:
        p.grad = g
    return torch.stack([h.grad.norm() for h in hs])
