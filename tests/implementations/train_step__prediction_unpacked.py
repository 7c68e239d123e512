"""Correct: zero_grad(set_to_none=False) before train(), the prediction taken with a
conditional expression, the loss returned through float()."""
DAY = "day16"
EXPECT = {"train_step": "full"}


def train_step(model, x, y, optimizer, loss_fn):
    optimizer.zero_grad(set_to_none=False)
    model.train(True)
    out = model(x)
    prediction = out[0] if isinstance(out, tuple) else out
    loss = loss_fn(prediction, y)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
