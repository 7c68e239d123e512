"""Correct: materializes the parameters once (a generator can be read only once), the norm as
the sqrt of a sum of squares, the scale applied with mul_ only when clipping is needed."""
import torch

DAY = "day16"
EXPECT = {"clip_grad_norm": "full"}


def clip_grad_norm(parameters, max_norm):
    params = [parameters] if torch.is_tensor(parameters) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if len(grads) == 0:
        return torch.tensor(0.0)
    first = grads[0]
    total = torch.sqrt(sum((g.detach().double() ** 2).sum().to(first.device) for g in grads)).to(first.dtype)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g.detach().mul_(coef.to(g.device, g.dtype))
    return total
