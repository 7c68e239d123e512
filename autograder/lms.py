"""What the LMS imports and what students open, written after grading (in the CLI's process).

    OUT/canvas_grades.csv       Canvas: Grades > Import (one assignment column, the final score)
    OUT/moodle_grades.csv       Moodle: Assignment > "Upload grading worksheet" (students with a Moodle id)
    OUT/moodle_feedback.zip     Moodle: "Upload multiple feedback files in a zip" (feedback.html each)
    OUT/<student>/feedback.html the student's feedback as a self-contained page
    gradebook.csv               + submitted, late, raw, penalty, final columns when a due time is given

Canvas's gradebook import reads ``Student, ID, SIS User ID, SIS Login ID, Section`` and one column per
assignment, named as in Canvas (``Day 15 (1234)``: name and assignment id; a name Canvas does not
know becomes a new assignment); a second row ``Points Possible`` gives the maximum.  Canvas matches
a row by its ``ID`` (the Canvas user id, which Canvas writes into every bulk download's names:
``doejane_12345_67890_file.zip``) or by ``SIS User ID``/``SIS Login ID``.  A student without a
Canvas id (nbgrader's layout, ``make submit`` archives, Blackboard) is given by their user name in
``SIS Login ID``.

Moodle's grading worksheet has ``Identifier`` = ``Participant <id>``, where ``<id>`` is the number
Moodle writes into each submission's folder name (``Jane Doe_12345_assignsubmission_file_``),
``Grade``, ``Last modified (grade)`` and ``Feedback comments``.  Moodle's importer
(mod/assign/feedback/offline/importgradeslib.php) refuses a worksheet without any of the first three
("invalidgradeimport"), and skips a row whose ``Last modified (grade)`` is more than a minute older
than the grade Moodle holds (unless the TA ticks "ignore modified"): it is the time this file is
written, so a grade a TA changed in Moodle after this run is kept and a regrade replaces an earlier
upload.  A grade above the Moodle assignment's maximum is skipped: ``Maximum Grade`` says the kit's.  Its feedback zip holds ``<Full name>_<id>_assignsubmission_file_/feedback.html``, the names of
the download (mod/assign/feedback/file/importziplib.php splits a folder on '_' into full name,
participant id, plugin type and plugin).
Students who did not come from a Moodle download have no participant id: they are left out of the
Moodle files and the terminal says how many.

Every cell and name of student origin passes through :func:`autograder.textsafe.clean`; a cell that
a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is quoted with ``'``.
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder import feedback_html, late, outputs
from autograder.catalogue import DAYS
from autograder.textsafe import clean

RESULTS, FEEDBACK, FEEDBACK_HTML = "results.json", "feedback.md", "feedback.html"
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                  "Grade can be changed", "Last modified (grade)", "Feedback comments"]
LATE_COLUMNS = ["submitted", "late", "raw", "penalty", "final"]
ZIP_TIME = (1980, 1, 1, 0, 0, 0)       # (the same class gives the same bytes)


@dataclass
class Grade:
    folder: str                       # the student's folder in OUT
    raw: float
    maximum: float
    days: list[str]
    lms: dict = field(default_factory=dict)
    lateness: late.Lateness | None = None

    @property
    def final(self) -> float:
        return self.lateness.final if self.lateness else self.raw

    @property
    def penalty(self) -> float:
        return self.lateness.penalty if self.lateness else 0.0


def _num(x: float) -> str:
    return f"{x:g}" if float(x) != int(x) else str(int(x))


def _cell(text: object) -> str:
    """A CSV cell of student origin: one visible line, never a spreadsheet formula."""
    text = clean(text, one_line=True)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def nbgrader_timestamp(class_root: Path, student: str) -> tuple[str, str]:
    """(ISO time, source) from nbgrader's ``submitted/<student>/<assignment>/timestamp.txt`` (the
    latest of the days), ('', '') when there is none.  nbgrader writes ``2026-12-01 23:59:00.123456 UTC``."""
    times = []
    for day in DAYS:
        path = Path(class_root) / student / day / "timestamp.txt"
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > 200:
                continue
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        m = re.match(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?\s*(UTC|Z|[+-]\d{2}:?\d{2})?", text)
        if m:
            zone = "+00:00" if m[3] in ("UTC", "Z") else (m[3] or "")
            try:
                times.append(late.parse_time(f"{m[1]}T{m[2]}{zone}", "timestamp").isoformat(timespec="seconds"))
            except late.LateError:
                continue
    if not times:
        return "", ""
    return max(times), "nbgrader's timestamp.txt"


def submission_time(lms: dict | None, class_root: Path, student: str) -> tuple[str, str, bool]:
    """(ISO time, its source, the LMS's late mark) for one graded student."""
    lms = lms or {}
    if lms.get("submitted"):
        return lms["submitted"], clean(lms.get("submitted_from") or "the upload", one_line=True), bool(lms.get("late"))
    when, source = nbgrader_timestamp(class_root, student)
    return when, source, bool(lms.get("late"))


def collect(out: Path, students: list[str], lms_info: dict[str, dict], class_root: Path,
            due=None, policy: late.Policy | None = None) -> list[Grade]:
    """The graded students' scores (from their results.json) and, with a due time, their lateness."""
    grades = []
    for name in sorted(students):
        try:
            data = json.loads((Path(out) / name / RESULTS).read_text(encoding="utf-8"))
            raw, maximum = float(data["score"]), float(data["max_score"])
            days = sorted({t.get("day") for t in data["tests"] if t.get("day") in DAYS})
        except (OSError, ValueError, KeyError, TypeError):
            continue
        g = Grade(name, raw, maximum, days, dict(lms_info.get(name) or {}))
        if due is not None:
            when, source, lms_late = submission_time(g.lms, class_root, name)
            g.lateness = late.assess(raw, maximum, when, source, due, policy or late.Policy(), lms_late)
        grades.append(g)
    return grades


def assignment_name(grades: list[Grade]) -> str:
    days = sorted({d for g in grades for d in g.days}) or list(DAYS)
    return "RNN kit " + " ".join(d.replace("day", "day ") for d in days)


def canvas_csv(grades: list[Grade], assignment: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*CANVAS_COLUMNS, assignment])
    w.writerow(["    Points Possible", "", "", "", "", _num(max((g.maximum for g in grades), default=0))])
    for g in grades:
        canvas = g.lms.get("scheme") == "canvas"
        name = g.lms.get("full_name") or g.folder
        # (a user name from Blackboard or make submit, or nbgrader's student id; never Moodle's participant number)
        login = g.folder if g.lms.get("scheme") == "moodle" else g.lms.get("id") or g.folder
        w.writerow([_cell(name), _cell(g.lms["id"]) if canvas else "", "",
                    "" if canvas else _cell(login), "", _num(g.final)])
    return buf.getvalue()


