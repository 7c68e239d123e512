"""Day 16 project's known mistakes (batchify, get_batch, lm_loss, sample, evaluate): the reference with one bug each.

Each exercise's reference logic is written once here with switches for its classic mistakes, so a variant
differs from the reference in exactly the one way its name says.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from autograder.fingerprints import variant

D = "day16"


# ------------------------------------------------------------------------------------ batchify

def _batchify(stream, batch_size, *, layout="columns"):
    if batch_size < 1 or stream.shape[0] < batch_size:
        raise ValueError(f"cannot cut {stream.shape[0]} tokens into {batch_size} columns")
    rows = stream.shape[0] // batch_size
    kept = stream[:rows * batch_size]
    if layout == "rows":
        return kept.reshape(rows, batch_size).contiguous()
    if layout == "untransposed":
        return kept.reshape(batch_size, rows).contiguous()
    return kept.reshape(batch_size, rows).t().contiguous()


@variant(D, "batchify", "rows_not_columns",
         "batchify: the stream is viewed as (T, B), so each row holds B consecutive tokens and each column every "
         "B-th token: text that never existed, and the carried state follows it.",
         "view the stream as (B, T) (one contiguous slice per column), then transpose: stream[:T*B].view(B, T).t()")
def batchify_rows(stream, batch_size):
    return _batchify(stream, batch_size, layout="rows")


@variant(D, "batchify", "not_transposed",
         "batchify: stream.view(B, -1) is returned as it is, (B, T): batch first, where truncated BPTT walks "
         "down the rows of a (T, B) tensor.",
         "transpose the (B, T) view to (T, B): .t() (and .contiguous())")
def batchify_untransposed(stream, batch_size):
    return _batchify(stream, batch_size, layout="untransposed")


# ------------------------------------------------------------------------------------ get_batch

def _get_batch(source, i, k, *, shift=1, clamp=True):
    steps = min(k, source.shape[0] - 1 - i) if clamp else k
    return source[i:i + steps], source[i + shift:i + shift + steps]


@variant(D, "get_batch", "targets_not_shifted",
         "get_batch: the targets are the inputs themselves (not shifted by one row), so the model learns to copy "
         "its input and the loss falls to zero.",
         "the target of row t is row t+1: y = source[i+1:i+1+s]")
def get_batch_unshifted(source, i, k):
    return _get_batch(source, i, k, shift=0)


@variant(D, "get_batch", "last_window_not_shortened",
         "get_batch: the window is always k rows long, so the last window's inputs have one row more than its "
         "targets (there is no row after the last one).",
         "s = min(k, T - 1 - i): the last target row is T - 1")
def get_batch_unclamped(source, i, k):
    return _get_batch(source, i, k, clamp=False)


# ------------------------------------------------------------------------------------ lm_loss

@variant(D, "lm_loss", "flattened_in_different_orders",
         "lm_loss: the logits and the targets are flattened in different orders (one of them transposed to "
         "batch first), so each position's logits meet another position's target.",
         "flatten both from the same (T, B) layout: logits.reshape(-1, V) and targets.reshape(-1)")
def lm_loss_misaligned(logits, targets):
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.transpose(0, 1).reshape(-1, vocab), targets.reshape(-1))


@variant(D, "lm_loss", "summed_not_averaged",
         "lm_loss: the cross-entropy is summed over the T*B positions, not averaged, so the loss (and the step "
         "size) grows with the window and the batch.",
         "F.cross_entropy averages by default (reduction='mean'): the mean over every position")
def lm_loss_summed(logits, targets):
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), reduction="sum")


@variant(D, "lm_loss", "softmax_before_cross_entropy",
         "lm_loss: a softmax is applied before F.cross_entropy, which applies log_softmax itself: the loss of "
         "probabilities, flat and nearly untrainable.",
         "F.cross_entropy takes the raw logits")
def lm_loss_double_softmax(logits, targets):
    vocab = logits.shape[-1]
    return F.cross_entropy(torch.softmax(logits, dim=-1).reshape(-1, vocab), targets.reshape(-1))


# ------------------------------------------------------------------------------------ sample

def _one_hot(ids, head):
    return F.one_hot(ids, head.out_features).to(head.weight.dtype)


def _sample(model, head, prefix, n, temperature=1.0, seed=0, *, keep_state=True, first_output=False,
            multiply=False, restore=True):
    was_training = (model.training, head.training)
    model.eval()
    head.eval()
    generator = torch.Generator(device=prefix.device)
    generator.manual_seed(seed)
    drawn = []
    with torch.no_grad():
        out, state = model(_one_hot(prefix, head).unsqueeze(1), None)
        for step in range(n):
            logits = head(out[0] if first_output and step == 0 else out[-1])
            if temperature == 0:
                token = logits.argmax(-1)
            else:
                scaled = logits * temperature if multiply else logits / temperature
                token = torch.multinomial(torch.softmax(scaled, dim=-1), 1, generator=generator).squeeze(1)
            drawn.append(token)
            out, state = model(_one_hot(token, head).unsqueeze(0), state if keep_state else None)
    if restore:
        model.train(was_training[0])
        head.train(was_training[1])
    return torch.cat(drawn) if drawn else torch.zeros(0, dtype=torch.int64, device=prefix.device)


@variant(D, "sample", "state_dropped",
         "sample: each new token is fed from the zero state, so every character sees only the one before it, not "
         "the prefix and the text drawn so far.",
         "keep the state each step returns and pass it to the next step: out, state = model(x, state)")
def sample_state_dropped(model, head, prefix, n, temperature=1.0, seed=0):
    return _sample(model, head, prefix, n, temperature, seed, keep_state=False)


@variant(D, "sample", "first_output_of_the_prefix",
         "sample: the first token is drawn from the output of the prefix's first step (out[0]), not its last, so "
         "the rest of the prefix is ignored.",
         "the prediction after the prefix is head(out[-1]): the output of the last step")
def sample_first_output(model, head, prefix, n, temperature=1.0, seed=0):
    return _sample(model, head, prefix, n, temperature, seed, first_output=True)


@variant(D, "sample", "temperature_multiplied",
         "sample: the logits are multiplied by the temperature instead of divided, so a high temperature makes "
         "the text more predictable, not less.",
         "softmax(logits / temperature): below 1 sharper, above 1 flatter")
def sample_temperature_multiplied(model, head, prefix, n, temperature=1.0, seed=0):
    return _sample(model, head, prefix, n, temperature, seed, multiply=True)


@variant(D, "sample", "modes_not_restored",
         "sample: the model and head are left in eval mode, so the training that follows runs without dropout "
         "(or batch statistics).",
         "remember model.training and head.training first and restore each with .train(mode) before returning")
def sample_modes_not_restored(model, head, prefix, n, temperature=1.0, seed=0):
    return _sample(model, head, prefix, n, temperature, seed, restore=False)


# ------------------------------------------------------------------------------------ evaluate

def _evaluate(model, head, data, k, *, eval_mode=True, carry=True, average="tokens", restore=True):
    was_training = (model.training, head.training)
    if eval_mode:
        model.eval()
        head.eval()
    total, count, state, windows = 0.0, 0, None, []
    with torch.no_grad():
        for start in range(0, data.shape[0] - 1, k):
            steps = min(k, data.shape[0] - 1 - start)
            x, y = data[start:start + steps], data[start + 1:start + 1 + steps]
            out, state = model(_one_hot(x, head), state if carry else None)
            loss = F.cross_entropy(head(out).reshape(-1, head.out_features), y.reshape(-1), reduction="sum").item()
            total += loss
            count += y.numel()
            windows.append(loss / y.numel())
    if restore:
        model.train(was_training[0])
        head.train(was_training[1])
    if average == "window_perplexities":
        return sum(math.exp(w) for w in windows) / len(windows)
    if average == "window_losses":
        return math.exp(sum(windows) / len(windows))
    return math.exp(total / count)


@variant(D, "evaluate", "left_in_training_mode",
         "evaluate: the model is measured in training mode, so dropout drops units at random and the perplexity "
         "is noisy and too high.",
         "call model.eval() and head.eval() before measuring (and restore the modes afterwards)")
def evaluate_train_mode(model, head, data, k):
    return _evaluate(model, head, data, k, eval_mode=False)


@variant(D, "evaluate", "state_reset_every_window",
         "evaluate: every window starts from the zero state, so the first characters of each window are "
         "predicted without their context.",
         "carry the state from window to window: out, state = model(x, state), with state = None only at first")
def evaluate_state_reset(model, head, data, k):
    return _evaluate(model, head, data, k, carry=False)


@variant(D, "evaluate", "mean_of_window_perplexities",
         "evaluate: the perplexities of the windows are averaged; perplexity is exp of the mean loss per token "
         "over all of them (exp of an average is not the average of exps).",
         "sum the loss of every token over all windows, divide by their number, and take exp once at the end")
def evaluate_mean_of_perplexities(model, head, data, k):
    return _evaluate(model, head, data, k, average="window_perplexities")


@variant(D, "evaluate", "mean_of_window_losses",
         "evaluate: the windows' mean losses are averaged, so the short last window weighs as much as a full "
         "one.",
         "weight by tokens: the summed loss of every token divided by the number of tokens, (T - 1) * B")
def evaluate_mean_of_window_losses(model, head, data, k):
    return _evaluate(model, head, data, k, average="window_losses")


@variant(D, "evaluate", "modes_not_restored",
         "evaluate: the model and head are left in eval mode, so the training that follows runs without dropout.",
         "remember model.training and head.training first and restore each with .train(mode) before returning")
def evaluate_modes_not_restored(model, head, data, k):
    return _evaluate(model, head, data, k, restore=False)
