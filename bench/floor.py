"""How low a student's marginal cost can go: the CPU seconds of the work no engine can skip.

    python bench/floor.py CLASS [--students 8]

CLASS is a class folder (``bench/benchmark.py --keep DIR`` makes one: DIR/submitted).  Grades the
students one after the other in this process, as a grader does, and splits each student's CPU time:

* worker: the sandboxed process that runs the student's code, in total and inside the student's own
  functions (the hidden tests' inputs through the submission: no engine can avoid it);
* grader: the process that runs the hidden suites, in total and inside the reference solutions
  (the answer keys: autograder/hidden/answer_keys.py computes them once per grader process).

Measured by wrapping the worker's functions and the references with ``time.process_time``, in this
script only (the engine itself is unchanged).  Prints one line per student and the floor the two
irreducible parts set on this machine's cores.
"""
from __future__ import annotations

import argparse
import collections
import inspect
import os
import resource
import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT))

sys.path.insert(0, str(KIT / "bench"))

from autograder.engine import Engine, boundary, scheduler, worker  # noqa: E402
from profile_grader import grading_job  # noqa: E402

_STUDENT_CPU = [0.0]      # in the worker (forked per student: starts at 0 there)


def _instrument_worker() -> None:
    """Before the engine starts, so that the zygote (and every worker) has the wrapped methods."""
    call, reply = worker.Worker.op_call, worker.Worker.reply

    def op_call(self, req):
        fn = self.functions.get((req["day"], req["fn"]))
        if fn is not None and not getattr(fn, "_timed", False):
            def timed(*args, __fn=fn, **kwargs):
                start = time.process_time()
                try:
                    return __fn(*args, **kwargs)
                finally:
                    _STUDENT_CPU[0] += time.process_time() - start
            timed._timed = True
            self.functions[(req["day"], req["fn"])] = timed
        call(self, req)

    def timed_reply(self, header, values=None, enc=None):
        header = {**header, "_cpu": [time.process_time(), _STUDENT_CPU[0]]}
        reply(self, header, values, enc)

    worker.Worker.op_call, worker.Worker.reply = op_call, timed_reply


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--students", type=int, default=8)
    args = parser.parse_args(argv)
    _instrument_worker()
    last = {}
    receive = boundary.WorkerHandle.receive

    def timed_receive(self, deadline, want=0):
        header, values = receive(self, deadline, want)
        if type(header.get("_cpu")) is list:
            last["worker"], last["student"] = header["_cpu"]
        return header, values
    boundary.WorkerHandle.receive = timed_receive

    with Engine(1) as engine:        # (started before anything secret is imported: seal.py)
        import autograder.loading as loading
        reference_cpu = collections.Counter()
        load_day = loading.load_day

        def timed_load_day(root, day):
            found = load_day(root, day)
            if Path(root).name == "solutions":
                for name, fn in list(vars(found).items()):
                    if callable(fn):
                        def timed(*a, __fn=fn, __name=name, **kw):
                            start = time.process_time()
                            try:
                                return __fn(*a, **kw)
                            finally:
                                reference_cpu[__name] += time.process_time() - start
                        setattr(found, name, timed)
            return found
        loading.load_day = timed_load_day

        tgt, files, opts, job, client = grading_job(engine, args.target)
        students = [s for s in tgt.students if "infinite" not in s.name][:args.students + 1]
        # One suite session for the run, as a grader process keeps (scheduler._grader_main); an older
        # engine without one configures pytest per student.
        shared = {"suites": {}} if "suites" in inspect.signature(scheduler._grade_one).parameters else {}
        scheduler._grade_one(students[0], job, opts, client, files, **shared)   # one-time imports: not measured
        rows = []
        print(f"{'student':32s} {'points':>6s} {'grader':>7s} {'refs':>6s} {'worker':>7s} {'student':>8s}  (CPU s)")
        for ref in students[1:]:
            reference_cpu.clear()
            last.clear()
            start = resource.getrusage(resource.RUSAGE_SELF)
            data, _ = scheduler._grade_one(ref, job, opts, client, files, **shared)
            end = resource.getrusage(resource.RUSAGE_SELF)
            grader = end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime
            row = (grader, sum(reference_cpu.values()), last.get("worker", 0.0), last.get("student", 0.0))
            rows.append((row, data["score"] >= data["max_score"] / 2))
            print(f"{ref.name[:32]:32s} {data['score']:6g} {row[0]:7.3f} {row[1]:6.3f} {row[2]:7.3f} {row[3]:8.3f}")
        if shared:
            scheduler.close_suites(shared["suites"])
    full = [row for row, most in rows if most] or [row for row, _ in rows]
    mean = [sum(col) / len(full) for col in zip(*full)]
    cores = os.cpu_count() or 1
    print(f"\nmean over the {len(full)} students with half the points or more: grader {mean[0]:.3f} (references {mean[1]:.3f}), "
          f"worker {mean[2]:.3f} (student's functions {mean[3]:.3f}) CPU s")
    print(f"floor on {cores} cores, engine overhead zero: {(mean[1] + mean[3]) / cores:.3f} s per student with the "
          f"references' CPU as measured here, {mean[3] / cores:.3f} s with none; "
          f"the CPU measured here, per student on {cores} cores: {(mean[0] + mean[2]) / cores:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
