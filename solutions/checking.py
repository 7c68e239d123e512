"""Checks with messages written for a learner.

Shipped to students beside each day's exercises (``make exercises`` copies this
file), and used by the hidden suites too, so a public check and a hidden test
explain a mistake in the same words: what was expected, what came back, where
(time step, gate, batch row) and one hint.

Every failure raises :class:`CheckFailure` (an ``AssertionError``); a stub that
still raises ``NotImplementedError`` raises :class:`NotAttempted` instead.
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings
from typing import Any, Callable, Sequence

import torch

# Whether a failed comparison shows the expected value.  The public checks (fixed, public inputs) do;
# the hidden suites turn it off (in their conftest, never shipped): their inputs are the same on every
# run, so a resubmission could otherwise read the reference's values one element at a time.  Shapes,
# dtypes, where it differs and the student's own value there are always shown.
REVEAL_EXPECTED = True

LSTM_GATES = ("input gate i", "forget gate f", "cell candidate g", "output gate o")
GRU_GATES = ("reset gate r", "update gate z", "candidate n")


class CheckFailure(AssertionError):
    """A check failed; ``str(exc)`` is the learner-facing explanation."""


class NotAttempted(Exception):
    """The function under check is still the untouched stub."""


def call(fn: Callable, *args, **kwargs):
    """Call a student's function; an untouched stub becomes NotAttempted.

    A ``NotImplementedError`` raised by the student's own code path (the stub)
    means "not yet attempted"; anything else propagates so the caller reports
    it as a crash with its type and message.
    """
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise NotAttempted(str(exc) or f"{getattr(fn, '__name__', fn)} is not implemented yet") from None


def fail(message: str, hint: str | None = None) -> None:
    raise CheckFailure(message + (f"\n  Hint: {hint}" if hint else ""))


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}, device {value.device}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_describe(v) for v in value[:4])
        more = ", ..." if len(value) > 4 else ""
        return f"{type(value).__name__} of {len(value)} ({inner}{more})"
    return f"{type(value).__name__} {value!r}"[:200]


def expect_type(name: str, got: Any, expected_type: type | tuple, hint: str | None = None) -> None:
    """Exact type check: a subclass (say, of torch.Tensor) does not pass."""
    types = expected_type if isinstance(expected_type, tuple) else (expected_type,)
    if type(got) not in types:
        wanted = " or ".join(t.__name__ for t in types)
        fail(f"{name}: expected a {wanted}, got {_describe(got)}.", hint)


def _where(index: Sequence[int], dims: dict[str, int], gates: Sequence[str] | None, gate_dim: int | None,
           size: Sequence[int]) -> str:
    """Name a flat mismatch position by its meaning: time step, batch row, gate, unit."""
    parts = []
    for label, dim in dims.items():
        parts.append(f"{label} {index[dim]}")
    if gates is not None and gate_dim is not None:
        per_gate = size[gate_dim] // len(gates)
        g, unit = divmod(index[gate_dim], per_gate)
        parts.append(f"{gates[g]}, unit {unit}")
    covered = set(dims.values()) | ({gate_dim} if gate_dim is not None else set())
    rest = [str(i) for d, i in enumerate(index) if d not in covered]
    if rest:
        parts.append("index [" + ", ".join(rest) + "]")
    return ", ".join(parts) if parts else "the only element"


def expect_close(
    name: str,
    got: Any,
    expected: torch.Tensor,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    dims: dict[str, int] | None = None,
    gates: Sequence[str] | None = None,
    gate_dim: int | None = None,
    check_device: bool = True,
    hint: str | None = None,
) -> None:
    """Compare a returned tensor with the expected one, the way a tutor would.

    ``dims`` names dimensions for the message, e.g. ``{"time step": 0, "batch row": 1}``.
    ``gates``/``gate_dim`` name the stacked gate blocks of an LSTM/GRU weight or
    pre-activation (PyTorch's order ``i, f, g, o``).  Values are compared in float64
    so a float32 result is judged against the float64 truth with float32 tolerances.
    """
    expect_type(name, got, torch.Tensor, hint="return a plain torch.Tensor, not a list, a NumPy array or a subclass")
    if tuple(got.shape) != tuple(expected.shape):
        fail(f"{name}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}.",
             hint or _shape_hint(tuple(expected.shape), tuple(got.shape)))
    if got.dtype != expected.dtype:
        fail(f"{name}: expected dtype {expected.dtype}, got {got.dtype}.",
             hint or "keep the dtype of the inputs: don't create tensors with a fixed dtype (use torch.zeros_like, "
                     "or pass dtype=x.dtype)")
    if check_device and got.device != expected.device:
        fail(f"{name}: expected the result on {expected.device}, got it on {got.device}.",
             "create new tensors on the inputs' device (device=x.device, or torch.zeros_like) and never call "
             ".cpu()/.cuda() on the way")
    if got.requires_grad is False and expected.requires_grad and got.grad_fn is None and expected.grad_fn is not None:
        fail(f"{name}: the result is cut off from autograd (no grad_fn), so no gradient can flow back through it.",
             "don't call .detach(), .item(), .numpy() or torch.no_grad() inside the function")
    if atol is None or rtol is None:
        default_atol, default_rtol = default_tolerance(expected.dtype)
        atol = default_atol if atol is None else atol
        rtol = default_rtol if rtol is None else rtol
    g = got.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    nan_mismatch = torch.isnan(g) != torch.isnan(e)
    bad = (g - e).abs() > atol + rtol * e.abs()
    bad = (bad & ~torch.isnan(e)) | nan_mismatch
    if not bool(bad.any()):
        return
    n_bad, n_all = int(bad.sum()), bad.numel()
    first = [int(i) for i in torch.nonzero(bad)[0]] if bad.dim() else []
    where = _where(first, dims or {}, gates, gate_dim, tuple(expected.shape)) if first else "the only element"
    gv = g[tuple(first)].item() if first else g.item()
    ev = e[tuple(first)].item() if first else e.item()
    max_err = float((g - e).abs().nan_to_num(float("inf")).max())
    if not REVEAL_EXPECTED:
        fail(f"{name}: {n_bad} of {n_all} values differ from the expected ones.\n"
             f"  First difference at {where}: you returned {gv:.6g} there.", hint)
    fail(
        f"{name}: {n_bad} of {n_all} values differ from the expected ones "
        f"(largest difference {max_err:.3g}, allowed {atol:.1g} + {rtol:.1g}*|expected|).\n"
        f"  First difference at {where}: expected {ev:.6g}, got {gv:.6g}.",
        hint,
    )


def _shape_hint(expected: tuple, got: tuple) -> str:
    if sorted(expected) == sorted(got):
        return "the dimensions are right but in the wrong order: check batch_first and (T, B, H) vs (B, T, H)"
    if len(got) == len(expected) - 1:
        return "one dimension is missing: did you drop the layer dimension of h_n, (1, B, H), or the time dimension?"
    if len(got) == len(expected) + 1:
        return "one dimension too many: squeeze the layer or time dimension, or check that you stack, not nest"
    return "write the expected shape of every intermediate next to it and check each step"


def default_tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(atol, rtol) for comparing against a float64 truth: float32 arithmetic, then float64."""
    if dtype == torch.float64:
        return 1e-10, 1e-8
    if dtype in (torch.float16, torch.bfloat16):
        return 1e-2, 1e-2
    return 2e-5, 1e-4


def expect_equal(name: str, got: Any, expected: Any, hint: str | None = None) -> None:
    """Exact equality of plain values (str, int, bool, tuples of them)."""
    expect_type(name, got, type(expected))
    if got != expected:
        fail(f"{name}: expected {expected!r}, got {got!r}." if REVEAL_EXPECTED
             else f"{name}: got {got!r}, which is not the expected answer.", hint)


def expect_float(name: str, got: Any, expected: float, *, rel: float = 1e-4, abs_: float = 1e-6,
                 hint: str | None = None) -> None:
    """A returned Python number (a loss value, a norm)."""
    if type(got) is int:
        got = float(got)
    expect_type(name, got, float, hint="return a Python float, e.g. loss.item()")
    if not math.isclose(got, expected, rel_tol=rel, abs_tol=abs_):
        fail(f"{name}: expected {expected:.6g}, got {got:.6g}." if REVEAL_EXPECTED
             else f"{name}: got {got:.6g}, which is not the expected value.", hint)


def expect_floats(name: str, got: Any, expected: Sequence[float], *, rel: float = 1e-4, abs_: float = 1e-6,
                  label: str = "item", hint: str | None = None) -> None:
    """A returned sequence of Python numbers (one loss per chunk, one norm per step).

    A list or a tuple of Python floats (ints count), or a 1-D floating tensor of the values: any
    sequence of the numbers is a right answer; a list of tensors (``loss`` without ``.item()``) is not."""
    if type(got) is torch.Tensor and got.dim() == 1 and got.is_floating_point():
        atol, rtol = default_tolerance(got.dtype)      # torch.tensor(losses) is float32: judged as float32
        rel, abs_ = max(rel, rtol), max(abs_, atol)
        got = got.detach().cpu().tolist()
    expect_type(name, got, (list, tuple), hint="return a list of Python floats (loss.item() for each)")
    if len(got) != len(expected):
        fail(f"{name}: expected {len(expected)} numbers, got {len(got)}.", hint)
    for i, (g, e) in enumerate(zip(got, expected)):
        expect_float(f"{name}, {label} {i}", g, e, rel=rel, abs_=abs_, hint=hint)


@contextlib.contextmanager
def naming_the_case(what: str, hint: str | None = None):
    """A crash of the student's code inside the block is reported with the case it happened in.

    (A test that tries several shapes in turn says which one broke: "T=4, B=3, I=2, H=1".)
    A stub's ``NotImplementedError`` and the checks' own failures pass through unchanged."""
    try:
        yield
    except (NotImplementedError, NotAttempted, CheckFailure):
        raise
    except Exception as exc:  # the student's code crashed on this case
        fail(f"{what}: your code raised {type(exc).__name__}: {str(exc)[:300]}", hint)


@contextlib.contextmanager
def quiet():
    """Swallow a check's prints and warnings so a notebook test cell writes nothing to stderr.

    (nbgrader scores a test cell zero when anything reaches stderr, even a
    harmless warning from correct code.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield


# ---------------------------------------------------------------------------------------------
# Public checks: a registry of small functions, each taking the student's function.
# ---------------------------------------------------------------------------------------------

PUBLIC_CHECKS: dict[str, list[Callable]] = {}


def public_check(exercise: str):
    """Register ``fn(student_fn)`` as a public check of ``exercise``."""
    def register(fn: Callable) -> Callable:
        PUBLIC_CHECKS.setdefault(exercise, []).append(fn)
        return fn
    return register


def run_public_checks(exercise: str, student_fn: Callable) -> tuple[str, str]:
    """Run every public check of one exercise: ("passed" | "failed" | "not attempted", message)."""
    checks = PUBLIC_CHECKS.get(exercise)
    if not checks:
        return "failed", f"no public checks are registered for {exercise!r}"
    for check_fn in checks:
        try:
            with quiet():
                check_fn(student_fn)
        except NotAttempted as exc:
            return "not attempted", str(exc)
        except CheckFailure as exc:
            return "failed", f"[{check_fn.__name__}] {exc}"
        except Exception as exc:  # the student's code crashed: say where, not a bare traceback
            return "failed", f"[{check_fn.__name__}] your code raised {type(exc).__name__}: {exc}"
    return "passed", f"{len(checks)} check(s) passed"


def _day() -> str | None:
    """The day these checks are for: the folder of this file or of ``public_tests.py`` (``day15``)."""
    import re
    import sys
    from pathlib import Path
    candidates = [Path(__file__).resolve().parent]
    tests = getattr(sys.modules.get("public_tests"), "__file__", None)
    if tests:
        candidates.append(Path(tests).resolve().parent)
    candidates.append(Path.cwd())
    return next((c.name for c in candidates if re.fullmatch(r"day\d\d", c.name)), None)


_TOOL: list = []


def _self_check_tool():
    """The self-check module beside these exercises (``make check``'s, in the kit or in a student bundle),
    so a notebook's ``check()`` cell gives its verdict and names the same known mistakes; None where the
    notebook travels alone (the public checks then run without naming mistakes).  Found by its file in
    a folder one to three levels up (the bundle's tool package, or the kit's), else an installed student
    bundle: this file ships to students, so it names no package of the grader."""
    if _TOOL:
        return _TOOL[0]
    import importlib
    import sys
    from pathlib import Path
    tool = None
    for root in list(Path(__file__).resolve().parents)[:3]:
        found = sorted(p.parent.name for p in root.glob("*/selfcheck.py") if (p.parent / "known_mistakes.py").is_file())
        if found:
            sys.path.insert(0, str(root))
            try:
                tool = importlib.import_module(f"{found[0]}.selfcheck")
            except Exception:  # noqa: BLE001 - a broken tool must not break the notebook's checks
                tool = None
            finally:
                sys.path.remove(str(root))
            break
    if tool is None:
        try:
            tool = importlib.import_module("rnnkit_student.selfcheck")    # pip-installed bundle (Colab)
        except Exception:  # noqa: BLE001
            tool = None
    _TOOL.append(tool)
    return tool


def _verdict(exercise: str, student_fn: Callable) -> tuple[str, str]:
    """The self-check's verdict where the tool is here (same words, known mistake named), else the checks'."""
    import sys
    tool, day = _self_check_tool(), _day()
    if tool is not None and day is not None and hasattr(tool, "notebook_check"):
        try:
            return tool.notebook_check(sys.modules[__name__], day, exercise, student_fn)
        except Exception:  # noqa: BLE001 - naming mistakes is a bonus: the plain checks still run
            pass
    return run_public_checks(exercise, student_fn)


def check(student_fn: Callable, exercise: str | None = None) -> None:
    """Notebook entry point: ``check(rnn_cell)`` prints a verdict, raises if it is not a pass.

    Where ``make check`` (or the student bundle's ``rnnkit-check``) sits beside the exercises, the
    verdict is its own: the same message, and the known mistake named when the failure looks like one."""
    exercise = exercise or student_fn.__name__
    status, message = _verdict(exercise, student_fn)
    mark = {"passed": "PASS", "failed": "FAIL", "not attempted": "TODO"}[status]
    print(f"{mark} {exercise}: {message}")
    if status != "passed":
        raise CheckFailure(f"{exercise}: {status}. {message}")
