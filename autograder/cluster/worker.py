"""What runs in a Dask worker: a plugin that keeps one grading host, and the task that asks it.

No torch and no student code here: the task hands one student's JSON to the host
(``autograder.cluster.host``) over a pipe and returns the host's JSON answer.  The host is a
child of this worker and dies with it (``PR_SET_PDEATHSIG``, and end of file on its input), so a
``kill -9`` of the worker takes the host, its zygote and its sandboxed workers down too; Dask then
runs the task again on another worker.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zlib

from distributed import WorkerPlugin, get_worker

PLUGIN = "rnnkit-engine"
KIT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _slot(name) -> int:
    """The host's grader slot (its workers' uid is 61000 + slot): LocalCluster names its workers 0, 1, ...;
    another name gets a stable slot of its own (hosts on different machines may share one harmlessly)."""
    try:
        return int(name) % 4000
    except (TypeError, ValueError):
        return zlib.crc32(str(name).encode()) % 4000


class EnginePlugin(WorkerPlugin):
    """One grading host per Dask worker, started when the worker starts (also a worker the nanny restarts)."""

    name = PLUGIN

    def __init__(self, sandbox_ok: bool = True):
        self.sandbox_ok = sandbox_ok
        self.host: subprocess.Popen | None = None
        self.hello: dict | None = None
        self.lock = threading.Lock()
        self.slot = 0

    def __getstate__(self):
        return {"sandbox_ok": self.sandbox_ok}

    def __setstate__(self, state):
        self.__init__(state["sandbox_ok"])

    def setup(self, worker) -> None:
        self.slot = _slot(worker.name)
        self._start()       # (not waited for: the first task waits until the host's engine is up)

    def teardown(self, worker) -> None:
        self._stop()

    def _start(self) -> None:
        argv = [sys.executable, "-m", "autograder.cluster.host", "--slot", str(self.slot)]
        if not self.sandbox_ok:
            argv.append("--unsafe-no-sandbox")
        self.host = subprocess.Popen(argv, cwd=KIT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": KIT}, close_fds=True)
        self.hello = None

    def _stop(self) -> None:
        if self.host is not None:
            try:
                self.host.kill()
                self.host.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.host = None

    def _line(self) -> dict:
        line = self.host.stdout.readline()
        if not line:
            code = self.host.poll()
            self._stop()
            raise RuntimeError(f"the grading host of this Dask worker died (exit status {code})")
        return json.loads(line)

    def ask(self, request: str) -> str:
        """Send one request line, return the answer line (one request at a time per host)."""
        with self.lock:
            if self.host is None or self.host.poll() is not None:
                self._start()
            if self.hello is None:
                self.hello = self._line()           # {"ready": ..., "cuda": ...} or {"error": ...}
                if "error" in self.hello:
                    return json.dumps(self.hello)
            if request == "hello":
                return json.dumps(self.hello)
            self.host.stdin.write(request + "\n")
            self.host.stdin.flush()
            return json.dumps(self._line())


def grade_remote(request: str) -> str:
    """The Dask task: one whole student (JSON in, JSON out)."""
    return get_worker().plugins[PLUGIN].ask(request)


def hello(_worker_address: str) -> str:
    """The host's start answer: its engine is up (``cuda``: [available, device name]) or why not."""
    return get_worker().plugins[PLUGIN].ask("hello")
