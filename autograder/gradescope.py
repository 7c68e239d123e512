"""Gradescope: the autograder zip (``make gradescope``) and what runs inside it.

    python -m autograder.gradescope build [--day 15] [--out dist/gradescope_autograder.zip]
    python -m autograder.gradescope run [--root /autograder]      # what run_autograder calls

The zip follows Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): ``setup.sh`` and ``run_autograder``
at its root, unpacked into ``/autograder/source``; the student's upload is in
``/autograder/submission``; ``run_autograder`` writes ``/autograder/results/results.json``.  The zip
holds the grader, its hidden suites and the references: it goes to Gradescope, never to students.

``run`` grades the upload with the same engine and options as ``make grade`` (sandboxed: Gradescope
runs it as root in a container) and writes the student's results in Gradescope's schema: statuses
``passed``/``failed`` only (the engine's own status, device and known mistake go in ``extra_data``),
plain-text outputs.  The root is ``$AUTOGRADER_ROOT`` (default ``/autograder``), so the kit's test
runs it against that layout in a temporary folder.  The engine starts before the upload is read
(autograder/engine/seal.py): nothing here imports the class, the suites or the solutions before.

What a student may upload: their ``make submit`` zip(s); ``dayNN/<level>.py`` and notebooks
(``dayNN_<level>.ipynb``) at any depth; bare ``<level>.py`` files when the zip was built for one day
(``make gradescope DAY=15``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = "/autograder"
CONFIG = "gradescope.json"
STUDENT = "submission"                 # the one student's folder name (the header of their output)
SHIPPED = ("autograder", "solutions", "exercises", "pyproject.toml")
LEFT_OUT = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)     # member times: the zip's bytes depend on the kit only

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
set -euo pipefail
apt-get install -y python3 python3-venv python3-pip
python3 -m venv /autograder/venv
# The CPU wheel of torch: Gradescope's graders have no GPU (every test runs on the CPU).
/autograder/venv/bin/pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu \\
    -r /autograder/source/requirements-gradescope.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission, as root, in /autograder. AUTOGRADER_ROOT moves that
# root (the kit's test runs it in a temporary folder); AUTOGRADER_PYTHON picks the interpreter.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source" && exec "$PYTHON" -m autograder.gradescope run --root "$ROOT"
"""

STATUSES = ("passed", "failed")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
FORMATS = ("text", "html", "simple_format", "md", "ansi")


