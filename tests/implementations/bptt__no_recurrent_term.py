"""Wrong: forgets the recurrent term da_{t+1} @ W_hh (each step's gradient stops at that step)."""
import torch

DAY = "day16"
EXPECT = {"bptt": ("loses", r"gradient|differ|\"?x\"?|W_hh|h0")}


def bptt(x, h0, W_ih, W_hh, b_ih, b_hh, grad_output):
    with torch.no_grad():
        h_init = h0[0] if h0.dim() == 3 else h0
        hs, h = [], h_init
        for t in range(x.shape[0]):
            a = x[t] @ W_ih.T + h @ W_hh.T
            if b_ih is not None:
                a = a + b_ih
            if b_hh is not None:
                a = a + b_hh
            h = torch.tanh(a)
            hs.append(h)
        dx, dW_ih, dW_hh = torch.zeros_like(x), torch.zeros_like(W_ih), torch.zeros_like(W_hh)
        db = torch.zeros_like(W_hh[0])
        dh0 = torch.zeros_like(h_init)
        for t in reversed(range(x.shape[0])):
            da = grad_output[t] * (1 - hs[t] ** 2)
            h_prev = hs[t - 1] if t > 0 else h_init
            dx[t] = da @ W_ih
            dW_ih += da.T @ x[t]
            dW_hh += da.T @ h_prev
            db += da.sum(0)
            if t == 0:
                dh0 = da @ W_hh
        return {"x": dx, "h0": dh0.reshape(h0.shape), "W_ih": dW_ih, "W_hh": dW_hh,
                "b_ih": None if b_ih is None else db.clone(), "b_hh": None if b_hh is None else db.clone()}
