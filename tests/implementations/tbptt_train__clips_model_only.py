"""Wrong: clips the model's gradients without the head's (the docstring: the global norm of
model and head together)."""
import torch

DAY = "day16"
EXPECT = {"tbptt_train": ("loses", r"clip")}


def tbptt_train(model, head, stream, k, optimizer, loss_fn, clip=None):
    inputs, targets = stream
    model.train()
    head.train()
    state, losses = None, []
    for start in range(0, inputs.shape[0], k):
        optimizer.zero_grad()
        out, state = model(inputs[start:start + k], state)
        loss = loss_fn(head(out), targets[start:start + k])
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        losses.append(loss.item())
    return losses
