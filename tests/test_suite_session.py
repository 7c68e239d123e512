"""runner.SuiteSession: pytest configured and the hidden suites collected once per grader, run per student.

The first tests drive a SuiteSession over small suites written here, with a stand-in for the
boundary Session (no engine, no worker): what must hold between two students of one session
(fixtures of every scope torn down, the submission plugin answering for the student being
graded, collection errors told to each, the grader's stdin left alone).  The last one grades two
students of the demo class with the real engine, in one session in both orders, and compares
each student's results.json with grading that student alone.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1]

CONFTEST = '''
import os
import pytest

def pytest_addoption(parser):
    parser.addoption("--device", default="cpu")

def _log(event):
    with open(os.environ["SUITE_SESSION_EVENTS"], "a") as f:
        f.write(event + "\\n")

@pytest.fixture(scope="session")
def session_state():
    _log("session setup")
    yield {}
    _log("session teardown")

@pytest.fixture(scope="module")
def module_state():
    _log("module setup")
    yield []
    _log("module teardown")

@pytest.fixture
def student(request):
    return request.config.pluginmanager.get_plugin("rnnkit_submission").session.tag

@pytest.fixture
def broken_for_bo(student):
    if student == "bo":
        raise RuntimeError("broken for bo")
'''

SUITE = '''
import pytest

@pytest.mark.grade("rnn_cell", points=1)
def test_first(session_state, module_state, student):
    # Wider-scoped fixtures start empty for every student: what one student left there is gone.
    assert session_state == {} and module_state == []
    session_state[student] = module_state
    module_state.append(student)

@pytest.mark.grade("rnn_cell", points=1)
def test_second(module_state, student):
    assert module_state == [student]

@pytest.mark.grade("rnn_forward", points=1)
def test_only_ada_passes(student):
    assert student == "ada", "not ada"

@pytest.mark.grade("rnn_forward", points=1)
def test_a_fixture_breaks_for_bo(broken_for_bo):
    pass
'''


class FakeSession:
    """What GradingPlugin asks of a boundary Session, without a worker; ``tag`` names the student."""

    def __init__(self, tag: str):
        self.tag = tag
        self.recorded: list = []

    def begin_test(self, device: str) -> None:
        self.recorded = []

    @contextlib.contextmanager
    def work_limit(self, seconds=None):
        yield


@pytest.fixture
def suites(tmp_path, monkeypatch):
    root = tmp_path / "hidden"
    (root / "day15").mkdir(parents=True)
    (root / "conftest.py").write_text(CONFTEST)
    (root / "day15" / "test_basic.py").write_text(SUITE)
    monkeypatch.setenv("SUITE_SESSION_EVENTS", str(tmp_path / "events.txt"))
    monkeypatch.chdir(KIT)
    yield root
    for name, module in list(sys.modules.items()):     # (pytest keeps imported suites: a module per test here)
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def _events(suites: Path) -> list[str]:
    path = Path(os.environ["SUITE_SESSION_EVENTS"])
    events = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return events


def _outcome(plugin) -> tuple:
    return [(r.test, r.status, r.message) for r in plugin.rows], plugin.errors


def test_every_student_gets_fresh_fixtures_of_every_scope(suites):
    from autograder.engine import runner
    files = [suites / "day15" / "test_basic.py"]
    with runner.SuiteSession(files, KIT, suites, "cpu") as suite:
        assert _events(suites) == []               # (collection sets nothing up)
        for tag in ("ada", "bo", "ada"):
            plugin = suite.run(FakeSession(tag))
            # every fixture, session-scoped too, is torn down before the next student
            assert _events(suites) == ["session setup", "module setup", "module teardown", "session teardown"]
            statuses = {r.test: r.status for r in plugin.rows}
            assert statuses == {"test_first": "passed", "test_second": "passed",
                                "test_only_ada_passes": "passed" if tag == "ada" else "failed",
                                "test_a_fixture_breaks_for_bo": "passed" if tag == "ada" else "error"}, plugin.rows
            # a grader error is the student's own: told to bo, not to the next student
            assert len(plugin.errors) == (tag == "bo") and all("broken for bo" in e for e in plugin.errors)


def test_a_run_is_what_a_pytest_run_of_its_own_gives(suites):
    from autograder.engine import runner
    files = [suites / "day15" / "test_basic.py"]
    alone = {tag: _outcome(runner.run_suites(FakeSession(tag), files, KIT, suites, "cpu")) for tag in ("ada", "bo")}
    with runner.SuiteSession(files, KIT, suites, "cpu") as suite:
        first = suite.run(FakeSession("bo"))
        second = suite.run(FakeSession("ada"))
        # one student's result is not touched by the next student's run
        assert (_outcome(first), _outcome(second)) == (alone["bo"], alone["ada"])


def test_collection_errors_are_told_to_every_student(suites):
    """As pytest.main does for the first student of a process: nothing runs, the error is said.  (A
    pytest.main per student told only the first: pytest keeps the half-imported module in sys.modules,
    and the next collection found it there, empty.)"""
    from autograder.engine import runner
    (suites / "day15" / "test_intermediate.py").write_text("def broken(:\n")
    files = [suites / "day15" / "test_basic.py", suites / "day15" / "test_intermediate.py"]
    with runner.SuiteSession(files, KIT, suites, "cpu") as suite:
        for tag in ("ada", "bo"):
            rows, errors = _outcome(suite.run(FakeSession(tag)))
            assert rows == [] and len(errors) == 1, (rows, errors)
            assert errors[0].startswith("could not collect") and "SyntaxError" in errors[0]


def test_an_empty_selection_is_told_to_every_student(suites):
    from autograder.engine import runner
    files = [suites / "day15" / "test_basic.py"]
    with runner.SuiteSession(files, KIT, suites, "cpu", exercises=[("day15", "lstm_cell")]) as suite:
        for tag in ("ada", "bo"):
            assert _outcome(suite.run(FakeSession(tag))) == ([], ["pytest stopped with exit code 5"])


def test_the_graders_stdin_is_its_own_between_students(suites):
    """cluster/host.py reads its requests on stdin between students: pytest's capture must not keep it."""
    from autograder.engine import runner
    files = [suites / "day15" / "test_basic.py"]
    before = os.readlink("/proc/self/fd/0"), sys.stdin
    with runner.SuiteSession(files, KIT, suites, "cpu") as suite:
        assert (os.readlink("/proc/self/fd/0"), sys.stdin) == before
        suite.run(FakeSession("ada"))
        assert (os.readlink("/proc/self/fd/0"), sys.stdin) == before


