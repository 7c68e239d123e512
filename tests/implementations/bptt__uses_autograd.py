"""Wrong: the gradients come from torch.autograd.grad (the docstring: written by hand, no autograd)."""
import torch

DAY = "day16"
EXPECT = {"bptt": ("loses", r"autograd")}


def bptt(x, h0, W_ih, W_hh, b_ih, b_hh, grad_output):
    leaves = {"x": x, "h0": h0, "W_ih": W_ih, "W_hh": W_hh, "b_ih": b_ih, "b_hh": b_hh}
    leaves = {k: None if v is None else v.detach().requires_grad_() for k, v in leaves.items()}
    h = leaves["h0"][0] if h0.dim() == 3 else leaves["h0"]
    outs = []
    for t in range(x.shape[0]):
        a = leaves["x"][t] @ leaves["W_ih"].T + h @ leaves["W_hh"].T
        for b in ("b_ih", "b_hh"):
            if leaves[b] is not None:
                a = a + leaves[b]
        h = torch.tanh(a)
        outs.append(h)
    names = [k for k, v in leaves.items() if v is not None]
    grads = torch.autograd.grad((torch.stack(outs) * grad_output.detach()).sum(), [leaves[k] for k in names])
    result = dict.fromkeys(leaves)
    result.update(zip(names, grads))
    return result
