"""The student bundle's self-check against the grader, over the demo class: do they agree?

    python -m autograder.agreement [--grades grades-demo] [--bundle dist/student/rnnkit-student] [--out FILE]

For every demo student (:mod:`autograder.demo`) and every exercise: what ``rnnkit-check`` says in
the student bundle (run as the student runs it, in a process of its own, on a copy of the bundle
holding exactly the files the student handed in) against the points the grader gave
(``--grades``: the output of ``make grade`` on the demo class; without it the demo class is graded
here first, on the CPU).  They agree when

* PASS and full points;  TODO or ERROR and 0 points;  FAIL and less than full points.

PASS with less than full points is allowed (the public checks are a subset: the hidden tests have
other inputs and edge cases) and shown as ``hidden tests only``; anything else is a disagreement.
A known mistake named on either side is shown beside the verdict.  Exit status 1 on a disagreement.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.catalogue import DAYS

KIT_ROOT = Path(__file__).resolve().parents[1]

# Run inside the student's copy of the bundle: the bundle's own self-check, rows as JSON.
_CHECK = """\
import json, sys
sys.path.insert(0, sys.argv[1])
from rnnkit_student import selfcheck
rows = [r for d in selfcheck.days_in('.') for r in selfcheck.check_day(__import__('pathlib').Path('.'), d)]
print('ROWS ' + json.dumps([[r.day, r.exercise, r.status, r.fingerprint] for r in rows]))
"""

# One student's check is one process of its own, as a student runs it; importing torch is most of
# such a process's start (5 s here), so the checks are forked from one process that has imported
# torch and nothing else (no bundle, no student code: each child imports those itself, in its copy).
_CHECKER = """\
import os, sys
import torch  # noqa: F401
CHECK = sys.argv[1]
for line in sys.stdin:
    copy, out = line.rstrip("\\n").split("\\0")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(copy)
            sys.argv = ["-c", copy]
            exec(compile(CHECK, "<check>", "exec"), {"__name__": "__main__"})
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.waitpid(pid, 0)
    print("done", flush=True)
