"""Where a grader's time goes, per student: the hidden suites of a class, profiled in one process.

    python bench/profile_grader.py CLASS [--students 200] [--top 40]

CLASS is a class folder (``bench/benchmark.py --keep DIR`` makes one: DIR/submitted).  Starts an
engine (its zygote forks the workers, as in ``python -m autograder grade``), then grades the
students one after the other in this process, as a grader process does (one suite session), under pyinstrument
(``pip install -r requirements-dev.txt``).  The first student is graded before the profile starts
(one-time imports), so the profile is the marginal cost.  Prints the grader's CPU seconds per
student, the points (to compare runs) and the profile's top entries; student code runs in the
workers, whose time shows here as waiting (``select``).
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))

from autograder.engine import Engine, extract, scheduler, zygote  # noqa: E402


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def grading_job(engine: Engine, target: Path, timeout: float = 5.0) -> tuple:
    """(class, hidden suite files, options, job, zygote client) as a grader of ``python -m autograder grade
    TARGET --device cpu --timeout TIMEOUT`` gets them, for grading in this process (also the tests' scripts
    that grade in their own process: tests/test_suite_session.py, tests/test_outside_kills.py)."""
    tgt = extract.discover(target)
    suites = KIT / "autograder" / "hidden"
    files = [suites / d / f"test_{lv}.py" for d, lv in tgt.scope if (suites / d / f"test_{lv}.py").is_file()]
    opts = scheduler.Options(KIT, suites, "cpu", False, timeout, 2048, jobs=1, sandbox=engine.sandbox,
                             hide=[str(KIT), str(suites), str(target.resolve())], keep=scheduler._python_paths(KIT))
    job = {"tgt": tgt, "files": files, "pytest_device": "cpu", "devices": ["cpu"], "gpu_note": "", "opts": opts}
    return tgt, files, opts, job, zygote.Client(engine.zsocks[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--top", type=int, default=40, help="lines of the profile to print")
    args = parser.parse_args(argv)
    import pyinstrument

    with Engine(1) as engine:          # (the engine starts before anything secret is imported: seal.py)
        tgt, files, opts, job, client = grading_job(engine, args.target)
        students = tgt.students[:args.students]
        suites: dict = {}   # one suite session for the run, as a grader process keeps (scheduler._grader_main)
        scheduler._grade_one(students[0], job, opts, client, files, suites=suites)
        profiler = pyinstrument.Profiler(interval=0.005)
        cpu, wall = cpu_seconds(), time.monotonic()
        profiler.start()
        points = [scheduler._grade_one(ref, job, opts, client, files, suites=suites)[0]["score"]
                  for ref in students[1:]]
        profiler.stop()
        cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
        scheduler.close_suites(suites)
    n = max(len(students) - 1, 1)
    print(f"{n} students after the first: grader {cpu / n:.3f} CPU s per student, {wall / n:.3f} wall s per student")
    print(f"points: {points}")
    text = profiler.output_text(unicode=False, color=False)
    print("\n".join(text.splitlines()[:args.top]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
