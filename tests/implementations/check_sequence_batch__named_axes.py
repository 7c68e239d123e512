"""Correct: names the two axes once, reads the lengths through a tensor, compares the shortest one."""
import torch

DAY = "day15"
EXPECT = {"check_sequence_batch": "full"}


def check_sequence_batch(module, x, lengths=None):
    if lengths is None:
        return []
    lengths = torch.as_tensor(lengths).tolist()
    axes = {"batch": x.shape[0], "time": x.shape[1]} if module.batch_first else {"batch": x.shape[1], "time": x.shape[0]}
    steps = axes["time"]
    found = []
    if axes["batch"] != len(lengths) and axes["time"] == len(lengths):
        found.append("batch_first_mismatch")
        steps = axes["batch"]
    if min(lengths) < steps:
        found.append("padded_last_step")
    return found
