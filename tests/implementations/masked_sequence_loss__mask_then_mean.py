"""Wrong: masks the per-step losses, then .mean() over all T * B positions (the docstring: divide by
lengths.sum())."""
import torch
from torch.nn import functional as F

DAY = "day15"
EXPECT = {"masked_sequence_loss": ("loses", r"masked loss")}


def masked_sequence_loss(logits, targets, lengths):
    T, B, C = logits.shape
    mask = torch.arange(T, device=logits.device).unsqueeze(1) < lengths.to(logits.device)
    per_step = F.cross_entropy(logits.reshape(T * B, C), targets.reshape(T * B), reduction="none").view(T, B)
    return (per_step * mask).mean()
