"""``make check``: run the public checks on a folder of exercises and print a verdict per exercise.

    python -m autograder.selfcheck [--path exercises] [--day 15] [--level basic]

Each day folder carries its own ``checking.py`` and ``public_tests.py`` (the
shipped copies), so this runs exactly what a student's notebook cell runs.
Statuses: PASS, FAIL (with the learner message), TODO (the stub is untouched),
ERROR (the file could not be imported).
"""
from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.catalogue import CATALOGUE, DAYS, LEVELS
from autograder.fingerprints import match
from autograder.loading import load_module

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


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


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


def check_day(root: Path, day: str, levels=LEVELS) -> list[Row]:
    day_dir = root / day
    checking = _fresh_day_modules(day_dir)
    rows = []
    for level in levels:
        try:
            module = load_module(day_dir / f"{level}.py", label=f"check_{day}")
        except Exception as exc:  # a syntax error or a bad import: every exercise of the file is blocked
            where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
            for name in CATALOGUE[day][level]:
                rows.append(Row(day, level, name, "error",
                                f"{level}.py could not be imported: {type(exc).__name__}{where}: {exc}"))
            continue
        for name in CATALOGUE[day][level]:
            fn = getattr(module, name, None)
            if not callable(fn):
                rows.append(Row(day, level, name, "error", f"{level}.py defines no function {name}()"))
                continue
            recorder = match.Recorder(fn, day, name)   # the checks' calls, to name a known mistake
            previous = signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(TIMEOUT_S)
            try:
                status, message = checking.run_public_checks(name, recorder)
            except _Timeout:
                status, message = "failed", f"timed out after {TIMEOUT_S} s: look for a loop that never ends"
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, previous)
            fingerprint = None
            if status == "failed" and recorder.calls:
                try:
                    found = match.identify(day, name, recorder.calls)
                except Exception:  # noqa: BLE001 - naming the mistake is a bonus, never a crash
                    found = None
                if found is not None:
                    fingerprint = found.name
                    message = f"{message}\n{match.describe(found)}"
            rows.append(Row(day, level, name, status, message, fingerprint))
    return rows


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
    out.append("")
    out.append(f"{counts['passed']}/{len(rows)} exercises pass · {counts['failed']} fail · "
               f"{counts['not attempted']} not yet attempted · {counts['error']} could not be imported")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make check", description="Run the public checks on your exercises.")
    parser.add_argument("--path", type=Path, default=KIT_ROOT / "exercises",
                        help="folder holding day15/ and day16/ (default: exercises/)")
    parser.add_argument("--day", choices=[d[3:] for d in DAYS] + [""], default="", help="15 or 16 (default: both)")
    parser.add_argument("--level", choices=list(LEVELS) + [""], default="", help="basic, intermediate or advanced")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless every exercise passes")
    args = parser.parse_args(argv)
    days = [f"day{args.day}"] if args.day else list(DAYS)
    levels = [args.level] if args.level else list(LEVELS)
    rows = [row for day in days for row in check_day(args.path, day, levels)]
    print(render(rows))
    return 1 if args.strict and any(r.status != "passed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
