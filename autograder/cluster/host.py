"""``python -m autograder.cluster.host --slot N``: one grading engine beside a Dask worker.

A fresh interpreter: it starts its engine (sandbox probe, warm-up, zygote) before it reads
anything, as the CLI does, then answers one JSON line per request line on stdin:
``{"code": <one student's code>, "job": {...}}`` -> ``{"data": results, "problems": [...]}``
(or ``{"error": ...}``).  It grades like a grader of the one-machine engine
(``scheduler.grade_code``): hidden suites in this process, the student's code in sandboxed
workers forked from the zygote.  It writes nothing: the TA's process writes the files.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    slot = int(argv[argv.index("--slot") + 1]) if "--slot" in argv else 0
    answers = sys.stdout
    sys.stdout = sys.stderr          # nothing else may write on the answer channel
    from autograder.engine import Engine, EngineError, scheduler
    from autograder.engine import sandbox, zygote
    sandbox.die_with_parent()        # (and end of file on stdin: the Dask worker is gone)
    try:
        engine = Engine(1, sandbox_ok="--unsafe-no-sandbox" not in argv)
    except EngineError as exc:
        print(json.dumps({"error": str(exc)}), file=answers, flush=True)
        return 2
    with engine:
        print(json.dumps({"ready": True, "cuda": list(engine.cuda())}), file=answers, flush=True)
        grader = Grader(engine, slot, scheduler, zygote.Client(engine.zsocks[0]))
        for line in sys.stdin:
            try:
                answer = grader.grade(json.loads(line))
            except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the class
                import traceback
                answer = {"error": f"internal error: {exc!r}", "problems": [traceback.format_exc(limit=5)[-1500:]]}
            print(json.dumps(answer), file=answers, flush=True)
        grader.close()
    return 0


class Grader:
    def __init__(self, engine, slot: int, scheduler, client):
        self.engine, self.slot, self.scheduler, self.client = engine, slot, scheduler, client
        self.digests: dict[str, str] = {}
        self.suites: dict = {}      # suite sessions (runner.SuiteSession): pytest set up once per job, not per student
        os.chdir(scheduler.KIT)

    def close(self) -> None:
        self.scheduler.close_suites(self.suites)

    def kit_digest(self, job: dict) -> str:
        """This machine's resume inputs (suites, references, kit code, versions): must be the TA's."""
        key = json.dumps([job["scope"], job["devices"], job["timeout"], job["memory_mb"], job["cpu_s"],
                          self.engine.sandbox])
        if key not in self.digests:
            s = self.scheduler
            self.digests[key] = s.resume_inputs(s.KIT, s.KIT / "autograder" / "hidden", job["scope"],
                                                devices=job["devices"], timeout=job["timeout"],
                                                memory_mb=job["memory_mb"], cpu_s=job["cpu_s"],
                                                sandbox=self.engine.sandbox)
        return self.digests[key]

    def grade(self, req: dict) -> dict:
        import torch
        from autograder.cluster.ta import code_from_plain
        s, job = self.scheduler, req["job"]
        if self.kit_digest(job) != job["kit_digest"]:
            return {"error": f"this Dask worker's kit ({s.KIT}) differs from the TA's (its hidden suites, "
                             "references, code, Python or torch version): install the same kit version on "
                             "every machine"}
        if "cuda" in job["devices"] and not self.engine.cuda()[0]:
            return {"error": "this Dask worker has no CUDA device, but the class is graded on the GPU: "
                             "give every worker a GPU, or grade with --device cpu"}
        suites = s.KIT / "autograder" / "hidden"
        hide = [str(s.KIT), str(suites), *job["hide"], os.path.expanduser("~"), "/root", "/home", "/var/tmp",
                "/run", "/mnt", "/media", "/srv"]
        opts = s.Options(s.KIT, suites, job["pytest_device"], "cuda" in job["devices"], job["timeout"],
                         job["memory_mb"], cpu_s=job["cpu_s"], jobs=1, sandbox=self.engine.sandbox,
                         hide=list(dict.fromkeys(hide)), keep=s._python_paths(s.KIT), uid=61000 + self.slot)
        torch.backends.cuda.matmul.allow_tf32 = False     # (as a one-machine grader: references without TF32)
        torch.backends.cudnn.allow_tf32 = False
        code = code_from_plain(req["code"], s.KIT)
        files = [suites / f for f in job["files"]]
        exercises = [tuple(e) for e in job["exercises"]] or None
        data, problems = s.grade_code(code, job, opts, self.client, files, exercises, self.suites)
        return {"data": data, "problems": problems}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
