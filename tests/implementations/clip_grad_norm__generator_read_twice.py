"""Wrong: reads the parameters twice (once for the norm, once to clip): a generator such as
model.parameters() is empty the second time, so nothing is clipped."""
import torch

DAY = "day16"
EXPECT = {"clip_grad_norm": ("loses", r"generator")}


def clip_grad_norm(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g).to(grads[0].device) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    with torch.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.mul_(scale.to(p.grad.device))
    return total
