"""What the engine writes: per student results.json (Gradescope) and feedback.md, per class gradebook.csv.

Everything here is a pure function of the test rows, so grading the same class
twice writes the same bytes: no times, no paths of the grading machine, rows in
suite order, stable number formatting.  Files are replaced atomically.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from autograder import outputs
from autograder.catalogue import CATALOGUE, DAYS, levels_of
from autograder.textsafe import clean

RESULTS, FEEDBACK, STATE = "results.json", "feedback.md", ".state.json"   # per student
GRADEBOOK = outputs.GRADEBOOK       # per class: its name is reserved (autograder.outputs)
UNSAFE_WARNING = ("WARNING: graded with --unsafe-no-sandbox (make grade UNSAFE=1): student code ran unconfined, with "
                  "the grader's rights; it could read the hidden tests, the solutions and classmates' work and "
                  "change results. Use it only for code you trust.")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 4)


def _title(row) -> str:
    base = row.test.split("[")[0].removeprefix("test_").removeprefix(row.exercise + "_").replace("_", " ")
    return f"{row.day} {row.exercise}: {base or row.exercise}"     # the same name on every machine


def results(student: str, rows, notes: list[str], devices: list[str], gpu_note: str,
            unsafe: bool = False) -> dict:
    """Everything of student origin (their folder name, their exceptions' messages, their file names in
    the notes) is cleaned of control characters here, once: every file, line and cell is made from this."""
    student = clean(student, one_line=True)
    notes = [clean(n) for n in notes]
    tests = []
    for row in rows:
        ran = row.status != "not run"
        tests.append({
            "name": _title(row),
            "score": _num(row.points if row.status == "passed" else 0),
            "max_score": _num(row.points if ran else 0),
            "output": clean(row.message) if row.status != "passed" else "passed",
            "visibility": "visible",
            "status": row.status,
            "exercise": row.exercise,
            "day": row.day,
            "level": row.level,
            "device": row.device,        # the device whose result this row shows (the first that failed)
            "devices": list(getattr(row, "devices", [row.device])),     # ran on (passed only if on each)
            "failed_on": list(getattr(row, "failed_on", [])),
            "not_run_on": list(getattr(row, "not_run_on", [])),
            "test": row.test,
            "fingerprint": getattr(row, "fingerprint", None),
        })
    score = sum(t["score"] for t in tests)
    max_score = sum(t["max_score"] for t in tests)
    summary = [f"{student}: {_num(score)} / {_num(max_score)} points.", gpu_note, *notes]
    warning = UNSAFE_WARNING if unsafe else ""          # (said to the student and to summary.txt)
    if warning:
        summary.insert(0, warning)
    return {
        **({"warning": warning} if warning else {}),
        "score": _num(score),
        "max_score": _num(max_score),
        "output": "\n".join(summary),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "student": student,
        "devices": devices,
        "gpu": gpu_note,
        "notes": notes,
        "tests": tests,
    }


def results_json(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _quote(text: str) -> str:
    return "\n".join("  > " + line if line.strip() else "  >" for line in text.splitlines())


NOT_ATTEMPTED = "not attempted yet"      # (the start of the runner's message for an untouched stub)
KNOWN = "This looks like a known mistake"   # (how a fingerprint's line starts: fingerprints/match.py)


def _split_message(text: str) -> tuple[list[str], list[str], str | None]:
    """A test's output as (message lines, hint lines, the known mistake's hint or None)."""
    lines, hints, mistake_hint, after_mistake = [], [], None, False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Hint:"):
            hints.append(line)
            if after_mistake and mistake_hint is None:
                mistake_hint = line
            after_mistake = False
            continue
        after_mistake = line.startswith(KNOWN)
        lines.append(line)
    return lines, hints, mistake_hint


def _exercise_lines(mine: list[dict]) -> list[str]:
    """A failed exercise, grouped: which tests failed, one message and one hint (of the first failure
    that matched a known mistake, else of the first failure): not the same text per test."""
    failed = [t for t in mine if t["status"] not in ("passed", "not run")]
    short = [t["name"].split(": ", 1)[-1] for t in failed]
    passed = [t["name"].split(": ", 1)[-1] for t in mine if t["status"] == "passed"]
    out = [f"Failed all {len(mine)} tests." if len(failed) == len(mine) else
           f"Failed {len(failed)} of {len(mine)} tests: {', '.join(short)}. Passed: {', '.join(passed)}."]
    # The failure shown: the first that matched a known mistake (its name and fix say the most), else
    # the first; its hint goes with it (another test's own hint would not fit the message shown).
    parsed = [_split_message(t["output"]) for t in failed]
    shown = next((p for p in parsed if any(line.startswith(KNOWN) for line in p[0])), parsed[0]) \
        if parsed else ([], [], None)
    message, hint = shown[0], shown[2] or (shown[1][0] if shown[1] else None)
    out += ["", _quote("\n".join(message)), ""] if message else [""]
    if hint:
        out += [hint.replace("Hint:", "**Hint:**", 1), ""]
    return out


def feedback(data: dict) -> str:
    """What the student reads, short: one line per passed exercise, each failed exercise once (the
    tests it failed, one message, one hint), an exercise not run in one line, the devices said once
    (in the score line).  Every test stays in results.json for whoever wants the detail."""
    out = [f"# Feedback: {clean(data['student'], one_line=True)}", "",
           f"**Score: {data['score']} / {data['max_score']} points.** {data['gpu']}", ""]
    if data.get("warning"):
        out += [f"**{data['warning']}**", ""]
    if data["notes"]:
        out += ["About your files:", ""] + [f"- {n}" for n in data["notes"]] + [""]
    tests = data["tests"]
    passed, failed, not_run, untouched = [], [], [], []
    for day in DAYS:
        for level in levels_of(day):
            for exercise in CATALOGUE[day][level]:
                mine = [t for t in tests if t["day"] == day and t["exercise"] == exercise]
                if not mine:
                    continue
                got = _num(sum(t["score"] for t in mine))
                of = _num(sum(t["max_score"] for t in mine))
                title = f"{day} {level}: {exercise}"
                first = _split_message(mine[0]["output"])[0]
                if all(t["status"] == "not run" for t in mine):
                    not_run.append(f"- {title}: not run. {' '.join(first)}")
                elif got == 0 and all(t["output"].startswith(NOT_ATTEMPTED) for t in mine):
                    untouched.append(f"- {title} ({of} points): {' '.join(first)}")
                elif all(t["status"] in ("passed", "not run") for t in mine):
                    passed.append(f"- {title}: {got} / {of} points")
                else:
                    failed += [f"## {title} ({got} / {of} points)", ""] + _exercise_lines(mine)
    if passed:
        out += ["## Passed", ""] + passed + [""]
    out += failed
    if untouched:
        out += ["## Not attempted", ""] + untouched + [""]
    if not_run:
        out += ["## Not run", ""] + not_run + [""]
    unknown = [t for t in tests if t["exercise"] not in CATALOGUE.get(t["day"], {}).get(t["level"], ())]
    for t in unknown:
        out.append(f"- {t['name']}: {t['status']}, {t['score']} / {t['max_score']}")
    return "\n".join(out).rstrip() + "\n"


def valid_results(data) -> bool:
    """A results.json as :func:`results` writes it (what the gradebook and a resumed run rely on)."""
    return type(data) is dict and isinstance(data.get("tests"), list) \
        and all(type(t) is dict and isinstance(t.get("score"), (int, float)) for t in data["tests"]) \
        and isinstance(data.get("score"), (int, float)) and isinstance(data.get("max_score"), (int, float))


def gradebook(out_dir: Path, students=None) -> str:
    """student x exercise points, total and maximum, from every results.json under ``out_dir`` (with
    ``students``, folder names: only theirs, so another class graded into the same folder never counts)."""
    rows = {}
    for entry in sorted(os.scandir(out_dir), key=lambda e: e.name):
        path = Path(entry.path) / RESULTS
        if entry.name.startswith(".") or not entry.is_dir() or not path.is_file() \
                or (students is not None and entry.name not in students):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if valid_results(data):   # (a stray or hand-edited file is not a student's row)
            rows[entry.name] = data
    columns = [(d, e) for d in DAYS for lv in levels_of(d) for e in CATALOGUE[d][lv]
               if any(t.get("day") == d and t.get("exercise") == e for r in rows.values() for t in r["tests"])]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", *(f"{d} {e}" for d, e in columns), "total", "max", "devices"])
    for student, data in rows.items():
        cells = [_num(sum(t["score"] for t in data["tests"] if (t.get("day"), t.get("exercise")) == col))
                 for col in columns]
        w.writerow([clean(student, one_line=True), *cells, data["score"], data["max_score"],
                    " ".join(d for d in data.get("devices", []) if isinstance(d, str))])
    return buf.getvalue()
