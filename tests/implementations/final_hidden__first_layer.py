"""Wrong: returns the first layer's final state (the docstring: the last layer's)."""
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

DAY = "day15"
EXPECT = {"final_hidden": ("loses", r"layer")}


def final_hidden(rnn, sequences):
    lengths = torch.tensor([s.shape[0] for s in sequences])
    padded = pad_sequence(sequences, batch_first=rnn.batch_first)
    _, state = rnn(pack_padded_sequence(padded, lengths, batch_first=rnn.batch_first, enforce_sorted=False))
    h_n = state[0] if isinstance(state, tuple) else state
    return h_n[0]
