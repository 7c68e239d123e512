"""Notebook or ``.py``: ``make check``, ``make submit`` and the grader read the same form of every level,
and say which (autograder.submissions.forms)."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from autograder import build, selfcheck, submit
from autograder.engine import extract

KIT = Path(__file__).resolve().parents[1]
SOLVED = build.build_files(release=True), build.build_files(release=False)
RELEASE, SOLUTION = SOLVED
PY, NB = Path("day15/basic.py"), Path("day15/day15_basic.ipynb")
WRONG_PY = SOLUTION[PY].replace("pre = pre + b_hh", "pass", 1)


def student(tmp_path: Path, py: str | None, nb: str | None, newer: str = "py") -> Path:
    """A student's folder: the release, with basic.py / day15_basic.ipynb replaced (None: deleted)."""
    root = tmp_path / "stu"
    build.write_tree(root, {rel: text for rel, text in RELEASE.items() if rel.parts[0] == "day15"})
    for rel, text in ((PY, py), (NB, nb)):
        if text is None:
            (root / rel).unlink()
        else:
            (root / rel).write_text(text, encoding="utf-8")
    older = root / (NB if newer == "py" else PY)
    if older.exists():
        os.utime(older, (older.stat().st_atime, older.stat().st_mtime - 3600))
    return root


def verdicts(root: Path, tmp_path: Path) -> dict:
    rows = [r for r in selfcheck.check_day(root, "day15", ("basic",)) if r.exercise == "rnn_cell"]
    archive = submit.submit("s1", ["day15"], root, tmp_path / "out", run_checks=False, echo=lambda *_: None)
    with zipfile.ZipFile(archive) as zf:
        submitted = sorted(n for n in zf.namelist() if n.startswith("day15/") and "basic" in n)
    target = extract.discover(root)
    graded = extract.read_student(target.students[0], [("day15", "basic")], KIT)
    return {"check": rows[0].read.split(" ")[0], "status": rows[0].status, "fingerprint": rows[0].fingerprint,
            "submitted": submitted, "grader": graded.source_name("day15", "basic"), "check_why": rows[0].read}


CASES = {   # name: (py, nb, newer, the file every tool reads, rnn_cell's verdict)
    "notebook only (the .py untouched)": (RELEASE[PY], SOLUTION[NB], "py", "day15_basic.ipynb", "passed"),
    "notebook only (no .py at all)": (None, SOLUTION[NB], "nb", "day15_basic.ipynb", "passed"),
    ".py only (the notebook untouched)": (SOLUTION[PY], RELEASE[NB], "nb", "basic.py", "passed"),
    "both filled, the wrong .py newer": (WRONG_PY, SOLUTION[NB], "py", "basic.py", "failed"),
    "both filled, the notebook newer": (WRONG_PY, SOLUTION[NB], "nb", "day15_basic.ipynb", "passed"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_check_submit_and_grader_read_the_same_form(tmp_path, case):
    py, nb, newer, expected, status = CASES[case]
    got = verdicts(student(tmp_path, py, nb, newer), tmp_path)
    assert got["check"] == expected and got["grader"] == expected, got
    assert got["submitted"] == [f"day15/{expected}"], got
    assert got["status"] == status, got
    if status == "failed":
        assert got["fingerprint"] == "missing_b_hh"
    if py is not None and nb is not None:          # a choice was made: the check says why
        assert "(" in got["check_why"]


# ------------------------------------------------------------------------------------------------
# Loose uploads: a bare exercise file in an upload
# ------------------------------------------------------------------------------------------------

def _zip(entries: dict[str, bytes]) -> bytes:
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_bare_exercise_file_is_taken_when_the_upload_names_its_day_and_never_called_not_an_exercise(tmp_path):
    from autograder import archives
    solved = SOLUTION[PY].encode()
    download = tmp_path / "download.zip"
    download.write_bytes(_zip({
        "doe_jane_2001_9001_mine_day15.zip": _zip({"basic.py": solved}),      # the upload's name says day15
        "roe_rich_2002_9002_homework.zip": _zip({"basic.py": solved}),        # nothing says which day
    }))
    staged = archives.stage(download, tmp_path / "out")
    jane, rich = staged.students["doe_jane_2001"], staged.students["roe_rich_2002"]
    assert jane.files["day15"]["basic.py"] == solved
    assert not rich.files.get("day15") and not rich.files.get("day16")
    said = " ".join(rich.notes)
    assert "an exercise file, but nothing says which day" in said and "not an exercise file" not in said, said


def test_the_engine_reads_staged_files_and_notes_never_the_archive_code():
    """The engine receives staged files (and the notes file beside them): no module of it imports
    autograder.archives, the code that holds every classmate's bytes while it stages."""
    import ast
    engine = Path(__file__).resolve().parents[1] / "autograder" / "engine"
    found = []
    for path in sorted(engine.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module \
                else []
            found += [f"{path.name}: {n}" for n in names if n.startswith("autograder.archives")]
    assert not found, found
