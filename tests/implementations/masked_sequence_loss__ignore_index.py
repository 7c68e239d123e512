"""Correct: the padded targets set to ignore_index on a copy, one F.cross_entropy over all T * B positions."""
import torch
from torch.nn import functional as F

DAY = "day15"
EXPECT = {"masked_sequence_loss": "full"}


def masked_sequence_loss(logits, targets, lengths):
    T, B, C = logits.shape
    padded = torch.arange(T, device=targets.device).unsqueeze(1) >= lengths.to(targets.device)
    targets = targets.masked_fill(padded, -100)            # a new tensor: the caller's targets stay as they were
    return F.cross_entropy(logits.reshape(T * B, C), targets.reshape(T * B), ignore_index=-100)
