"""Wrong: h_n[-1] only, the backward direction of a bidirectional module (the docstring: both, (B, 2H))."""
from torch.nn.utils.rnn import pack_padded_sequence

DAY = "day15"
EXPECT = {"final_states": ("loses", r"bidirectional|shape")}


def final_states(rnn, padded, lengths):
    _, state = rnn(pack_padded_sequence(padded, lengths, enforce_sorted=False))
    h_n = state[0] if isinstance(state, tuple) else state
    return h_n[-1]
