"""The TA's week, scripted: docs/ta_week.sh run as it is on a fresh class (issue 14's "done when").

An LMS download with the LMS's ids (a Canvas upload marked LATE, a Moodle folder whose student's
exception holds HTML, a Blackboard attempt), graded with a due time and a late policy; then the
Blackboard student re-uploads and is regraded alone from a new download; then the Gradescope
autograder is built and run, in Gradescope's /autograder layout in a temporary root, on the Canvas
student's upload.  Checked: the Canvas and Moodle files against the columns those LMSs document
(tests/test_lms.py cites where), a feedback.html per student, the late penalty in the gradebook and
the feedback, the rest of the class untouched by the regrade, Gradescope's points equal to make grade's.
"""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_archives import make_submit_zip                          # noqa: E402  (tests/ on sys.path)
from test_gradescope import SCHEMA as GRADESCOPE_SCHEMA            # noqa: E402
from test_lms import CANVAS_HEADER, MOODLE_KNOWN, MOODLE_REQUIRED, XSS   # noqa: E402
from test_submit import _confinable                                # noqa: E402

from autograder import outputs                                     # noqa: E402

KIT = Path(__file__).resolve().parents[1]
SCRIPT = KIT / "docs" / "ta_week.sh"
REF = (KIT / "solutions" / "day15" / "basic.py").read_bytes()
BROKEN = REF.replace(b"return", b"raise RuntimeError('not yet')\n    return", 1)
CANVAS_UPLOAD = "doejane_LATE_12345_67890_doejane_day15.zip"
ASSIGNMENT = "Day 15 (4242)"


