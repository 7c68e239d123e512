"""Day 15's known mistakes in check_sequence_batch (the silent batch mistakes): the reference with one bug each."""
from __future__ import annotations

from autograder.fingerprints import variant

D = "day15"


def _check(module, x, lengths, *, honour_batch_first=True, swap_time_axis=True, strict=True):
    """The reference check_sequence_batch, with switches for the classic mistakes."""
    if lengths is None:
        return []
    lengths = [int(n) for n in lengths]
    batch_axis, time_axis = (0, 1) if (module.batch_first and honour_batch_first) else (1, 0)
    findings = []
    if x.shape[batch_axis] != len(lengths) and x.shape[time_axis] == len(lengths):
        findings.append("batch_first_mismatch")
        if swap_time_axis:
            batch_axis, time_axis = time_axis, batch_axis
    if any((n < x.shape[time_axis]) if strict else (n <= x.shape[time_axis]) for n in lengths):
        findings.append("padded_last_step")
    return findings


@variant(D, "check_sequence_batch", "batch_first_ignored",
         "check_sequence_batch: the batch axis is always axis 1, whatever the module's batch_first says.",
         "read module.batch_first: a batch_first module takes (B, T, I), its batch axis is 0")
def check_sequence_batch_batch_first_ignored(module, x, lengths=None):
    return _check(module, x, lengths, honour_batch_first=False)


@variant(D, "check_sequence_batch", "time_axis_not_swapped",
         "check_sequence_batch: on a swapped layout the time steps are still counted on the module's time axis, "
         "which holds the batch.",
         "when the layout is swapped, the data's real time axis is the other one: count the steps there")
def check_sequence_batch_time_axis_not_swapped(module, x, lengths=None):
    return _check(module, x, lengths, swap_time_axis=False)


@variant(D, "check_sequence_batch", "full_length_counted_as_padded",
         "check_sequence_batch: a sequence as long as the batch (length == T) is reported as padded.",
         "only a length smaller than the number of time steps leaves padding at the last step (n < T, not n <= T)")
def check_sequence_batch_full_length_padded(module, x, lengths=None):
    return _check(module, x, lengths, strict=False)