def moodle_students(grades: list[Grade]) -> list[Grade]:
    return [g for g in grades if g.lms.get("scheme") == "moodle" and str(g.lms.get("id", "")).isdigit()]


def _comment(g: Grade) -> str:
    text = f"{_num(g.final)} / {_num(g.maximum)} points"
    if g.lateness and g.lateness.penalty:
        text += f" ({_num(g.raw)} before the late penalty: {clean(g.lateness.note, one_line=True)})"
    return text + ". The details are in feedback.html."


def moodle_csv(grades: list[Grade], written: datetime | None = None) -> str:
    """Moodle's grading worksheet; the comment is HTML in Moodle, so it is escaped.  ``written``: the
    ``Last modified (grade)`` time (now), as ISO 8601 with its zone, which PHP's strtotime reads."""
    stamp = (written or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MOODLE_COLUMNS)
    for g in moodle_students(grades):
        w.writerow([f"Participant {g.lms['id']}", _cell(g.lms.get("full_name") or g.folder), "", "",
                    _num(g.final), _num(g.maximum), "Yes", stamp, html.escape(_comment(g))])
    return buf.getvalue()


def moodle_folder(g: Grade) -> str:
    """The folder Moodle names a submission with, and reads feedback files from (Moodle writes '_' in
    a full name as ' ', so that the id is the first field after the name)."""
    full = clean(g.lms.get("full_name") or g.folder, one_line=True).replace("_", " ").replace("/", " ").strip()
    return f"{full or 'Participant'}_{g.lms['id']}_assignsubmission_file_"


