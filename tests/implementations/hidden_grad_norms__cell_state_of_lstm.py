"""Wrong: for an LSTM measures the gradient at the cell state c (the docstring: at h of (h, c))."""
import torch

DAY = "day16"
EXPECT = {"hidden_grad_norms": ("loses", r"LSTM")}


def hidden_grad_norms(rnn, x):
    state, hs = None, []
    for t in range(x.shape[0]):
        _, state = rnn(x[t:t + 1], state)
        hs.append(state[1] if isinstance(state, tuple) else state)
    last = state[0] if isinstance(state, tuple) else state
    grads = torch.autograd.grad(last[-1].sum(), hs, allow_unused=True)
    return torch.stack([torch.zeros((), dtype=x.dtype, device=x.device) if g is None else g.norm() for g in grads])
