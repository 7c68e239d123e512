"""The TA's side of a Dask cluster: ``ClusterEngine``, an Engine whose graders are Dask workers.

Everything but the grading itself is the one-machine engine's (``scheduler.Engine.grade``): the
class discovered, the output folder locked, the resume keys, the gradebook.  Here, each student to
grade is read (``extract.read_student``: their own files only) and sent to the cluster as one task;
the answers are written into OUT as they arrive, atomically, the resume state last, exactly the
bytes a one-machine grader writes.  At most ``2 x workers`` students are in flight, so the TA's
memory stays bounded for any class size.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path

from autograder.engine import EngineError, extract, regrade, report, scheduler

WINDOW_PER_WORKER = 2        # students in flight per worker: one graded, one queued behind it
START_TIMEOUT_S = 300        # a worker's host imports torch and starts its engine (~10-20 s on a busy box)


def code_to_plain(code: extract.StudentCode) -> dict:
    """A student's code as JSON-able data, without the kit's public helper files (each host has its own)."""
    plain = dataclasses.asdict(code)
    plain["levels"] = [[day, level, lv] for (day, level), lv in plain["levels"].items()]
    plain["unusable"] = [[day, level, why] for (day, level), why in plain["unusable"].items()]
    plain["public"] = sorted(plain["public"])
    return plain


def code_from_plain(plain: dict, kit: Path) -> extract.StudentCode:
    return extract.StudentCode(
        plain["name"],
        levels={(d, lv): extract.LevelCode(**c) for d, lv, c in plain["levels"]},
        unusable={(d, lv): why for d, lv, why in plain["unusable"]},
        notes=list(plain["notes"]),
        public={day: extract._public_files(kit, day) for day in plain["public"]})


class ClusterEngine(scheduler.Engine):
    """``spec``: ``("local", n)`` for a LocalCluster of n worker processes, or a scheduler's address."""

    def __init__(self, spec, sandbox_ok: bool = True):
        from distributed import Client, LocalCluster

        from autograder.cluster.worker import EnginePlugin, hello
        self.sandbox = sandbox_ok
        self.cluster = None
        logging.getLogger("distributed").setLevel(logging.ERROR)
        if isinstance(spec, tuple):
            self.cluster = LocalCluster(n_workers=spec[1], processes=True, threads_per_worker=1,
                                        dashboard_address=None, memory_limit=0, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            where = f"a local Dask cluster of {spec[1]} worker process(es)"
        else:
            try:
                self.client = Client(spec, timeout=30)
            except OSError as exc:
                raise EngineError(f"CLUSTER={spec}: no Dask scheduler answers there ({exc}); start one with "
                                  "`dask scheduler`, or use CLUSTER=local:N") from None
            self.client.wait_for_workers(1, timeout=START_TIMEOUT_S)
            where = f"the Dask scheduler at {spec}"
        self.client.register_plugin(EnginePlugin(sandbox_ok))
        workers = sorted(self.client.scheduler_info()["workers"])
        answers = [json.loads(a) for a in self.client.gather(
            [self.client.submit(hello, w, workers=[w], pure=False) for w in workers])]
        errors = sorted({a["error"] for a in answers if "error" in a})
        if errors:
            self.close()
            raise EngineError(f"a Dask worker cannot grade: {errors[0]}")
        cudas = {tuple(a["cuda"]) for a in answers}
        self._cuda = (all(ok for ok, _ in cudas), ", ".join(sorted({n for ok, n in cudas if ok}))) \
            if len(cudas) > 1 else cudas.pop()
        self.slots = len(workers)
        print(f"grading on {where}: {len(workers)} worker(s), one grading engine each", file=sys.stderr)

    def cuda(self) -> tuple[bool, str]:
        return self._cuda           # (the workers': student code never runs on the TA's machine)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def _run_graders(self, job: dict, todo: list, jobs: int, summary: scheduler.Summary, progress) -> None:
        from distributed import as_completed

        from autograder.cluster.worker import grade_remote
        tgt, opts, out = job["tgt"], job["opts"], job["out"]
        names = [tgt.students[i].name for i, _ in todo]
        shared = {"scope": [list(s) for s in tgt.scope], "devices": job["devices"], "gpu_note": job["gpu_note"],
                  "pytest_device": job["pytest_device"], "timeout": opts.timeout, "memory_mb": opts.memory_mb,
                  "cpu_s": opts.cpu_s, "hide": [h for h in opts.hide if h not in (str(opts.kit), str(opts.suites))]}
        shared["kit_digest"] = scheduler.resume_inputs(
            opts.kit, opts.suites, tgt.scope, devices=job["devices"], timeout=opts.timeout,
            memory_mb=opts.memory_mb, cpu_s=opts.cpu_s, sandbox=opts.sandbox)
        relative = lambda files: [str(f.relative_to(opts.suites)) for f in files]  # noqa: E731
        queue = list(todo)
        in_flight: dict = {}

        def submit(pending) -> None:
            i, key = queue.pop(0)
            ref = tgt.students[i]
            earlier = regrade.previous(out / ref.name) if job["exercises"] else None
            code = extract.read_student(ref, tgt.scope, opts.kit)
            request = {"code": code_to_plain(code), "job": {
                **shared, "files": relative(job["files"] if earlier is None else job["exercise_files"]),
                "exercises": [] if earlier is None else [list(e) for e in job["exercises"]]}}
            future = self.client.submit(grade_remote, json.dumps(request), pure=False)
            in_flight[future] = (i, key, earlier)
            pending.add(future)

        if progress:
            progress(0, len(todo), None)
        pending = as_completed()
        for _ in range(min(len(queue), WINDOW_PER_WORKER * max(self.slots, 1))):
            submit(pending)
        done = 0
        try:
            for future in pending:
                i, key, earlier = in_flight.pop(future)
                name = tgt.students[i].name
                try:
                    answer = json.loads(future.result())
                except Exception as exc:  # noqa: BLE001 - a worker lost too often (KilledWorker), a bug
                    answer = {"error": f"the Dask task failed: {type(exc).__name__}: {exc}"}
                summary.problems.extend(p for p in answer.get("problems", []) if p not in summary.problems)
                if "data" in answer:
                    self._write(out / name, answer["data"], earlier, job["exercises"], key,
                                ok=not answer["problems"])
                    summary.graded.append(name)
                    summary.scores[name] = (answer["data"]["score"], answer["data"]["max_score"])
                else:
                    summary.failed.append(name)
                    summary.problems.append(f"{name}: {answer.get('error') or 'no answer from the cluster'}")
                done += 1
                if progress:
                    progress(done, len(todo), (name, summary.scores.get(name)))
                if queue:
                    submit(pending)
        finally:
            for future in in_flight:       # (interrupted: nothing more is graded for this run)
                future.cancel()
        summary.graded.sort(key=names.index)

    @staticmethod
    def _write(folder: Path, data: dict, earlier, exercises, key: str, ok: bool) -> None:
        """What a one-machine grader writes (scheduler._grader_main), in the same order: the state last."""
        if earlier is not None:
            data = regrade.merge(earlier, data, [tuple(e) for e in exercises])
        folder.mkdir(exist_ok=True)
        report.write_atomic(folder / report.RESULTS, report.results_json(data))
        report.write_atomic(folder / report.FEEDBACK, report.feedback(data))
        if ok and earlier is None:
            report.write_atomic(folder / report.STATE, json.dumps({"key": key}) + "\n")
