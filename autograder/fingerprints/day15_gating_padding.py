"""Day 15's known mistakes of gru_cell, final_states and masked_sequence_loss: each function is the
reference with one classic bug (discovered by ``autograder.fingerprints._load``)."""
from __future__ import annotations

import torch
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from autograder.fingerprints import variant

D = "day15"


# ------------------------------------------------------------------------------------ gru_cell

def _gru(x, h, W_ih, W_hh, b_ih=None, b_hh=None, *, order="rzn", b_hn_inside=True, reset_after=True,
         z_keeps_h=True):
    """The reference gru_cell, with switches for the classic mistakes."""
    gi = x @ W_ih.T
    if b_ih is not None:
        gi = gi + b_ih
    blocks_i = dict(zip(order, gi.chunk(3, dim=1)))
    W_h = dict(zip(order, W_hh.chunk(3, dim=0)))
    b_h = dict(zip(order, b_hh.chunk(3))) if b_hh is not None else {}
    r = torch.sigmoid(blocks_i["r"] + h @ W_h["r"].T + b_h.get("r", 0))
    z = torch.sigmoid(blocks_i["z"] + h @ W_h["z"].T + b_h.get("z", 0))
    hidden = (r * h) @ W_h["n"].T if not reset_after else h @ W_h["n"].T   # reset before the product: Cho et al.
    if b_hn_inside and reset_after:
        n = torch.tanh(blocks_i["n"] + r * (hidden + b_h.get("n", 0)))
    elif reset_after:
        n = torch.tanh(blocks_i["n"] + r * hidden + b_h.get("n", 0))
    else:
        n = torch.tanh(blocks_i["n"] + hidden + b_h.get("n", 0))
    return (1 - z) * n + z * h if z_keeps_h else z * n + (1 - z) * h


GRU_BUGS = {   # name: (switches, explanation, hint)
    "gate_order_zrn": (dict(order="zrn"), "the reset and update gates are swapped: the blocks are read as z, r, n "
                       "(Keras's order), PyTorch stacks them as r, z, n.",
                       "i_r, i_z, i_n = gi.chunk(3, dim=1), the same for gh: rows 0:H are the reset gate, H:2H the "
                       "update gate"),
    "b_hn_outside_reset": (dict(b_hn_inside=False), "the bias b_hn is added outside the reset gate: "
                           "n = tanh(i_n + r * (h @ W_hn.T) + b_hn) instead of tanh(i_n + r * (h @ W_hn.T + b_hn)).",
                           "keep gh = h @ W_hh.T + b_hh whole and multiply its n block by r: "
                           "n = tanh(i_n + r * h_n)"),
    "reset_before_matmul": (dict(reset_after=False), "the reset gate multiplies h before the product "
                            "(n = tanh(i_n + (r * h) @ W_hn.T + b_hn), the original paper's form), not after it "
                            "as nn.GRUCell does.",
                            "nn.GRUCell applies r after the product: n = tanh(i_n + r * (h @ W_hn.T + b_hn))"),
    "update_gate_flipped": (dict(z_keeps_h=False), "(1 - z) multiplies the old state and z the candidate: "
                            "h_new = z * n + (1 - z) * h.",
                            "z near 1 keeps the old state: h_new = (1 - z) * n + z * h"),
}


def _register_gru_bugs():
    for name, (switches, explanation, hint) in GRU_BUGS.items():
        def cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None, _s=switches):
            return _gru(x, h, W_ih, W_hh, b_ih, b_hh, **_s)
        variant(D, "gru_cell", name, "gru_cell: " + explanation, hint)(cell)


_register_gru_bugs()


# ------------------------------------------------------------------------------------ final_states

def _h_n(rnn, padded, lengths):
    _, h_n = rnn(pack_padded_sequence(padded, lengths, enforce_sorted=False))
    return h_n[0] if isinstance(h_n, tuple) else h_n


@variant(D, "final_states", "h_n_last_row_only",
         "final_states: h_n[-1] alone is returned; for a bidirectional module it is only the backward direction of "
         "the top layer.",
         "h_n is (num_layers * 2, B, H), each layer's forward row first: concatenate h_n[-2] (forward) and h_n[-1] "
         "(backward) along the features")
