"""Wrong: runs the padded batch without packing and takes the output at the last (padded) step."""
from torch.nn.utils.rnn import pad_sequence

DAY = "day15"
EXPECT = {"final_hidden": ("loses", r"final_hidden|differ|row")}


def final_hidden(rnn, sequences):
    padded = pad_sequence(sequences, batch_first=rnn.batch_first)
    output, _ = rnn(padded)
    return output[:, -1] if rnn.batch_first else output[-1]
