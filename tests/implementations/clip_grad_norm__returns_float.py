"""Wrong: returns the norm as a Python float (the docstring: a 0-dim tensor)."""
import torch

DAY = "day16"
EXPECT = {"clip_grad_norm": ("loses", r"[Tt]ensor|float")}


def clip_grad_norm(parameters, max_norm):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g).to(grads[0].device) for g in grads]))
    with torch.no_grad():
        scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(scale.to(g.device))
    return total.item()