def final_states_h_n_last_row_only(rnn, padded, lengths):
    return _h_n(rnn, padded, lengths)[-1]


@variant(D, "final_states", "first_layer",
         "final_states: the first layer's rows of h_n are returned instead of the top layer's.",
         "h_n is ordered layer by layer: the top layer's rows are the last D rows, h_n[-D:]")
def final_states_first_layer(rnn, padded, lengths):
    directions = 2 if rnn.bidirectional else 1
    return torch.cat(list(_h_n(rnn, padded, lengths)[:directions]), dim=1)


@variant(D, "final_states", "padded_end",
         "final_states: output[-1] of the padded batch is read as the last state: it is padding for every shorter "
         "sequence, and only the first backward step.",
         "pack with the lengths and read h_n: the forward state ends at step L_b - 1, the backward one at step 0")
def final_states_padded_end(rnn, padded, lengths):
    output, _ = rnn(padded)
    return output[-1]


@variant(D, "final_states", "forward_at_first_step",
         "final_states: the forward state is read at t = 0 and the backward one at the last real step: the two "
         "directions' ends are swapped.",
         "the forward direction ends at step L_b - 1 (output[L_b - 1, b, :H]) and the backward one at step 0 "
         "(output[0, b, H:]): or take h_n[-2] and h_n[-1]")
def final_states_forward_at_first_step(rnn, padded, lengths):
    packed_out, _ = rnn(pack_padded_sequence(padded, lengths, enforce_sorted=False))
    output, _ = pad_packed_sequence(packed_out)
    H = rnn.hidden_size
    last = (lengths.to(output.device) - 1).view(1, -1, 1).expand(1, -1, output.shape[2])
    at_end = output.gather(0, last)[0]                    # (B, D*H): every feature at step L_b - 1
    if not rnn.bidirectional:
        return output[0]
    return torch.cat([output[0, :, :H], at_end[:, H:]], dim=1)


# ------------------------------------------------------------------------------------ masked_sequence_loss

def _loss(logits, targets, lengths, *, inclusive=False, reduce="tokens", use_mask=True):
    T, B, C = logits.shape
    steps = torch.arange(T, device=logits.device).unsqueeze(1)
    bound = lengths.to(logits.device).unsqueeze(0)
    real = (steps <= bound) if inclusive else (steps < bound)
    per_step = F.cross_entropy(logits.reshape(-1, C), targets.reshape(-1), reduction="none").view(T, B)
    if not use_mask:
        return per_step.mean()
    masked = per_step * real
    if reduce == "all_positions":
        return masked.mean()
    if reduce == "per_sequence":
        return (masked.sum(0) / real.sum(0)).mean()
    return masked.sum() / real.sum()


LOSS_BUGS = {
    "pads_in_mean": (dict(reduce="all_positions"), "the padded steps are masked out of the sum but still counted in "
                     "the mean: (loss * mask).mean() divides by T * B.",
                     "divide the masked sum by the number of real steps, lengths.sum() (or mask.sum())"),
    "mask_includes_length": (dict(inclusive=True), "the mask t <= lengths[b] lets one padded step per sequence in.",
                             "step t is real when t < lengths[b] (steps 0 to lengths[b] - 1)"),
    "no_mask": (dict(use_mask=False), "the padded steps count like real ones: the mean is over all T * B positions "
                "with their padding targets.",
                "build the mask t < lengths[b] (or set the padded targets to ignore_index on a copy)"),
    "mean_per_sequence": (dict(reduce="per_sequence"), "each sequence is averaged first and the batch then: the "
                          "mean is over sequences, not over tokens.",
                          "one mean over all real tokens: the masked sum divided by lengths.sum()"),
}


def _register_loss_bugs():
    for name, (switches, explanation, hint) in LOSS_BUGS.items():
        def loss(logits, targets, lengths, _s=switches):
            return _loss(logits, targets, lengths, **_s)
        variant(D, "masked_sequence_loss", name, "masked_sequence_loss: " + explanation, hint)(loss)


_register_loss_bugs()
