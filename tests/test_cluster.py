"""Grading on a Dask cluster (autograder/cluster/): the CLUSTER option, and the same bytes as one machine.

The end-to-end test grades the demo class on a LocalCluster of two worker processes, kills one Dask
worker with SIGKILL while it grades a student, and compares every file with a one-machine run.
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, why", [
    ("local:0", "at least 1 worker"),
    ("local:two", "N is a whole number"),
    ("local", "not 'local'"),
    ("tcp://scheduler", "needs a host and a port"),
    ("udp://host:8786", "not 'udp://host:8786'"),
])
def test_a_wrong_cluster_is_one_clear_line(text, why, capsys):
    from autograder import cli
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["grade", "--demo", "--cluster", text])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "local:N" in err and "tcp://host:8786" in err and why in err


def test_cluster_values_and_the_environment_variable(monkeypatch):
    from autograder import cli
    assert cli.parse_args(["grade", "--demo", "--cluster", "local:3"]).cluster == ("local", 3)
    assert cli.parse_args(["grade", "--demo", "--cluster", "tcp://10.0.0.5:8786"]).cluster == "tcp://10.0.0.5:8786"
    assert cli.parse_args(["grade", "--demo"]).cluster is None
    monkeypatch.setenv("CLUSTER", "local:2")
    assert cli.parse_args(["grade", "--demo"]).cluster == ("local", 2)
    monkeypatch.setenv("CLUSTER", "local:-1")
    with pytest.raises(SystemExit):
        cli.parse_args(["grade", "--demo"])


def test_make_grade_passes_cluster_on():
    out = subprocess.run(["make", "-n", "--no-print-directory", "grade", "CLUSTER=local:2", "STAMP=Makefile"],
                         cwd=KIT, capture_output=True, text=True).stdout
    assert '--cluster "local:2"' in out


def test_what_travels_is_the_students_own_code_as_plain_json(tmp_path):
    """The task's payload: the student's code as JSON text (no pickled objects of theirs), without
    the kit's helper files; the host rebuilds the same StudentCode with its own copies of those."""
    import json

    from autograder.cluster.ta import code_from_plain, code_to_plain
    from autograder.engine import extract
    folder = tmp_path / "alice" / "day15"
    folder.mkdir(parents=True)
    (folder / "basic.py").write_text("def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):\n    return 'mine'\n")
    tgt = extract.discover(tmp_path / "alice")
    code = extract.read_student(tgt.students[0], tgt.scope, KIT)
    text = json.dumps(code_to_plain(code))
    assert "checking.py" not in text and "return 'mine'" in text
    again = code_from_plain(json.loads(text), KIT)
    assert again == code


def _files(out: Path) -> dict[str, bytes]:
    names = {"results.json", "feedback.md", ".state.json", "gradebook.csv"}
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.name in names}


@pytest.mark.slow
def test_demo_class_on_a_local_cluster_with_a_worker_killed_is_byte_identical(demo_class_graded, tmp_path):
    from autograder import demo
    # The one-machine run (CPU, 2 jobs) is the session's (tests/conftest.py): test_release reads it too.
    one = demo_class_graded["out"]
    assert demo_class_graded["run"].returncode == 0, demo_class_graded["run"].stderr[-3000:]
    submitted = demo.write_demo_class(tmp_path / "d2")

    from autograder.cluster.ta import ClusterEngine
    killed = []

    def progress(done, total, last):
        # After the first answer both workers hold a student: kill -9 one of them, mid-student.
        if done == 1 and not killed:
            busy = {w: keys for w, keys in engine.client.processing().items() if keys}
            victim = sorted(busy)[0]
            pid = engine.client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
            killed.append((victim, busy[victim]))

    engine = ClusterEngine(("local", 2))
    with engine:
        summary = engine.grade(submitted, tmp_path / "many", device="cpu", jobs=2, progress=progress)
    assert killed, "no Dask worker was grading a student when the first answer came"
    names = sorted(p.name for p in submitted.iterdir())
    assert sorted(summary.graded) == names, "each student graded (recorded) exactly once"
    assert not summary.failed and not summary.problems
    mine, theirs = _files(tmp_path / "many"), _files(one)
    assert sorted(mine) == sorted(theirs)
    different = [name for name in mine if mine[name] != theirs[name]]
    assert not different, f"not byte-identical to the one-machine run: {different}"
