"""Wrong: never clears the gradients (the docstring: the model may come with gradients of an
earlier batch)."""
DAY = "day16"
EXPECT = {"train_step": ("loses", r"zero_grad|stale|earlier|old gradient")}


def train_step(model, x, y, optimizer, loss_fn):
    model.train()
    prediction = model(x)
    if isinstance(prediction, tuple):
        prediction = prediction[0]
    loss = loss_fn(prediction, y)
    loss.backward()
    optimizer.step()
    return loss.item()
