"""Correct: reads each direction's last real state from the padded output (forward at L_b - 1, backward at 0)."""
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

DAY = "day15"
EXPECT = {"final_states": "full"}


def final_states(rnn, padded, lengths):
    packed_out, _ = rnn(pack_padded_sequence(padded, lengths, enforce_sorted=False))
    output, _ = pad_packed_sequence(packed_out)            # (max L, B, D*H)
    H = rnn.hidden_size
    rows = torch.arange(output.shape[1], device=output.device)
    forward = output[lengths.to(output.device) - 1, rows, :H]
    if not rnn.bidirectional:
        return forward
    return torch.cat([forward, output[0, :, H:]], dim=1)