def moodle_zip(grades: list[Grade], pages: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for g in moodle_students(grades):
            if g.folder in pages:
                info = zipfile.ZipInfo(f"{moodle_folder(g)}/{FEEDBACK_HTML}", ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, pages[g.folder])
    return buf.getvalue()


def with_late_columns(gradebook_text: str, grades: list[Grade]) -> str:
    """gradebook.csv with the submission time, the lateness and raw, penalty and final scores."""
    rows = list(csv.reader(io.StringIO(gradebook_text)))
    if not rows:
        return gradebook_text
    by_name = {clean(g.folder, one_line=True): g for g in grades}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*rows[0], *LATE_COLUMNS])
    for row in rows[1:]:
        g = by_name.get(row[0]) if row else None
        lt = g.lateness if g else None
        if lt is None:
            w.writerow([*row, "", "", "", "", ""])
            continue
        w.writerow([*row, lt.submitted.replace("T", " "), f"{lt.days} day(s)" if lt.days else
                    ("unknown" if not lt.submitted else "on time"), _num(g.raw), _num(lt.penalty), _num(lt.final)])
    return buf.getvalue()


def write_all(out: Path, grades: list[Grade], assignment: str | None = None) -> list[str]:
    """Write every file of this module's; the lines the TA's terminal shows."""
    from autograder.engine import report            # (write_atomic: same atomic replace as the engine's)
    out = Path(out)
    pages = {}
    for g in grades:
        try:
            md = (out / g.folder / FEEDBACK).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):     # (graded next run: the engine rewrites a missing feedback.md)
            continue
        page = feedback_html.render(md, f"Feedback: {g.folder}", g.lateness.note if g.lateness else "")
        report.write_atomic(out / g.folder / FEEDBACK_HTML, page)
        pages[g.folder] = page
    lines = [f"{len(pages)} feedback.html page(s) written"]
    name = assignment or assignment_name(grades)
    report.write_atomic(out / outputs.CANVAS_GRADES, canvas_csv(grades, name))
    lines.append(f"{out / outputs.CANVAS_GRADES}: Canvas gradebook import, column {name!r} "
                 f"(rename it 'Name (assignment id)' to match an existing assignment)")
    moodle = moodle_students(grades)
    if moodle:
        report.write_atomic(out / outputs.MOODLE_GRADES, moodle_csv(grades))
        data = moodle_zip(grades, pages)
        tmp = out / f".{outputs.MOODLE_FEEDBACK}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        tmp.replace(out / outputs.MOODLE_FEEDBACK)
        lines.append(f"{out / outputs.MOODLE_GRADES}, {out / outputs.MOODLE_FEEDBACK}: Moodle grading worksheet "
                     f"and feedback files, {len(moodle)} student(s)"
                     + (f" ({len(grades) - len(moodle)} without a Moodle participant id left out)"
                        if len(moodle) < len(grades) else ""))
    else:
        for stale in (outputs.MOODLE_GRADES, outputs.MOODLE_FEEDBACK):
            (out / stale).unlink(missing_ok=True)
        lines.append("no Moodle files: no student came from a Moodle download (no participant ids)")
    if any(g.lateness for g in grades):
        gradebook = out / outputs.GRADEBOOK
        report.write_atomic(gradebook, with_late_columns(gradebook.read_text(encoding="utf-8"), grades))
        for g in grades:
            lt = g.lateness
            if lt and (lt.penalty or not lt.submitted or "marked it late" in lt.note):
                lines.append(f"late: {clean(g.folder, one_line=True)}: {clean(lt.note, one_line=True)}")
    return lines
