"""autograder/tensor_table.py: a call's tensors cross to the worker as raw bytes, rebuilt exactly as
torch.save/torch.load rebuilt them (values, dtype, shape, strides, gradients, sharing)."""
import pytest
import torch

from autograder import tensor_table


def _row(t, param=False, rg=False, grad=None):
    return (t, param, rg, grad)


PLAIN = {
    "matrix": torch.randn(4, 3, dtype=torch.float64),
    "transposed": torch.randn(3, 4).t(),
    "permuted 3-d": torch.randn(2, 3, 4).permute(2, 0, 1),
    "size-1 dims": torch.randn(3, 1, 2),
    "scalar": torch.tensor(2.5),
    "empty": torch.zeros(0, 3),
    "bool": torch.tensor([True, False]),
    "int64 tokens": torch.arange(7),
    "bfloat16": torch.randn(5).to(torch.bfloat16),
    "complex": torch.randn(2, 2, dtype=torch.complex64),
}


@pytest.mark.parametrize("name", PLAIN)
def test_plain_tensors_take_the_fast_path_and_come_back_exact(name):
    t = PLAIN[name]
    packed = tensor_table.pack([_row(t)])
    assert packed[:1] == b"R", "a plain tensor should not need torch.save"
    (back, _, _, _), = tensor_table.unpack(packed)
    assert type(back) is torch.Tensor and back.dtype == t.dtype and back.shape == t.shape
    assert back.stride() == t.stride() and torch.equal(back, t)
    assert back.untyped_storage().data_ptr() != t.untyped_storage().data_ptr() or t.numel() == 0


def test_flags_and_gradients_travel():
    p = torch.nn.Parameter(torch.randn(2, 3))
    p.grad = torch.full((2, 3), 0.5)
    rows = tensor_table.unpack(tensor_table.pack([_row(p.detach(), True, True, p.grad), _row(torch.ones(2))]))
    (value, is_param, rg, grad), (other, is_param2, rg2, grad2) = rows
    assert (is_param, rg, is_param2, rg2, grad2) == (True, True, False, False, None)
    assert torch.equal(value, p.detach()) and torch.equal(grad, p.grad)


def test_rebuilt_storage_is_torchs_own_and_resizable():
    (back, _, _, _), = tensor_table.unpack(tensor_table.pack([_row(torch.randn(4))]))
    back.resize_(10)          # a storage made from a Python buffer would refuse
    assert back.numel() == 10


@pytest.mark.parametrize("case", ["shared storage", "view with offset", "strided slice", "expanded", "conjugate"])
def test_what_raw_bytes_cannot_say_goes_through_torch_save(case):
    base = torch.randn(6)
    rows = {
        "shared storage": [_row(base), _row(base.view(2, 3))],
        "view with offset": [_row(base[2:])],
        "strided slice": [_row(torch.randn(2, 6)[:, ::2])],
        "expanded": [_row(torch.randn(5).expand(3, 5))],
        "conjugate": [_row(torch.randn(3, dtype=torch.complex64).conj())],
    }[case]
    packed = tensor_table.pack(rows)
    assert packed[:1] == b"T"
    back = tensor_table.unpack(packed)
    for (t, *_), (b, *_) in zip(rows, back):
        assert torch.equal(b.resolve_conj(), t.resolve_conj()) and b.stride() == t.stride()
    if case == "shared storage":     # sharing survives: changing one changes the other, as in the grader
        back[0][0][0] = 100.0
        assert back[1][0][0, 0] == 100.0


def test_gradient_lists_with_gaps():
    grads = [None, torch.ones(2, 2), None]
    back = tensor_table.unpack_tensors(tensor_table.pack_tensors(grads))
    assert back[0] is None and back[2] is None and torch.equal(back[1], grads[1])


def test_garbage_is_refused():
    with pytest.raises(ValueError):
        tensor_table.unpack(b"Xnot a table")
