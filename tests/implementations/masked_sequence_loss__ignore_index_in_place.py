"""Wrong: writes ignore_index into the caller's targets (the docstring: the inputs are not modified)."""
import torch
from torch.nn import functional as F

DAY = "day15"
EXPECT = {"masked_sequence_loss": ("loses", r"targets after the call")}


def masked_sequence_loss(logits, targets, lengths):
    T, B, C = logits.shape
    padded = torch.arange(T, device=targets.device).unsqueeze(1) >= lengths.to(targets.device)
    targets[padded] = -100
    return F.cross_entropy(logits.reshape(T * B, C), targets.reshape(T * B), ignore_index=-100)
