"""Attacks on the grader's own resources and on the TA's terminal (issue 11).

* inputs rewritten in place: a changed shape, dtype or device of an argument is refused, not written
  back into the grader's tensors (a test's reference would otherwise loop over what the student chose);
* grader-side work per test is bounded (a reference loop over an inflated result is stopped);
* names a submission invents (10 000 type names) do not grow the grader's classes;
* a student whose code makes the grader fail (an expression nested thousands deep) is that student's
  problem: the class is graded, and graded again by a rerun, without hanging;
* control characters of student origin (exception messages, folder names) never reach the TA's
  terminal or any file raw.
"""
from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import test_engine_grading as eg   # noqa: E402 - the existing machinery (tests/ is on sys.path)

KIT, REF15, put = eg.KIT, eg.REF15, eg.put
TIMEOUT = 3.0
root_only = eg.CONFINABLE    # (root, or rootless where user namespaces are allowed)

# A suite whose tests do what the hidden tests did: compute their reference on the very objects
# the submission received, after the call, and loop over what came back.
SUITE = '''
import pytest
import torch
from solutions.checking import expect_close
from autograder.engine import boundary

boundary.GRADER_CPU_PER_TEST = 2.0      # (the default is generous; the test needs to see it fire)


@pytest.mark.grade("rnn_cell", points=2)
def test_rnn_cell_inputs_read_after_the_call(submission, device):
    x = torch.randn(3, 4, dtype=torch.float64)
    model = torch.nn.Linear(4, 5).double()
    got = submission.rnn_cell(x, model)
    expected = torch.zeros(x.shape[0], 5, dtype=torch.float64)
    for t in range(x.shape[0]):          # a reference's loop over the inputs, as they are now
        expected[t] = torch.tanh(model(x[t]))
    expect_close("h", got, expected)


@pytest.mark.grade("rnn_forward", points=3)
def test_rnn_forward_loops_over_the_result(submission, device):
    x = torch.randn(3, 4, dtype=torch.float64)
    got = submission.rnn_forward(x)
    total = 0
    for t in range(got.shape[0]):        # grader-side work that grows with what came back
        for _ in range(2000):
            total += 1
    expect_close("out", got, torch.tanh(x))
'''

_HEAD = "import torch\n\n\ndef rnn_forward(x):\n    return torch.tanh(x)\n\n\n"
_RIGHT = "    return torch.tanh(model(x))\n"
STUDENTS = {
    "good": _HEAD + "def rnn_cell(x, model):\n" + _RIGHT,
    "in_place_same_shape": _HEAD + "def rnn_cell(x, model):\n    x.mul_(1.0)\n" + _RIGHT,
    "inflate_x": _HEAD + "def rnn_cell(x, model):\n    out = torch.tanh(model(x))\n"
                         "    x.data = torch.zeros(300000, 4, dtype=x.dtype)\n    return out\n",
    "dtype_x": _HEAD + "def rnn_cell(x, model):\n    out = torch.tanh(model(x))\n"
                       "    x.data = x.data.float()\n    return out\n",
    "swap_param": _HEAD + "def rnn_cell(x, model):\n    out = torch.tanh(model(x))\n"
                          "    model.weight = torch.nn.Parameter(torch.zeros(300000, 4, dtype=x.dtype))\n"
                          "    return out\n",
    "stall": "import torch\n\n\ndef rnn_forward(x):\n    return torch.zeros(300000, 4, dtype=x.dtype)\n\n\n"
             "def rnn_cell(x, model):\n" + _RIGHT,
    "wrong_value": _HEAD + "def rnn_cell(x, model):\n    return torch.tanh(model(x)) + 0.5\n",
    "names": _HEAD + "def rnn_cell(x, model):\n"
                     "    return [type(f'T{i}', (), {})() for i in range(10000)]\n",
}


@pytest.fixture(scope="module")
def host():
    h = eg.Host(dict(os.environ))
    yield h
    h.close()


