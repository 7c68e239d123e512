"""Wrong: decides with the squared norm and scales by max_norm / norm**2 (the docstring:
compare the norm itself; scale down, never up)."""
import torch

DAY = "day16"
EXPECT = {"clip_grad_norm": ("loses", r"threshold|max_norm|norm|scale|gradient")}


def clip_grad_norm(parameters, max_norm):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    squared = sum((g ** 2).sum().to(grads[0].device) for g in grads)
    if squared > max_norm:
        with torch.no_grad():
            for g in grads:
                g.mul_((max_norm / squared).to(g.device))
    return squared.sqrt()
