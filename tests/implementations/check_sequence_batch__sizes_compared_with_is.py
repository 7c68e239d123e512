"""Wrong: compares sizes with `is not` (ints above 256 are distinct objects: a square batch of 300
sequences looks swapped and padded). The docstring compares the number of entries of an axis."""
DAY = "day15"
EXPECT = {"check_sequence_batch": ("loses", r"by value")}


def check_sequence_batch(module, x, lengths=None):
    if lengths is None:
        return []
    lengths = [int(n) for n in lengths]
    batch_axis, time_axis = (0, 1) if module.batch_first else (1, 0)
    findings = []
    if x.shape[batch_axis] is not len(lengths) and x.shape[time_axis] == len(lengths):
        findings.append("batch_first_mismatch")
        batch_axis, time_axis = time_axis, batch_axis
    if any(n < x.shape[time_axis] for n in lengths):
        findings.append("padded_last_step")
    return findings