"""


class _Checker:
    """A warm process that forks one child per student's check (see ``_CHECKER``)."""

    def __init__(self):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        self.proc = subprocess.Popen([sys.executable, "-c", _CHECKER, _CHECK], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=tempfile.gettempdir())

    def run(self, copy: Path) -> str:
        out = copy.parent / f"{copy.name}.check.txt"
        self.proc.stdin.write(f"{copy}\0{out}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "done":
            raise RuntimeError("the bundle checker process stopped")
        return out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


@dataclass
class Cell:
    student: str
    day: str
    exercise: str
    check: str                 # PASS, FAIL, TODO, ERROR, '-' (not checked), CUT (the student's code ended the check)
    check_mistake: str | None
    score: float
    max_score: float
    grader_mistakes: list[str]

    @property
    def verdict(self) -> str:
        full, zero = self.score >= self.max_score > 0, self.score == 0
        if self.check == "PASS":
            return "agree" if full else "hidden tests only"
        if self.check in ("TODO", "ERROR"):
            return "agree" if zero else "DISAGREE"
        if self.check == "FAIL":
            return "agree" if not full else "DISAGREE"
        if self.check == "CUT":     # (exit() or os._exit in the student's code: no table; the grader still grades)
            return "check cut short"
        return "DISAGREE"


def bundle_check(bundle: Path, files: dict[str, bytes], where: Path, checker: _Checker | None = None) \
        -> list[list] | None:
    """The bundle's self-check on a copy of ``bundle`` holding exactly ``files`` in its day folders
    (in a process of its own: forked by ``checker``, or started here)."""
    copy = where / bundle.name
    shutil.copytree(bundle, copy)
    for day in DAYS:
        for path in (copy / day).glob("*") if (copy / day).is_dir() else []:
            exercise_file = path.suffix == ".ipynb" or (path.suffix == ".py" and path.name not in
                                                          ("checking.py", "public_tests.py", "misuse.py"))
            if path.is_file() and exercise_file:       # (the handed-out forms; data and helpers stay)
                path.unlink()
    for rel, data in files.items():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes(data)
    if checker is not None:
        output = checker.run(copy)
    else:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        output = subprocess.run([sys.executable, "-c", _CHECK, str(copy)], cwd=copy, capture_output=True,
                                text=True, env=env, timeout=1800).stdout
    line = next((ln for ln in output.splitlines() if ln.startswith("ROWS ")), None)
    return None if line is None else json.loads(line[5:])   # None: the student's code ended the check


def grader_points(grades: Path, student: str) -> dict[tuple[str, str], tuple[float, float, list[str]]]:
    data = json.loads((grades / student / "results.json").read_text(encoding="utf-8"))
    out: dict = {}
    for t in data.get("tests", []):
        if "exercise" not in t:
            continue
        score, top, names = out.get((t["day"], t["exercise"]), (0.0, 0.0, []))
        fp = t.get("fingerprint")
        out[(t["day"], t["exercise"])] = (score + t["score"], top + t["max_score"],
                                          names + ([fp] if fp and fp not in names else []))
    return out


def agreement(bundle: Path, grades: Path, work: Path, jobs: int = 2) -> list[Cell]:
    from concurrent.futures import ThreadPoolExecutor

    from autograder import demo
    marks = {"passed": "PASS", "failed": "FAIL", "not attempted": "TODO", "error": "ERROR"}
    graded = [s for s in demo.STUDENTS if (grades / s.name / "results.json").is_file()]   # (a newer demo: not in them)
    files = {s.name: demo.student_files(s) for s in graded}
    checkers = queue.SimpleQueue()            # one warm checker per thread (each check: a fork of one)
    started = []

    def check(name):
        try:
            checker = checkers.get_nowait()
        except queue.Empty:
            checker = _Checker()
            started.append(checker)
        try:
            return bundle_check(bundle, files[name], work / name, checker)
        finally:
            checkers.put(checker)
    try:
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            checks = dict(zip(files, pool.map(check, files)))
    finally:
        for checker in started:
            checker.close()
    cells = []
    for student in graded:
        rows = checks[student.name]
        checked = {(d, e): (marks[s], fp) for d, e, s, fp in rows or []}
        for (day, exercise), (score, top, names) in sorted(grader_points(grades, student.name).items()):
            mark, fp = checked.get((day, exercise), ("-" if rows is not None else "CUT", None))
            cells.append(Cell(student.name, day, exercise, mark, fp, score, top, names))
    return cells


def render(cells: list[Cell]) -> str:
    lines = ["| student | exercise | self-check (bundle) | grader | |", "|---|---|---|---|---|"]
    for c in cells:
        check = c.check + (f" ({c.check_mistake})" if c.check_mistake else "")
        graded = f"{c.score:g}/{c.max_score:g}" + (f" ({', '.join(c.grader_mistakes)})" if c.grader_mistakes else "")
        lines.append(f"| {c.student} | {c.day} {c.exercise} | {check} | {graded} | {c.verdict} |")
    counts = {v: sum(c.verdict == v for c in cells) for v in ("agree", "hidden tests only", "check cut short",
                                                                "DISAGREE")}
    lines.append("")
    lines.append(f"{len(cells)} (student, exercise) pairs: {counts['agree']} agree, {counts['hidden tests only']} "
                 f"pass the public checks and lose points only on hidden tests, {counts['check cut short']} where "
                 f"the student's code ended the self-check, {counts['DISAGREE']} disagree")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("--grades", type=Path, help="make grade's output on the demo class (default: grade it now)")
    parser.add_argument("--bundle", type=Path, help="a student bundle folder holding both days (default: build one)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--jobs", type=int, default=2, help="students checked at once (default: 2)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rnnkit-agreement-") as tmp:
        work = Path(tmp)
        bundle = args.bundle
        if bundle is None:
            from autograder import release
            release.release(work / "dist")
            bundle = work / "dist" / release.DIST_NAME
        grades = args.grades
        if grades is None:
            grades = work / "grades"
            subprocess.run([sys.executable, "-m", "autograder", "grade", "--demo", "--device", "cpu", "--quiet",
                            "--out", str(grades), "--demo-root", str(work / "demo")], cwd=KIT_ROOT, check=True,
                           stdout=subprocess.DEVNULL)
        cells = agreement(bundle, grades, work / "students", args.jobs)
    table = render(cells)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 1 if any(c.verdict == "DISAGREE" for c in cells) else 0


if __name__ == "__main__":
    sys.exit(main())
