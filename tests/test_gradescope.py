"""`make gradescope`: the autograder zip Gradescope accepts, run locally against Gradescope's layout.

The schema below is Gradescope's documented results.json
(https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format): top-level score,
execution_time, output, output_format, test_output_format, test_name_format, visibility,
stdout_visibility, extra_data, tests; each test score, max_score, status (passed or failed),
name, name_format, number, output, output_format, tags, visibility, extra_data.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from autograder import gradescope
from autograder.engine import report

KIT = Path(__file__).resolve().parents[1]
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
NUMBER = {"type": "number"}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": NUMBER, "execution_time": NUMBER, "output": {"type": "string"}, "output_format": FORMAT,
        "test_output_format": FORMAT, "test_name_format": FORMAT, "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY, "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["max_score"],
            "properties": {
                "score": NUMBER, "max_score": NUMBER, "status": {"enum": ["passed", "failed"]},
                "name": {"type": "string"}, "name_format": FORMAT, "number": {"type": "string"},
                "output": {"type": "string"}, "output_format": FORMAT,
                "tags": {"type": "array", "items": {"type": "string"}}, "visibility": VISIBILITY,
                "extra_data": {"type": "object"}}}},
    },
    "anyOf": [{"required": ["score"]}, {"required": ["tests"]}],
}


class Row:   # what the runner hands report.results: one of each status the engine writes
    def __init__(self, status, exercise="rnn_cell", points=2.0, message=""):
        self.test, self.day, self.level, self.exercise = f"test_{exercise}_case", "day15", "basic", exercise
        self.device, self.points, self.status, self.message = "cpu", points, status, message
        self.devices, self.failed_on = ["cpu"], ([] if status == "passed" else ["cpu"])
        self.not_run_on, self.fingerprint = ["cuda"], ("missing_b_hh" if status == "failed" else None)


def engine_results() -> dict:
    rows = [Row("passed"), Row("failed", message="expected [1, 2], got [1, 3]"), Row("timed out"),
            Row("crashed", message="ValueError: \x1b[31m<script>"), Row("not attempted", "rnn_forward"),
            Row("not run", "rnn_forward", message="needs CUDA"), Row("error", "rnn_forward")]
    return report.results("alice\x07", rows, ["note about your files"], ["cpu"], "GPU: not run.")


def test_engine_results_in_gradescope_form_match_the_documented_schema():
    data = engine_results()
    with pytest.raises(jsonschema.ValidationError):   # the engine's own statuses are not Gradescope's
        jsonschema.validate(data, SCHEMA)
    converted = gradescope.to_gradescope(data, ["not graded (not an exercise file): notes.txt"], 12.4)
    jsonschema.validate(converted, SCHEMA)
    tests = converted["tests"]
    assert [t.get("status") for t in tests] == ["passed", "failed", "failed", "failed", "failed", None, "failed"]
    assert [t["extra_data"]["status"] for t in tests][:3] == ["passed", "failed", "timed out"]
    assert converted["score"] == data["score"] == 2 and sum(t["max_score"] for t in tests) == data["max_score"]
    assert "\x1b" not in json.dumps(converted) and "\x07" not in json.dumps(converted)
    assert converted["execution_time"] == 12 and "notes.txt" in converted["output"]


def test_the_zip_is_what_gradescope_expects(tmp_path):
    out = tmp_path / "autograder.zip"
    gradescope.build(out, "day15")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        config = json.loads(zf.read(gradescope.CONFIG))
        requirements = zf.read("requirements-gradescope.txt").decode()
    assert {"setup.sh", "run_autograder"} <= names                       # at the root, not in a folder
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert {"autograder/hidden/day15/test_basic.py", "solutions/day15/basic.py", "autograder/engine/scheduler.py",
            "autograder/gradescope.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "build/", ".venv/")) or "__pycache__" in n]
    assert config == {"day": "day15"}
    assert "torch==" in requirements and "nbgrader" not in requirements and "-e" not in requirements
    again = tmp_path / "again.zip"
    gradescope.build(again, "day15")
    assert again.read_bytes() == out.read_bytes()                       # the same kit, the same bytes


def test_an_upload_is_laid_out_as_a_class_of_one(tmp_path):
    upload = tmp_path / "submission"
    (upload / "nested" / "day16").mkdir(parents=True)
    (upload / "basic.py").write_text("x = 1\n")
    (upload / "nested" / "day16" / "advanced.py").write_text("y = 2\n")
    (upload / "day15_intermediate.ipynb").write_text("{}")
    (upload / "notes.txt").write_text("hello")
    klass, notes = gradescope.lay_out(upload, tmp_path / "work", "day15")
    found = sorted(p.relative_to(klass).as_posix() for p in klass.rglob("*") if p.is_file())
    assert found == ["submission/day15/basic.py", "submission/day15/day15_intermediate.ipynb",
                     "submission/day16/advanced.py"]
    assert notes == ["not graded (not an exercise file): notes.txt"]
    with pytest.raises(gradescope.LayoutError, match="inside day15/ or day16/"):
        gradescope.lay_out(_only(tmp_path / "only", "basic.py"), tmp_path / "work2", None)   # which day?


def _only(folder: Path, name: str) -> Path:
    folder.mkdir()
    (folder / name).write_text("x = 1\n")
    return folder


@pytest.mark.slow    # two gradings of one file (~50 s on 2 busy cores)
def test_run_autograder_in_gradescopes_layout_gives_the_points_of_make_grade(tmp_path):
    zip_path = tmp_path / "gradescope_autograder.zip"
    done = subprocess.run([sys.executable, "-m", "autograder.gradescope", "build", "--day", "15", "--out",
                           str(zip_path)], cwd=KIT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "autograder"                       # Gradescope's /autograder, moved
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")   # as Gradescope's image build does
    (root / "submission").mkdir()
    shutil.copy(KIT / "solutions" / "day15" / "basic.py", root / "submission" / "basic.py")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    ran = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                         timeout=600)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    result = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(result, SCHEMA)

    klass = tmp_path / "class" / "student" / "day15"
    klass.mkdir(parents=True)
    shutil.copy(KIT / "solutions" / "day15" / "basic.py", klass / "basic.py")
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", str(klass.parent.parent), "--out",
                             str(tmp_path / "grades"), "--quiet"], cwd=KIT, capture_output=True, text=True)
    assert graded.returncode == 0, graded.stderr[-2000:]
    local = json.loads((tmp_path / "grades" / "student" / "results.json").read_text())
    assert result["score"] == local["score"] > 0
    assert [(t["name"], t["score"], t["max_score"]) for t in result["tests"]] == \
        [(t["name"], t["score"], t["max_score"]) for t in local["tests"]]


def test_a_make_submit_zip_upload_is_staged_with_its_checks(tmp_path):
    sys.path.insert(0, str(KIT / "tests"))
    from test_archives import make_submit_zip
    upload = tmp_path / "submission"
    upload.mkdir()
    basic = (KIT / "solutions" / "day15" / "basic.py").read_bytes()
    (upload / "alice_day15.zip").write_bytes(make_submit_zip("alice", {"day15/basic.py": basic}))
    klass, notes = gradescope.lay_out(upload, tmp_path / "work", None)
    assert (klass / "alice" / "day15" / "basic.py").read_bytes() == basic
    assert notes == ["alice: graded alice_day15.zip"]
