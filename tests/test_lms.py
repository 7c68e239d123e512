"""What the LMS imports and the students open: Canvas and Moodle files, feedback.html, late work,
short feedback.  In-process on synthetic results.json folders, and one CLI run on a tiny LMS download
(a Canvas LATE upload, a Moodle folder whose student's exception carries HTML, a Blackboard attempt)."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder import feedback_html, late, lms, outputs
from autograder.engine import report

KIT = Path(__file__).resolve().parents[1]
XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
DUE = datetime(2026, 12, 1, 23, 59)

# The columns each LMS documents for its import.
# Canvas, "How do I import grades in the Gradebook?"
# (https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807, and
# https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades):
# Student, ID, SIS User ID, SIS Login ID, Section, then one column per assignment ("Name (assignment id)" for an
# existing one); a student is found by ID or SIS User ID or SIS Login ID; an optional second row "Points Possible".
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
# Moodle, assignment "Offline grading worksheet" (https://docs.moodle.org/en/Assignment_settings, "Feedback types"),
# as its importer reads it (moodle/moodle mod/assign/feedback/offline/importgradeslib.php, init()): the columns
# "Identifier" (get_string('recordid', 'assign')), "Grade" and "Last modified (grade)" must all be there or the
# upload is refused ("invalidgradeimport"); the id is the Identifier minus "Participant " (hiddenuser); each enabled
# feedback plugin's column by its name ("Feedback comments"); a row whose strtotime(Last modified (grade)) is more than
# 60 s older than Moodle's grade is skipped (feedback/offline/locallib.php, process_import_grades()).
MOODLE_REQUIRED = ["Identifier", "Grade", "Last modified (grade)", "Feedback comments"]
MOODLE_KNOWN = {"Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"}


def result_row(day, exercise, name, status, points, output="passed"):
    return {"name": f"{day} {exercise}: {name}", "score": points if status == "passed" else 0, "max_score": points,
            "output": output, "visibility": "visible", "status": status, "exercise": exercise, "day": day,
            "level": "basic", "device": "cpu", "devices": ["cpu"], "failed_on": [], "not_run_on": ["cuda"],
            "test": f"test_{exercise}_{name}", "fingerprint": None}


def write_student(out: Path, folder: str, tests: list[dict]) -> None:
    data = {"score": sum(t["score"] for t in tests), "max_score": sum(t["max_score"] for t in tests),
            "output": "", "visibility": "visible", "student": folder, "devices": ["cpu"],
            "gpu": "GPU: not run (no CUDA device).", "notes": [], "tests": tests}
    (out / folder).mkdir(parents=True)
    (out / folder / "results.json").write_text(json.dumps(data))
    (out / folder / "feedback.md").write_text(report.feedback(data))


@pytest.fixture
def graded_class(tmp_path):
    """Three students as the engine leaves them: a Canvas id, a Moodle id (whose exception holds HTML),
    an nbgrader student with a timestamp.txt and a name a spreadsheet would run."""
    out = tmp_path / "out"
    write_student(out, "doejane_12345", [result_row("day15", "rnn_cell", "random", "passed", 6),
                                         result_row("day15", "rnn_forward", "seq", "passed", 4)])
    write_student(out, "jane_roe_555", [result_row("day15", "rnn_cell", "random", "failed", 6, f"your code raised "
                                             f"ValueError: {XSS}\n  Hint: <b>bold</b> hint"),
                                        result_row("day15", "rnn_forward", "seq", "passed", 4)])
    write_student(out, "=cmd", [result_row("day15", "rnn_cell", "random", "passed", 6),
                                result_row("day15", "rnn_forward", "seq", "failed", 4, "output differs")])
    (out / outputs.GRADEBOOK).write_text(report.gradebook(out))
    cls = tmp_path / "submitted"
    (cls / "=cmd" / "day15").mkdir(parents=True)
    (cls / "=cmd" / "day15" / "timestamp.txt").write_text("2026-12-04 10:00:00.123456 UTC\n")
    info = {"doejane_12345": {"scheme": "canvas", "id": "12345", "full_name": "doejane", "late": True,
                              "submitted": "2026-12-03T12:00:00", "submitted_from": "the upload's time"},
            "jane_roe_555": {"scheme": "moodle", "id": "555", "full_name": "Jane Roe", "late": False,
                             "submitted": "2026-12-01T20:00:00", "submitted_from": "the files' time"}}
    return out, cls, info


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_canvas_file_has_canvas_columns_ids_and_points_possible(graded_class):
    out, cls, info = graded_class
    grades = lms.collect(out, ["doejane_12345", "jane_roe_555", "=cmd"], info, cls)
    table = rows(lms.canvas_csv(grades, "Day 15 (1234)"))
    assert table[0] == CANVAS_HEADER + ["Day 15 (1234)"]
    assert table[1][0].strip() == "Points Possible" and table[1][1:5] == ["", "", "", ""] and table[1][5] == "10"
    by_name = {r[0]: r for r in table[2:]}
    assert by_name["doejane"][1] == "12345" and by_name["doejane"][5] == "10"    # Canvas's own user id in ID
    assert by_name["'=cmd"][3] == "'=cmd" and by_name["'=cmd"][1] == ""          # no formula; login id
    assert all(len(r) == 6 for r in table)


def test_moodle_worksheet_and_feedback_zip_use_moodles_names(graded_class):
    out, cls, info = graded_class
    grades = lms.collect(out, ["doejane_12345", "jane_roe_555", "=cmd"], info, cls)
    table = rows(lms.moodle_csv(grades))
    assert set(MOODLE_REQUIRED) <= set(table[0]) <= MOODLE_KNOWN
    assert [r[table[0].index("Identifier")] for r in table[1:]] == ["Participant 555"]   # Moodle ids only
    assert table[1][table[0].index("Grade")] == "4"
    assert len(set(table[0])) == len(table[0]) and all(len(r) == len(table[0]) for r in table)
    # (strtotime reads ISO 8601 with a zone; the time is this run's, so a grade changed in Moodle since is kept)
    written = datetime.fromisoformat(table[1][table[0].index("Last modified (grade)")])
    assert written.tzinfo is not None and abs(written - datetime.now(written.tzinfo)) < timedelta(minutes=5)
    lms.write_all(out, grades)
    with zipfile.ZipFile(out / outputs.MOODLE_FEEDBACK) as zf:
        names = zf.namelist()
        page = zf.read(names[0]).decode()
    assert names == ["Jane Roe_555_assignsubmission_file_/feedback.html"]
    # Moodle's importer splits '<name>_<id>_<plugintype>_<plugin>_<file>' on '_' (at most 5 fields)
    name, participant, plugintype, plugin, rest = names[0].split("_", 4)
    assert (participant, plugintype, plugin, rest) == ("555", "assignsubmission", "file", "/feedback.html")
    assert page == (out / "jane_roe_555" / "feedback.html").read_text()
    for name in (outputs.CANVAS_GRADES, outputs.MOODLE_GRADES, outputs.MOODLE_FEEDBACK):
        assert outputs.is_reserved(name)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [a for a, _ in attrs]


def test_feedback_html_shows_a_students_html_as_text(graded_class):
    out, cls, info = graded_class
    grades = lms.collect(out, ["jane_roe_555"], info, cls, DUE, late.Policy(per_day=0.1))
    lms.write_all(out, grades)
    page = (out / "jane_roe_555" / "feedback.html").read_text()
    parser = Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags and "b" not in parser.tags
    assert not [a for a in parser.attrs if a.startswith("on")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "default-src 'none'" in page and "http" not in page.replace('http-equiv', '')   # offline, no script
    assert "Score: 4 / 10 points." in page
    late_note = feedback_html.render("x", "t", "<script>x</script>")
    assert "<script>x" not in late_note and "&lt;script&gt;x" in late_note


def test_late_policy_costs(graded_class):
    policy = late.parse_policy("10%/day,cap=25%,grace=15m,zero-after=2026-12-05T00:00", DUE)
    def cost(minutes_late):
        return late.assess(80, 100, (DUE + timedelta(minutes=minutes_late)).isoformat(), "test", DUE, policy)
    assert cost(-5).penalty == 0 and "on time" in cost(-5).note
    assert cost(14).penalty == 0 and "grace period" in cost(14).note
    assert (cost(16).days, cost(16).penalty, cost(16).final) == (1, 10, 70)       # a day begun counts
    assert (cost(24 * 60 + 1).days, cost(24 * 60 + 1).penalty) == (2, 20)
    assert cost(3 * 24 * 60).penalty == 25 and "capped at 25%" in cost(3 * 24 * 60).note
    assert cost(4 * 24 * 60).final == 0 and "cut-off" in cost(4 * 24 * 60).note
    low = late.assess(5, 100, "2026-12-03T00:00", "test", DUE, policy)
    assert low.final == 0 and low.penalty == 5                                     # never below 0
    doubt = late.assess(50, 100, "2026-12-01T10:00", "test", DUE, policy, lms_late=True)
    assert doubt.penalty == 0 and "marked it late" in doubt.note
    unknown = late.assess(50, 100, "", "", DUE, policy, lms_late=True)
    assert unknown.penalty == 0 and "not known" in unknown.note and "marked it late" in unknown.note


@pytest.mark.parametrize("due, policy, says", [
    ("2026-13-01", None, "not a date and time"),
    (None, "10%/day", "needs --due"),
    ("2026-12-01T23:59", "10%/week", "not a late policy item"),
    ("2026-12-01T23:59", "cap=120%", "between 0% and 100%"),
    ("2026-12-01T23:59", "grace=soon", "number and a unit"),
    ("2026-12-01T23:59", "zero-after=2026-11-30T00:00", "before the due time"),
    ("2026-12-01T23:59", "10%/day,10%/day", "given twice"),
])
def test_wrong_late_options_say_what_is_wrong(due, policy, says):
    with pytest.raises(late.LateError, match=re.escape(says)):
        late.parse_options(due, policy)


def test_gradebook_gets_raw_penalty_final_and_times_from_each_source(graded_class):
    out, cls, info = graded_class
    grades = lms.collect(out, ["doejane_12345", "jane_roe_555", "=cmd"], info, cls, DUE,
                         late.parse_policy("10%/day", DUE))
    lines = lms.write_all(out, grades)
    table = rows((out / outputs.GRADEBOOK).read_text())
    head = table[0]
    assert head[-5:] == ["submitted", "late", "raw", "penalty", "final"]
    by = {r[0]: dict(zip(head, r)) for r in table[1:]}
    assert (by["doejane_12345"]["raw"], by["doejane_12345"]["penalty"], by["doejane_12345"]["final"]) == \
        ("10", "2", "8")                                       # 2 days begun x 10% of 10
    assert by["jane_roe_555"]["late"] == "on time" and by["jane_roe_555"]["final"] == "4"
    # nbgrader's timestamp.txt (UTC): 2 days 10 h late -> 3 days begun, 30% of 10 = 3 points off 6
    assert by["=cmd"]["submitted"] == "2026-12-04 10:00:00" and by["=cmd"]["final"] == "3"
    page = (out / "doejane_12345" / "feedback.html").read_text()
    assert "2 days late at 10% a day: 2 points off" in page and "the upload&#x27;s time" in page
    assert any(line.startswith("late: doejane_12345:") for line in lines)
    canvas = rows((out / outputs.CANVAS_GRADES).read_text())
    assert {r[0]: r[5] for r in canvas[2:]}["doejane"] == "8"      # the LMS gets the final score


def test_feedback_is_short_one_message_and_one_hint_per_exercise():
    fails = [result_row("day15", "rnn_cell", f"t{i}", "failed", 1,
                  f"h_next: {i} values differ\n  This looks like a known mistake (missing_b_hh): no b_hh.\n"
                  f"  Hint: add b_hh\n  Hint: test hint {i}") for i in range(5)]
    data = {"student": "ann", "score": 4, "max_score": 9, "gpu": "GPU: not run.", "notes": [],
            "tests": fails + [result_row("day15", "rnn_forward", f"p{i}", "passed", 1) for i in range(4)]}
    fails.insert(0, result_row("day15", "rnn_cell", "first", "failed", 1, "h_next: wrong\n  Hint: its own hint"))
    data["tests"] = fails + data["tests"][5:]
    text = report.feedback(data)
    assert text.count("Hint:") == 1 and "**Hint:** add b_hh" in text and "known mistake (missing_b_hh)" in text
    assert text.count("values differ") == 1 and "Failed all 6 tests." in text
    assert "- day15 basic: rnn_forward: 4 / 4 points" in text and "p0" not in text
    assert text.count("GPU: not run") == 1


@pytest.mark.slow
def test_one_lms_download_end_to_end(tmp_path):
    """One CLI run on a Canvas LATE upload, a Moodle folder and a Blackboard attempt, with a due time."""
    ref = (KIT / "solutions" / "day15" / "basic.py").read_bytes()

    def inner(data):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(zipfile.ZipInfo("day15/basic.py", (2026, 11, 30, 10, 0, 0)), data)
        return buf.getvalue()
    download = tmp_path / "download.zip"
    with zipfile.ZipFile(download, "w") as zf:
        zf.writestr(zipfile.ZipInfo("doejane_LATE_12345_67890_day15.zip", (2026, 12, 3, 12, 0, 0)), inner(ref))
        zf.writestr(zipfile.ZipInfo("Jane Roe_555_assignsubmission_file_/day15/basic.py", (2026, 12, 1, 20, 0, 0)),
                    ref.replace(b"return", f"raise ValueError({XSS!r})\n    return".encode(), 1))
        zf.writestr(zipfile.ZipInfo("Day15_bsmith_attempt_2026-12-02-08-30-00_day15.zip", (2026, 12, 2, 8, 30, 0)),
                    inner(ref))
    from test_submit import _confinable                     # (tests/ is on sys.path)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder", "grade", str(download), "--out", str(out), "--device", "cpu",
           "--jobs", "2", "--quiet", "--due", "2026-12-01T23:59", "--late-policy", "10%/day,cap=50%,grace=15m",
           "--lms-assignment", "Day 15 (77)"] + ([] if _confinable() else ["--unsafe-no-sandbox"])
    run = subprocess.run(cmd, cwd=KIT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    canvas = rows((out / outputs.CANVAS_GRADES).read_text())
    assert canvas[0] == CANVAS_HEADER + ["Day 15 (77)"]
    final = {r[0]: r for r in canvas[2:]}
    assert final["doejane"][1] == "12345" and final["bsmith"][3] == "bsmith"
    book = {r[0]: r for r in rows((out / outputs.GRADEBOOK).read_text())}
    maximum = json.loads((out / "doejane_12345" / "results.json").read_text())["max_score"]   # Day 15's points
    penalty = min(24, round(0.2 * maximum, 4))                                                 # 2 days x 10%
    assert book["doejane_12345"][-4:] == ["2 day(s)", "24", f"{penalty:g}", f"{24 - penalty:g}"], (maximum, book)
    moodle = rows((out / outputs.MOODLE_GRADES).read_text())
    assert moodle[1][0] == "Participant 555"
    page = (out / "jane_roe_555" / "feedback.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    with zipfile.ZipFile(out / outputs.MOODLE_FEEDBACK) as zf:
        assert zf.namelist() == ["Jane Roe_555_assignsubmission_file_/feedback.html"]
    assert "late: doejane_12345: Submitted 2026-12-03 12:00" in run.stdout
    tops = {p.name for p in out.iterdir()}
    assert tops - {"doejane_12345", "jane_roe_555", "bsmith"} <= set(outputs.CLASS_OUTPUTS)
