"""Correct: a loop over the sequences, the summed losses divided by the number of real tokens."""
from torch.nn import functional as F

DAY = "day15"
EXPECT = {"masked_sequence_loss": "full"}


def masked_sequence_loss(logits, targets, lengths):
    total = logits.new_zeros(())
    for b, n in enumerate(lengths.tolist()):
        total = total + F.cross_entropy(logits[:n, b], targets[:n, b], reduction="sum")
    return total / int(lengths.sum())
