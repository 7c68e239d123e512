"""Archives as untrusted input: every hostile upload is refused for its student alone, nothing escapes.

Pure staging (``autograder.archives``), no engine: each case is a synthetic LMS bulk download with
one honest student and one hostile one; the honest student is staged, the hostile one is refused
with a clear reason, and nothing is written outside the grading folder.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from autograder import archives, outputs

KIT = Path(__file__).resolve().parents[1]
REF15 = (KIT / "solutions" / "day15" / "basic.py").read_bytes()
GOOD = "doe_jane_2001_9001_jane_day15.zip"


def zip_bytes(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """entries: (name or ZipInfo, bytes); duplicates and odd names are written as given."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # "Duplicate name": on purpose
        with zipfile.ZipFile(buf, "w", compression) as zf:
            for name, data in entries:
                if isinstance(name, str):
                    name = zipfile.ZipInfo(name, (2026, 11, 20, 10, 0, 0))
                    name.compress_type = compression
                zf.writestr(name, data)
    return buf.getvalue()


def good_upload() -> bytes:
    return zip_bytes([("day15/basic.py", REF15)])


def bulk(tmp: Path, hostile: dict[str, bytes], name="download.zip") -> Path:
    path = tmp / name
    path.write_bytes(zip_bytes([(GOOD, good_upload()), *hostile.items()], zipfile.ZIP_STORED))
    return path


def tree(root: Path) -> dict[str, str]:
    out = {}
    for top, dirs, names in os.walk(root):
        for n in dirs + names:
            p = Path(top, n)
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() \
                and not p.is_symlink() else "link" if p.is_symlink() else "dir"
    return out


