"""Wrong: starts every chunk from the zero state (the docstring: the state is carried, never reset)."""
import torch

DAY = "day16"
EXPECT = {"tbptt_train": ("loses", r"loss|chunk|state|parameter|differ")}


def tbptt_train(model, head, stream, k, optimizer, loss_fn, clip=None):
    inputs, targets = stream
    params = [*model.parameters(), *head.parameters()]
    model.train()
    head.train()
    losses = []
    for start in range(0, inputs.shape[0], k):
        optimizer.zero_grad()
        out, _ = model(inputs[start:start + k])
        loss = loss_fn(head(out), targets[start:start + k])
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        losses.append(loss.item())
    return losses