LEAN_SUITE = '''
import sys
import warnings
import pytest

@pytest.mark.grade("rnn_cell", points=1)
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skip(reason="GPU: not run"))])
def test_skipped_by_a_mark(device, student):
    pass

@pytest.mark.grade("rnn_cell", points=1)
def test_prints_and_warns(student):
    print("a hidden test printing", student)
    print("on stderr too", file=sys.stderr)
    warnings.warn("a warning from a hidden test")
    assert student == "ada", "not ada"

@pytest.mark.grade("rnn_forward", points=1)
def test_raises_skip_itself(student):
    pytest.skip("skipped from inside")
'''


@pytest.mark.parametrize("protocol", ["lean", "pytest"])
def test_the_lean_protocol_grades_as_pytests_own(suites, monkeypatch, capfd, protocol):
    """SuiteSession runs each test without pytest's per-phase hooks (runner.py, "the lean run protocol"):
    the same rows and errors as pytest's own protocol (RNNKIT_PYTEST_PROTOCOL=1), skip marks honoured,
    a hidden test's output captured and its warnings ignored, fixtures torn down the same way."""
    from autograder.engine import runner
    (suites / "day15" / "test_advanced.py").write_text(LEAN_SUITE)
    files = [suites / "day15" / "test_basic.py", suites / "day15" / "test_advanced.py"]
    monkeypatch.setenv("RNNKIT_PYTEST_PROTOCOL", "1")
    with runner.SuiteSession(files, KIT, suites, "cpu") as suite:
        expected = {tag: _outcome(suite.run(FakeSession(tag))) for tag in ("ada", "bo")}
        assert suite._lean() is False
    events = _events(suites)
    capfd.readouterr()
    if protocol == "lean":
        monkeypatch.delenv("RNNKIT_PYTEST_PROTOCOL")
    with runner.SuiteSession(files, KIT, suites, "cpu") as suite:
        assert suite._lean() is (protocol == "lean")
        for tag in ("ada", "bo"):
            last = suite.run(FakeSession(tag))
            assert _outcome(last) == expected[tag]
    assert _events(suites) == events
    out, err = capfd.readouterr()
    assert "hidden test" not in out + err and "on stderr" not in out + err
    rows = {r.test: r for r in last.rows}
    assert (rows["test_skipped_by_a_mark"].status, rows["test_skipped_by_a_mark"].not_run_on) == ("passed", ["cuda"])
    assert rows["test_raises_skip_itself"].status == "not run" and rows["test_prints_and_warns"].status == "failed"


