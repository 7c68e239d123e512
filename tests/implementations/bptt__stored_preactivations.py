"""Correct: keeps every step's state in a preallocated (T+1, B, H) tensor, walks back with a
while loop, sums the bias gradient once at the end, and writes the gradients with einsum."""
import torch

DAY = "day16"
EXPECT = {"bptt": "full"}


def bptt(x, h0, W_ih, W_hh, b_ih, b_hh, grad_output):
    x, W_ih, W_hh = x.detach(), W_ih.detach(), W_hh.detach()
    b_ih = None if b_ih is None else b_ih.detach()
    b_hh = None if b_hh is None else b_hh.detach()
    grad_output = grad_output.detach()
    start = (h0[0] if h0.dim() == 3 else h0).detach()
    T = x.shape[0]
    states = start.new_zeros((T + 1, *start.shape))
    states[0] = start
    for t in range(T):
        a = torch.einsum("bi,hi->bh", x[t], W_ih) + torch.einsum("bk,hk->bh", states[t], W_hh)
        if b_ih is not None:
            a = a + b_ih
        if b_hh is not None:
            a = a + b_hh
        states[t + 1] = torch.tanh(a)
    das = torch.zeros_like(states[1:])
    carry = torch.zeros_like(start)
    t = T - 1
    while t >= 0:
        das[t] = (grad_output[t] + carry) * (1 - states[t + 1] ** 2)
        carry = das[t] @ W_hh
        t -= 1
    db = das.sum(dim=(0, 1))
    return {
        "x": torch.einsum("tbh,hi->tbi", das, W_ih),
        "h0": carry.reshape(h0.shape),
        "W_ih": torch.einsum("tbh,tbi->hi", das, x),
        "W_hh": torch.einsum("tbh,tbk->hk", das, states[:-1]),
        "b_ih": None if b_ih is None else db,
        "b_hh": None if b_hh is None else db.clone(),
    }