def stage_one(tmp_path: Path, hostile_name: str, hostile: bytes, student: str) -> archives.StagedStudent:
    """Stage the download; the honest student is intact, nothing outside out/.staging changed."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep.txt").write_text("untouched")
    target = bulk(tmp_path, {hostile_name: hostile})
    before = {k: v for k, v in tree(tmp_path).items() if not k.startswith("out")}
    staged = archives.stage(target, tmp_path / "out")
    after = {k: v for k, v in tree(tmp_path).items() if not k.startswith("out")}
    assert after == before, "something was written outside the grading folder"
    assert all(k.startswith(".staging") for k in tree(tmp_path / "out") if k != ".lock")
    good = staged.students["doe_jane_2001"]
    assert good.rejected is None and good.files["day15"]["basic.py"] == REF15
    for p in (staged.root / "doe_jane_2001").rglob("*"):
        assert not p.is_symlink()
    bad = staged.students[student]
    assert bad.rejected, f"{student} should have been refused"
    folder = staged.root / student
    assert sorted(p.name for p in folder.iterdir()) == [archives.STUDENT_NOTES], "a refused upload stages nothing"
    notes = json.loads((staged.root / archives.NOTES_FILE).read_text())["students"][student]
    assert notes["rejected"] == bad.rejected
    return bad


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (2026, 11, 20, 10, 0, 0))
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def non_utf8(entries, placeholder: bytes, raw: bytes) -> bytes:
    """A zip whose name holds ``raw`` (not UTF-8, no UTF-8 flag): written with a placeholder, patched."""
    assert len(placeholder) == len(raw)
    data = zip_bytes(entries)
    assert data.count(placeholder) == 2       # local header and central directory
    return data.replace(placeholder, raw)


HOSTILE = {
    "absolute path": (lambda: zip_bytes([("day15/basic.py", REF15), ("/tmp/rnnkit-escape.py", b"x = 1\n")]),
                      "absolute path"),
    "dot-dot": (lambda: zip_bytes([("day15/basic.py", REF15), ("day15/../../../escape.py", b"x = 1\n")]),
                "outside the archive"),
    "windows dot-dot": (lambda: zip_bytes([("day15\\..\\..\\escape.py", b"x = 1\n")]), "outside the archive"),
    "symlink": (lambda: zip_bytes([(symlink_info("day15/basic.py"), b"../../../solutions/day15/basic.py")]),
                "symbolic link"),
    "device": (lambda: zip_bytes([(_special("day15/basic.py", stat.S_IFIFO), b"")]), "not a regular file"),
    "duplicate": (lambda: zip_bytes([("day15/basic.py", REF15), ("day15/basic.py", b"import os\n")]), "twice"),
    "duplicate by case": (lambda: zip_bytes([("day15/basic.py", REF15), ("DAY15/basic.py", b"x\n")]), "twice"),
    "nested archive": (lambda: zip_bytes([("day15/basic.py", REF15), ("day15/more.zip", good_upload())]),
                       "archives inside archives"),
    "disguised archive": (lambda: zip_bytes([("day15/basic.py", good_upload())]), "itself a zip"),
    "ratio bomb": (lambda: zip_bytes([("day15/basic.py", b"\0" * (10 << 20))]), "zip bomb"),
    "size bomb": (lambda: zip_bytes([("day15/basic.py", b"\0" * (40 << 20))]), "far too large"),
    "total size": (lambda: zip_bytes([(f"day15/f{i}.bin", bytes(18 << 20)) for i in range(3)],
                                     zipfile.ZIP_STORED), "more than 50 MiB"),
    "member count": (lambda: zip_bytes([(f"day15/f{i}.txt", b"") for i in range(archives.MAX_MEMBERS + 1)]),
                     "entries"),
    "non-UTF-8 name": (lambda: non_utf8([("day15/basic.py", REF15), ("day15/n_XX.py", b"")], b"n_XX", b"n_\xff\xfe"),
                       "not UTF-8"),
    "flagged bad UTF-8": (lambda: _flagged_bad_utf8(), "not valid UTF-8"),
    "encrypted": (lambda: _encrypted(), "encrypted"),
    "not a zip": (lambda: b"this is not a zip file at all", "not a readable zip"),
}


def _special(name: str, kind: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (2026, 11, 20, 10, 0, 0))
    info.create_system = 3
    info.external_attr = (kind | 0o644) << 16
    return info


def _encrypted() -> bytes:
    """A member flagged encrypted (zipfile cannot write one: the flag is set in both headers)."""
    data = bytearray(zip_bytes([("day15/basic.py", REF15)]))
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.index(sig) + at
        data[i] |= 0x1
    return bytes(data)


def _flagged_bad_utf8() -> bytes:
    """A name flagged UTF-8 whose bytes are not UTF-8."""
    data = zip_bytes([("day15/basic.py", REF15), ("day15/\u00e9_.py", b"")])    # non-ASCII: flagged UTF-8
    return data.replace("\u00e9_".encode(), b"\xff\xfe_")


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_upload_is_refused_for_its_student_only(tmp_path, case):
    make, phrase = HOSTILE[case]
    bad = stage_one(tmp_path, "mallory_day15.zip", make(), "mallory")
    assert phrase in bad.rejected, bad.rejected
    assert bad.rejected.startswith("your upload was rejected: mallory_day15.zip")
    assert not Path("/tmp/rnnkit-escape.py").exists()


def test_a_nested_archive_one_level_deeper_than_the_lms_folder_is_refused(tmp_path):
    inner = zip_bytes([("day15/basic.py", REF15), ("day15/inner.zip", good_upload())])
    target = tmp_path / "moodle.zip"
    target.write_bytes(zip_bytes([
        ("Jane Doe_2001_assignsubmission_file_/jane_day15.zip", good_upload()),
        ("Mal Lory_666_assignsubmission_file_/mal_day15.zip", inner),
        ("Two Zips_667_assignsubmission_file_/a.zip", good_upload()),
        ("Two Zips_667_assignsubmission_file_/b.zip", good_upload()),
    ]))
    staged = archives.stage(target, tmp_path / "out")
    assert staged.students["jane_doe_2001"].files["day15"]["basic.py"] == REF15
    assert "archives inside archives" in staged.students["mal_lory_666"].rejected
    assert "holds 2 archives" in staged.students["two_zips_667"].rejected


def test_unsafe_paths_at_the_top_of_a_bulk_download_belong_to_nobody(tmp_path):
    target = tmp_path / "dl.zip"
    target.write_bytes(zip_bytes([(GOOD, good_upload()), ("../escape.zip", good_upload()),
                                  ("/abs.zip", good_upload()),
                                  ("Jane Doe_2002_assignsubmission_file_/../../x.py", b"")]))
    staged = archives.stage(target, tmp_path / "out")
    assert staged.students["doe_jane_2001"].rejected is None
    assert any("escape.zip" in w for w in staged.warnings) and any("/abs.zip" in w for w in staged.warnings)
    assert sorted(staged.students) == ["doe_jane_2001", "jane_doe_2002"]
    assert "outside the archive" in staged.students["jane_doe_2002"].rejected
    assert not (tmp_path / "escape.zip").exists() and not (tmp_path / "x.py").exists()


def test_symbolic_links_in_a_folder_of_uploads_are_refused(tmp_path):
    folder = tmp_path / "uploads"
    (folder / "Jane Doe_2001_assignsubmission_file_" / "day15").mkdir(parents=True)
    (folder / "Jane Doe_2001_assignsubmission_file_" / "day15" / "basic.py").write_bytes(REF15)
    (folder / "Mal Lory_666_assignsubmission_file_" / "day15").mkdir(parents=True)
    os.symlink(KIT / "solutions" / "day15" / "basic.py",
               folder / "Mal Lory_666_assignsubmission_file_" / "day15" / "basic.py")
    assert archives.is_archive_target(folder)
    staged = archives.stage(folder, tmp_path / "out")
    assert staged.students["jane_doe_2001"].files["day15"]["basic.py"] == REF15
    assert "symbolic link" in staged.students["mal_lory_666"].rejected


@pytest.mark.parametrize("label, folder, key, name, scheme", [
    ("doe_jane_2001_9001_jane_day15.zip", False, "id:2001", "doe_jane_2001", "canvas"),
    ("doejane_LATE_2001_9002_day15.zip", False, "id:2001", "doejane_2001", "canvas"),
    ("Jane Doe_2001_assignsubmission_file_", True, "moodle:2001", "jane_doe_2001", "moodle"),
    ("Day15_jdoe_attempt_2026-11-20-10-15-00_day15.zip", False, "user:jdoe", "jdoe", "blackboard"),
    ("Day 15 RNNs_jdoe_attempt_2026-11-20-10-15-00.zip", False, "user:jdoe", "jdoe", "blackboard"),
    ("lastname_firstname_12345_attempt_2026-11-20.zip", False, "id:12345", "lastname_firstname_12345", "attempt"),
    ("alice_day15.zip", False, "user:alice", "alice", "submit"),
    ("alice.smith_day15_day16.zip", False, "user:alice.smith", "alice.smith", "submit"),
])
def test_lms_names(label, folder, key, name, scheme):
    who = archives.parse_name(label, folder=folder)
    assert (who.key, who.name, who.scheme) == (key, name, scheme)


def test_the_latest_attempt_wins_and_the_notes_say_which(tmp_path):
    early = zip_bytes([("day15/basic.py", b"# first try\n")])
    late = good_upload()
    target = tmp_path / "bb.zip"
    target.write_bytes(zip_bytes([
        ("Day15_jdoe_attempt_2026-11-20-10-15-00_day15.zip", late),
        ("Day15_jdoe_attempt_2026-11-19-09-00-00_day15.zip", early),
        ("Day15_kim_attempt_2026-11-21-08-00-00_day15.zip", zip_bytes([("../x.py", b"")])),
        ("Day15_kim_attempt_2026-11-18-08-00-00_day15.zip", late),
    ]))
    staged = archives.stage(target, tmp_path / "out")
    jdoe = staged.students["jdoe"]
    assert jdoe.files["day15"]["basic.py"] == REF15
    assert jdoe.graded == ["Day15_jdoe_attempt_2026-11-20-10-15-00_day15.zip"]
    assert jdoe.ignored == ["Day15_jdoe_attempt_2026-11-19-09-00-00_day15.zip"]
    assert any("2026-11-20 10:15:00" in n for n in jdoe.notes)
    assert any("not graded" in n and "2026-11-19" in n for n in jdoe.notes)
    kim = staged.students["kim"]       # a later, hostile attempt replaces a good one: refused, and said so
    assert kim.rejected and "2026-11-21" in kim.rejected and any("2026-11-18" in n for n in kim.notes)
    lines = "\n".join(staged.lines())
    assert "jdoe: graded Day15_jdoe_attempt_2026-11-20" in lines and "ignored earlier" in lines


def test_staging_is_deterministic_and_replaces_the_previous_one(tmp_path):
    target = bulk(tmp_path, {"mallory_day15.zip": zip_bytes([("../x", b"")])})
    first = archives.stage(target, tmp_path / "out")
    snapshot = tree(first.root)
    second = archives.stage(target, tmp_path / "out")
    assert second.root == first.root and tree(second.root) == snapshot
    target.write_bytes(zip_bytes([(GOOD, good_upload())], zipfile.ZIP_STORED))
    os.utime(target, (1, 1))
    third = archives.stage(target, tmp_path / "out")
    assert third.root != first.root and not first.root.exists()
    jane = {k.split("/", 1)[1]: v for k, v in snapshot.items() if k.startswith("doe_jane_2001/")}
    assert tree(third.root / "doe_jane_2001") == jane


def make_submit_zip(student: str, files: dict[str, bytes], tamper: bool = False) -> bytes:
    manifest = {"student": student, "days": sorted({k.split("/")[0] for k in files}),
                "files": [{"path": k, "sha256": hashlib.sha256(v + b"#" * tamper).hexdigest()}
                          for k, v in files.items()]}
    return zip_bytes([*files.items(), ("manifest.json", json.dumps(manifest).encode())])


def test_a_folder_of_archives_merges_a_students_days_and_checks_the_manifest(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "alice_day15.zip").write_bytes(make_submit_zip("alice", {"day15/basic.py": REF15}))
    (folder / "alice_day16.zip").write_bytes(make_submit_zip("alice", {"day16/basic.py": b"x = 1\n"}))
    tampered = make_submit_zip("bob", {"day15/basic.py": REF15}, tamper=True)   # edited after make submit
    (folder / "bob_day15.zip").write_bytes(tampered)
    (folder / "whatever.zip").write_bytes(make_submit_zip("carol", {"day15/basic.py": REF15}))
    (folder / "notes.txt").write_text("not an upload")
    assert archives.is_archive_target(folder)
    staged = archives.stage(folder, tmp_path / "out")
    assert sorted(staged.students) == ["alice", "bob", "whatever"]    # the file's name says who, not the manifest
    alice = staged.students["alice"]
    assert sorted(alice.files) == ["day15", "day16"] and alice.ignored == []
    assert sorted(alice.graded) == ["alice_day15.zip", "alice_day16.zip"]
    assert any("differs from its manifest" in n for n in staged.students["bob"].notes)
    assert any("claims student 'carol'" in w for w in staged.students["whatever"].warnings)


def test_one_students_archive_is_a_class_of_one(tmp_path):
    path = tmp_path / "alice_day15.zip"
    path.write_bytes(make_submit_zip("alice", {"day15/basic.py": REF15, "day15/checking.py": b"",
                                               "day15/scratch.py": b""}))
    assert archives.is_archive_target(path)
    staged = archives.stage(path, tmp_path / "out")
    assert list(staged.students) == ["alice"]
    assert sorted(p.name for p in (staged.root / "alice" / "day15").iterdir()) == ["basic.py"]
    assert any("scratch.py" in n for n in staged.students["alice"].notes)


def test_a_spoofed_manifest_does_not_change_who_the_lms_says_uploaded(tmp_path):
    target = tmp_path / "dl.zip"
    target.write_bytes(zip_bytes([("doe_jane_2001_9001_x.zip", make_submit_zip("alice", {"day15/basic.py": REF15}))]))
    staged = archives.stage(target, tmp_path / "out")
    assert list(staged.students) == ["doe_jane_2001"]
    assert any("manifest says student 'alice'" in n for n in staged.students["doe_jane_2001"].notes)


def test_what_needs_staging():
    assert not archives.is_archive_target(KIT / "exercises")
    assert not archives.is_archive_target(KIT / "exercises" / "day15")
    assert not archives.is_archive_target(KIT / "exercises" / "day15" / "basic.py")


# ------------------------------------------------------------------------------------------------
# Identity: only the part of a name the LMS (or the TA) controls says who uploaded
# ------------------------------------------------------------------------------------------------

MINE = b"# the impersonator's own work\n"


def submit_zip(student: str, files: dict[str, bytes], created: str) -> bytes:
    manifest = {"student": student, "days": ["day15"], "created": created,
                "files": [{"path": k, "sha256": hashlib.sha256(v).hexdigest()} for k, v in files.items()]}
    return zip_bytes([*files.items(), ("manifest.json", json.dumps(manifest).encode())])


# scheme: (the download's members, the classmate's folder and upload, the impersonator's folder and upload).
# Each impersonator names their file (or writes their manifest) so that it claims the classmate, with a
# far-future date so that it would be the classmate's latest attempt.
IMPERSONATIONS = {
    "canvas": ({"roe_rich_2002_9002_day15.zip": good_upload(),
                "doe_jane_2001_9003_2002_attempt_2099-12-31.zip": zip_bytes([("day15/basic.py", MINE)])},
               ("roe_rich_2002", "roe_rich_2002_9002_day15.zip"),
               ("doe_jane_2001", "doe_jane_2001_9003_2002_attempt_2099-12-31.zip")),
    "canvas, late": ({"roe_rich_2002_9002_day15.zip": good_upload(),
                      "doe_jane_LATE_2001_9003_Day15_rrich_attempt_2099-12-31-00-00-00_x.zip":
                          zip_bytes([("day15/basic.py", MINE)])},
                     ("roe_rich_2002", "roe_rich_2002_9002_day15.zip"),
                     ("doe_jane_2001", "doe_jane_LATE_2001_9003_Day15_rrich_attempt_2099-12-31-00-00-00_x.zip")),
    "moodle, flat": ({"Jane Doe_2001_assignsubmission_file_jane_day15.zip": good_upload(),
                      "Mal Lory_666_assignsubmission_file_2001_attempt_2099-12-31.zip":
                          zip_bytes([("day15/basic.py", MINE)])},
                     ("jane_doe_2001", "Jane Doe_2001_assignsubmission_file_jane_day15.zip"),
                     ("mal_lory_666", "Mal Lory_666_assignsubmission_file_2001_attempt_2099-12-31.zip")),
    "moodle, folders": ({"Jane Doe_2001_assignsubmission_file_/day15/basic.py": REF15,
                         "Mal Lory_666_assignsubmission_file_/2001_attempt_2099-12-31.zip":
                             zip_bytes([("day15/basic.py", MINE)])},
                        ("jane_doe_2001", "Jane Doe_2001_assignsubmission_file_/"),
                        ("mal_lory_666", "Mal Lory_666_assignsubmission_file_/2001_attempt_2099-12-31.zip")),
    "blackboard": ({"Day15_bob_attempt_2026-11-20-10-00-00_day15.zip": good_upload(),
                    "Day15_mallory_attempt_2026-11-20-11-00-00_Day15_bob_attempt_2099-12-31-00-00-00_x.zip":
                        zip_bytes([("day15/basic.py", MINE)])},
                   ("bob", "Day15_bob_attempt_2026-11-20-10-00-00_day15.zip"),
                   ("mallory",
                    "Day15_mallory_attempt_2026-11-20-11-00-00_Day15_bob_attempt_2099-12-31-00-00-00_x.zip")),
    "a per-student folder": ({"12345_attempt_2026-11-20.zip": good_upload(),
                              "mallory/12345_attempt_2099-12-31.zip": zip_bytes([("day15/basic.py", MINE)])},
                             ("12345", "12345_attempt_2026-11-20.zip"),
                             ("mallory", "mallory/12345_attempt_2099-12-31.zip")),
    "make submit archives, a manifest": ({
        "alice_day15.zip": submit_zip("alice", {"day15/basic.py": REF15}, "2026-11-20T10:00:00Z"),
        "mallory_day15.zip": submit_zip("alice", {"day15/basic.py": MINE}, "2099-12-31T00:00:00Z")},
        ("alice", "alice_day15.zip"), ("mallory", "mallory_day15.zip")),
}


def download(tmp: Path, members: dict[str, bytes], as_folder: bool) -> Path:
    """The members as an LMS bulk zip, or as the folder a TA unpacked it into."""
    if not as_folder:
        path = tmp / "download.zip"
        path.write_bytes(zip_bytes(list(members.items()), zipfile.ZIP_STORED))
        return path
    for name, data in members.items():
        (tmp / "download" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "download" / name).write_bytes(data)
    return tmp / "download"


@pytest.mark.parametrize("as_folder", [False, True], ids=["bulk zip", "folder"])
@pytest.mark.parametrize("scheme", sorted(IMPERSONATIONS))
def test_a_student_cannot_replace_a_classmates_attempt(tmp_path, scheme, as_folder):
    members, (mate, mate_label), (mallory, mallory_label) = IMPERSONATIONS[scheme]
    staged = archives.stage(download(tmp_path, members, as_folder), tmp_path / "out")
    assert sorted(staged.students) == sorted([mate, mallory]), staged.lines()
    classmate, impersonator = staged.students[mate], staged.students[mallory]
    assert classmate.files == {"day15": {"basic.py": REF15}} and classmate.graded == [mate_label]
    assert impersonator.files == {"day15": {"basic.py": MINE}} and impersonator.graded == [mallory_label]
    assert classmate.rejected is None and impersonator.rejected is None


def test_a_manifest_claiming_a_classmate_is_refused_and_the_ta_is_told(tmp_path):
    members = IMPERSONATIONS["make submit archives, a manifest"][0]
    staged = archives.stage(download(tmp_path, members, as_folder=True), tmp_path / "out")
    mallory = staged.students["mallory"]
    assert any("its manifest says student 'alice'; graded as mallory" in n for n in mallory.notes)
    assert any(line.startswith("mallory: warning: mallory_day15.zip: its manifest claims student 'alice', refused")
               for line in staged.lines())
    notes = json.loads((staged.root / archives.NOTES_FILE).read_text())["students"]
    assert not any("claims" in n or "manifest says" in n for n in notes["alice"]["notes"])


def test_upload_names_reach_the_terminal_and_the_notes_cleaned(tmp_path):
    hostile = "doe_jane_2001_9001_\x1b]0;pwned\x07\x1b[2K\r64-64 full marks\x1b[2J.zip"
    staged = archives.stage(download(tmp_path, {hostile: good_upload(),
                                                "bob\x1b[31m_day15.zip": zip_bytes([("../x", b"")])},
                                     as_folder=False), tmp_path / "out")
    shown = "\n".join(staged.lines())
    assert not any(c in shown for c in "\x1b\x07\r") and "\\x1b[2J" in shown
    for st in staged.students.values():
        assert not any(c in "".join(st.notes) + (st.rejected or "") for c in "\x1b\x07\r"), st.notes
    assert "control characters" in staged.students["doe_jane_2001"].rejected


def test_no_student_folder_takes_the_name_of_a_file_the_cli_writes(tmp_path):
    members = {f"{name}_day15.zip": good_upload() for name in
               ("summary_mistakes.png", "gradebook.csv", "SUMMARY.txt", "student_gradebook.csv", "alice")}
    staged = archives.stage(download(tmp_path, members, as_folder=True), tmp_path / "out")
    folders = sorted(p.name for p in staged.root.iterdir() if p.is_dir())
    assert folders == sorted(staged.students) == ["alice", "student_gradebook.csv", "student_gradebook.csv_2",
                                                  "student_summary.txt", "student_summary_mistakes.png"]
    assert staged.students["student_gradebook.csv"].graded == ["student_gradebook.csv_day15.zip"]   # keeps its name
    assert staged.students["student_gradebook.csv_2"].graded == ["gradebook.csv_day15.zip"]
    assert not any(outputs.is_reserved(f) for f in folders)
    moved = staged.students["student_summary_mistakes.png"]
    assert moved.files == {"day15": {"basic.py": REF15}}
    assert any("'summary_mistakes.png' is the name of a file the grader writes" in n for n in moved.notes)
    assert any("summary_mistakes.png" in line and "warning" in line for line in staged.lines())


def test_reserved_names_are_what_the_cli_writes():
    from autograder.engine import report
    assert report.GRADEBOOK in outputs.CLASS_OUTPUTS and archives.STAGING in outputs.CLASS_OUTPUTS
    for name in (*outputs.CLASS_OUTPUTS, "Gradebook.CSV", ".state.json", ".x.123.tmp", "", ".."):
        assert outputs.is_reserved(name), name
    for name in ("alice", "gradebook", "summary.png.bak", "student_gradebook.csv"):
        assert not outputs.is_reserved(name), name


def test_a_class_in_nbgrader_layout_gets_the_same_folders_on_every_run():
    from types import SimpleNamespace
    students = [SimpleNamespace(name=n, notes=[]) for n in
                ("gradebook.csv", ".lock", "student_gradebook.csv", "alice", "Summary.PNG")]
    outputs.assign_folders(students)
    assert [s.name for s in students] == ["student_gradebook.csv_2", "student_lock", "student_gradebook.csv",
                                          "alice", "student_Summary.PNG"]
    assert [len(s.notes) for s in students] == [1, 1, 0, 0, 1]
    outputs.assign_folders(students)              # (a staged class is already safe: nothing moves again)
    assert [s.name for s in students][:2] == ["student_gradebook.csv_2", "student_lock"]
    assert [len(s.notes) for s in students] == [1, 1, 0, 0, 1]


# ------------------------------------------------------------------------------------------------
# Loose uploads: one bare exercise file, its day from the TA, the upload or the download's name
# ------------------------------------------------------------------------------------------------

NB15 = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def test_a_bare_basic_py_is_graded_as_the_day_the_ta_gives(tmp_path):
    loose = tmp_path / "uploads" / "jdoe_basic.py"
    loose.parent.mkdir()
    loose.write_bytes(REF15)
    assert archives.is_loose_file(loose) and archives.is_archive_target(loose)
    staged = archives.stage(loose, tmp_path / "out", day="day15")
    [st] = staged.students.values()
    assert st.name == "jdoe" and st.files == {"day15": {"basic.py": REF15}}
    said = " ".join(st.notes)
    assert "took basic.py as day15/basic.py (the day given to make grade: DAY=15)" in said, said
    assert "ignored" not in said and "no exercise file" not in said, said
    assert (staged.root / "jdoe" / "day15" / "basic.py").read_bytes() == REF15


def test_a_bare_file_with_no_day_given_stops_with_what_to_give(tmp_path):
    loose = tmp_path / "basic.py"
    loose.write_bytes(REF15)
    with pytest.raises(archives.ArchiveError, match=r"nothing says which day.*DAY=15"):
        archives.stage(loose, tmp_path / "out")


def test_a_loose_lms_notebook_is_graded_as_its_student(tmp_path):
    loose = tmp_path / "doe_jane_2001_9001_day15_basic.ipynb"      # Canvas's name of a notebook uploaded bare
    loose.write_bytes(NB15)
    assert archives.is_archive_target(loose)
    staged = archives.stage(loose, tmp_path / "out")
    [st] = staged.students.values()
    assert st.name == "doe_jane_2001" and st.files == {"day15": {"day15_basic.ipynb": NB15}}


def test_the_assignment_name_of_the_download_gives_the_day_and_the_notes_say_so(tmp_path):
    download = tmp_path / "Day 15 - Recurrent networks.zip"          # Moodle/Canvas: the assignment's name
    download.write_bytes(zip_bytes([("doe_jane_2001_9001_basic.py", REF15),
                                    ("roe_rich_2002_9002_mine.zip", zip_bytes([("basic.py", REF15)]))],
                                   zipfile.ZIP_STORED))
    staged = archives.stage(download, tmp_path / "out")
    for name in ("doe_jane_2001", "roe_rich_2002"):
        st = staged.students[name]
        assert st.files == {"day15": {"basic.py": REF15}}, name
        said = " ".join(st.notes)
        assert "the download's name 'Day 15 - Recurrent networks.zip' says day15" in said, said


def test_a_bare_file_nothing_dates_is_not_graded_and_both_the_student_and_the_ta_read_why(tmp_path):
    download = tmp_path / "submissions.zip"
    download.write_bytes(zip_bytes([("roe_rich_2002_9002_basic.py", REF15), (GOOD, good_upload())],
                                   zipfile.ZIP_STORED))
    staged = archives.stage(download, tmp_path / "out")
    st = staged.students["roe_rich_2002"]
    assert st.files == {}
    said = " | ".join(st.notes)
    assert "an exercise file, but nothing says which day" in said, said
    assert "not an exercise file" not in said and "holds no exercise file" not in said, said   # never contradicts
    assert any("roe_rich_2002_9002_basic.py" in line and "DAY=15" in line for line in staged.lines())
    # the TA's DAY decides where nothing else does; a day the upload itself states wins over it
    again = archives.stage(download, tmp_path / "out", day="day16")
    assert again.students["roe_rich_2002"].files == {"day16": {"basic.py": REF15}}
    assert again.students["doe_jane_2001"].files == {"day15": {"basic.py": REF15}}


def test_the_day_of_bare_uploads_is_a_checked_option(capsys):
    from autograder import cli
    assert cli.parse_args(["grade", "basic.py", "--day", "Day 15"]).day == "day15"
    assert cli.parse_args(["grade", "basic.py", "--day", "16"]).day == "day16"
    assert cli.parse_args(["grade", "basic.py"]).day is None
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["grade", "basic.py", "--day", "17"])
    assert exc.value.code == 2 and "DAY/--day is the day of the uploads: 15 or 16" in capsys.readouterr().err


@pytest.mark.slow
def test_make_grade_of_one_bare_file_with_day_gives_its_real_points_and_without_says_what_to_add(tmp_path):
    import csv
    import subprocess
    import sys
    from test_engine_grading import _confinable     # (tests/ is on sys.path)
    if not _confinable():
        pytest.skip("no sandbox here: python -m autograder grade says why")
    loose = tmp_path / "uploads" / "jdoe_basic.py"
    loose.parent.mkdir()
    loose.write_bytes(REF15)
    grade = [sys.executable, "-m", "autograder", "grade", str(loose), "--device", "cpu", "--quiet",
             "--out", str(tmp_path / "grades")]
    run = subprocess.run(grade, cwd=KIT, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 2 and "nothing says which day" in run.stderr and "DAY=15" in run.stderr, run.stderr
    run = subprocess.run(grade + ["--day", "15"], cwd=KIT, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "jdoe: jdoe_basic.py: took basic.py as day15/basic.py (the day given to make grade: DAY=15)" in run.stdout
    with open(tmp_path / "grades" / "gradebook.csv", newline="", encoding="utf-8") as f:
        [row] = list(csv.DictReader(f))
    results = json.loads((tmp_path / "grades" / "jdoe" / "results.json").read_text())
    basic = [t for t in results["tests"] if t.get("level") == "basic"]
    assert row["student"] == "jdoe" and basic and all(t["score"] == t["max_score"] for t in basic), row
    assert any("took basic.py as day15/basic.py" in n for n in results["notes"]), results["notes"]


def test_a_folder_of_bare_files_is_a_class_of_their_students(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "jdoe_basic.py").write_bytes(REF15)
    (uploads / "amy_day15_basic.ipynb").write_bytes(NB15)
    assert archives.is_archive_target(uploads)
    staged = archives.stage(uploads, tmp_path / "out", day="day15")
    assert {n: st.files for n, st in staged.students.items()} == {
        "amy": {"day15": {"day15_basic.ipynb": NB15}}, "jdoe": {"day15": {"basic.py": REF15}}}
