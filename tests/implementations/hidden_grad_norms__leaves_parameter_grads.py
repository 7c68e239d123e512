"""Wrong: uses backward(), which fills the parameters' .grad (the docstring: left as they were)."""
import torch

DAY = "day16"
EXPECT = {"hidden_grad_norms": ("loses", r"\.grad|grad")}


def hidden_grad_norms(rnn, x):
    state, hs = None, []
    for t in range(x.shape[0]):
        _, state = rnn(x[t:t + 1], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    hs[-1][-1].sum().backward()
    return torch.stack([h.grad.norm() for h in hs])
