"""Wrong: drops a trailing 1 whenever the ranks differ by one, without checking that the other
dimensions then agree: (5, 1) against (1,) broadcasts, (5, 1) against (3,) raises torch's error
instead of ValueError. The docstring: any other pair of shapes raises ValueError, never broadcasts."""
DAY = "day16"
EXPECT = {"regression_loss": ("loses", r"expected ValueError|instead of raising ValueError")}


def regression_loss(pred, target):
    if pred.shape != target.shape:
        if pred.dim() == target.dim() + 1 and pred.shape[-1] == 1:
            pred = pred.squeeze(-1)
        elif target.dim() == pred.dim() + 1 and target.shape[-1] == 1:
            target = target.squeeze(-1)
        else:
            raise ValueError(f"regression_loss: {tuple(pred.shape)} and {tuple(target.shape)}")
    return ((pred - target) ** 2).mean()
