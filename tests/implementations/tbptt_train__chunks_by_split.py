"""Correct: chunks from torch.split, clipping over a list built once, the state detached with
a helper, the losses returned as a tuple (a sequence of floats is allowed)."""
import torch

DAY = "day16"
EXPECT = {"tbptt_train": "full"}


def _detached(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def tbptt_train(model, head, stream, k, optimizer, loss_fn, clip=None):
    inputs, targets = stream
    params = list(model.parameters()) + list(head.parameters())
    model.train()
    head.train()
    state, losses = None, []
    for x_chunk, y_chunk in zip(torch.split(inputs, k), torch.split(targets, k)):
        optimizer.zero_grad()
        out, state = model(x_chunk, state)
        loss = loss_fn(head(out), y_chunk)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, max_norm=clip)
        optimizer.step()
        state = _detached(state)
        losses.append(float(loss))
    return tuple(losses)
