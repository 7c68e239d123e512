"""Long-lived hosts for test suites: one ``import torch`` serves many grading runs.

``python -m autograder.engine.host [SLOTS]`` starts one engine (one zygote) and reads one
JSON request per line on stdin, ``{"target": ..., "out": ..., "options": {...}}`` (options as
for ``Engine.grade``), answering each with one JSON line: the run's summary, or
``{"error": ...}``.  It prints ``{"ready": true}`` once the zygote is up.

``python -m autograder.engine.host --cli`` runs whole commands instead: each request
``{"argv": [...], "stdout": path, "stderr": path}`` is run as ``python -m autograder ARGV``
in a fork of this process, which has imported torch and the engine and nothing else (no
engine started, nothing of the kit's secrets loaded: checked), so the command starts its own
engine in its own order exactly as a fresh process would, without paying ``import torch``
again.  Answers ``{"rc": exit status}``.  ``"import_first": [module, ...]`` imports those
modules before the command starts (tests: the engine must then refuse to start).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys

from autograder.engine import Engine, EngineError, seal


def main() -> None:
    if sys.argv[1:2] == ["--cli"]:
        serve_commands()
        return
    slots = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    out = sys.stdout
    sys.stdout = sys.stderr          # nothing else may write on the answer channel
    with Engine(slots) as engine:
        print(json.dumps({"ready": True}), file=out, flush=True)
        for line in sys.stdin:
            req = json.loads(line)
            try:
                summary = engine.grade(req["target"], req["out"], **req.get("options", {}))
                answer = dataclasses.asdict(summary)
            except EngineError as exc:
                answer = {"error": str(exc)}
            print(json.dumps(answer), file=out, flush=True)


def serve_commands() -> None:
    from autograder.engine import scheduler
    scheduler._warm_up()             # what every engine does at start: done once here, inherited
    seal.ensure_sealed()
    answers = os.dup(1)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.close(answers)
            _run_command(req)
        _, status = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        os.write(answers, (json.dumps({"rc": rc}) + "\n").encode())


def _run_command(req: dict) -> None:
    """A forked child: ``python -m autograder ARGV`` with its output in files; never returns."""
    code = 1
    try:
        for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        null = os.open(os.devnull, os.O_RDONLY)    # (not the host's request channel)
        os.dup2(null, 0)
        os.close(null)
        sys.argv = ["python -m autograder", *req["argv"]]
        for name in req.get("import_first", []):   # (tests: a command that loads this first must be refused)
            __import__(name)
        from autograder import cli
        code = cli.main(req["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
