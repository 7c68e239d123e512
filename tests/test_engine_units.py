"""The engine's pure parts, in-process: finding code in submissions, the plain-data wire, reports."""
from __future__ import annotations

import collections
import json
import math
import struct
import zlib
from pathlib import Path

import pytest
import torch

from autograder import build
from autograder.engine import extract, protocol, report
from autograder.engine.runner import Row, explain, merge_devices

KIT = Path(__file__).resolve().parents[1]
REF15 = (KIT / "solutions" / "day15" / "basic.py").read_text()
NAMES = ("rnn_cell", "rnn_forward")


def nb(*sources, meta=None) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": meta or {}, "source": s} for s in sources]})


# ------------------------------------------------------------------------------------------------
# Notebooks
# ------------------------------------------------------------------------------------------------

def test_a_notebook_yields_its_definitions_and_nothing_it_would_run():
    code = extract.notebook_code(nb(
        "%matplotlib inline\nimport torch\nfrom checking import check\n",
        ["def rnn_cell(x):\n", "    return x\n"],
        "check(rnn_cell)\nrnn_cell(1)\nwhile True:\n    pass\n",
        "H = 4\nSHAPE = (H, 2 * H)\nDT = torch.float64\nDEV = torch.device('cpu')\nmodel = make_model()\n",
        "T, B = 6, 2\nx = torch.randn(T, B)\nn = len(x)\ny = undefined + 1\nfor T in range(3):\n    pass\n",
        "!pip install x\nimport functools\n@functools.lru_cache\ndef rnn_forward(x, n=T):\n    return x\n",
        "@nowhere\ndef helper():\n    pass\n",
        "from __future__ import annotations\n",
    ), "day15_basic.ipynb", NAMES)
    src = code.source
    assert src.startswith("from __future__ import annotations\n")
    for kept in ("import torch", "from checking import check", "def rnn_cell", "H = 4", "SHAPE = (H, 2 * H)",
                 "DT = torch.float64", "DEV = torch.device('cpu')", "T, B = 6, 2",
                 "@functools.lru_cache\ndef rnn_forward"):
        assert kept in src
    for dropped in ("%matplotlib", "check(rnn_cell)", "while True", "make_model", "pip install", "randn",
                    "len(x)", "undefined", "for T", "nowhere"):
        assert dropped not in src
    compile(src, "basic.py", "exec")
    line = src.splitlines().index("def rnn_cell(x):") + 1
    assert code.line_map[line - 1] == (2, 1)


def test_cell_metadata_does_not_matter():
    lying = {"nbgrader": {"solution": False, "grade": True, "locked": True}, "deletable": False}
    code = extract.notebook_code(nb("def rnn_cell(x):\n    return x\n", meta=lying), "n.ipynb", NAMES)
    assert "def rnn_cell" in code.source


def test_a_cell_with_a_syntax_error_is_named_unless_redefined_later():
    code = extract.notebook_code(nb("def rnn_cell(x:\n    return x\n", "def rnn_forward(x):\n    return x\n"),
                                 "day15_basic.ipynb", NAMES)
    assert "cell 1" in code.problems["rnn_cell"] and "syntax error" in code.problems["rnn_cell"]
    fixed = extract.notebook_code(nb("def rnn_cell(x:\n", "def rnn_cell(x):\n    return x\n"), "n.ipynb", NAMES)
    assert fixed.problems == {}


@pytest.mark.parametrize("text, message", [
    ("{oops", "is not a readable notebook"),
    ('{"cells": 3}', "is not a Jupyter notebook"),
    ("[1, 2]", "is not a Jupyter notebook"),
    ("[" * 100000, "is not a readable notebook"),
])
def test_what_is_not_a_notebook_is_said_so(text, message):
    with pytest.raises(ValueError, match=message):
        extract.notebook_code(text, "day15_basic.ipynb", NAMES)


# ------------------------------------------------------------------------------------------------
# Finding a student's files
# ------------------------------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


STUB = REF15.split("### BEGIN SOLUTION")[0] + "    raise NotImplementedError\n"


@pytest.fixture
def kit(tmp_path) -> Path:
    """A kit with the day 15 basic references: the release is what autograder.build generates from them
    (its exercises/ holds a TA's working copy, which never counts)."""
    write(tmp_path / "kit" / "solutions" / "day15" / "basic.py", REF15)
    write(tmp_path / "kit" / "exercises" / "day15" / "basic.py", REF15)
    write(tmp_path / "kit" / "solutions" / "checking.py", "# shipped\n")
    return tmp_path / "kit"


