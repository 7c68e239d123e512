"""Correct: the global norm as the norm of all gradients flattened and concatenated, the clip
factor with torch.clamp, written through torch.no_grad()."""
import torch

DAY = "day16"
EXPECT = {"clip_grad_norm": "full"}


@torch.no_grad()
def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = (parameters,)
    grads = [p.grad for p in tuple(parameters) if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    device = grads[0].device
    total_norm = torch.linalg.vector_norm(torch.cat([g.flatten().to(device) for g in grads]))
    factor = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor.to(g.device))
    return total_norm