def test_a_suite_with_xfail_runs_through_pytests_protocol(suites):
    from autograder.engine import runner
    (suites / "day15" / "test_advanced.py").write_text(
        "import pytest\n\n@pytest.mark.grade('rnn_cell')\n@pytest.mark.xfail\ndef test_x():\n    assert False\n")
    with runner.SuiteSession([suites / "day15" / "test_advanced.py"], KIT, suites, "cpu") as suite:
        assert suite._lean() is False


# ------------------------------------------------------------------------------------------------
# The real engine: two students of the demo class in one suite session, both orders
# ------------------------------------------------------------------------------------------------

GRADE_SCRIPT = r'''
import json, sys
from pathlib import Path
sys.path.insert(0, "bench")
from autograder.engine import Engine, report, scheduler
from profile_grader import grading_job

target, names = Path(sys.argv[1]), sys.argv[2:]
with Engine(1) as engine:
    tgt, files, opts, job, client = grading_job(engine, target)
    by_name = {ref.name: ref for ref in tgt.students}

    def grade(name, shared):
        data, problems = scheduler._grade_one(by_name[name], job, opts, client, files, suites=shared)
        return [report.results_json(data), problems]

    out = {"alone": {name: grade(name, None) for name in names}, "shared": []}
    for order in (names, names[::-1]):
        shared = {}
        out["shared"].append([[name, *grade(name, shared)] for name in order])
        assert len(shared) == 1
        scheduler.close_suites(shared)
print(json.dumps(out))
'''


@pytest.mark.skipif(sys.platform != "linux", reason="the engine's sandbox is Linux only")
def test_two_students_in_one_session_are_graded_as_alone(tmp_path):
    from autograder.engine import sandbox
    if sandbox.probe() is not None:
        pytest.skip("no sandbox here: python -m autograder grade says why")
    subprocess.run([sys.executable, "-m", "autograder.demo", str(tmp_path)], cwd=KIT, check=True,
                   capture_output=True)
    # Two students who fail different tests (with a known mistake each): a row, a message or a
    # fingerprint kept from the first would show in the second's results.json.
    names = ["eve_gate_order", "gil_no_zero_grad"]
    run = subprocess.run([sys.executable, "-c", GRADE_SCRIPT, str(tmp_path / "submitted"), *names], cwd=KIT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    alone = out["alone"]
    assert alone[names[0]][0] != alone[names[1]][0]
    assert all(json.loads(text)["score"] < json.loads(text)["max_score"] for text, _ in alone.values())
    for order in out["shared"]:
        for name, text, problems in order:
            assert text == alone[name][0], f"{name} graded after another student differs from {name} alone"
            assert problems == alone[name][1]
