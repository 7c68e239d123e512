"""Correct: sorts by length itself (enforce_sorted=True), then puts the rows back in the order
of the sequences with the inverse permutation."""
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

DAY = "day15"
EXPECT = {"final_hidden": "full"}


def final_hidden(rnn, sequences):
    lengths = torch.tensor([len(s) for s in sequences])
    order = torch.argsort(lengths, descending=True, stable=True)
    ordered = [sequences[i] for i in order.tolist()]
    padded = pad_sequence(ordered, batch_first=rnn.batch_first)
    packed = pack_padded_sequence(padded, lengths[order], batch_first=rnn.batch_first, enforce_sorted=True)
    _, state = rnn(packed)
    h_n = state[0] if isinstance(state, tuple) else state
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    return h_n[-1][inverse.to(h_n.device)]