# ---------------------------------------------------------------------------------------------- build
def requirements(kit: Path = KIT) -> str:
    """The kit's pinned requirements, less what only TAs' machines need (nbgrader, Jupyter, the kit's
    own editable install: the grader runs from /autograder/source)."""
    keep = []
    for line in (kit / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = re.split(r"[=<>\s\[]", line.strip(), maxsplit=1)[0].lower()
        if line.strip() and not line.lstrip().startswith(("#", "-")) and name not in ("nbgrader", "nbclient",
                                                                                     "ipykernel"):
            keep.append(line.strip())
    return "\n".join(keep) + "\n"


def _member(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build(out: Path, day: str | None = None, kit: Path = KIT) -> list[str]:
    """Write the autograder zip; returns its member names."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = []
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, text, executable in (("setup.sh", SETUP_SH, True), ("run_autograder", RUN_AUTOGRADER, True),
                                       ("requirements-gradescope.txt", requirements(kit), False),
                                       (CONFIG, json.dumps({"day": day}, indent=1) + "\n", False)):
            _member(zf, name, text.encode(), executable)
            names.append(name)
        for part in SHIPPED:
            root = kit / part
            paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            for path in paths:
                rel = path.relative_to(kit)
                if LEFT_OUT.intersection(rel.parts) or path.is_symlink() or path.suffix in (".pyc", ".tmp"):
                    continue
                data = path.read_bytes()
                if rel.as_posix() == "autograder/catalogue.py":   # the course's OMIT, written in
                    from autograder.catalogue import baked_source
                    data = baked_source(data.decode("utf-8")).encode("utf-8")
                _member(zf, rel.as_posix(), data)
                names.append(rel.as_posix())
    os.replace(tmp, out)
    return names


# ------------------------------------------------------------------------------------------------ run
def _files(folder: Path) -> list[Path]:
    """The upload's regular files, at any depth (no link followed, no macOS or hidden clutter)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def lay_out(submission: Path, work: Path, day: str | None) -> tuple[Path, list[str]]:
    """The upload as a class of one student, ``work/class/submission/<day>/<file>``, for the engine;
    ``make submit`` zips are staged by autograder.archives (their checks, their notes).  Returns the
    class folder and what was left out (said to the student)."""
    from autograder import archives
    from autograder.catalogue import DAYS, LEVELS, levels_of

    files = _files(submission)
    zips = [f for f in files if f.suffix.lower() == ".zip"]
    if zips:
        uploads = work / "uploads"
        uploads.mkdir(parents=True)
        for z in zips:
            shutil.copyfile(z, uploads / z.name)
        staged = archives.stage(uploads, work / "staging")
        return staged.root, list(staged.lines())
    student = work / "class" / STUDENT
    ignored = []
    for path in files:
        rel = path.relative_to(submission)
        m = re.fullmatch(r"(day\d+)_(\w+)\.ipynb", path.name)
        folder_day = next((p for p in reversed(rel.parts[:-1]) if p in DAYS), None)
        if m and m[1] in DAYS and m[2] in levels_of(m[1]):
            target_day = m[1]
        elif path.suffix == ".py" and path.stem in LEVELS and (folder_day or day):
            target_day = folder_day or day
        else:
            ignored.append(str(rel))
            continue
        dest = student / target_day / path.name
        if dest.exists():
            ignored.append(f"{rel} (a second {target_day}/{path.name}: the first one found is graded)")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    if not student.is_dir():
        where = f"{day}/" if day else "day15/ or day16/"
        raise LayoutError(
            "No exercise file found in your upload. Upload your make submit zip, or your filled files: "
            f"<level>.py inside {where} (basic.py, intermediate.py, advanced.py) or the notebooks "
            f"(day15_basic.ipynb, ...)." + (f" Found: {', '.join(ignored[:8])}." if ignored else ""))
    return student.parent, [f"not graded (not an exercise file): {name}" for name in ignored]


class LayoutError(Exception):
    """The upload holds nothing the engine can grade: said to the student, who can upload again."""


def to_gradescope(data: dict, notes: list[str] = (), seconds: float | None = None) -> dict:
    """The engine's results.json in Gradescope's schema (statuses passed/failed, plain text)."""
    from autograder.textsafe import clean
    tests = []
    for t in data["tests"]:
        test = {"name": clean(str(t["name"]), one_line=True), "score": t["score"], "max_score": t["max_score"],
                "output": clean(str(t.get("output") or "")), "output_format": "text", "visibility": "visible",
                "tags": [str(t.get(k)) for k in ("day", "exercise") if t.get(k)],
                "extra_data": {k: t[k] for k in ("status", "device", "devices", "failed_on", "not_run_on",
                                                 "fingerprint", "level") if t.get(k) not in (None, [], "")}}
        if t.get("status") != "not run":     # (a device not run: no status, 0 of 0 points, its reason shown)
            test["status"] = "passed" if t.get("status") == "passed" else "failed"
        tests.append(test)
    output = "\n".join([clean(str(data.get("output", ""))), *(clean(n) for n in notes)]).strip()
    result = {"score": data["score"], "output": output, "output_format": "text", "test_output_format": "text",
              "test_name_format": "text", "visibility": "visible", "stdout_visibility": "hidden",
              "tests": tests, "extra_data": {"max_score": data["max_score"], "devices": data.get("devices", [])}}
    if seconds is not None:
        result["execution_time"] = max(0, round(seconds))
    return result


def _write_results(root: Path, result: dict) -> None:
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    tmp = results / ".results.json.tmp"
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, results / "results.json")


def run(root: Path) -> int:
    started = time.monotonic()
    root = Path(root).absolute()
    config = json.loads((KIT / CONFIG).read_text(encoding="utf-8")) if (KIT / CONFIG).is_file() else {}
    day = f"day{str(config['day']).removeprefix('day')}" if config.get("day") else None
    from autograder.engine import Engine, EngineError     # first: before the upload or a suite is read
    try:
        engine = Engine(1)
    except EngineError as exc:
        # No results.json: Gradescope then says the autograder failed (a 0 would look like a grade).
        print(f"error: the autograder cannot run here: {exc}")
        return 2
    with engine, tempfile.TemporaryDirectory(prefix="rnnkit-gradescope-") as tmp:
        work = Path(tmp)
        try:
            klass, notes = lay_out(root / "submission", work, day)
        except LayoutError as exc:
            _write_results(root, {"score": 0, "output": str(exc), "output_format": "text", "visibility": "visible",
                                  "stdout_visibility": "hidden", "tests": []})
            print(exc)
            return 0
        except Exception as exc:  # noqa: BLE001 - archives.ArchiveError and the like: the student's upload
            _write_results(root, {"score": 0, "output": f"Your upload could not be read: {exc}",
                                  "output_format": "text", "visibility": "visible", "tests": []})
            print(f"upload refused: {exc}")
            return 0
        out = work / "grades"
        try:
            summary = engine.grade(klass, out, jobs=1)
        except EngineError as exc:
            print(f"error: {exc}")
            return 2
        if summary.problems or summary.failed:   # the grader's problem: no grade rather than a wrong one
            print("error: grading did not complete:", *summary.problems, *summary.failed, sep="\n  ")
            return 1
        graded = sorted(out.glob("*/results.json"))
        if len(graded) != 1:
            print(f"error: expected one student's results, found {len(graded)}")
            return 1
        data = json.loads(graded[0].read_text(encoding="utf-8"))
        _write_results(root, to_gradescope(data, notes, time.monotonic() - started))
        print(f"graded: {data['score']} / {data['max_score']} points")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the autograder zip to upload to Gradescope")
    b.add_argument("--day", default="", help="15 or 16: one assignment per day (bare <level>.py uploads are "
                                             "that day's); default: both days, files inside day15/ or day16/")
    b.add_argument("--out", type=Path, default=None, help="default: dist/gradescope_autograder[_dayNN].zip")
    r = sub.add_parser("run", help="grade /autograder/submission into /autograder/results (run_autograder)")
    r.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT") or DEFAULT_ROOT))
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.root)
    from autograder.catalogue import DAYS
    day = f"day{args.day.strip().removeprefix('day')}" if args.day.strip() else None
    if day is not None and day not in DAYS:
        parser.error(f"--day/DAY must be one of {', '.join(d[3:] for d in DAYS)}, not {args.day!r}")
    out = args.out or KIT / "dist" / f"gradescope_autograder{'_' + day if day else ''}.zip"
    names = build(out, day)
    print(f"written: {out} ({len(names)} files: setup.sh, run_autograder, the grader, its hidden suites and the "
          f"references; upload it to Gradescope as the assignment's autograder, never to students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
