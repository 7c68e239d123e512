"""Correct: pack_sequence (no padding step) with enforce_sorted=False."""
from torch.nn.utils.rnn import pack_sequence

DAY = "day15"
EXPECT = {"final_hidden": "full"}


def final_hidden(rnn, sequences):
    _, state = rnn(pack_sequence(list(sequences), enforce_sorted=False))
    h_n = state[0] if isinstance(state, tuple) else state
    return h_n[-1]
