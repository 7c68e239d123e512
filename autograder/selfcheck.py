"""``make check``: run the public checks on a folder of exercises and print a verdict per exercise.

    python -m autograder.selfcheck [--path exercises] [--day 15] [--level basic]

Each day folder carries its own ``checking.py`` and ``public_tests.py`` (the
shipped copies), so this runs exactly what a student's notebook cell runs.
Statuses: PASS, FAIL (with the learner message), TODO (the stub is untouched),
ERROR (the file could not be imported).

Shipped in the student bundle too (``make release`` copies it into ``rnnkit_student``): it runs
on Linux, macOS and Windows (a thread, not ``signal.alarm``, bounds an exercise where there is no
SIGALRM) and names known mistakes from the bundle's precomputed table
(:mod:`autograder.known_mistakes`) where the kit replays its fingerprints.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path

from autograder import known_mistakes
from autograder.catalogue import CATALOGUE, DAYS, LEVELS, levels_of
from autograder.loading import load_module
from autograder.submissions import forms

KIT_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60  # per exercise: an infinite loop gets a verdict instead of a hung terminal
MARKS = {"passed": "PASS", "failed": "FAIL", "not attempted": "TODO", "error": "ERROR"}


@dataclass
class Row:
    day: str
    level: str
    exercise: str
    status: str   # passed | failed | not attempted | error
    message: str
    fingerprint: str | None = None   # the known mistake the failure looks like (autograder/fingerprints)
    read: str = ""                   # the file the verdict is about, and why that form (autograder.submissions.forms)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _bounded(run, timeout_s: float):
    """``run()``'s result, or _Timeout after ``timeout_s``: SIGALRM where there is one (it interrupts
    the loop), else a daemon thread (Windows; the loop keeps running, the table still comes)."""
    if hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(int(timeout_s))
        try:
            return run()
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    box: dict = {}

    def target():
        try:
            box["value"] = run()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise _Timeout()
    if "error" in box:
        raise box["error"]
    return box["value"]


class ReplayNamer:
    """The kit's namer: replays the recorded calls through the known-wrong variants (autograder/fingerprints)."""

    def wrap(self, fn, day: str, exercise: str):
        from autograder.fingerprints import match
        return match.Recorder(fn, day, exercise)

    def name(self, day: str, exercise: str, recorder) -> tuple[str, str] | None:
        from autograder.fingerprints import match
        found = match.identify(day, exercise, recorder.calls)
        return None if found is None else (found.name, match.describe(found))


def default_namer():
    """The bundle's precomputed table where there is one (a student's copy), else the kit's replay."""
    table = known_mistakes.load_table()
    return known_mistakes.TableNamer(table) if table is not None else ReplayNamer()


def _fresh_day_modules(day_dir: Path):
    """Import this day's shipped checking.py and public_tests.py (replacing another day's copies)."""
    for name in ("checking", "public_tests"):
        sys.modules.pop(name, None)
    # The day folder first; its parent too, where solutions/ keeps the one hand-edited checking.py.
    search = [str(day_dir), str(day_dir.parent)]
    sys.path[:0] = search
    try:
        import checking  # noqa: PLC0415  (the copy beside the exercises)
        import public_tests  # noqa: F401,PLC0415  (registers the checks in checking.PUBLIC_CHECKS)
    finally:
        for entry in search:
            sys.path.remove(entry)
    return checking