@pytest.fixture(scope="module")
def graded(host, tmp_path_factory):
    base = tmp_path_factory.mktemp("boundary")
    suites = base / "suites"
    put(suites / "conftest.py", (KIT / "autograder" / "hidden" / "conftest.py").read_text()
        .replace("Path(__file__).resolve().parents[2]", f"Path({str(KIT)!r})"))
    put(suites / "day15" / "test_basic.py", SUITE)
    for name, src in STUDENTS.items():
        put(base / "class" / name / "day15" / "basic.py", src)
    summary = host.grade(base / "class", base / "out", suites=str(suites), timeout=TIMEOUT, jobs=2,
                         device="cpu", memory_mb=512)
    return {"summary": summary, "out": base / "out"}


def row(graded, student: str, exercise: str) -> dict:
    data = json.loads((graded["out"] / student / "results.json").read_text())
    return next(t for t in data["tests"] if t["exercise"] == exercise and t["device"] == "cpu")


@root_only
def test_the_class_is_graded(graded):
    summary = graded["summary"]
    assert sorted(summary["graded"]) == sorted(STUDENTS) and not summary["failed"], summary
    assert summary["problems"] == [], summary


@root_only
@pytest.mark.parametrize("student, what", [
    ("inflate_x", "argument 1 (3, 4) float64 by a (300000, 4) float64 tensor"),
    ("dtype_x", "argument 1 (3, 4) float64 by a (3, 4) float32 tensor"),
    ("swap_param", "weight of argument 2 (5, 4) float64 by a (300000, 4) float64 tensor"),
])
def test_a_changed_shape_dtype_or_device_is_refused(graded, student, what):
    r = row(graded, student, "rnn_cell")
    assert r["status"] == "failed" and r["score"] == 0, r
    assert f"your function replaced {what}" in r["output"], r["output"]
    assert "functions must not change their inputs' shape, dtype or device" in r["output"], r["output"]
    assert row(graded, student, "rnn_forward")["status"] == "passed"


@root_only
@pytest.mark.parametrize("student", ["good", "in_place_same_shape"])
def test_honest_code_and_same_shape_changes_keep_their_points(graded, student):
    assert row(graded, student, "rnn_cell")["status"] == "passed"
    assert row(graded, student, "rnn_forward")["status"] == "passed"


@root_only
def test_grader_side_work_per_test_is_bounded(graded):
    r = row(graded, "stall", "rnn_forward")
    assert r["status"] == "failed" and r["score"] == 0 and "internal limit" in r["output"], r
    assert row(graded, "stall", "rnn_cell")["status"] == "passed"     # the next test is graded as usual


@root_only
def test_ten_thousand_invented_type_names_read_as_a_wrong_answer(graded):
    r = row(graded, "names", "rnn_cell")
    assert r["status"] == "failed" and "expected a Tensor, got list" in r["output"], r


@root_only
def test_a_hidden_test_shows_where_it_differs_but_not_the_expected_value(graded):
    out = row(graded, "wrong_value", "rnn_cell")["output"]
    assert "First difference at" in out and "you returned" in out, out
    assert not re.search(r"expected -?[0-9]", out) and "largest difference" not in out, out


def test_a_public_check_still_shows_the_expected_value():
    import torch
    from solutions import checking
    with pytest.raises(checking.CheckFailure, match=r"expected 1, got 2"):
        checking.expect_close("h", torch.tensor([2.0]), torch.tensor([1.0]))


def test_invented_type_names_do_not_grow_the_grader():
    """10 000 distinct type names (values and exceptions), over many messages as over one: the classes
    the grader keeps stay bounded (it made one per name, for the life of the process)."""
    from autograder.engine import protocol

    def live_classes() -> int:
        gc.collect()
        return len(protocol.ForeignValue.__subclasses__()) + len(protocol.SubmissionError.__subclasses__())

    before = live_classes()
    kept = []
    for chunk in range(10):                  # one message of 1000 names, ten times
        values = {"result": [type(f"V{chunk}_{i}", (), {})() for i in range(1000)]}
        _, got, _ = protocol.unpack(protocol.pack({"id": 1}, values), cuda_ok=False)
        kept.append(got)                     # (even while the grader still holds the values)
    for i in range(10000):                   # 10 000 messages of one exception each
        exc = type(f"E{i}", (ValueError,), {})("boom")
        _, got, _ = protocol.unpack(protocol.pack({"id": 1}, {"error": exc}), cuda_ok=False)
        assert isinstance(got["error"], ValueError) and str(got["error"]) == "boom"
    grown = live_classes() - before
    assert grown <= 2 * protocol.CLASS_CACHE_SIZE + 10 * protocol.NEW_NAMES_PER_MESSAGE, grown
    # a few names still read as themselves ("expected a Tensor, got Yes")
    _, got, _ = protocol.unpack(protocol.pack({"id": 1}, {"r": type("Yes", (), {})()}), cuda_ok=False)
    assert type(got["r"]).__name__ == "Yes"


