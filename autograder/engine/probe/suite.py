"""Hidden suite for the probe student (``student.py`` beside it): the boundary's contract.

Installed by the engine tests as ``<suites>/day15/test_basic.py``. Each test checks, on the
grader's side, what came back from a call into the worker.
"""
import copy
import json
import math
import os

import pytest
import torch
from torch import nn

F64 = torch.float64


@pytest.mark.grade("rnn_cell", points=1)
def test_plain_values_keep_their_exact_types(submission):
    out = submission.rnn_cell("types")
    assert type(out) is dict
    assert (type(out["i"]), type(out["f"]), type(out["s"]), out["n"], type(out["b"])) == (int, float, str, None, bool)
    assert out["t"] == (1, (2.0, "x")) and type(out["t"]) is tuple and out["l"] == [1, [2]]
    assert type(out["size"]) is torch.Size and out["size"] == (2, 3)
    assert out["dtype"] is torch.float64 and out["device"] == torch.device("cpu")
    assert math.isnan(out["nan"]) and out["inf"] == -math.inf and out["c"] == 1 + 2j
    assert type(out["big"]).__name__ == "int" and not isinstance(out["big"], int)   # not plain data: refused
    assert out["k"] == {1: "one", (2, 3): "pair"}
    for key in ("t16", "b8", "view", "empty"):
        assert type(out[key]) is torch.Tensor, key
    assert out["t16"].dtype == torch.float16 and out["t16"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert out["b8"].tolist() == [True, False] and out["view"].tolist() == [2.0, 4.0, 6.0]
    assert out["empty"].shape == (0, 3) and out["empty"].dtype == torch.int64
    assert type(out["param"]) is nn.Parameter


@pytest.mark.grade("rnn_cell", points=1)
def test_a_tensor_subclass_is_not_a_tensor(submission):
    out = submission.rnn_cell("evil")
    assert not isinstance(out, torch.Tensor) and type(out).__name__ == "Evil"


@pytest.mark.grade("rnn_cell", points=1)
def test_objects_that_are_not_plain_data_stay_foreign(submission):
    out = submission.rnn_cell("foreign")
    assert [type(v).__name__ for v in out] == ["ndarray", "float64", "object", "generator", "function", "Linear"]
    assert not any(isinstance(v, (torch.Tensor, float, nn.Module)) for v in out)


@pytest.mark.grade("rnn_cell", points=1)
def test_exceptions_cross_as_type_and_message(submission):
    with pytest.raises(ValueError, match="bad value"):
        submission.rnn_cell("raise", "ValueError", "bad value")
    with pytest.raises(KeyError):
        submission.rnn_cell("raise", "KeyError", "missing")
    with pytest.raises(RuntimeError) as info:
        submission.rnn_cell("raise_custom")
    assert type(info.value).__name__ == "ShapeError" and str(info.value) == "expected (T, B, I)"
    for name in ("KeyboardInterrupt", "SystemExit"):     # never rebuilt as what would stop pytest
        with pytest.raises(Exception) as info:
            submission.rnn_cell("raise", name, "stop")
        assert type(info.value).__name__ == name
    exc = submission.rnn_cell("return_exc")
    assert type(exc) is ValueError and str(exc) == "as a value"


@pytest.mark.grade("rnn_cell", points=1)
def test_a_training_step_comes_back_into_the_model(submission):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    twin = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_twin = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(5, 3, dtype=F64), torch.randn(5, 1, dtype=F64)
    for _ in range(2):
        loss = submission.rnn_cell("train", model, opt, nn.MSELoss(), x, y)
        opt_twin.zero_grad()
        expected = nn.MSELoss()(twin(x), y)
        expected.backward()
        opt_twin.step()
        assert type(loss) is float and loss == expected.item()
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q) and torch.equal(p.grad, q.grad)
    assert torch.equal(opt.state_dict()["state"][0]["momentum_buffer"],
                       opt_twin.state_dict()["state"][0]["momentum_buffer"])
    assert not model.training and not model[0].training