def grade_level(kit: Path, folder: Path):
    ref = extract.StudentRef("s", folder.parent, {"day15": sorted(folder.iterdir())})
    return extract.read_student(ref, [("day15", "basic")], kit)


def test_of_two_forms_the_one_that_differs_from_the_release_is_graded(kit, tmp_path):
    release = build.read_level("day15", "basic", kit / "solutions" / "day15" / "basic.py").stub_text
    day = tmp_path / "s" / "day15"
    write(day / "basic.py", release)
    write(day / "day15_basic.ipynb", nb(REF15))
    code = grade_level(kit, day)
    assert code.levels[("day15", "basic")].filename == "day15_basic.ipynb"
    assert any("graded day15_basic.ipynb" in n and "unchanged release" in n for n in code.notes)
    write(day / "basic.py", REF15)
    write(day / "day15_basic.ipynb", nb(release))
    assert grade_level(kit, day).levels[("day15", "basic")].filename == "basic.py"
    assert grade_level(kit, day).public["day15"] == {"checking.py": "# shipped\n"}


def test_unreadable_files_say_why(kit, tmp_path):
    day = tmp_path / "s" / "day15"
    (day).mkdir(parents=True)
    (day / "basic.py").write_bytes(b"x = '\xff'\n")
    code = grade_level(kit, day)
    assert "not UTF-8" in code.missing_message("day15", "basic")
    assert "no intermediate.py" in code.missing_message("day15", "intermediate")


def test_targets_are_recognised(tmp_path):
    course = tmp_path / "course"
    write(course / "submitted" / "ann" / "day15" / "basic.py", "x = 1\n")
    write(course / "submitted" / "ben" / "day16" / "day16_advanced.ipynb", "{}")
    write(course / "submitted" / "cid" / "notes.txt", "")
    cls = extract.discover(course)
    assert cls.kind == "class" and [s.name for s in cls.students] == ["ann", "ben", "cid"]
    assert {d for d, _ in cls.scope} == {"day15", "day16"}
    assert "no day15/ or day16/ folder" in cls.students[2].notes[0]
    one = extract.discover(course / "submitted" / "ann")
    assert one.kind == "student" and one.scope == [("day15", lv) for lv in ("basic", "intermediate", "advanced")]
    day = extract.discover(course / "submitted" / "ann" / "day15")
    assert day.kind == "student" and day.students[0].name == "ann"
    f = extract.discover(course / "submitted" / "ben" / "day16" / "day16_advanced.ipynb")
    assert f.kind == "file" and f.scope == [("day16", "advanced")] and f.students[0].name == "ben"
    with pytest.raises(extract.TargetError, match="cannot tell which exercise"):
        extract.discover(write(tmp_path / "loose" / "solution.py", ""))
    with pytest.raises(extract.TargetError, match="does not look like a class"):
        extract.discover(tmp_path / "loose")


def test_the_submission_hash_sees_every_byte(tmp_path):
    write(tmp_path / "s" / "day15" / "basic.py", "x = 1\n")
    ref = extract.discover(tmp_path / "s").students[0]
    first = extract.submission_hash(ref)
    write(tmp_path / "s" / "day15" / "notes.md", "")
    assert extract.submission_hash(ref) != first


# ------------------------------------------------------------------------------------------------
# The wire: worker -> grader is plain data, checked
# ------------------------------------------------------------------------------------------------

def roundtrip(value):
    _, values, _ = protocol.unpack(protocol.pack({"id": 1}, {"v": value}), cuda_ok=False)
    return values["v"]


def test_plain_values_roundtrip_with_their_types():
    value = {"a": [1, 2.5, "s", None, True, (3, 4)], 5: torch.Size([2]), "nan": math.nan,
             "t": torch.arange(6, dtype=torch.int16).reshape(2, 3)[:, 1], "bf": torch.ones(2, dtype=torch.bfloat16)}
    out = roundtrip(value)
    assert out["a"] == [1, 2.5, "s", None, True, (3, 4)] and type(out[5]) is torch.Size and math.isnan(out["nan"])
    assert type(out["t"]) is torch.Tensor and out["t"].tolist() == [1, 4] and out["t"].dtype == torch.int16
    assert out["bf"].dtype == torch.bfloat16