# ------------------------------------------------------------------------------------------------
# Through the command a TA runs: a student that breaks its grader, and control characters
# ------------------------------------------------------------------------------------------------

DEEP = REF15.replace("def rnn_cell(", "def rnn_cell(*a):\n    return " + "+".join(["1"] * 2500)
                     + "\n\n\ndef _unused(", 1)
ESCAPES = "\x1b[2K\r64/64 full marks \x1b]0;pwned\x07\x1b[2J \u202eevil\u202c \x9b31m \x00"
EVIL_NAME = "evil\x1b[31m\x07\u202e\x0bname"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def run_cli(target: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(target), "--out", str(out), "--jobs",
                           "2", "--timeout", str(TIMEOUT), "--device", "cpu"], cwd=KIT, capture_output=True,
                          text=True, timeout=600)    # (a hang, as before the fix, fails here instead of forever)


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def control_characters(text: str) -> list[str]:
    return sorted(set(CONTROL.findall(text)))


@pytest.fixture(scope="module")
def cli_class(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    sub = base / "submitted"
    put(sub / "a_deep" / "day15" / "basic.py", DEEP)           # first: the first grader gets it
    put(sub / "a_deep" / "day15" / "day15_basic.ipynb", eg.notebook([("code", DEEP, {})]))
    put(sub / "b_good" / "day15" / "basic.py", REF15)
    put(sub / EVIL_NAME / "day15" / "basic.py", eg.with_rnn_cell(f"raise ValueError({ESCAPES!r})"))
    put(sub / "d_good" / "day15" / "basic.py", REF15)
    first = run_cli(base, base / "out")
    second = run_cli(base, base / "out")
    return {"base": base, "out": base / "out", "runs": [first, second]}


@root_only
def test_a_student_that_breaks_its_grader_never_stops_the_class(cli_class):
    first, second = cli_class["runs"]
    assert first.returncode in (0, 1) and second.returncode in (0, 1), (first.stderr[-2000:], second.stderr[-2000:])
    out = cli_class["out"]
    for good in ("b_good", "d_good"):
        data = json.loads((out / good / "results.json").read_text())
        basic = [t for t in data["tests"] if t["exercise"] in ("rnn_cell", "rnn_forward")]
        assert basic and all(t["status"] == "passed" for t in basic), good
    deep = json.loads((out / "a_deep" / "results.json").read_text())
    assert deep["score"] == 0
    assert "internal error" not in first.stderr and "internal error" not in second.stderr
    assert "Traceback" not in json.dumps(deep)
    assert "4 unchanged" in second.stdout, second.stdout[:500]


@root_only
def test_no_control_character_of_student_origin_reaches_the_terminal_or_a_file(cli_class):
    first, second = cli_class["runs"]
    for run in (first, second):
        assert control_characters(run.stdout + run.stderr) == [], (run.stdout + run.stderr)[-3000:]
    seen = 0
    for path in cli_class["out"].rglob("*"):
        if not path.is_file() or path.suffix == ".png" or path.name == ".lock":
            continue
        text = path.read_text(encoding="utf-8")
        assert control_characters(text) == [], path
        if path.suffix == ".json":            # (JSON escapes ESC as \\u001b: what a reader of it gets)
            assert control_characters("".join(strings(json.loads(text)))) == [], path
        seen += 1
    assert seen >= 10
    # ... and the attempt is visible, not hidden: the escapes are shown
    data = json.loads((cli_class["out"] / EVIL_NAME / "results.json").read_text())
    row = next(t for t in data["tests"] if t["exercise"] == "rnn_cell")
    assert "\\x1b[2K\\x0d64/64 full marks" in row["output"], row["output"]
    assert data["student"] == "evil\\x1b[31m\\x07\\u202e\\x0bname"
