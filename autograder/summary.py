"""The class summary: per-exercise pass rates and the score distribution, as text and as a PNG.

Reads only the per-student ``results.json`` files the engine wrote, so it can be
rerun on any grades folder:  ``python -m autograder.summary grades/``.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder import outputs
from autograder.catalogue import CATALOGUE, DAYS, levels_of
from autograder.textsafe import clean

EXERCISE_ORDER = [(day, name) for day in DAYS for level in levels_of(day) for name in CATALOGUE[day][level]]
FAILED = ("failed", "timed out", "crashed")      # a wrong answer (not: not attempted, missing, not run)
UNEXPLAINED = "(failed, no known mistake)"
BINS = [(0, 20), (20, 40), (40, 60), (60, 80), (80, 100.0001)]


@dataclass
class StudentResult:
    student: str
    score: float
    max_score: float
    by_exercise: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)  # (got, max)
    gpu_not_run: bool = False
    mistakes: dict[tuple[str, str], set] = field(default_factory=dict)   # exercise -> known mistakes named
    unexplained: set = field(default_factory=set)                        # exercises failed, no mistake named
    warning: str = ""                                                    # graded without the sandbox


def _result_files(out: Path, students=None) -> list[Path]:
    """Each student's results.json in ``out``; with ``students`` (folder names: the class graded), only
    theirs: another class graded into the same folder earlier is never counted with this one."""
    files = sorted(Path(out).glob("*/results.json"))
    return files if students is None else [p for p in files if p.parent.name in set(students)]


def load_results(out: Path, students=None) -> list[StudentResult]:
    students_found = []
    for path in _result_files(out, students):
        data = json.loads(path.read_text(encoding="utf-8"))
        result = StudentResult(path.parent.name, float(data.get("score", 0)), 0.0, warning=str(data.get("warning", "")))
        for test in data.get("tests", []):
            key = (test.get("day", ""), test.get("exercise", ""))
            got, most = result.by_exercise.get(key, (0.0, 0.0))
            result.by_exercise[key] = (got + float(test.get("score", 0)), most + float(test.get("max_score", 0)))
            result.max_score += float(test.get("max_score", 0))
            if "cuda" in (test.get("not_run_on") or ()):      # (one row per test, on every device)
                result.gpu_not_run = True
            if test.get("fingerprint"):
                result.mistakes.setdefault(key, set()).add(test["fingerprint"])
            elif test.get("status") in FAILED:
                result.unexplained.add(key)
        result.unexplained -= set(result.mistakes)
        students_found.append(result)
    return students_found


def summarize(students: list[StudentResult]) -> str:
    lines = [f"Class summary: {len(students)} students", ""]
    warned = [s.student for s in students if s.warning]
    if warned:   # (the engine's own text, from report.UNSAFE_WARNING)
        lines[1:1] = [clean(next(s.warning for s in students if s.warning)),
                      f"({len(warned)} of {len(students)} students graded that way)"]
    if not students:
        return "\n".join(lines + ["(no results found)"])
    percents = [100 * s.score / s.max_score if s.max_score else 0.0 for s in students]
    lines.append(f"Total score: mean {statistics.mean(percents):.1f}%, median {statistics.median(percents):.1f}%, "
                 f"min {min(percents):.1f}%, max {max(percents):.1f}%")
    gpu = sum(s.gpu_not_run for s in students)
    if gpu:
        lines.append(f"GPU: not run for {gpu} student(s) (no CUDA device where they were graded)")
    lines += ["", f"{'exercise':<28}{'full marks':>12}{'mean points':>14}"]
    for day, name in EXERCISE_ORDER:
        cells = [s.by_exercise[(day, name)] for s in students if (day, name) in s.by_exercise]
        if not cells:
            continue
        full = sum(1 for got, most in cells if most and got >= most)
        mean = statistics.mean(got / most for got, most in cells if most) if any(m for _, m in cells) else 0.0
        lines.append(f"{day + ' ' + name:<28}{f'{full}/{len(cells)}':>12}{100 * mean:>13.0f}%")
    lines += ["", *mistake_lines(students)]
    lines += ["", "Score distribution:"]
    for lo, hi in BINS:
        n = sum(lo <= p < hi for p in percents)
        label = f"{lo:>3}-{min(hi, 100):>3.0f}%"
        lines.append(f"  {label}  {'#' * n} {n}")
    return "\n".join(lines)


def mistake_table(students: list[StudentResult]) -> list[tuple[str, str, str, int]]:
    """(day, exercise, mistake, students): each known mistake named by the hidden tests, then the failures
    no known mistake explains, per exercise in course order; mistakes by count, then by name."""
    rows = []
    for day, name in EXERCISE_ORDER:
        counts: dict[str, int] = {}
        for s in students:
            for mistake in s.mistakes.get((day, name), ()):
                counts[mistake] = counts.get(mistake, 0) + 1
        rows += [(day, name, m, n) for m, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        other = sum((day, name) in s.unexplained for s in students)
        if other:
            rows.append((day, name, UNEXPLAINED, other))
    return rows


def mistake_lines(students: list[StudentResult]) -> list[str]:
    rows = mistake_table(students)
    lines = ["Known mistakes (students whose failed hidden tests match a known wrong variant):"]
    if not rows:
        return lines + ["  (no failed tests)"]
    lines.append(f"{'exercise':<28}{'mistake':<40}{'students':>8}")
    last = None
    for day, name, mistake, n in rows:
        label = f"{day} {name}" if (day, name) != last else ""
        last = (day, name)
        lines.append(f"{label:<28}{mistake:<40}{n:>8}")
    return lines


def plot_mistakes(students: list[StudentResult], path: Path) -> None:
    """A bar per (exercise, mistake): what to go over in the next lecture."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = mistake_table(students)
    labels = [f"{d[3:]}:{e}: {m}" for d, e, m, _ in rows]
    counts = [n for *_, n in rows]
    colors = ["#bbbbbb" if m == UNEXPLAINED else "#c44e52" for _, _, m, _ in rows]
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.35 * len(rows) + 1.2)))
    if rows:
        ax.barh(labels[::-1], counts[::-1], color=colors[::-1])
        ax.set_xlim(0, max(len(students), 1))
        ax.xaxis.get_major_locator().set_params(integer=True)
    else:
        ax.text(0.5, 0.5, "no failed tests", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("students (red: a known mistake; grey: failed, no known mistake explains it)")
    ax.set_title(f"Known mistakes per exercise ({len(students)} students)")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def plot(students: list[StudentResult], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, rates = [], []
    for day, name in EXERCISE_ORDER:
        cells = [s.by_exercise[(day, name)] for s in students if (day, name) in s.by_exercise]
        if cells:
            names.append(f"{day[3:]}:{name}")
            rates.append(100 * sum(1 for g, m in cells if m and g >= m) / len(cells))
    percents = [100 * s.score / s.max_score if s.max_score else 0.0 for s in students]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    left.barh(names[::-1], rates[::-1], color="#4c72b0")
    left.set_xlim(0, 100)
    left.set_xlabel("students with full marks (%)")
    left.set_title("Pass rate per exercise")
    right.hist(percents, bins=[0, 20, 40, 60, 80, 100], color="#55a868", edgecolor="white")
    right.set_xlabel("total score (%)")
    right.set_ylabel("students")
    right.set_title(f"Score distribution ({len(students)} students)")
    fig.tight_layout()
    # No creation date or version in the file: grading the same class twice gives the same bytes.
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def student_lines(out: Path, stories: dict[str, str] | None = None, students=None) -> list[str]:
    """One line per student: the score, then each exercise that lost points and the first reason why."""
    lines = []
    for path in _result_files(out, students):
        data = json.loads(path.read_text(encoding="utf-8"))
        student = path.parent.name
        shown = clean(student, one_line=True)     # (a folder name, a message: the student's, shown to the TA)
        lost: dict[str, str] = {}
        for test in data.get("tests", []):
            key = clean(f"{test.get('day', '')[3:]}:{test.get('exercise', '?')}", one_line=True)
            if test.get("score", 0) < test.get("max_score", 0) and key not in lost:
                lost[key] = clean((str(test.get("output") or test.get("status") or "").splitlines() or [""])[0][:90],
                                  one_line=True)
            if test.get("fingerprint") and not lost.get(key, "").startswith("known mistake"):
                lost[key] = clean(f"known mistake {test['fingerprint']}", one_line=True)   # what a TA can act on, first
        head = f"{shown:<22}{data.get('score', 0):>6g}/{data.get('max_score', 0):<5g}"
        if stories and student in stories:
            lines.append(f"{head} {stories[student]}")
            head = " " * len(head)
        for key, reason in list(lost.items())[:3]:
            lines.append(f"{head} lost {key}: {reason}")
            head = " " * len(head)
        if len(lost) > 3:
            lines.append(f"{head} ... and {len(lost) - 3} more exercise(s): see feedback.md")
        elif not lost and not (stories and student in stories):
            lines.append(f"{head} full marks")
    return lines


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")   # (two runs at once)
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_summary(out: Path, students=None) -> str:
    students = load_results(out, students)
    text = summarize(students)
    _write_atomic(out / outputs.SUMMARY_TEXT, (text + "\n").encode())
    if students:   # (names from autograder.outputs: no student folder can take them)
        tmp = out / f".{outputs.SUMMARY_PLOT}.{os.getpid()}.tmp.png"
        plot(students, tmp)
        os.replace(tmp, out / outputs.SUMMARY_PLOT)
        tmp = out / f".{outputs.MISTAKES_PLOT}.{os.getpid()}.tmp.png"
        plot_mistakes(students, tmp)
        os.replace(tmp, out / outputs.MISTAKES_PLOT)
    return text


if __name__ == "__main__":
    print(write_summary(Path(sys.argv[1] if len(sys.argv) > 1 else "grades")))
