"""A long-lived engine for test suites: one ``import torch``, one zygote, many grading runs.

``python -m autograder.engine.host [SLOTS]`` reads one JSON request per line on
stdin, ``{"target": ..., "out": ..., "options": {...}}`` (options as for
``Engine.grade``), and answers each with one JSON line: the run's summary, or
``{"error": ...}``.  It prints ``{"ready": true}`` once the zygote is up.
"""
from __future__ import annotations

import dataclasses
import json
import sys

from autograder.engine import Engine, EngineError


def main() -> None:
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


if __name__ == "__main__":
    main()
