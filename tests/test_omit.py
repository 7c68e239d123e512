"""A course may leave out an optional exercise (OMIT=day16:diagnose) without breaking the catalogue.

Every layer reads autograder/catalogue.py, whose CATALOGUE is the declared catalogue less what the
course omits: stubs, notebooks (with the cells tagged with the exercise), public checks, hidden
tests, points, gradebook columns, the release bundle (which gets the omission written into its own
catalogue) and the nbgrader course. Each case runs in a subprocess with RNNKIT_OMIT set, the way
``make ... OMIT=day16:diagnose`` runs the kit.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1]
OMIT = "day16:diagnose"


def run_py(code: str, omit: str | None = OMIT, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RNNKIT_OMIT"}
    if omit is not None:
        env["RNNKIT_OMIT"] = omit
    return subprocess.run([sys.executable, "-c", code], cwd=KIT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_only_optional_exercises_can_be_omitted():
    from autograder import catalogue
    assert ("day16", "diagnose") in catalogue.OPTIONAL
    assert all(any(n in names for names in catalogue.DECLARED[d].values()) for d, n in catalogue.OPTIONAL)
    assert catalogue.parse_omit(" day16:diagnose ") == {("day16", "diagnose")}
    with pytest.raises(catalogue.OmitError, match="not optional"):
        catalogue.parse_omit("day15:rnn_cell")
    with pytest.raises(catalogue.OmitError, match="not an exercise"):
        catalogue.parse_omit("day16:diagnosis")
    done = run_py("import autograder.catalogue", omit="day16:provoke")
    assert done.returncode != 0 and "day16:provoke is not optional" in done.stderr


BUILD = """
import json
from pathlib import Path
from autograder import build, catalogue
out = {}
for release in (True, False):
    files = build.build_files(release=release)
    py = files[Path("day16/advanced.py")]
    nb = json.loads(files[Path("day16/day16_advanced.ipynb")])
    out[str(release)] = {
        "py_defines": [l.split("(")[0][4:] for l in py.splitlines() if l.startswith("def ")],
        "grade_ids": [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]],
        "sources": ["".join(c["source"]) for c in nb["cells"]],
        "day15_has_diagnose": "def diagnose(" in files[Path("day15/advanced.py")],
    }
out["catalogue"] = catalogue.CATALOGUE["day16"]["advanced"]
print(json.dumps(out))
"""


def test_the_build_leaves_the_omitted_exercise_out_of_stubs_and_notebooks():
    done = run_py(BUILD)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got["catalogue"] == ["provoke", "accumulated_grads", "regression_loss", "inputs_for"]
    for release in ("True", "False"):
        tree = got[release]
        assert "diagnose" not in tree["py_defines"] and "provoke" in tree["py_defines"]
        assert "inputs_for" in tree["py_defines"]
        assert not {"diagnose", "check_diagnose", "hidden_diagnose"} & set(tree["grade_ids"])
        assert {"provoke", "check_provoke", "hidden_provoke"} <= set(tree["grade_ids"])
        text = "\n".join(tree["sources"])
        assert "diagnose(" not in text and "Exercise 2 · `diagnose`" not in text   # its tagged text and demo go too
        assert tree["day15_has_diagnose"]                                            # Day 15's stays
    full = run_py(BUILD, omit=None)
    assert full.returncode == 0, full.stderr[-2000:]
    assert "diagnose" in json.loads(full.stdout)["True"]["py_defines"]


@pytest.mark.slow
def test_the_demo_class_graded_released_and_laid_out_without_diagnose(tmp_path):
    """End to end on the demo class with day16:diagnose omitted: grade, gradebook, release bundle, nbgrader course."""
    students = ("ada_perfect", "hana_untouched", "nia_broadcast_loss")
    done = run_py(f"""
from pathlib import Path
import shutil
from autograder import demo, release, course
root = Path({str(tmp_path)!r})
sub = demo.write_demo_class(root / "demo")
for folder in sub.iterdir():
    if folder.name not in {students!r}:
        shutil.rmtree(folder)
release.release(root / "dist")
course.write_course(root / "course")
""")
    assert done.returncode == 0, done.stderr[-3000:]
    env = dict(os.environ, RNNKIT_OMIT=OMIT)
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "demo" / "submitted"),
                             "--out", str(tmp_path / "out"), "--quiet", "--jobs", "2", "--device", "cpu"],
                            cwd=KIT, env=env, capture_output=True, text=True, timeout=900)
    assert graded.returncode == 0, graded.stderr[-3000:]

    from autograder import build
    points = build.hidden_points("day16")
    with open(tmp_path / "out" / "gradebook.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    columns = list(rows["ada_perfect"])
    assert "day16 diagnose" not in columns and "day15 diagnose" in columns and "day16 provoke" in columns
    declared_max = sum(build.hidden_points("day15").values()) + sum(points.values())
    expected_max = declared_max - points["diagnose"]
    assert all(float(r["max"]) == expected_max for r in rows.values()), rows
    assert float(rows["ada_perfect"]["total"]) == expected_max            # full marks without the omitted exercise
    assert float(rows["hana_untouched"]["total"]) == 0
    nia = json.loads((tmp_path / "out" / "nia_broadcast_loss" / "results.json").read_text())
    assert not [t for t in nia["tests"] if (t["day"], t["exercise"]) == ("day16", "diagnose")]
    assert float(rows["nia_broadcast_loss"]["day16 regression_loss"]) < points["regression_loss"]
    assert any(t.get("fingerprint") == "broadcasts" for t in nia["tests"])
    assert float(rows["nia_broadcast_loss"]["total"]) == expected_max - points["regression_loss"] \
        + float(rows["nia_broadcast_loss"]["day16 regression_loss"])

    bundle = tmp_path / "dist" / "rnnkit-student-day16"
    assert 'COURSE_OMIT = \'day16:diagnose\'' in next(bundle.rglob("catalogue.py")).read_text()
    stub = (bundle / "day16" / "advanced.py").read_text()
    assert "def diagnose(" not in stub and "def provoke(" in stub
    notebook = json.loads((bundle / "day16" / "day16_advanced.ipynb").read_text())
    assert "hidden_diagnose" not in {c["metadata"].get("nbgrader", {}).get("grade_id") for c in notebook["cells"]}
    # The bundle's own check, without the variable, reads the omission from its catalogue.
    check = subprocess.run([sys.executable, "-m", next(bundle.glob("*/__main__.py")).parent.name, "check",
                            "--day", "16", "--level", "advanced"],
                           cwd=bundle, env={k: v for k, v in os.environ.items() if k != "RNNKIT_OMIT"},
                           capture_output=True, text=True, timeout=600)
    assert "provoke" in check.stdout and "diagnose" not in check.stdout, check.stdout + check.stderr

    laid_out = json.loads((tmp_path / "course" / "source" / "day16" / "day16_advanced.ipynb").read_text())
    ids = {c["metadata"].get("nbgrader", {}).get("grade_id") for c in laid_out["cells"]}
    assert "hidden_provoke" in ids and "hidden_diagnose" not in ids


def test_a_tagged_cell_must_name_an_exercise_of_its_level(tmp_path):
    from autograder import build
    template = tmp_path / "advanced.nb.md"
    template.write_text("%% markdown diagnosis\nA text for an exercise that does not exist.\n", encoding="utf-8")
    with pytest.raises(build.BuildError, match="'diagnosis' is not an exercise of day16 advanced"):
        build.render_notebook(build.read_level("day16", "advanced"), template, {}, release=True)
