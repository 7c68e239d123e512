"""nbgrader autograde vs the grading engine on the same class of notebooks, and the engine at class scale.

    python bench/benchmark.py [--students 12] [--engine-students 12,200] [--skip-nbgrader] [--keep DIR]

Makes N synthetic students from the demo mix (honest variants, all as notebooks; the last one
has an infinite loop in rnn_forward), lays them out as an nbgrader course (``make course``,
``c.Execute.timeout = 30`` as in nbgrader's own default), then times in the same run:

- ``nbgrader autograde day15`` then ``day16``, sequential, as a TA runs them;
- ``python -m autograder grade <course>/submitted`` (default jobs: every core);
- the engine alone on two more classes of the same mix (``--engine-students``, 12 and 200 by
  default): a straight line through the two gives its fixed cost (start-up, gradebook) and its
  marginal cost per student, which is what a class of hundreds pays;
- the infinite-loop student alone under each.

Prints seconds per student, the engine's fixed and marginal cost, the ratio of nbgrader's seconds
per student to the engine's marginal cost (what a large class sees), the peak resident memory of
the grading side (the engine, its graders) and of one worker (student code), whether the points
agree for every honest student (exercise by exercise), and what the infinite loop cost.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import threading
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


@dataclasses.dataclass
class Run:
    seconds: float
    grader_mib: float = 0.0     # peak RSS of one process of the grading side (the engine, a grader)
    worker_mib: float = 0.0     # peak RSS of one worker (student code, forked from the zygote)
    total_mib: float = 0.0      # peak RSS of the whole process tree (shared pages counted in each)


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, resident bytes), read from /proc (Linux)."""
    found = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            found[int(entry.name)] = (int(fields[1]), int(fields[21]) * page)
        except (OSError, IndexError, ValueError):
            continue
    return found


class PeakMemory(threading.Thread):
    """Samples the RSS of a process tree every 0.2 s.  Depth from the engine (its main process):
    1 the zygote and the graders, 2 a worker's keeper, 3 and deeper a worker and what it started."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.stop, self.peak = root, threading.Event(), Run(0.0)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            procs = _processes()
            depth, todo = {self.root: 0}, [self.root]
            children: dict[int, list[int]] = {}
            for pid, (ppid, _) in procs.items():
                children.setdefault(ppid, []).append(pid)
            while todo:
                pid = todo.pop()
                for child in children.get(pid, []):
                    depth[child] = depth[pid] + 1
                    todo.append(child)
            mib = {pid: procs[pid][1] / 2**20 for pid in depth if pid in procs}
            grading = [m for pid, m in mib.items() if depth[pid] <= 1]
            workers = [m for pid, m in mib.items() if depth[pid] >= 3]
            self.peak.grader_mib = max([self.peak.grader_mib, *grading])
            self.peak.worker_mib = max([self.peak.worker_mib, *workers])
            self.peak.total_mib = max(self.peak.total_mib, sum(mib.values()))


def engine(submitted: Path, out: Path) -> Run:
    cmd = [sys.executable, "-m", "autograder", "grade", str(submitted), "--out", str(out), "--quiet", "--force"]
    if not (sys.platform == "linux" and os.geteuid() == 0):
        cmd.append("--unsafe-no-sandbox")
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=KIT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = PeakMemory(proc.pid)
    memory.start()
    _, stderr = proc.communicate()
    memory.stop.set()
    memory.join()
    if proc.returncode not in (0, 1):
        raise RuntimeError(stderr[-2000:])
    return dataclasses.replace(memory.peak, seconds=time.time() - start)


def engine_class(tmp: Path, n: int) -> tuple[Run, int]:
    """The engine alone on a class of ``n`` students of the mix (engine only: the fit's points)."""
    root = tmp / f"engine{n}"
    honest, _ = make_class(root, n)
    return engine(root / "submitted", tmp / f"grades{n}"), len(honest) + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=12, help="the class nbgrader and the engine both grade")
    parser.add_argument("--engine-students", default="12,200",
                        help="two class sizes graded by the engine alone, for its fixed and marginal cost")
    parser.add_argument("--skip-nbgrader", action="store_true", help="time the engine only")
    parser.add_argument("--keep", type=Path, help="build the course here and keep it")
    args = parser.parse_args(argv)
    small, large = sorted(int(n) for n in args.engine_students.split(","))
    if small < 2 or large <= small:
        parser.error("--engine-students: two class sizes, the smaller at least 2 (e.g. 12,200)")

    tmp = tempfile.TemporaryDirectory(prefix="rnnkit-bench-")
    root = course.write_course(args.keep or Path(tmp.name) / "course", timeout=30)
    honest, loop = make_class(root, args.students)
    n = len(honest) + 1
    print(f"{n} students ({len(honest)} honest from the demo mix, 1 infinite loop), notebooks, "
          f"{os.cpu_count()} cores, nbgrader Execute.timeout=30 s; the engine alone also on {small} and {large}")

    rows = []
    nbg_scores, nbg_loop = {}, None
    if not args.skip_nbgrader:
        for day in DAYS:
            course.nbgrader(root, "generate_assignment", day, "--force")
        nbg_total, nbg_per = autograde(root)
        nbg_scores = course.hidden_scores(root)
        nbg_loop = nbg_per.get(loop)
        rows.append(("nbgrader autograde (day15, day16)", nbg_total, n))
    grades = Path(tmp.name) / "grades"
    same_class = engine(root / "submitted", grades)
    rows.append(("engine: python -m autograder grade", same_class.seconds, n))
    fit = [engine_class(Path(tmp.name), size) for size in (small, large)]
    for run, size in fit:
        rows.append((f"engine alone, {size} students", run.seconds, size))
    (run_s, n_s), (run_l, n_l) = fit
    marginal = (run_l.seconds - run_s.seconds) / (n_l - n_s)
    fixed = run_s.seconds - marginal * n_s
    eng_loop = engine(root / "submitted" / loop, Path(tmp.name) / "grades_loop")

    print(f"\n{'':38s} {'total s':>8s} {'s/student':>10s}")
    for label, total, size in rows:
        print(f"{label:38s} {total:8.1f} {total / size:10.2f}")
    print(f"\nengine, straight line through {n_s} and {n_l} students: fixed {fixed:.1f} s, "
          f"marginal {marginal:.3f} s per student")
    if not args.skip_nbgrader:
        per_nbg = rows[0][1] / n
        print(f"ratio nbgrader / engine, same {n} students:        {rows[0][1] / same_class.seconds:6.1f}x")
        print(f"ratio per student at class scale (nbgrader's s/student over the engine's marginal cost): "
              f"{per_nbg / marginal:.0f}x" if marginal > 0 else "ratio per student at class scale: n/a")
    runs = [same_class, run_s, run_l]
    print(f"\npeak memory (RSS, MiB): grading side (engine, one grader) {max(r.grader_mib for r in runs):.0f}, "
          f"one worker {max(r.worker_mib for r in runs):.0f}, whole tree {max(r.total_mib for r in runs):.0f} "
          f"(pages shared between processes counted in each)")
    print(f"\ninfinite-loop student ({loop}):")
    if nbg_loop is not None:
        print(f"  nbgrader: {nbg_loop:.1f} s of the autograde run (each cell that calls rnn_forward waits 30 s)")
    print(f"  engine:   {eng_loop.seconds:.1f} s graded alone, start-up included (the per-call limit, then a fresh "
          f"worker); {max(eng_loop.seconds - fixed, 0.0):.1f} s beyond the fixed cost")

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
