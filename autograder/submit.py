"""``make submit``: one archive of a student's filled exercises, for an LMS upload.

    python -m autograder.submit --student alice --day 15 [--exercises exercises] [--out submissions]

Checks first (a broken file stops the submission, unless --force): each notebook is a valid
Jupyter notebook, each ``<level>.py`` imports and defines its catalogue functions.  Then the
public checks run and their table is shown: failing them never blocks a submission.  Writes
``submissions/<student>_day15.zip`` holding only the student's own files: per level the one form
they worked in (``day15/<level>.py`` or ``day15/day15_<level>.ipynb``, chosen by the rule every tool
shares, :mod:`autograder.submissions.forms`, so the grader grades what the self-check checked), and
``manifest.json`` (student, days, kit version, each file's SHA-256, the form taken per level and why).
Shipped in the student bundle: it needs neither the grading engine nor pytest.  Nothing else is ever read into the archive: no solutions, no hidden tests, no
helper file, no symbolic link.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import os
import re
import stat
import sys
import time
import zipfile
from pathlib import Path

from autograder.catalogue import CATALOGUE, DAYS, levels_of
from autograder.safe_files import UnsafeFile, read_regular_file
from autograder.submissions import MANIFEST, SAFE_ID, forms
from autograder.submissions.notebooks import catalogue_defs, notebook_code

KIT_ROOT = Path(__file__).resolve().parents[1]
MAX_FILE = 32 << 20
FIXED_TIME = (2020, 1, 1, 0, 0, 0)     # member times: the archive's bytes depend on the files only


class SubmitError(Exception):
    pass


def kit_version(kit: Path = KIT_ROOT) -> str:
    shipped = Path(__file__).resolve().parent / "KIT_VERSION"    # the student bundle's copy
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8").strip() or "unknown"
    try:
        m = re.search(r'^version\s*=\s*"([^"]+)"', (kit / "pyproject.toml").read_text(encoding="utf-8"), re.M)
        return m[1] if m else "unknown"
    except OSError:
        return "unknown"


def student_files(root: Path, day: str) -> list[tuple[str, Path]]:
    """(archive path, file) of every form a student may submit for ``day``: the level files and notebooks."""
    out = []
    for level in levels_of(day):
        for name in (f"{level}.py", f"{day}_{level}.ipynb"):
            out.append((f"{day}/{name}", root / day / name))
    return out


def chosen_files(root: Path, day: str, shipped: dict | None = None) -> tuple[list[tuple[str, Path]], dict, list]:
    """Per level, the one form the student worked in: ([(archive path, file)], {day/level: what was read
    and why}, [unreadable forms' reasons])."""
    out, taken, problems = [], {}, []
    for level in levels_of(day):
        choice, unreadable = forms.choose_in_folder(root / day, day, level, CATALOGUE[day][level], shipped)
        problems += list(unreadable.values())
        if choice is None:
            continue
        out.append((f"{day}/{choice.form.filename}", root / day / choice.form.filename))
        taken[f"{day}/{level}"] = choice.describe()
    return out, taken, problems


def _read(path: Path) -> bytes:
    try:
        return read_regular_file(path, MAX_FILE, label=str(path))
    except UnsafeFile as exc:
        advice = (": copy the file itself there" if "symbolic link" in str(exc) else
                  "; clear the notebook's outputs and try again" if "far too large" in str(exc) else "")
        raise SubmitError(f"{exc}{advice}") from None


def validate(files: dict[str, bytes], day: str, root: Path) -> list[str]:
    """Problems that stop a submission: invalid notebooks, .py files that do not import."""
    problems = []
    for level in levels_of(day):
        names = CATALOGUE[day][level]
        nb_key = f"{day}/{day}_{level}.ipynb"
        if nb_key in files:
            problems += _check_notebook(files[nb_key], nb_key, names)
        py_key = f"{day}/{level}.py"
        if py_key in files:
            problems += _check_module(root / day / f"{level}.py", files[py_key], py_key, names)
    return problems


def _check_notebook(data: bytes, key: str, names) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [f"{key} is not UTF-8 text"]
    try:
        import nbformat
        try:
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
        except Exception as exc:  # noqa: BLE001 - any parse/validation error is the student's to fix
            return [f"{key} is not a valid notebook: {str(exc).splitlines()[0][:200]}"]
    except ImportError:
        pass
    try:
        code = notebook_code(text, key, names)
    except ValueError as exc:
        return [str(exc)]
    problems = list(code.problems.values())
    found = catalogue_defs(code.source, names) or {}
    problems += [f"{key} defines no function {n}() (its exercise cell was deleted or renamed?)"
                 for n in names if n not in found and n not in code.problems]
    return problems


def _check_module(path: Path, data: bytes, key: str, names) -> list[str]:
    try:
        ast.parse(data.decode("utf-8-sig"), key)
    except UnicodeDecodeError:
        return [f"{key} is not UTF-8 text"]
    except SyntaxError as exc:
        return [f"{key} has a syntax error (line {exc.lineno}): {exc.msg}"]
    from autograder.loading import load_module
    sys.path.insert(0, str(path.parent))    # its checking.py, like a notebook beside it
    try:
        module = load_module(path, label="submit")
    except BaseException as exc:  # noqa: BLE001 - whatever stops the import, SystemExit included
        return [f"{key} cannot be imported: {type(exc).__name__}: {exc}"]
    finally:
        sys.path.remove(str(path.parent))
    return [f"{key} defines no function {n}()" for n in names if not callable(getattr(module, n, None))]


def build_archive(student: str, days: list[str], files: dict[str, bytes], checks: dict | None = None,
                  taken: dict | None = None) -> bytes:
    manifest = {
        "format": 1,
        "student": student,
        "days": days,
        "kit_version": kit_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "created_by": "make submit",
        "files": [{"path": k, "sha256": hashlib.sha256(v).hexdigest(), "bytes": len(v)}
                  for k, v in sorted(files.items())],
    }
    if checks is not None:
        manifest["public_checks"] = checks
    if taken:
        manifest["forms"] = taken
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in [*sorted(files.items()), (MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())]:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.create_system = 3
            zf.writestr(info, data)
    return buf.getvalue()


def _forbidden(root: Path) -> str | None:
    real = root.resolve()
    for secret in (KIT_ROOT / "solutions", KIT_ROOT / "autograder"):
        s = secret.resolve()
        if real == s or s in real.parents:
            return f"{root} is not a folder of exercises (it is, or lies in, the kit's {secret.relative_to(KIT_ROOT)}/)"
    return None


def submit(student: str, days: list[str], exercises: Path, out: Path, *, run_checks: bool = True,
           force: bool = False, echo=print) -> Path:
    """Validate, show the public checks, write the archive; returns its path (SubmitError if blocked)."""
    if not SAFE_ID.fullmatch(student or ""):
        raise SubmitError("give your student id: make submit STUDENT=<id> (letters, digits, '.', '_' or '-', "
                          "as your course uses it)")
    exercises = Path(exercises)
    why = _forbidden(exercises)
    if why:
        raise SubmitError(why)
    present: dict[str, bytes] = {}     # every form there: each must be sound (a broken one blocks)
    files: dict[str, bytes] = {}       # the forms read, one per level: what the archive holds
    taken: dict[str, str] = {}
    problems: list[str] = []
    from autograder.selfcheck import shipped_release_table
    shipped = shipped_release_table()
    for day in days:
        if not (exercises / day).is_dir():
            raise SubmitError(f"{exercises / day} does not exist: run make submit from the kit, or give "
                              "EXERCISES=<folder holding day15/ and day16/>")
        for key, path in student_files(exercises, day):
            if path.exists() or path.is_symlink():
                if _forbidden(path):     # (a day folder linked to the solutions, say)
                    raise SubmitError(f"{path} is not your file: it lies in the kit's solutions or grader")
                present[key] = _read(path)
        chosen, day_taken, _unreadable = chosen_files(exercises, day, shipped)   # (unreadable: validate says why)
        taken.update(day_taken)
        for key, _path in chosen:
            files[key] = present[key]
        for level in levels_of(day):
            if f"{day}/{level}" not in day_taken and not any(k.startswith(f"{day}/") and level in k for k in present):
                problems.append(f"missing: {day}/{level}.py (or {day}/{day}_{level}.ipynb)")
    if not files:
        raise SubmitError(f"no exercise file found under {exercises} for {', '.join(days)}")
    for key, why in taken.items():
        echo(f"{key}: {why}")
    for day in days:
        problems += validate(present, day, exercises)
    checks = None
    if run_checks:
        from autograder import selfcheck
        echo("Public checks (shown for your information; they never block a submission):\n")
        rows = [row for day in days for row in selfcheck.check_day(exercises, day)]
        echo(selfcheck.render(rows))
        echo("")
        checks = {"passed": sum(r.status == "passed" for r in rows), "total": len(rows)}
    if problems:
        text = "\n".join(f"  - {p}" for p in problems)
        if not force:
            raise SubmitError(f"not submitted: fix these first (or submit anyway with FORCE=1):\n{text}")
        echo(f"warning: submitting despite these problems:\n{text}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{student}_{'_'.join(days)}.zip"
    data = build_archive(student, days, files, checks, taken)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    echo(f"wrote {target} ({len(data) // 1024 + 1} KiB): {', '.join(sorted(files))} and {MANIFEST}")
    echo("upload this file to your course's assignment page")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make submit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", default="", help="your student id (as your course uses it)")
    parser.add_argument("--day", default="", help="15 or 16 (default: both)")
    parser.add_argument("--exercises", type=Path, default=None,
                        help="folder holding day15/ and day16/ (default: the current folder if it holds them, "
                             "else the kit's exercises/)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the archive (default: submissions/ beside your exercises)")
    parser.add_argument("--no-checks", action="store_true", help="do not run the public checks")
    parser.add_argument("--force", action="store_true", help="submit even if a file does not import")
    args = parser.parse_args(argv)
    day = args.day.strip()
    if day and not day.startswith("day"):
        day = f"day{day}"
    if day and day not in DAYS:
        parser.error(f"--day must be one of {', '.join(d[3:] for d in DAYS)}")
    from autograder.selfcheck import days_in, default_exercises
    exercises = args.exercises or default_exercises()
    in_kit = Path(exercises).resolve() == (KIT_ROOT / "exercises").resolve()
    out = args.out or (KIT_ROOT / "submissions" if in_kit else Path(exercises) / "submissions")
    days = [day] if day else (days_in(exercises) or list(DAYS))
    try:
        submit(args.student.strip(), days, exercises, out, run_checks=not args.no_checks,
               force=args.force)
    except SubmitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
