"""Correct: a chunk counter with ceil division, the state detached before it is used (not after
the step), the losses as a 1-D tensor of the values (accepted by the docstring)."""
import math

import torch

DAY = "day16"
EXPECT = {"tbptt_train": "full"}


def tbptt_train(model, head, stream, k, optimizer, loss_fn, clip=None):
    inputs, targets = stream
    model.train()
    head.train()
    state = None
    values = []
    for n in range(math.ceil(inputs.shape[0] / k)):
        if state is not None:
            state = (state[0].detach(), state[1].detach()) if isinstance(state, tuple) else state.detach()
        optimizer.zero_grad()
        out, state = model(inputs[n * k:(n + 1) * k], state)
        loss = loss_fn(head(out), targets[n * k:(n + 1) * k])
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], clip)
        optimizer.step()
        values.append(loss.item())
    return torch.tensor(values)
