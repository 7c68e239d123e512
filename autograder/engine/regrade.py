"""Regrading one exercise: its new rows replace its old ones in a student's results.json.

The rule, deterministic and the same for every student:

* the tests of the exercises regraded are run again (``--exercise``), with the student's whole
  submission read as in a full grade (so the notes about their files are the same);
* in the earlier results, the rows of those exercises are replaced, in place, by the new rows (at the
  position of the first old row of that exercise; an exercise that had no row goes after the rows of
  the exercises before it in the catalogue); every other row is kept as it was, byte for byte;
* score and maximum are the sums of the merged rows; the summary line says so.

A student with no valid earlier results is graded in full instead (there is nothing to merge
into). The resume state is left as it was: a regraded exercise never makes an out-of-date grade of
the other exercises look current, and an up-to-date grade stays up to date (the merged file is the
one a full grade would write, the tests being deterministic).
"""
from __future__ import annotations

import json
from pathlib import Path

from autograder.catalogue import CATALOGUE, DAYS, levels_of
from autograder.engine import report

ORDER = {(day, name): i for i, (day, name) in
         enumerate((d, n) for d in DAYS for lv in levels_of(d) for n in CATALOGUE[d][lv])}


def previous(folder: Path) -> dict | None:
    """The student's earlier results, when there are valid ones to merge into."""
    try:
        data = json.loads((folder / report.RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not report.valid_results(data) or not all(isinstance(t.get("day"), str) and isinstance(t.get("exercise"), str)
                                                 for t in data["tests"]):
        return None
    return data


def merge(old: dict, new: dict, exercises) -> dict:
    """``new`` (the regraded exercises' rows, the run's notes and devices) merged into ``old``."""
    chosen = {tuple(e) for e in exercises}
    fresh: dict[tuple[str, str], list[dict]] = {}
    for test in new["tests"]:
        fresh.setdefault((test["day"], test["exercise"]), []).append(test)
    tests, placed = [], set()
    for test in old["tests"]:
        key = (test["day"], test["exercise"])
        if key not in chosen:
            tests.append(test)
        elif key not in placed:
            tests += fresh.get(key, [])
            placed.add(key)
    for key in sorted(set(fresh) - placed, key=lambda k: ORDER.get(k, len(ORDER))):
        at = next((i for i, t in enumerate(tests)
                   if ORDER.get((t["day"], t["exercise"]), len(ORDER)) > ORDER.get(key, len(ORDER))), len(tests))
        tests[at:at] = fresh[key]
    score = report._num(sum(t["score"] for t in tests))
    max_score = report._num(sum(t["max_score"] for t in tests))
    header = f"{new['student']}: {new['score']} / {new['max_score']} points."
    output = "\n".join(f"{new['student']}: {score} / {max_score} points." if line == header else line
                       for line in new["output"].split("\n"))
    return {**new, "score": score, "max_score": max_score, "output": output, "tests": tests}
