"""Expensive setups that several test modules read, built once per session.

Each one is read-only for the tests that use it: a test that must change it copies it first.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_class_graded(tmp_path_factory):
    """The bundled demo class graded once on this machine (``python -m autograder grade --demo``, CPU, 2 jobs).

    test_release's agreement check and test_cluster's byte-identity check each graded the same class
    with the same options (30 s to a minute on 2 cores, each): now they share this run. Returns the
    finished process (each test asserts its exit status itself, after its own skips) and the folders.
    """
    base = tmp_path_factory.mktemp("demo_graded")
    out, demo_root = base / "grades", base / "demo"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", "--demo", "--demo-root", str(demo_root),
                          "--out", str(out), "--device", "cpu", "--jobs", "2", "--quiet"], cwd=KIT,
                         capture_output=True, text=True, timeout=3600)
    return {"run": run, "out": out, "demo_root": demo_root}


class AutograderCommands:
    """``python -m autograder ARGV``, each a fork of one ``python -m autograder.engine.host --cli``.

    The host has imported torch and the engine and nothing else (its docstring; test_spy proves a fork
    sees what a fresh process sees), so each command starts its own engine exactly as a new process
    would, without paying ``import torch`` (~5 s) again. The commands run in the kit's folder, with the
    session's environment: a test that needs another folder or other variables starts its own process.
    """

    def __init__(self):
        self.logs = Path(tempfile.mkdtemp(prefix="rnnkit-cli-logs-"))
        self.proc = None

    def _start(self) -> None:
        # A session of its own: a command that runs past its timeout is killed with the host (killpg).
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.engine.host", "--cli"], cwd=KIT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)

    def run(self, argv: list, timeout: float = 1800) -> subprocess.CompletedProcess:
        """``subprocess.run([python, "-m", "autograder", *argv], cwd=KIT, capture_output=True, text=True,
        timeout=timeout)``, in a fork of the host."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        argv = [str(a) for a in argv]
        out, err = self.logs / "stdout", self.logs / "stderr"
        self.proc.stdin.write(json.dumps({"argv": argv, "stdout": str(out), "stderr": str(err)}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)   # (one request at a time: one line)
        if not ready:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise subprocess.TimeoutExpired(["python", "-m", "autograder", *argv], timeout)
        line = self.proc.stdout.readline()
        assert line, f"the autograder command host died: {err.read_text()[-3000:] if err.exists() else ''}"
        return subprocess.CompletedProcess(["python", "-m", "autograder", *argv], json.loads(line)["rc"],
                                           out.read_text(), err.read_text())

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        shutil.rmtree(self.logs, ignore_errors=True)


@pytest.fixture(scope="session")
def autograder_cli():
    """One host for the session's ``python -m autograder`` commands (AutograderCommands)."""
    commands = AutograderCommands()
    yield commands
    commands.close()