def shipped_release_table() -> dict | None:
    """The student bundle's release stub hashes (``release_stubs.json`` beside this module), or None in the kit."""
    try:
        return json.loads((Path(__file__).resolve().parent / forms.RELEASE_TABLE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _load_form(day_dir: Path, form, day: str):
    """Import the chosen form: the .py file itself, or a notebook's definitions as a module."""
    if form.kind == "py":
        return load_module(day_dir / form.filename, label=f"check_{day}")
    module = types.ModuleType(f"_check_{day}_{Path(form.filename).stem}")
    module.__file__ = str(day_dir / form.filename)
    sys.path.insert(0, str(day_dir))      # its checking.py, as in the notebook's kernel
    try:
        exec(compile(form.source, form.filename, "exec"), module.__dict__)  # noqa: S102 - the student's own code
    finally:
        sys.path.remove(str(day_dir))
    return module


def check_day(root: Path, day: str, levels=None, namer=None) -> list[Row]:
    namer = namer or default_namer()
    day_dir = root / day
    checking = _fresh_day_modules(day_dir)
    rows = []
    shipped = shipped_release_table()
    for level in (levels_of(day) if levels is None else [lv for lv in levels if lv in CATALOGUE[day]]):
        names = CATALOGUE[day][level]
        choice, unreadable = forms.choose_in_folder(day_dir, day, level, names, shipped)
        if choice is None:
            why = "; ".join(unreadable.values()) or f"no {level}.py or {day}_{level}.ipynb in {day_dir}"
            rows.extend(Row(day, level, name, "error", why) for name in names)
            continue
        filename = choice.form.filename
        try:
            module = _load_form(day_dir, choice.form, day)
        except Exception as exc:  # a syntax error or a bad import: every exercise of the file is blocked
            where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
            for name in names:
                rows.append(Row(day, level, name, "error",
                                f"{filename} could not be imported: {type(exc).__name__}{where}: {exc}", read=filename))
            continue
        read = filename + (f" ({choice.why})" if choice.why else "")
        for name in CATALOGUE[day][level]:
            fn = getattr(module, name, None)
            if not callable(fn):
                rows.append(Row(day, level, name, "error", f"{filename} defines no function {name}()", read=read))
                continue
            status, message, fingerprint = check_function(checking, day, name, fn, namer)
            rows.append(Row(day, level, name, status, message, fingerprint, read))
    return rows


def check_function(checking, day: str, name: str, fn, namer=None) -> tuple[str, str, str | None]:
    """One exercise's public checks on ``fn``: (status, message, known mistake or None).

    ``checking`` is the day's shipped ``checking`` module (its public checks registered).  The one
    verdict of ``make check`` and of a notebook's ``check(rnn_cell)`` cell (``checking.check`` calls
    this through :func:`notebook_check`), so both say the same words and name the same mistake."""
    namer = namer or default_namer()
    recorder = namer.wrap(fn, day, name)   # the checks' calls, to name a known mistake
    try:
        status, message = _bounded(lambda: checking.run_public_checks(name, recorder), TIMEOUT_S)
    except _Timeout:
        status, message = "failed", f"timed out after {TIMEOUT_S} s: look for a loop that never ends"
    except SystemExit as exc:   # exit() in the student's function: a verdict, not the end of the table
        status, message = "failed", (f"your code called exit() (SystemExit: {exc.code!r}) inside {name}(): "
                                     "a function returns its result, it never ends the program")
    fingerprint = None
    if status == "failed" and recorder.calls:
        try:
            found = namer.name(day, name, recorder)
        except Exception:  # noqa: BLE001 - naming the mistake is a bonus, never a crash
            found = None
        if found is not None:
            fingerprint, description = found
            message = f"{message}\n{description}"
    return status, message, fingerprint


def notebook_check(checking, day: str, name: str, fn) -> tuple[str, str]:
    """What a notebook's ``check(NAME)`` cell runs when this tool sits beside the exercises (the kit's
    or the bundle's): :func:`check_function` with the default namer, as ``make check`` runs it."""
    status, message, _ = check_function(checking, day, name, fn)
    return status, message


def render(rows: list[Row]) -> str:
    out = []
    width = max((len(r.exercise) for r in rows), default=10) + 2
    last = None
    for r in rows:
        head = f"{r.day} {r.level:<13}" if (r.day, r.level) != last else " " * 19
        last = (r.day, r.level)
        first, *rest = r.message.splitlines() or [""]
        out.append(f"{head}{r.exercise:<{width}}{MARKS[r.status]:<6}{first}")
        out.extend(" " * (19 + width + 6) + line.strip() for line in rest)
    counts = {s: sum(r.status == s for r in rows) for s in MARKS}
    chosen = list(dict.fromkeys(f"{r.day}/{r.read}" for r in rows if "(" in r.read))
    if chosen:
        out.append("")
        out.extend(f"read {c}" for c in chosen)
    out.append("")
    out.append(f"{counts['passed']}/{len(rows)} exercises pass · {counts['failed']} fail · "
               f"{counts['not attempted']} not yet attempted · {counts['error']} could not be imported")
    return "\n".join(out)


def days_in(root: Path) -> list[str]:
    """The days laid out under ``root`` (a student bundle may hold one)."""
    return [d for d in DAYS if (Path(root) / d / "checking.py").is_file()]


def default_exercises() -> Path:
    """The folder of exercises: the current folder or one above it (a student bundle), else the kit's."""
    here = Path.cwd()
    for folder in (here, *here.parents, KIT_ROOT / "exercises"):
        if days_in(folder):
            return folder
    return KIT_ROOT / "exercises"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make check", description="Run the public checks on your exercises.")
    parser.add_argument("--path", type=Path, default=None,
                        help="folder holding day15/ and day16/ (default: the current folder if it holds them, "
                             "else the kit's exercises/)")
    parser.add_argument("--day", choices=[d[3:] for d in DAYS] + [""], default="", help="15 or 16 (default: both)")
    parser.add_argument("--level", choices=list(LEVELS) + [""], default="", help=", ".join(LEVELS) + " (project: Day 16 only)")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless every exercise passes")
    args = parser.parse_args(argv)
    args.path = args.path or default_exercises()
    days = [f"day{args.day}"] if args.day else (days_in(args.path) or list(DAYS))
    levels = [args.level] if args.level else None
    rows = [row for day in days for row in check_day(args.path, day, levels)]
    print(render(rows))
    return 1 if args.strict and any(r.status != "passed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
