"""Wrong: never calls model.train() (the docstring: training mode, also when handed over in eval mode)."""
DAY = "day16"
EXPECT = {"train_step": ("loses", r"train\(\)|training mode|eval")}


def train_step(model, x, y, optimizer, loss_fn):
    optimizer.zero_grad()
    prediction = model(x)
    if isinstance(prediction, tuple):
        prediction = prediction[0]
    loss = loss_fn(prediction, y)
    loss.backward()
    optimizer.step()
    return loss.item()
