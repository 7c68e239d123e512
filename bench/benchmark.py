"""nbgrader autograde vs the grading engine on the same class of notebooks.

    python bench/benchmark.py [--students 12] [--skip-nbgrader] [--keep DIR]

Makes N synthetic students from the demo mix (honest variants, all as notebooks; the last one
has an infinite loop in rnn_forward), lays them out as an nbgrader course (``make course``,
``c.Execute.timeout = 30`` as in nbgrader's own default), then times in the same run:

- ``nbgrader autograde day15`` then ``day16``, sequential, as a TA runs them;
- ``python -m autograder grade <course>/submitted`` (default jobs: every core);
- the infinite-loop student alone under each.

Prints seconds per student, the ratio, whether the points agree for every honest student
(exercise by exercise), and what the infinite loop cost.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))

from autograder import course, demo  # noqa: E402
from autograder.catalogue import DAYS  # noqa: E402

MIX = ["ben_notebooks", "cara_partial", "dan_missing_bias", "eve_gate_order", "finn_no_detach",
       "gil_no_zero_grad", "hana_untouched"]
LOOP = "kai_infinite_loop"
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def make_class(root: Path, n: int) -> tuple[list[str], str]:
    by_name = {s.name: s for s in demo.STUDENTS}
    honest = [f"s{i + 1:02d}_{MIX[i % len(MIX)]}" for i in range(max(n - 1, 1))]
    loop = f"s{len(honest) + 1:02d}_{LOOP}"
    for name in honest + [loop]:
        base = by_name[name.split("_", 1)[1]]
        for rel, data in demo.student_files(dataclasses.replace(base, name=name, form="notebook")).items():
            path = root / "submitted" / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return honest, loop


def autograde(root: Path, student: str | None = None) -> tuple[float, dict[str, float]]:
    """Wall seconds of ``nbgrader autograde`` for both days, one after the other, and seconds per student
    (from the autograded notebooks' write times: nbgrader grades one notebook after another)."""
    per_student: dict[str, float] = {}
    total = 0.0
    for day in DAYS:
        args = ["autograde", day, "--force"] + ([f"--student={student}"] if student else [])
        start = time.time()
        course.nbgrader(root, *args, env=ENV)
        total += time.time() - start
        written = sorted((p.stat().st_mtime, p.parts[-3]) for p in (root / "autograded").glob(f"*/{day}/*.ipynb"))
        last = start
        for mtime, who in written:
            if mtime >= start:
                per_student[who] = per_student.get(who, 0.0) + mtime - last
                last = mtime
    return total, per_student


def engine(submitted: Path, out: Path) -> float:
    cmd = [sys.executable, "-m", "autograder", "grade", str(submitted), "--out", str(out), "--quiet", "--force"]
    if not (sys.platform == "linux" and os.geteuid() == 0):
        cmd.append("--unsafe-no-sandbox")
    start = time.time()
    done = subprocess.run(cmd, cwd=KIT, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr[-2000:])
    return time.time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--skip-nbgrader", action="store_true", help="time the engine only")
    parser.add_argument("--keep", type=Path, help="build the course here and keep it")
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="rnnkit-bench-")
    root = course.write_course(args.keep or Path(tmp.name) / "course", timeout=30)
    honest, loop = make_class(root, args.students)
    n = len(honest) + 1
    print(f"{n} students ({len(honest)} honest from the demo mix, 1 infinite loop), notebooks, "
          f"{os.cpu_count()} cores, nbgrader Execute.timeout=30 s")

    rows = []
    nbg_scores, nbg_loop = {}, None
    if not args.skip_nbgrader:
        for day in DAYS:
            course.nbgrader(root, "generate_assignment", day, "--force")
        nbg_total, nbg_per = autograde(root)
        nbg_scores = course.hidden_scores(root)
        nbg_loop = nbg_per.get(loop)
        rows.append(("nbgrader autograde (day15, day16)", nbg_total))
    grades = Path(tmp.name) / "grades"
    eng_total = engine(root / "submitted", grades)
    rows.append(("engine: python -m autograder grade", eng_total))
    eng_loop = engine(root / "submitted" / loop, Path(tmp.name) / "grades_loop")

    print(f"\n{'':38s} {'total s':>8s} {'s/student':>10s}")
    for label, total in rows:
        print(f"{label:38s} {total:8.1f} {total / n:10.1f}")
    if len(rows) == 2:
        print(f"{'ratio nbgrader / engine':38s} {rows[0][1] / rows[1][1]:8.1f}x")
    print(f"\ninfinite-loop student ({loop}):")
    if nbg_loop is not None:
        print(f"  nbgrader: {nbg_loop:.1f} s of the autograde run (each cell that calls rnn_forward waits 30 s)")
    print(f"  engine:   {eng_loop:.1f} s graded alone, start-up included (the per-call limit, then a fresh worker)")

    if nbg_scores:
        eng = course.engine_points(grades)
        keys = [k for k in nbg_scores if k[0] in honest]
        differ = [(k, nbg_scores[k], eng.get(k)) for k in keys if abs(nbg_scores[k] - eng.get(k, -1)) > 1e-6]
        print(f"\nagreement, honest students: {len(keys) - len(differ)}/{len(keys)} exercises equal"
              + ("" if not differ else f"; differ: {differ[:5]}"))
        lk = [k for k in nbg_scores if k[0] == loop]
        print(f"infinite-loop student: nbgrader {sum(nbg_scores[k] for k in lk):.1f}, "
              f"engine {sum(eng.get(k, 0.0) for k in lk):.1f} points")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
