"""Correct: squeezes a trailing 1 first when the ranks differ by one, then requires equal shapes;
the mean written as a sum over the number of elements."""
DAY = "day16"
EXPECT = {"regression_loss": "full"}


def regression_loss(pred, target):
    p, t = pred, target
    if p.dim() == t.dim() + 1 and p.shape[-1] == 1:
        p = p.squeeze(-1)
    elif t.dim() == p.dim() + 1 and t.shape[-1] == 1:
        t = t.squeeze(-1)
    if p.shape != t.shape:
        raise ValueError(f"cannot compare a prediction {tuple(pred.shape)} with a target {tuple(target.shape)}")
    return (p - t).pow(2).sum() / p.numel()
