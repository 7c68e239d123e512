"""Wrong: returns the loss tensor (the docstring: a Python float)."""
DAY = "day16"
EXPECT = {"train_step": ("loses", r"float")}


def train_step(model, x, y, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad()
    prediction = model(x)
    if isinstance(prediction, tuple):
        prediction = prediction[0]
    loss = loss_fn(prediction, y)
    loss.backward()
    optimizer.step()
    return loss.detach()
