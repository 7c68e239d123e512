"""provoke's contract: the grader runs the recipe itself, so only PyTorch's own error counts.

The recipe format (solutions/misuse.py) is validated and bounded; a hand-built exception, a
recipe of the wrong kind or one that raises nothing earns no provoke point in either hidden suite.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from autograder.hidden.day15 import test_advanced as hidden15
from autograder.hidden.day16 import test_advanced as hidden16
from solutions import misuse
from solutions.checking import CheckFailure
from solutions.day15 import advanced as ref15
from solutions.day16 import advanced as ref16

MODEL = {"module": "RNN", "input_size": 3, "hidden_size": 4}


def _forger(message, cls=RuntimeError):
    """A provoke that builds PyTorch's message by hand (what the old contract paid for)."""
    return SimpleNamespace(provoke=lambda kind: cls(message))


def test_hand_built_exceptions_earn_nothing_on_day15():
    with pytest.raises(CheckFailure, match="not a recipe"):
        hidden15._expect_genuine(_forger("input.size(-1) must be equal to input_size. Expected 3, got 7"), ref15,
                                 "input_size")


def test_hand_built_exceptions_earn_nothing_on_day16():
    with pytest.raises(CheckFailure, match="not a recipe"):
        hidden16._check_provoked(_forger("Trying to backward through the graph a second time"), ref16,
                                 "backward_twice")


def test_only_the_error_of_the_kind_counts():
    input_size = ref15.provoke("input_size")
    wrong_kind = SimpleNamespace(provoke=lambda kind: input_size)
    with pytest.raises(CheckFailure, match="not the error of hidden_shape"):
        hidden15._expect_genuine(wrong_kind, ref15, "hidden_shape")
    silent = SimpleNamespace(provoke=lambda kind: {"model": MODEL, "input": {"shape": [5, 2, 3]}})
    with pytest.raises(CheckFailure, match="ran without an error"):
        hidden15._expect_genuine(silent, ref15, "input_size")
    with pytest.raises(CheckFailure, match="ran without an error"):
        hidden16._check_provoked(silent, ref16, "device_mismatch")


@pytest.mark.parametrize("kind", ref15.ERROR_KINDS)
def test_the_reference_recipes_pass_day15(kind):
    hidden15._expect_genuine(ref15, ref15, kind)


@pytest.mark.parametrize("kind", ref16.ERROR_KINDS)
def test_the_reference_recipes_pass_day16(kind):
    hidden16._check_provoked(ref16, ref16, kind)


BAD = {
    "not a dict": [MODEL],
    "no input": {"model": MODEL},
    "a bool for a size": {"model": dict(MODEL, input_size=True), "input": {"shape": [5, 2, 3]}},
    "a huge input": {"model": MODEL, "input": {"shape": [64, 64, 64, 64]}},
    "a dimension over 64": {"model": MODEL, "input": {"shape": [65, 2, 3]}},
    "cuda": {"model": dict(MODEL, device="cuda"), "input": {"shape": [5, 2, 3]}},
    "an unknown module": {"model": dict(MODEL, module="Transformer"), "input": {"shape": [5, 2, 3]}},
    "an unknown loss": {"model": MODEL, "input": {"shape": [5, 2, 3]}, "loss": "os.system"},
    "an unknown key": {"model": MODEL, "input": {"shape": [5, 2, 3]}, "exec": "print(1)"},
    "too many steps": {"model": MODEL, "input": {"shape": [5, 2, 3]}, "steps": ["forward"] * 21},
    "an unknown step": {"model": MODEL, "input": {"shape": [5, 2, 3]}, "steps": ["__import__"]},
    "backward before a loss": {"model": MODEL, "input": {"shape": [5, 2, 3]}, "steps": ["forward", "backward"]},
    "too many layers": {"model": dict(MODEL, num_layers=5), "input": {"shape": [5, 2, 3]}},
    "a cell with layers": {"model": dict(MODEL, module="RNNCell", num_layers=2), "input": {"shape": [2, 3]}},
    "a million lengths": {"model": MODEL, "input": {"shape": [5, 2, 3]}, "lengths": [1] * 1_000_000},
    "a huge dict": {str(i): i for i in range(100_000)},
}


@pytest.mark.parametrize("case", BAD)
def test_recipes_outside_the_format_are_refused_quickly(case):
    started = time.process_time()
    with pytest.raises(misuse.RecipeError):
        misuse.run_misuse(BAD[case])
    assert time.process_time() - started < 1.0


def test_a_recipe_error_is_never_counted_as_pytorchs():
    bad = SimpleNamespace(provoke=lambda kind: BAD["cuda"])
    with pytest.raises(CheckFailure, match="not in misuse.py's format"):
        hidden15._expect_genuine(bad, ref15, "device_mismatch")


def test_run_misuse_keeps_the_callers_random_stream():
    import torch
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    misuse.run_misuse(ref16.provoke("backward_twice"))
    assert torch.equal(torch.rand(3), expected)