@pytest.mark.grade("rnn_cell", points=1)
def test_clipping_through_a_generator_clips_the_callers_gradients(submission):
    model = nn.Linear(3, 2).double()
    twin = copy.deepcopy(model)
    for p, q in zip(model.parameters(), twin.parameters()):
        p.grad = torch.randn_like(p) * 3
        q.grad = p.grad.clone()
    norm = submission.rnn_cell("clip", model.parameters(), 0.5)
    expected = float(torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5))
    assert norm == expected
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p.grad, q.grad)


@pytest.mark.grade("rnn_cell", points=1)
def test_gradients_flow_back_through_the_boundary(submission):
    lin = nn.Linear(3, 2).double()
    twin = copy.deepcopy(lin)
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    out = submission.rnn_cell("forward", lin, x)
    assert out.grad_fn is not None
    (out ** 2).sum().backward()
    (torch.tanh(twin(x2)) ** 2).sum().backward()
    assert torch.allclose(x.grad, x2.grad, atol=1e-12) and torch.allclose(lin.weight.grad, twin.weight.grad, atol=1e-12)
    # a non-leaf input: the gradient continues through the grader's own graph
    z = torch.randn(3, dtype=F64, requires_grad=True)
    sq, extra = submission.rnn_cell("square", z * 3)
    (sq.sum() + extra["twice"].sum()).backward()
    assert torch.allclose(z.grad, 18 * z.detach() + 6, atol=1e-12)
    cut = submission.rnn_cell("detached", x)
    assert not cut.requires_grad and cut.grad_fn is None


@pytest.mark.grade("rnn_cell", points=1)
def test_shared_tensors_stay_shared_and_in_place_changes_come_back(submission):
    model = nn.Linear(2, 2)
    assert submission.rnn_cell("same_object", model, list(model.parameters())) is True
    a, b = torch.zeros(3), torch.zeros(2, requires_grad=True)
    assert submission.rnn_cell("inplace", a, b) is None
    assert a.tolist() == [1, 1, 1] and b.grad.tolist() == [1, 1]


@pytest.mark.grade("rnn_cell", points=1)
def test_global_state_is_reset_before_every_call(submission):
    submission.rnn_cell("pollute")
    assert submission.rnn_cell("state") == {"dtype": "torch.float32", "grad": True, "tf32": False, "threads": 1,
                                            "cwd": "day15"}
    a, b = submission.rnn_cell("rand"), submission.rnn_cell("rand")
    assert not torch.equal(a, b)     # a seed per call, derived from the test's seed


@pytest.mark.grade("rnn_cell", points=1)
def test_classes_of_the_hidden_test_cannot_cross(submission):
    class Local(nn.Module):
        pass

    with pytest.raises(BaseException) as info:
        submission.rnn_cell("echo", Local())
    assert type(info.value).__name__ == "BoundaryError" and "hidden test" in str(info.value)


@pytest.mark.grade("rnn_cell", points=1)
def test_the_worker_is_isolated(submission):
    paths = json.loads(os.environ["RNNKIT_PROBE_PATHS"])
    report = submission.rnn_cell("spy", paths)
    assert [p for p, how in report["files"].items() if how == "read"] == [], report
    assert not [k for k in report["env"] if "SECRET" in k or "RNNKIT" in k], report
    assert report["uid"] >= 61000 and report["pid"] == 1 and report["procs"] == [1], report
    assert report["writable"] == ["/dev/shm", "/tmp"], report
    assert report["net"] is False and report["modules"] == [], report


@pytest.mark.grade("rnn_cell", points=1)
def test_results_keep_their_device(submission, device):
    twice, fresh = submission.rnn_cell("device", torch.ones(2, device=device))
    assert twice.device.type == torch.device(device).type and fresh.device.type == "cpu"


@pytest.mark.grade("rnn_forward", points=1)
def test_a_stub_is_not_attempted(submission):
    submission.rnn_forward(torch.zeros(1))
