"""Wrong: runs the padded batch without packing, so the padding flows into both directions (the docstring: the
padded steps must not change the result)."""
import torch

DAY = "day15"
EXPECT = {"final_states": ("loses", r"final states|differ|direction")}


def final_states(rnn, padded, lengths):
    output, _ = rnn(padded)
    H = rnn.hidden_size
    rows = torch.arange(output.shape[1], device=output.device)
    forward = output[lengths.to(output.device) - 1, rows, :H]
    return torch.cat([forward, output[0, :, H:]], dim=1) if rnn.bidirectional else forward
