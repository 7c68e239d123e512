"""Fixtures of the hidden suites: ``submission``, ``reference``, ``device``.

A hidden test reads like ordinary code::

    @pytest.mark.grade("rnn_cell", points=2)
    def test_rnn_cell_random(submission, reference, device):
        x = torch.randn(3, 4, dtype=torch.float64, device=device)
        ...
        expect_close("h_next", submission.rnn_cell(x, h, W_ih, W_hh), reference.rnn_cell(x, h, W_ih, W_hh))

``submitted_source(level)`` is the text of the code graded for one level of the test's day
(None when there is none), for the few tests that check how a function is written.

``submission`` is whatever the grading engine plugs in (registered as the pytest
plugin ``rnnkit_submission``, an object with ``submission_for(day) -> namespace``);
without an engine it is the code under ``--target`` (``solutions`` by default,
``exercises`` for the stubs, or a folder laid out like ``exercises/``).
"""
from __future__ import annotations

import functools
import zlib
from pathlib import Path

import pytest
import torch

from autograder.hidden import answer_keys
from autograder.loading import load_day

KIT_ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    group = parser.getgroup("rnnkit")
    group.addoption("--target", default="solutions",
                    help="code the hidden suites grade: solutions, exercises, or a folder with day15/ and day16/")
    group.addoption("--device", default="all", choices=("cpu", "cuda", "all"),
                    help="devices to run every hidden test on (all = CPU, and CUDA when present)")


def _target_dir(config) -> Path:
    target = config.getoption("--target")
    if target in ("solutions", "exercises"):
        return KIT_ROOT / target
    return Path(target).resolve()


def pytest_generate_tests(metafunc):
    if "device" not in metafunc.fixturenames:
        return
    choice = metafunc.config.getoption("--device")
    devices = ["cpu", "cuda"] if choice == "all" else [choice]
    params = []
    for name in devices:
        marks = [pytest.mark.gpu] if name == "cuda" else []
        if name == "cuda" and not torch.cuda.is_available():
            marks.append(pytest.mark.skip(reason="GPU: not run (no CUDA device here)"))
        params.append(pytest.param(name, marks=marks, id=name))
    metafunc.parametrize("device", params, indirect=True)  # through the fixture: it turns TF32 off


def _day_of(request) -> str:
    return Path(str(request.node.fspath)).parent.name  # hidden/day15/test_basic.py -> "day15"


@pytest.fixture
def device(request):
    # CPU-like numerics on CUDA: TF32 (cuDNN's is on by default) moves RNN outputs by up to 5e-4
    # and parameter gradients by up to 2e-2 (measured on an H200); restored after the test.
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield torch.device(request.param)
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.fixture
def submission(request):
    engine = request.config.pluginmanager.get_plugin("rnnkit_submission")
    if engine is not None:
        return engine.submission_for(_day_of(request))
    return load_day(_target_dir(request.config), _day_of(request))


@pytest.fixture
def submitted_source(request, submission):
    def source(level: str) -> str | None:
        from_engine = getattr(submission, "_source", None)      # the engine's Namespace
        if from_engine is not None:
            return from_engine(level)
        session = getattr(submission, "_session", None)
        if session is not None:
            code = session.code.levels.get((_day_of(request), level))
            return None if code is None else code.source
        path = _target_dir(request.config) / _day_of(request) / f"{level}.py"
        return path.read_text(encoding="utf-8") if path.is_file() else None
    return source


@functools.lru_cache(maxsize=None)
def _references(day: str):
    # Imported once per process, not once per test; each function answers through the process's
    # answer keys (answer_keys.py): the same seeded inputs for every student, computed once.
    return answer_keys.memoized(load_day(KIT_ROOT / "solutions", day))


@pytest.fixture
def reference(request):
    return _references(_day_of(request))


@pytest.fixture(autouse=True)
def _expected_values_not_shown():
    """A hidden test's failure says where a result differs and what the student returned there, never
    the expected value: its inputs are the same on every run (README, "What the grader guarantees")."""
    from solutions import checking
    saved, checking.REVEAL_EXPECTED = checking.REVEAL_EXPECTED, False
    yield
    checking.REVEAL_EXPECTED = saved


def seed_test(nodeid: str, device: str) -> None:
    """Seed torch for one test: a hash of its name without the parameters, the same on every run."""
    seed = zlib.crc32(nodeid.split("[")[0].encode())
    if device == "cuda" or torch.cuda.is_initialized():
        torch.manual_seed(seed)
    else:
        # The CPU generator is all a CPU test draws from.  torch.manual_seed would also queue the seed
        # for a CUDA that is not initialized, with a copy of the call stack (traceback.format_stack):
        # under pytest that stack is deep, and it was the grader's largest cost per test.  A CUDA test
        # seeds through torch.manual_seed above, so its generator is seeded exactly as before.
        torch.random.default_generator.manual_seed(seed)


@pytest.fixture(autouse=True)
def _seeded(request):
    """Same inputs on every run and every machine: the seed is a hash of the test's name."""
    callspec = getattr(request.node, "callspec", None)
    seed_test(request.node.nodeid, str(callspec.params.get("device", "cpu")) if callspec else "cpu")
    yield