def _zip(members: list[tuple[str, tuple, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, when, data in members:
            zf.writestr(zipfile.ZipInfo(name, when), data)
    return buf.getvalue()


def _download(bsmith_attempts: list[tuple[str, bytes]], doejane_upload: bytes) -> bytes:
    members = [(CANVAS_UPLOAD, (2026, 12, 3, 12, 0, 0), doejane_upload),          # 2 days late (Canvas: LATE)
               ("Jane Roe_555_assignsubmission_file_/day15/basic.py", (2026, 12, 1, 20, 0, 0),
                REF.replace(b"return", f"raise ValueError({XSS!r})\n    return".encode(), 1))]
    for stamp, data in bsmith_attempts:                                           # Blackboard: time in the name
        when = tuple(int(x) for x in stamp.split("-"))
        members.append((f"Day15_bsmith_attempt_{stamp}_day15.zip", when,
                        _zip([("day15/basic.py", when, data)])))
    return _zip(members)


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _run(env: dict, **more) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", str(SCRIPT)], cwd=KIT, env={**env, **more}, capture_output=True, text=True,
                          timeout=1500)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


@pytest.mark.slow    # three gradings and one Gradescope run (~4 min on 2 busy cores)
def test_the_ta_week_script_on_a_fresh_class(tmp_path):
    doejane_upload = make_submit_zip("doejane", {"day15/basic.py": REF})
    first = tmp_path / "download-monday.zip"
    first.write_bytes(_download([("2026-12-01-20-00-00", BROKEN)], doejane_upload))
    second = tmp_path / "download-wednesday.zip"     # bsmith's new attempt beside the old one
    second.write_bytes(_download([("2026-12-01-20-00-00", BROKEN), ("2026-12-02-08-30-00", REF)], doejane_upload))
    (tmp_path / "try").mkdir()
    (tmp_path / "try" / "doejane_day15.zip").write_bytes(doejane_upload)   # what doejane uploads to Gradescope
    grades = tmp_path / "grades"
    env = {**os.environ, "DOWNLOAD": str(first), "GRADES": str(grades), "DUE": "2026-12-01T23:59",
           "LATE_POLICY": "10%/day,cap=50%,grace=15m", "LMS_ASSIGNMENT": ASSIGNMENT, "JOBS": "2",
           # (the checkout's venv is the kit's: a stamp older than pyproject.toml must not reinstall it)
           "MAKE": "make -o .venv/.installed", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for name in ("STUDENT", "EXERCISE", "OUT", "SUBMISSIONS", "DAY", "FORCE"):
        env.pop(name, None)
    if not _confinable():
        env["UNSAFE"] = "1"                      # (reference code and one raise: nothing hostile runs)

    monday = _run(env)
    assert "Gradescope: upload" in monday.stdout
    kept = {who: (grades / who / "results.json").read_bytes() for who in ("doejane_12345", "jane_roe_555")}
    bsmith_before = json.loads((grades / "bsmith" / "results.json").read_text())["score"]

    week = _run(env, REGRADE_STUDENT="bsmith", REGRADE_DOWNLOAD=str(second),
                TRY_UPLOAD=str(tmp_path / "try" / "doejane_day15.zip"), TRY_STUDENT="doejane_12345")

    # one student regraded alone: the others' results are byte for byte Monday's, bsmith's new attempt counts
    for who, data in kept.items():
        assert (grades / who / "results.json").read_bytes() == data, who
    bsmith = json.loads((grades / "bsmith" / "results.json").read_text())
    assert bsmith["score"] > bsmith_before
    header, *table = _rows(grades / outputs.GRADEBOOK)
    book = {r[0]: r for r in table}
    assert set(book) == {"doejane_12345", "jane_roe_555", "bsmith"}        # the summary counts the class again
    assert float(book["bsmith"][header.index("total")]) == bsmith["score"]

    # late work: raw, penalty and final in the gradebook (2 days x 10% of the maximum), said in the feedback
    late = {c: book["doejane_12345"][header.index(c)] for c in ("late", "raw", "penalty", "final")}
    maximum = json.loads(kept["doejane_12345"])["max_score"]
    raw = json.loads(kept["doejane_12345"])["score"]
    assert late["late"] == "2 day(s)" and float(late["raw"]) == raw > 0
    assert float(late["penalty"]) == pytest.approx(0.2 * maximum) and float(late["final"]) == pytest.approx(
        raw - 0.2 * maximum)
    assert "2 days late" in (grades / "doejane_12345" / "feedback.html").read_text(encoding="utf-8")

    # Canvas: the documented columns, Canvas's user id in ID, the assignment column, Points Possible, final scores
    canvas = _rows(grades / outputs.CANVAS_GRADES)
    assert canvas[0] == CANVAS_HEADER + [ASSIGNMENT]
    assert canvas[1][0].strip() == "Points Possible" and float(canvas[1][5]) == maximum
    by_name = {r[0]: r for r in canvas[2:]}
    assert len(by_name) == 3 and all(len(r) == 6 for r in canvas)
    assert by_name["doejane"][1] == "12345" and float(by_name["doejane"][5]) == pytest.approx(float(late["final"]))
    bsmith_final = float(book["bsmith"][header.index("final")])          # the new attempt is 1 day late
    assert book["bsmith"][header.index("late")] == "1 day(s)" and bsmith_final < bsmith["score"]
    assert by_name["bsmith"][3] == "bsmith" and float(by_name["bsmith"][5]) == pytest.approx(bsmith_final)

    # Moodle: the worksheet its importer accepts, the feedback zip its importer reads, only the Moodle student
    moodle = _rows(grades / outputs.MOODLE_GRADES)
    assert set(MOODLE_REQUIRED) <= set(moodle[0]) <= MOODLE_KNOWN
    assert [r[moodle[0].index("Identifier")] for r in moodle[1:]] == ["Participant 555"]
    jane = json.loads((grades / "jane_roe_555" / "results.json").read_text())
    assert float(moodle[1][moodle[0].index("Grade")]) == jane["score"]
    with zipfile.ZipFile(grades / outputs.MOODLE_FEEDBACK) as zf:
        assert zf.namelist() == ["Jane Roe_555_assignsubmission_file_/feedback.html"]

    # a feedback.html per student; a student's own HTML is text in it
    for who in ("doejane_12345", "jane_roe_555", "bsmith"):
        assert (grades / who / "feedback.html").is_file(), who
    page = (grades / "jane_roe_555" / "feedback.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page

    # Gradescope: its schema, and make grade's points for the same upload (the script compares them too)
    assert "make grade" in week.stdout and "the same" in week.stdout, week.stdout[-2000:]
    results = Path(week.stdout.split("Gradescope's results: ")[1].split()[0])
    gradescope = json.loads(results.read_text())
    jsonschema.validate(gradescope, GRADESCOPE_SCHEMA)
    assert gradescope["score"] == raw
