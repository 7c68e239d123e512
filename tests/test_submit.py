"""``make submit`` and ``make grade SUBMISSIONS=<LMS download>``: the round trip without nbgrader.

A filled copy of the exercises (the solution tree) is submitted with ``make submit``'s entry point;
its archive goes into a synthetic LMS bulk download with a dozen other students named the Canvas,
Moodle, Blackboard and generic ways (a later attempt, a late one, a loose notebook, folders, three
hostile uploads); ``python -m autograder grade that.zip`` grades all of them, twice (the second
run regrades nobody).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import build, demo, outputs, submit
from autograder.catalogue import CATALOGUE

def _confinable() -> bool:
    """The engine's sandbox works here (as root, or rootless where user namespaces are allowed)."""
    from test_engine_grading import _confinable as confinable   # (tests/ is on sys.path)
    return confinable()


KIT = Path(__file__).resolve().parents[1]
REF15 = (KIT / "solutions" / "day15" / "basic.py").read_bytes()
SOLVED = build.build_files(release=False)
RELEASE = build.build_files(release=True)
N_DAY15 = sum(len(names) for names in CATALOGUE["day15"].values())   # exercises the public checks cover
MEMBERS = {"manifest.json", *(f"day15/{lv}.py" for lv in ("basic", "intermediate", "advanced"))}   # one form a level


def filled_copy(root: Path) -> Path:
    """The solved tree; its notebooks dated an hour before the .py files (both filled: the .py is read)."""
    build.write_tree(root, SOLVED)
    for nb in root.glob("day*/*.ipynb"):
        os.utime(nb, (nb.stat().st_atime, nb.stat().st_mtime - 3600))
    return root