def test_exceptions_are_rebuilt_from_a_whitelist():
    class ShapeError(RuntimeError):
        pass

    err = roundtrip(ShapeError("bad"))
    assert type(err).__name__ == "ShapeError" and isinstance(err, RuntimeError) and protocol.from_submission(err)
    stop = roundtrip(KeyboardInterrupt())
    assert isinstance(stop, Exception) and not isinstance(stop, KeyboardInterrupt)
    assert type(roundtrip(ValueError("v"))) is ValueError


def forged(doc: dict, blobs: list[bytes] = ()) -> bytes:
    text = json.dumps(doc).encode()
    head = json.dumps({"doc_len": len(text), "blobs": [len(b) for b in blobs]}).encode()
    return struct.pack(">I", len(head)) + head + text + b"".join(blobs)


def tensor(dtype="torch.float32", shape=(2,), device="cpu", b=0):
    return {"$": "tensor", "dtype": dtype, "shape": list(shape), "device": device, "rg": False, "b": b}


@pytest.mark.parametrize("doc, blobs", [
    ({"h": {}, "v": {"x": tensor()}}, [b"\0" * 7]),                         # size does not match the bytes
    ({"h": {}, "v": {"x": tensor(dtype="object")}}, [b"\0" * 8]),          # not a dtype
    ({"h": {}, "v": {"x": tensor(device="cuda:0")}}, [b"\0" * 8]),         # no CUDA on this side
    ({"h": {}, "v": {"x": tensor(b=3)}}, [b"\0" * 8]),                      # no such blob
    ({"h": {}, "v": {"x": tensor(shape=(-1,))}}, [b"\0" * 8]),
    ({"h": {}, "v": {"x": {"$": "pickle", "v": "cos\nsystem\n"}}}, []),     # unknown tag
    ({"h": {}, "v": {"x": {"$": "dict", "k": [[1]], "v": [2]}}}, []),        # unhashable key
    ({"h": {}, "v": {"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}, []),
    ({"h": [], "v": {}}, []),
])
def test_hostile_messages_are_refused(doc, blobs):
    with pytest.raises(protocol.ProtocolError):
        protocol.unpack(forged(doc, blobs), cuda_ok=False)


def test_garbage_is_refused():
    for body in (b"", b"\0\0\0\5{}", b"\0\0\0\x02{}" + b"junk", b"\xff" * 64):
        with pytest.raises(protocol.ProtocolError):
            protocol.unpack(body, cuda_ok=False)


def test_a_well_formed_message_is_accepted():
    _, values, _ = protocol.unpack(forged({"h": {}, "v": {"x": tensor()}}, [b"\0" * 8]), cuda_ok=False)
    assert type(values["x"]) is torch.Tensor and values["x"].tolist() == [0.0, 0.0]


def test_a_forged_parameter_flag_gives_a_parameter_not_code():
    _, values, _ = protocol.unpack(forged({"h": {}, "v": {"x": {**tensor(), "param": True, "rg": True}}},
                                          [b"\0" * 8]), cuda_ok=False)
    assert type(values["x"]) is torch.nn.Parameter and values["x"].requires_grad


# ------------------------------------------------------------------------------------------------
# Messages and reports
# ------------------------------------------------------------------------------------------------

def test_explanations_never_show_a_traceback():
    from autograder.engine.boundary import TimedOut
    assert explain(TimedOut("rnn_cell did not return")) == ("timed out", "rnn_cell did not return")
    stub = protocol.rebuild_exception("NotImplementedError", [], ["rnn_cell: 6 lines"])
    assert explain(stub) == ("not attempted", "not attempted yet (rnn_cell: 6 lines)")
    assert explain(protocol.rebuild_exception("AssertionError", [], ["mine"])) == \
        ("failed", "your code raised AssertionError: mine")
    assert explain(AssertionError("h_next: 3 values differ")) == ("failed", "h_next: 3 values differ")
    assert explain(TypeError("cannot unpack"))[1].startswith("the test could not use what your code returned")


def rows():
    return [Row("n1", "test_rnn_cell_random[cpu]", "day15", "basic", "rnn_cell", "cpu", 2.0, "passed", ""),
            Row("n2", "test_rnn_cell_random[cuda]", "day15", "basic", "rnn_cell", "cuda", 2.0, "not run", "GPU: not run"),
            Row("n3", "test_rnn_forward_seq[cpu]", "day15", "basic", "rnn_forward", "cpu", 3.0, "failed",
                "output: 2 of 8 values differ.\n  Hint: tanh")]


def test_results_count_what_ran_and_feedback_reads_well(tmp_path):
    data = report.results("ann", merge_devices(rows()), ["day15: graded basic.py"], ["cpu"], "GPU: not run (no CUDA).")
    assert (data["score"], data["max_score"]) == (2, 5)
    assert [t["name"] for t in data["tests"]] == ["day15 rnn_cell: random", "day15 rnn_forward: seq"]
    text = report.feedback(data)
    assert "- day15 basic: rnn_cell: 2 / 2 points" in text and "  > output: 2 of 8 values differ." in text
    assert "## day15 basic: rnn_forward (0 / 3 points)" in text and "**Hint:** tanh" in text
    assert "GPU: not run" in text and "graded basic.py" in text
    (tmp_path / "ann").mkdir()
    report.write_atomic(tmp_path / "ann" / "results.json", report.results_json(data))
    assert report.gradebook(tmp_path) == \
        "student,day15 rnn_cell,day15 rnn_forward,total,max,devices\nann,2,0,2,5,cpu\n"
    assert [p.name for p in (tmp_path / "ann").iterdir()] == ["results.json"]


# ------------------------------------------------------------------------------------------------
# Work done once per class, not once per student (issue 16)
# ------------------------------------------------------------------------------------------------

def test_a_cpu_test_is_seeded_as_torch_manual_seed_would_without_copying_the_stack(monkeypatch):
    import traceback
    from autograder.hidden.conftest import seed_test
    assert not torch.cuda.is_initialized()
    copies = []
    real = traceback.format_stack
    monkeypatch.setattr(traceback, "format_stack", lambda *a, **k: copies.append(1) or real(*a, **k))
    seed_test("autograder/hidden/day15/test_basic.py::test_rnn_cell_random[cpu]", "cpu")
    drawn = torch.randn(5, dtype=torch.float64)
    assert copies == []        # torch.manual_seed copies the call stack for a CUDA not yet started
    monkeypatch.setattr(traceback, "format_stack", real)
    torch.manual_seed(zlib.crc32(b"autograder/hidden/day15/test_basic.py::test_rnn_cell_random"))
    assert torch.equal(drawn, torch.randn(5, dtype=torch.float64))


def _recorded_rnn_cell_calls(fn, seed: int) -> list:
    from autograder.fingerprints import match
    recorder = match.Recorder(fn, "day15", "rnn_cell")
    torch.manual_seed(seed)
    x, h = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    W_ih, W_hh = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 5, dtype=torch.float64)
    b_ih, b_hh = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    recorder(x, h, W_ih, W_hh, b_ih, b_hh)
    return recorder.calls


def test_the_known_mistakes_are_replayed_once_per_class_not_once_per_student(monkeypatch):
    from autograder.fingerprints import match, variants_for
    missing_b_hh = next(v for v in variants_for("day15", "rnn_cell") if v.name == "missing_b_hh")
    replays = []
    real = match.replay
    monkeypatch.setattr(match, "replay", lambda fn, call: replays.append(fn) or real(fn, call))
    monkeypatch.setattr(match, "_REPLAYS", collections.OrderedDict(), raising=False)   # (an empty cache)
    first = match.identify("day15", "rnn_cell", _recorded_rnn_cell_calls(missing_b_hh.fn, 7))
    assert first is missing_b_hh and len(replays) > 1     # the reference and every variant, once
    once = len(replays)
    second = match.identify("day15", "rnn_cell", _recorded_rnn_cell_calls(missing_b_hh.fn, 7))  # a classmate
    assert second is missing_b_hh and len(replays) == once
    other = match.identify("day15", "rnn_cell", _recorded_rnn_cell_calls(missing_b_hh.fn, 8))  # other inputs
    assert other is missing_b_hh and len(replays) == 2 * once


def test_a_cpu_worker_seeds_each_call_as_torch_manual_seed_would_without_copying_the_stack(monkeypatch, tmp_path):
    import sys
    import traceback
    from autograder.engine import worker
    threads, limit, path = torch.get_num_threads(), sys.getrecursionlimit(), list(sys.path)
    copies = []
    real = traceback.format_stack
    monkeypatch.setattr(traceback, "format_stack", lambda *a, **k: copies.append(1) or real(*a, **k))
    try:
        worker.Worker(-1, str(tmp_path), cuda=False).reset(seed=1234, grad=True)
        drawn = torch.randn(5, dtype=torch.float64)
    finally:
        torch.set_num_threads(threads)
        sys.setrecursionlimit(limit)
        sys.path[:] = path
    assert copies == []        # before every call of student code: torch.manual_seed copied the stack
    torch.manual_seed(1234)
    assert torch.equal(drawn, torch.randn(5, dtype=torch.float64))
