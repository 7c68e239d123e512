"""Correct: clears the gradients through the model (model.zero_grad(): the optimizer is over
the model's parameters), the loss read with .item() before the step."""
DAY = "day16"
EXPECT = {"train_step": "full"}


def train_step(model, x, y, optimizer, loss_fn):
    model.train()
    model.zero_grad()
    result = model(x)
    if isinstance(result, tuple):
        result, *_ = result
    loss = loss_fn(result, y)
    value = loss.item()
    loss.backward()
    optimizer.step()
    return value