def zip_of(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, (2026, 11, 20, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# make submit
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def alice(tmp_path_factory):
    """alice's archive from a filled copy that also holds things that must never be submitted."""
    tmp = tmp_path_factory.mktemp("alice")
    ex = filled_copy(tmp / "exercises")
    (ex / "day15" / "notes.txt").write_text("my notes")
    (ex / "day15" / "hidden").mkdir()
    (ex / "day15" / "hidden" / "test_basic.py").write_text("SECRET = 1\n")
    (ex / "day15" / "solution_basic.py").write_bytes(REF15)
    lines = []
    path = submit.submit("alice", ["day15"], ex, tmp / "submissions", echo=lines.append)
    return {"path": path, "output": "\n".join(lines), "exercises": ex}


def test_submit_writes_only_the_students_files_and_a_manifest(alice):
    path = alice["path"]
    assert path.name == "alice_day15.zip"
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == MEMBERS
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(zf.read(entry["path"])).hexdigest() == entry["sha256"]
            assert zf.read(entry["path"]) == (alice["exercises"] / entry["path"]).read_bytes()
    assert {e["path"] for e in manifest["files"]} == MEMBERS - {"manifest.json"}
    assert (manifest["student"], manifest["days"], manifest["kit_version"]) == ("alice", ["day15"], "0.1.0")
    assert manifest["public_checks"] == {"passed": N_DAY15, "total": N_DAY15}
    assert "Public checks" in alice["output"] and f"{N_DAY15}/{N_DAY15} exercises pass" in alice["output"]


def test_failing_public_checks_never_block_a_submission(tmp_path):
    ex = filled_copy(tmp_path / "ex")
    basic = ex / "day15" / "basic.py"
    basic.write_text(basic.read_text() + "\n\ndef rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):\n"
                                         "    return h   # wrong on purpose\n")
    lines = []
    path = submit.submit("bob", ["day15"], ex, tmp_path / "out", echo=lines.append)
    assert path.is_file() and "FAIL" in "\n".join(lines)


def test_a_file_that_does_not_import_blocks_the_submission_unless_forced(tmp_path, capsys):
    ex = filled_copy(tmp_path / "ex")
    (ex / "day15" / "intermediate.py").write_text("def lstm_cell(:\n")
    args = ["--student", "carol", "--day", "15", "--exercises", str(ex), "--out", str(tmp_path / "out"),
            "--no-checks"]
    assert submit.main(args) == 2
    err = capsys.readouterr().err
    assert "not submitted" in err and "day15/intermediate.py has a syntax error" in err
    assert not (tmp_path / "out" / "carol_day15.zip").exists()
    assert submit.main([*args, "--force"]) == 0
    assert (tmp_path / "out" / "carol_day15.zip").is_file()


def test_submit_refuses_links_solutions_and_bad_ids(tmp_path):
    ex = filled_copy(tmp_path / "ex")
    (ex / "day15" / "basic.py").rename(tmp_path / "mine.py")
    os.symlink(tmp_path / "mine.py", ex / "day15" / "basic.py")
    with pytest.raises(submit.SubmitError, match="symbolic link"):
        submit.submit("dave", ["day15"], ex, tmp_path / "out", run_checks=False)
    (ex / "day15" / "basic.py").unlink()
    os.symlink(KIT / "solutions" / "day15" / "basic.py", ex / "day15" / "basic.py")
    with pytest.raises(submit.SubmitError, match="not your file"):
        submit.submit("dave", ["day15"], ex, tmp_path / "out", run_checks=False)
    (ex / "day15" / "basic.py").unlink()
    (tmp_path / "mine.py").rename(ex / "day15" / "basic.py")
    with pytest.raises(submit.SubmitError, match="not a folder of exercises"):
        submit.submit("dave", ["day15"], KIT / "solutions", tmp_path / "out", run_checks=False)
    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink(KIT / "solutions" / "day15", linked / "day15")
    with pytest.raises(submit.SubmitError, match="not your file"):
        submit.submit("dave", ["day15"], linked, tmp_path / "out", run_checks=False)
    for bad in ("", "../x", "a b", "-rf"):
        with pytest.raises(submit.SubmitError, match="student id"):
            submit.submit(bad, ["day15"], ex, tmp_path / "out", run_checks=False)
    nb = ex / "day16" / "day16_basic.ipynb"
    nb.write_text("{not json")
    with pytest.raises(submit.SubmitError, match="day16/day16_basic.ipynb is not a valid notebook"):
        submit.submit("dave", ["day16"], ex, tmp_path / "out", run_checks=False)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# ------------------------------------------------------------------------------------------------
# make grade SUBMISSIONS=<LMS bulk download>
# ------------------------------------------------------------------------------------------------

def basic_only(text: bytes = REF15) -> bytes:
    return zip_of({"day15/basic.py": text})


EXPECTED = {   # student folder -> what they submitted
    "alice": "make submit, two Blackboard attempts: the later one graded",
    "doe_jane_2001": "Canvas",
    "roe_rich_2002": "Canvas, late",
    "poe_ed_2003": "Canvas, a loose notebook",
    "bob_builder_3001": "Moodle folder holding a make-submit archive",
    "cara_dune_3002": "Moodle folder holding loose files",
    "cwhite": "Blackboard",
    "lastname_firstname_12345": "generic <id>_attempt_<date>",
    "dave": "make submit name and manifest, no LMS",
    "erin": "a plain per-student folder",
    "frank": "a syntax error: graded, loses the points",
    "mallory": "hostile: '..' member",
    "trudy": "hostile: symbolic link",
    "bomb_oscar_4001": "hostile: zip bomb",
}
REJECTED = {"mallory": "outside the archive", "trudy": "symbolic link", "bomb_oscar_4001": "zip bomb"}


def lms_download(path: Path, alice_zip: bytes) -> Path:
    link = zipfile.ZipInfo("day15/basic.py", (2026, 11, 20, 12, 0, 0))
    link.create_system, link.external_attr = 3, (0o120777 << 16)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(link, "../../../solutions/day15/basic.py")
    symlinked = buf.getvalue()
    entries = {
        "Day15_alice_attempt_2026-11-20-10-15-00_alice_day15.zip": alice_zip,
        "Day15_alice_attempt_2026-11-19-09-00-00_alice_day15.zip": zip_of(
            {"day15/basic.py": RELEASE[Path("day15/basic.py")].encode()}),
        "doe_jane_2001_9001_jane_day15.zip": basic_only(),
        "roe_rich_LATE_2002_9002_day15.zip": basic_only(),
        "poe_ed_2003_9003_day15_basic.ipynb": demo.student_files(
            demo.Student("poe", "", form="notebook"))["day15/day15_basic.ipynb"],
        "Bob Builder_3001_assignsubmission_file_/bob_day15.zip": submit.build_archive(
            "bob", ["day15"], {"day15/basic.py": REF15}),
        "Cara Dune_3002_assignsubmission_file_/day15/basic.py": REF15,
        "Day15_cwhite_attempt_2026-11-20-09-00-00_day15.zip": basic_only(),
        "lastname_firstname_12345_attempt_2026-11-20.zip": basic_only(),
        "dave_day15.zip": submit.build_archive("dave", ["day15"], {"day15/basic.py": REF15}),
        "erin/day15/basic.py": REF15,
        "frank_day15.zip": basic_only(b"def rnn_cell(:\n"),
        "mallory_day15.zip": zip_of({"day15/basic.py": REF15, "day15/../../../../tmp/rnnkit-pwned.py": b"x=1\n"}),
        "Day15_trudy_attempt_2026-11-20-11-00-00_day15.zip": symlinked,
        "bomb_oscar_4001_9004_day15.zip": zip_of({"day15/basic.py": b"\0" * (20 << 20)}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, (2026, 11, 21, 8, 0, 0)), data)
    return path


def grade_cli(target: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "autograder", "grade", str(target), "--out", str(out), "--device", "cpu",
           "--jobs", "2", "--quiet", "--timeout", "5"]
    if not _confinable():
        cmd.append("--unsafe-no-sandbox")      # (only reference code runs: the hostile uploads never do)
    return subprocess.run(cmd, cwd=KIT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def graded(alice, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lms")
    download = lms_download(tmp / "day15_download.zip", alice["path"].read_bytes())
    before = download.read_bytes()
    out = tmp / "grades"
    first = grade_cli(download, out)
    second = grade_cli(download, out)
    later = tmp / "later" / "day15_download.zip"          # the same download, one late student more
    later.parent.mkdir()
    later.write_bytes(download.read_bytes())
    with zipfile.ZipFile(later, "a") as zf:
        zf.writestr(zipfile.ZipInfo("zed_day15.zip", (2026, 11, 22, 8, 0, 0)), basic_only())
    third = grade_cli(later, out)
    return {"out": out, "first": first, "second": second, "third": third, "tmp": tmp, "download": download,
            "before": before}


def results(graded, student) -> dict:
    return json.loads((graded["out"] / student / "results.json").read_text())


def test_every_student_of_the_lms_download_is_graded_under_the_right_id(graded):
    first = graded["first"]
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert f"graded {len(EXPECTED)} student(s)" in first.stdout
    for student in EXPECTED:
        assert f"\n  {student}: " in first.stdout
    folders = {p.parent.name for p in graded["out"].glob("*/results.json")}
    assert folders == set(EXPECTED) | {"zed"}          # (zed: the third run's newcomer)
    gradebook = (graded["out"] / "gradebook.csv").read_text().splitlines()
    assert sorted(line.split(",")[0] for line in gradebook[1:]) == sorted(folders)


def test_the_later_attempt_is_graded_and_the_report_says_so(graded):
    data = results(graded, "alice")
    assert data["score"] == data["max_score"] > 0
    notes = "\n".join(data["notes"])
    assert "graded upload Day15_alice_attempt_2026-11-20-10-15-00_alice_day15.zip" in notes
    assert "not graded" in notes and "2026-11-19-09-00-00" in notes
    assert "Day15_alice_attempt_2026-11-20-10-15-00" in (graded["out"] / "alice" / "feedback.md").read_text()
    assert "alice: graded Day15_alice_attempt_2026-11-20-10-15-00_alice_day15.zip (ignored earlier: " \
           "Day15_alice_attempt_2026-11-19-09-00-00_alice_day15.zip)" in graded["first"].stdout


def test_honest_uploads_of_every_naming_scheme_earn_their_points(graded):
    for student in set(EXPECTED) - set(REJECTED) - {"alice", "frank"}:
        rows = [t for t in results(graded, student)["tests"] if t["exercise"] in ("rnn_cell", "rnn_forward")]
        assert rows and all(t["status"] == "passed" for t in rows), student
    assert any("(late)" in n for n in results(graded, "roe_rich_2002")["notes"])
    frank = results(graded, "frank")
    assert frank["score"] == 0 and "syntax" in json.dumps(frank["tests"]).lower()


def test_hostile_uploads_get_zero_and_the_reason_the_rest_is_graded(graded):
    for student, phrase in REJECTED.items():
        data = results(graded, student)
        assert data["score"] == 0 and data["max_score"] > 0
        assert "your upload was rejected" in data["notes"][0] and phrase in data["notes"][0]
        assert all(phrase in t["output"] for t in data["tests"]), student
        assert phrase in (graded["out"] / student / "feedback.md").read_text()
        assert f"{student}: your upload was rejected" in graded["first"].stdout


def test_nothing_is_written_outside_the_grading_folder(graded):
    assert not Path("/tmp/rnnkit-pwned.py").exists()
    assert graded["download"].read_bytes() == graded["before"]
    assert sorted(p.name for p in graded["tmp"].iterdir()) == ["day15_download.zip", "grades", "later"]
    staged = list((graded["out"] / ".staging").iterdir())
    assert len(staged) == 1 and not any(p.is_symlink() for p in staged[0].rglob("*"))


def test_grading_the_same_download_again_regrades_nobody(graded):
    second = graded["second"]
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"graded 0 student(s), {len(EXPECTED)} unchanged" in second.stdout
    third = graded["third"]           # a new download: restaged elsewhere, yet only the newcomer is graded
    assert third.returncode == 0, third.stderr[-3000:]
    assert f"graded 1 student(s), {len(EXPECTED)} unchanged" in third.stdout
    assert len(list((graded["out"] / ".staging").iterdir())) == 1


# ------------------------------------------------------------------------------------------------
# The output folder: students named like the files the CLI writes
# ------------------------------------------------------------------------------------------------

@pytest.mark.slow     # (two runs of the CLI: about a minute on 2 busy cores)
def test_students_named_like_the_clis_own_files_are_graded_and_every_rerun_completes(tmp_path):
    """Student folders share --out with gradebook.csv, summary*.png, .lock ...: a student named like one
    of them is graded in another folder, and nothing the CLI writes is ever anything but the list."""
    submitted = tmp_path / "class" / "submitted"
    for name in ("summary_mistakes.png", "gradebook.csv", "Summary.TXT", ".lock", "alice"):
        (submitted / name / "day15").mkdir(parents=True)
        (submitted / name / "day15" / "basic.py").write_bytes(REF15)
    out = tmp_path / "grades"
    runs = [grade_cli(submitted, out) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "graded 0 student(s), 4 unchanged" in runs[1].stdout          # the rerun finds its results
    folders = {p.parent.name for p in out.glob("*/results.json")}
    assert folders == {"alice", "student_summary_mistakes.png", "student_gradebook.csv", "student_Summary.TXT"}
    top = {p.name for p in out.iterdir()} - folders
    assert top <= set(outputs.CLASS_OUTPUTS), f"the CLI wrote {top - set(outputs.CLASS_OUTPUTS)}: add it to outputs"
    assert {outputs.GRADEBOOK, outputs.SUMMARY_TEXT, outputs.SUMMARY_PLOT, outputs.MISTAKES_PLOT} <= top
    assert not [p for p in out.rglob("*") if ".tmp" in p.name], "a temporary file was left behind"
    rows = (out / outputs.GRADEBOOK).read_text().splitlines()[1:]
    assert sorted(row.split(",")[0] for row in rows) == sorted(folders)
    data = json.loads((out / "student_gradebook.csv" / "results.json").read_text())
    basic = [t for t in data["tests"] if t["level"] == "basic"]
    assert basic and all(t["status"] == "passed" for t in basic)
    assert data["score"] == json.loads((out / "alice" / "results.json").read_text())["score"] > 0
    assert any("'gradebook.csv' is the name of a file the grader writes" in n for n in data["notes"])
