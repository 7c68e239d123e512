import sys, torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence, pack_padded_sequence
print("torch", torch.__version__, "cuda", torch.cuda.is_available())
torch.manual_seed(0)
def show(label, f):
    try:
        f(); print(f"{label}: NO ERROR")
    except Exception as e:
        print(f"{label}: {type(e).__name__}: {str(e)[:300]!r}")
devs = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
for dev in devs:
    other = "meta" if dev == "cpu" else "cpu"
    for cls in (nn.RNN, nn.GRU, nn.LSTM):
        for bf in (False, True):
            tag = f"[{dev}] {cls.__name__} bf={bf}"
            m = cls(3, 4, batch_first=bf, device=dev)
            x = torch.randn(2, 5, 3, device=dev) if bf else torch.randn(5, 2, 3, device=dev)
            def hid(shape=(1, 2, 4), dtype=torch.float32, d=dev):
                if cls is nn.LSTM:
                    return (torch.zeros(shape, dtype=dtype, device=d), torch.zeros(1, 2, 4, device=dev))
                return torch.zeros(shape, dtype=dtype, device=d)
            show(f"{tag} input_size", lambda: m(x[..., :2]))
            show(f"{tag} hidden batch", lambda: m(x, hid((1, 3, 4))))
            show(f"{tag} hidden H", lambda: m(x, hid((1, 2, 5))))
            show(f"{tag} hidden layers", lambda: m(x, hid((2, 2, 4))))
            show(f"{tag} hidden bf-order", lambda: m(x, hid((2, 1, 4))))
            show(f"{tag} hidden 2D", lambda: m(x, hid((2, 4))))
            show(f"{tag} input dtype", lambda: m(x.double()))
            show(f"{tag} hidden dtype", lambda: m(x, hid(dtype=torch.float64)))
            show(f"{tag} module double input float", lambda: cls(3, 4, batch_first=bf, device=dev).double()(x))
            show(f"{tag} input other dev", lambda: m(x.to(other)))
            show(f"{tag} hidden other dev", lambda: m(x, hid(d=other)))
            show(f"{tag} 4D", lambda: m(x.unsqueeze(-1)))
            show(f"{tag} 1D", lambda: m(x[0, 0]))
            show(f"{tag} empty T", lambda: m(x[:0] if not bf else x[:, :0]))
            if cls is nn.LSTM:
                show(f"{tag} state not tuple", lambda: m(x, torch.zeros(1, 2, 4, device=dev)))
                show(f"{tag} c bad", lambda: m(x, (torch.zeros(1, 2, 4, device=dev), torch.zeros(1, 2, 5, device=dev))))
            else:
                show(f"{tag} tuple state", lambda: m(x, (torch.zeros(1, 2, 4, device=dev), torch.zeros(1, 2, 4, device=dev))))
    seqs = [torch.randn(2, 3, device=dev), torch.randn(5, 3, device=dev), torch.randn(3, 3, device=dev)]
    pad = pad_sequence(seqs)
    for es in (True, False):
        show(f"[{dev}] unsorted es={es}", lambda: pack_padded_sequence(pad, torch.tensor([2, 5, 3]), enforce_sorted=es))
        show(f"[{dev}] lengths meta sorted es={es}", lambda: pack_padded_sequence(pad[:, [1, 2, 0]], torch.tensor([5, 3, 2], device="meta"), enforce_sorted=es))
        show(f"[{dev}] lengths meta input meta es={es}", lambda: pack_padded_sequence(pad[:, [1, 2, 0]].to("meta"), torch.tensor([5, 3, 2], device="meta"), enforce_sorted=es))
        show(f"[{dev}] lengths dev sorted es={es}", lambda: pack_padded_sequence(pad[:, [1, 2, 0]], torch.tensor([5, 3, 2], device=dev), enforce_sorted=es))
        show(f"[{dev}] lengths float es={es}", lambda: pack_padded_sequence(pad[:, [1, 2, 0]], torch.tensor([5., 3., 2.]), enforce_sorted=es))
        show(f"[{dev}] lengths 2D es={es}", lambda: pack_padded_sequence(pad[:, [1, 2, 0]], torch.tensor([[5, 3, 2]]), enforce_sorted=es))
        show(f"[{dev}] lengths zero es={es}", lambda: pack_padded_sequence(pad[:, [1, 2, 0]], torch.tensor([5, 3, 0]), enforce_sorted=es))
        show(f"[{dev}] lengths too long es={es}", lambda: pack_padded_sequence(pad[:, [1, 2, 0]], torch.tensor([9, 3, 2]), enforce_sorted=es))
    packed = pack_padded_sequence(pad, torch.tensor([2, 5, 3]), enforce_sorted=False)
    show(f"[{dev}] packed into wrong input size", lambda: nn.LSTM(5, 4, device=dev)(packed))
    show(f"[{dev}] packed wrong hidden batch", lambda: nn.GRU(3, 4, device=dev)(packed, torch.zeros(1, 2, 4, device=dev)))
    show(f"[{dev}] packed wrong hidden H", lambda: nn.GRU(3, 4, device=dev)(packed, torch.zeros(1, 3, 5, device=dev)))
    show(f"[{dev}] packed dtype", lambda: nn.GRU(3, 4, device=dev).double()(packed))
    show(f"[{dev}] RNNCell input", lambda: nn.RNNCell(3, 4, device=dev)(torch.randn(2, 5, device=dev)))
    show(f"[{dev}] RNNCell hidden", lambda: nn.RNNCell(3, 4, device=dev)(torch.randn(2, 3, device=dev), torch.zeros(2, 5, device=dev)))
    show(f"[{dev}] LSTMCell hidden", lambda: nn.LSTMCell(3, 4, device=dev)(torch.randn(2, 3, device=dev), (torch.zeros(3, 4, device=dev), torch.zeros(3, 4, device=dev))))
    show(f"[{dev}] RNNCell dtype", lambda: nn.RNNCell(3, 4, device=dev)(torch.randn(2, 3, device=dev).double()))
    show(f"[{dev}] RNNCell other dev", lambda: nn.RNNCell(3, 4, device=dev)(torch.randn(2, 3, device=other)))
    show(f"[{dev}] cat", lambda: torch.cat([torch.zeros(2, 3, device=dev), torch.zeros(2, 4, device=dev)]))
    show(f"[{dev}] view", lambda: torch.zeros(2, 3, device=dev).view(4))
    show(f"[{dev}] index", lambda: torch.zeros(3, device=dev)[5])
    show(f"[{dev}] linear", lambda: nn.Linear(3, 4, device=dev)(torch.randn(2, 5, device=dev)))
show("meta module cpu input", lambda: nn.RNN(3, 4, device="meta")(torch.randn(5, 2, 3)))
show("meta module cpu input LSTM", lambda: nn.LSTM(3, 4, device="meta")(torch.randn(5, 2, 3)))
show("meta all", lambda: nn.LSTM(3, 4, device="meta")(torch.randn(5, 2, 3, device="meta")))
if torch.cuda.is_available():
    show("cuda module cpu input", lambda: nn.LSTM(3, 4, device="cuda")(torch.randn(5, 2, 3)))
    show("cpu module cuda input", lambda: nn.LSTM(3, 4)(torch.randn(5, 2, 3, device="cuda")))
    show("cuda module meta input", lambda: nn.GRU(3, 4, device="cuda")(torch.randn(5, 2, 3, device="meta")))
    show("cuda lstm hidden cpu", lambda: nn.LSTM(3, 4, device="cuda")(torch.randn(5, 2, 3, device="cuda"), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))))
