"""A worker killed from outside (kill -9, the OOM killer, its keeper killed) is never the student's doing.

Whenever it happens (while the worker starts, takes the files, imports the student's code, runs a call
or a backward pass), the student is graded again from the start and gets exactly the points of an
undisturbed run.  CI met the case test_hostile's random kills only sometimes hit: a worker killed while
it started cost a correct student the 2 points of the test that started it.

Each kill point is hit deterministically here: the grading script wraps the engine's own steps and
sends SIGKILL once, at that step, from the grader (outside the worker's namespace).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1]
POINTS = ("keeper", "start", "files", "load", "call", "vjp")

KILL_SCRIPT = r'''
import json, os, signal, sys
from pathlib import Path
sys.path.insert(0, "bench")
from autograder.engine import Engine, boundary, report, scheduler, zygote
from profile_grader import grading_job

target = Path(sys.argv[1])
at, kills, sessions = None, [], []

spawn = zygote.Client.spawn
def spawn_and_kill_keeper(self, spec):
    keeper, *rest = spawn(self, spec)
    if at == "keeper" and not kills:
        kills.append(at)
        os.kill(keeper, signal.SIGKILL)
    return (keeper, *rest)
zygote.Client.spawn = spawn_and_kill_keeper

status_line = boundary.WorkerHandle._status_line
def status_line_and_kill(self, timeout):
    line = status_line(self, timeout)
    if at == "start" and not kills and line.startswith("P"):
        kills.append(at)
        os.kill(int(line[1:]), signal.SIGKILL)     # before its hello: the handle is not made yet
    return line
boundary.WorkerHandle._status_line = status_line_and_kill

request = boundary.WorkerHandle.request
def request_and_kill(self, msg, timeout):
    if at == msg.get("op") and not kills:
        kills.append(at)
        os.kill(self.worker_pid, signal.SIGKILL)
    return request(self, msg, timeout)
boundary.WorkerHandle.request = request_and_kill

session_init = boundary.Session.__init__
def counted(self, *args, **kwargs):
    sessions.append(1)
    session_init(self, *args, **kwargs)
boundary.Session.__init__ = counted

with Engine(1) as engine:
    tgt, files, opts, job, client = grading_job(engine, target, timeout=20.0)
    files = job["files"] = [f for f in files if f.parent.name == "day15" and f.name == "test_basic.py"]
    shared = {}
    out = {}
    for point in [None, *sys.argv[2:]]:
        at, kills[:], sessions[:] = point, [], []
        data, problems = scheduler._grade_one(tgt.students[0], job, opts, client, files, suites=shared)
        failed = [(t["name"], t["output"][:300]) for t in data["tests"] if t["status"] != "passed"]
        out[str(point)] = {"score": data["score"], "max": data["max_score"], "failed": failed,
                           "problems": problems, "kills": list(kills), "gradings": len(sessions),
                           "results": report.results_json(data)}
    scheduler.close_suites(shared)
print(json.dumps(out))
'''


@pytest.mark.skipif(sys.platform != "linux", reason="the engine's sandbox is Linux only")
def test_a_worker_killed_from_outside_at_any_step_costs_nothing(tmp_path):
    from autograder.engine import sandbox
    if sandbox.probe() is not None:
        pytest.skip("no sandbox here: python -m autograder grade says why")
    student = tmp_path / "class" / "submitted" / "ada" / "day15"
    student.mkdir(parents=True)
    (student / "basic.py").write_text((KIT / "solutions" / "day15" / "basic.py").read_text())
    run = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "class"), *POINTS], cwd=KIT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    calm = out["None"]
    assert calm["score"] == calm["max"] > 0 and calm["gradings"] == 1, calm["failed"]
    for point in POINTS:
        seen = out[point]
        assert seen["kills"] == [point], f"the kill at {point!r} never happened: the test no longer tests it"
        assert seen["failed"] == [] and seen["problems"] == [], (point, seen["failed"], seen["problems"])
        assert seen["gradings"] == 2, f"killed at {point!r}: graded {seen['gradings']} times, expected once again"
        assert seen["results"] == calm["results"], f"killed at {point!r}: results.json differs from a calm run"
