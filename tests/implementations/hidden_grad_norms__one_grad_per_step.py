"""Correct: one autograd.grad call per step (retain_graph) instead of one call for all of them,
the norms written with linalg.vector_norm into a preallocated tensor."""
import torch

DAY = "day16"
EXPECT = {"hidden_grad_norms": "full"}


def hidden_grad_norms(rnn, x):
    state, hs = None, []
    for t in range(x.shape[0]):
        _, state = rnn(x[t:t + 1], state)
        hs.append(state[0] if isinstance(state, tuple) else state)
    loss = hs[-1][-1].sum()                      # h_n[-1]: the last step's output, as a state
    norms = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for t, h in enumerate(hs):
        (g,) = torch.autograd.grad(loss, h, retain_graph=True)
        norms[t] = torch.linalg.vector_norm(g)
    return norms
