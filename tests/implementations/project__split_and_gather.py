"""Correct, written differently from the reference: batchify stacks the stream's first B chunks as
columns, get_batch narrows, lm_loss gathers the targets' log-probabilities, evaluate weights each
window's mean loss by its number of tokens."""
import math

import torch
from torch.nn import functional as F

DAY = "day16"
EXPECT = {"batchify": "full", "get_batch": "full", "lm_loss": "full", "evaluate": "full"}


def batchify(stream, batch_size):
    if batch_size < 1 or len(stream) < batch_size:
        raise ValueError("fewer tokens than columns")
    rows = len(stream) // batch_size
    return torch.stack(list(stream.split(rows)[:batch_size]), dim=1)


def get_batch(source, i, k):
    steps = min(k, source.size(0) - 1 - i)
    return source.narrow(0, i, steps), source.narrow(0, i + 1, steps)


def lm_loss(logits, targets):
    log_probs = torch.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)     # (T, B)
    return -picked.mean()


def evaluate(model, head, data, k):
    modes = [model.training, head.training]
    model.eval()
    head.eval()
    V = head.out_features
    weighted, tokens, state = 0.0, 0, None
    try:
        with torch.no_grad():
            i = 0
            while i < data.size(0) - 1:
                x, y = get_batch(data, i, k)
                out, state = model(F.one_hot(x, V).to(head.weight.dtype), state)
                weighted += lm_loss(head(out), y).item() * y.numel()
                tokens += y.numel()
                i += k
    finally:
        model.train(modes[0])
        head.train(modes[1])
    return math.exp(weighted / tokens)
