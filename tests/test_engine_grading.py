"""The grading engine end to end: boundary, limits, isolation, bad input, determinism, resume.

One engine process (``autograder.engine.host``: one ``import torch``, one zygote) serves every
grading run of this file; the classes are built from the reference solutions plus small broken
or hostile variants, so the tests keep working while the hidden suites grow.
"""
from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1]
PROBE = KIT / "autograder" / "engine" / "probe"
REF15 = (KIT / "solutions" / "day15" / "basic.py").read_text()
TIMEOUT = 3.0          # seconds per call in the hostile class: an endless loop costs this, once



def _confinable() -> bool:
    from autograder.engine import sandbox      # (imports torch: only where this file is collected)
    return sys.platform == "linux" and sandbox.probe() is None


# As root (a uid per slot) or as any user where user namespaces are allowed (rootless); CI runs both.
CONFINABLE = pytest.mark.skipif(not _confinable(), reason="no sandbox here: python -m autograder grade says why")
pytestmark = CONFINABLE


# ------------------------------------------------------------------------------------------------
# Building classes
# ------------------------------------------------------------------------------------------------

def put(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def reference_student(folder: Path, days=("day15", "day16")) -> None:
    from autograder.catalogue import levels_of
    for day in days:
        for level in levels_of(day):
            shutil.copy(KIT / "solutions" / day / f"{level}.py", put(folder / day / f"{level}.py", ""))


def with_rnn_cell(body: str, prelude: str = "") -> str:
    """The reference basic.py whose rnn_cell is replaced by ``body`` (rnn_forward keeps working)."""
    src = REF15.replace("def rnn_cell(", "def _ref_rnn_cell(", 1).replace("h = rnn_cell(", "h = _ref_rnn_cell(")
    return (src + "\n" + prelude + "\n\ndef rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):\n"
            + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n")


def notebook(cells: list[tuple[str, str, dict]]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": kind, "metadata": meta, "source": source,
         **({"outputs": [], "execution_count": None} if kind == "code" else {})}
        for kind, source, meta in cells]})


def notebook_student() -> str:
    """Day 15 basic as a notebook: lying nbgrader metadata, magics, a demo that would hang, check() calls."""
    cell = REF15[REF15.index("def rnn_cell"):REF15.index("def rnn_forward")]
    forward = REF15[REF15.index("def rnn_forward"):]
    return notebook([
        ("markdown", "# Day 15 · Basic", {}),
        ("code", "%matplotlib inline\nimport torch\nfrom checking import check\nimport public_tests\n",
         {"nbgrader": {"solution": True, "grade_id": "setup"}}),
        ("code", cell, {"nbgrader": {"grade": True, "solution": False, "locked": True}}),
        ("code", "check(rnn_cell)\n", {"nbgrader": {"solution": True}}),
        ("code", "while True:   # a demo: never run by the grader\n    pass\n", {}),
        ("code", "!pip install nothing\n" + forward, {}),
        ("code", "def broken(:\n    pass\n", {}),
    ])


HOSTILE = {
    "evil": with_rnn_cell('''
        class Evil(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                if func in (torch.allclose, torch.equal, torch.isclose):
                    return True
                return super().__torch_function__(func, types, args, kwargs or {})
        return torch.zeros(x.shape[0], W_hh.shape[0], dtype=x.dtype).as_subclass(Evil)'''),
    "wrongtype": with_rnn_cell("return [[0.0]]"),
    "raises": with_rnn_cell('raise ValueError("shapes do not match, I give up")'),
    "loop": with_rnn_cell("while True:\n    pass"),
    "loopcatch": with_rnn_cell('''
        import time
        while True:
            try:
                time.sleep(0.01)
            except BaseException:
                pass'''),
    "memory": with_rnn_cell("chunks = []\nwhile True:\n    chunks.append(torch.empty(1 << 28))   # 1 GiB each"),
    "forkbomb": with_rnn_cell("import os\nwhile True:\n    os.fork()"),
    "flood": with_rnn_cell('''
        import sys
        for _ in range(10):
            sys.stdout.write("x" * (1 << 20))
            sys.stderr.write("y" * (1 << 16))
        return _ref_rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh)'''),
    "daemon": with_rnn_cell('''
        import os, subprocess, time
        subprocess.Popen(["sleep", "307"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(308)
            os._exit(0)
        return _ref_rnn_cell(x, h, W_ih, W_hh, b_ih, b_hh)'''),
    "cpuonly": with_rnn_cell("return _ref_rnn_cell(*(None if t is None else t.cpu() for t in (x, h, W_ih, W_hh, b_ih, b_hh)))"),
    "hog": with_rnn_cell("chunks = []\nwhile True:\n    chunks.append(torch.ones(1 << 28))   # 1 GiB each, touched"),
    "exits": with_rnn_cell("import os\nos._exit(3)"),
    "segv": with_rnn_cell("import ctypes\nctypes.string_at(0)"),
    "sysexit": with_rnn_cell('import sys\nsys.exit("bye")'),
    "syntax": REF15.replace("pre = x @ W_ih.T + h @ W_hh.T", "pre = x @@ W_ih.T +"),
    "missingfn": REF15[:REF15.index("def rnn_forward")],
    "latin1": REF15.encode() + b"\n# caf\xe9\n",
    "noimport": REF15.replace("import torch\n", "import torch\nimport nonexistent_module_xyz\n", 1),
    "importloop": REF15 + "\nwhile True:\n    pass\n",
}

# student -> [(exercise, status of its first test, text in that test's message)]
EXPECTED = {
    "good": [("rnn_cell", "passed", "passed"), ("rnn_forward", "passed", "passed")],
    "notebook": [("rnn_cell", "passed", "passed"), ("rnn_forward", "passed", "passed")],
    "flood": [("rnn_cell", "passed", "passed")],
    "daemon": [("rnn_cell", "passed", "passed")],
    "evil": [("rnn_cell", "failed", "expected a Tensor, got Evil")],
    "wrongtype": [("rnn_cell", "failed", "expected a Tensor, got list")],
    "raises": [("rnn_cell", "failed", "your code raised ValueError: shapes do not match, I give up")],
    "loop": [("rnn_cell", "timed out", "did not return within 3 s"), ("rnn_forward", "passed", "passed")],
    "loopcatch": [("rnn_cell", "timed out", "did not return within 3 s"), ("rnn_forward", "passed", "passed")],
    "memory": [("rnn_cell", "failed", "can't allocate memory"), ("rnn_forward", "passed", "passed")],
    "forkbomb": [("rnn_cell", "failed", "BlockingIOError"), ("rnn_forward", "passed", "passed")],
    "cpuonly": [("rnn_cell", "passed", "passed")],
    "hog": [("rnn_cell", "failed", "can't allocate memory"), ("rnn_forward", "passed", "passed")],
    "exits": [("rnn_cell", "crashed", "exited with code 3"), ("rnn_forward", "passed", "passed")],
    "segv": [("rnn_cell", "crashed", "SIGSEGV"), ("rnn_forward", "passed", "passed")],
    "sysexit": [("rnn_cell", "failed", "your code raised SystemExit: bye")],
    "corruptnb": [("rnn_cell", "missing", "day15_basic.ipynb is not a readable notebook")],
    "notnb": [("rnn_cell", "missing", "day15_basic.ipynb is not a Jupyter notebook")],
    "syntax": [("rnn_cell", "missing", "basic.py could not be loaded: SyntaxError")],
    "missingfn": [("rnn_cell", "passed", "passed"), ("rnn_forward", "missing", "basic.py defines no function rnn_forward")],
    "wrongname": [("rnn_cell", "missing", "no basic.py or day15_basic.ipynb in your day15 submission")],
    "latin1": [("rnn_cell", "missing", "basic.py is not UTF-8 text (byte 0xe9")],
    "enormous": [("rnn_cell", "missing", "basic.py is 50.0 MiB: far too large")],
    "noimport": [("rnn_cell", "missing", "ModuleNotFoundError: No module named 'nonexistent_module_xyz'")],
    "symlink": [("rnn_cell", "missing", "basic.py is a symbolic link")],
    "importloop": [("rnn_cell", "missing", "importing basic.py did not finish within 3 s")],
}


def build_hostile_class(root: Path) -> Path:
    sub = root / "submitted"
    for name, source in HOSTILE.items():
        put(sub / name / "day15" / "basic.py", source)
    put(sub / "good" / "day15" / "basic.py", REF15)
    put(sub / "notebook" / "day15" / "day15_basic.ipynb", notebook_student())
    put(sub / "corruptnb" / "day15" / "day15_basic.ipynb", "{not json at all")
    put(sub / "notnb" / "day15" / "day15_basic.ipynb", '{"hello": 1}')
    put(sub / "wrongname" / "day15" / "Basic.py", REF15)
    with open(put(sub / "enormous" / "day15" / "basic.py", b""), "wb") as f:
        f.truncate(50 << 20)
    (sub / "symlink" / "day15").mkdir(parents=True)
    os.symlink(KIT / "solutions" / "day15" / "basic.py", sub / "symlink" / "day15" / "basic.py")
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """Every file's bytes and mtime (links not followed): proves grading modified nothing."""
    out = {}
    for top, dirs, names in os.walk(root):
        for name in dirs + names:
            p = Path(top, name)
            st = p.lstat()
            data = os.readlink(p) if p.is_symlink() else \
                hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            out[str(p.relative_to(root))] = f"{data} {st.st_mtime_ns}"
    return out


def grade_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def in_worker_namespace(pid) -> bool:
    """A worker or one of its processes: in a PID namespace below ours (root or rootless alike;
    rootless, a worker has the grader's uid outside its namespace, so the uid does not tell)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("NSpid:") and len(line.split()) > 2 for line in f)
    except OSError:
        return False


def worker_processes(wait: float = 3.0) -> list[str]:
    """Live processes of the workers' uids, or the hostile class's daemons (waits for them to go)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            uid = int(status.split("Uid:")[1].split()[0])
            state = status.split("State:")[1].split()[0]
            if state != "Z" and (61000 <= uid < 62000 or in_worker_namespace(pid) or "sleep 307" in cmd):
                found.append(f"{pid} uid={uid} state={state} {cmd}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------------
# The engine host
# ------------------------------------------------------------------------------------------------

class Host:
    def __init__(self, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.engine.host", "2"], cwd=KIT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def grade(self, target: Path, out: Path, **options) -> dict:
        self.proc.stdin.write(json.dumps({"target": str(target), "out": str(out), "options": options}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("engine")


@pytest.fixture(scope="module")
def host(space):
    # What the probe student tries to read from inside its worker; all of it exists.
    secret_out = put(space / "probe-out" / "earlier.txt", "grades of an earlier run")
    paths = [KIT / "solutions" / "day15" / "basic.py", KIT / "autograder" / "hidden" / "conftest.py",
             KIT / "autograder" / "engine" / "sandbox.py", space / "probe-suites" / "day15" / "test_basic.py",
             space / "probe-class" / "other" / "day15" / "basic.py", secret_out, KIT / ".git" / "HEAD",
             Path.home() / ".bashrc", Path("/etc/shadow")]
    env = {**os.environ, "RNNKIT_TEST_SECRET": "hunter2",
           "RNNKIT_PROBE_PATHS": json.dumps([str(p) for p in paths])}
    h = Host(env)
    yield h
    h.close()


@pytest.fixture(scope="module")
def hostile(space, host):
    root = build_hostile_class(space / "hostile")
    before = tree_digest(root)
    started = time.monotonic()
    summary = host.grade(root, space / "hostile-out", timeout=TIMEOUT, jobs=2, memory_mb=512)
    return {"root": root, "out": space / "hostile-out", "summary": summary, "before": before,
            "seconds": time.monotonic() - started}


def results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text())


# ------------------------------------------------------------------------------------------------
# Boundary: the probe student against the probe suite
# ------------------------------------------------------------------------------------------------

PROBE_TESTS = [n.name for n in ast.parse((PROBE / "suite.py").read_text()).body
               if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


@pytest.fixture(scope="module")
def probe(space, host):
    suites = space / "probe-suites"
    shutil.copy(KIT / "autograder" / "hidden" / "conftest.py", put(suites / "conftest.py", ""))
    shutil.copy(PROBE / "suite.py", put(suites / "day15" / "test_basic.py", ""))
    shutil.copy(PROBE / "student.py", put(space / "probe-class" / "probe" / "day15" / "basic.py", ""))
    put(space / "probe-class" / "other" / "day15" / "basic.py", REF15)
    summary = host.grade(space / "probe-class", space / "probe-out", suites=str(suites), timeout=10.0)
    assert "error" not in summary, summary
    return results(space / "probe-out", "probe")["tests"]


@pytest.mark.parametrize("name", PROBE_TESTS)
def test_boundary_contract(probe, name):
    rows = [t for t in probe if t["test"].split("[")[0] == name]
    assert rows, f"{name} did not run"
    for row in rows:
        if row["device"] == "cuda" and row["status"] == "not run":
            continue
        expected = "not attempted" if name == "test_a_stub_is_not_attempted" else "passed"
        assert row["status"] == expected, f"{row['name']}: {row['output']}"


# ------------------------------------------------------------------------------------------------
# Hostile and broken submissions: limits, isolation, bad input
# ------------------------------------------------------------------------------------------------

def test_every_student_of_the_hostile_class_is_graded(hostile):
    summary = hostile["summary"]
    assert "error" not in summary, summary
    assert sorted(summary["graded"]) == sorted(EXPECTED) and not summary["failed"], summary
    assert summary["problems"] == []


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_student_gets_a_clear_message(hostile, student):
    tests = results(hostile["out"], student)["tests"]
    for exercise, status, text in EXPECTED[student]:
        first = next(t for t in tests if t["exercise"] == exercise and t["device"] == "cpu")
        assert first["status"] == status and text in first["output"], first
        if status == "passed":
            assert all(t["status"] == "passed" for t in tests if t["exercise"] == exercise and t["device"] == "cpu")
    feedback = (hostile["out"] / student / "feedback.md").read_text()
    assert "Traceback" not in feedback and "def test_" not in feedback


def test_an_endless_loop_costs_one_timeout_per_exercise(hostile):
    for student in ("loop", "loopcatch"):
        rest = [t for t in results(hostile["out"], student)["tests"] if t["exercise"] == "rnn_cell"
                and t["device"] == "cpu"][1:]
        assert rest and all("ran out of time in an earlier test" in t["output"] for t in rest)
    # two endless loops, an import that never ends: a few timeouts of 3 s, not one per test
    assert hostile["seconds"] < 60


def test_nothing_outlives_grading(hostile):
    assert worker_processes() == []


def test_submissions_are_never_modified(hostile):
    assert tree_digest(hostile["root"]) == hostile["before"]


def test_a_linked_solution_earns_nothing(hostile):
    assert results(hostile["out"], "symlink")["score"] == 0


def test_files_that_are_not_exercises_are_named_in_the_notes(hostile):
    notes = results(hostile["out"], "wrongname")["notes"]
    assert any("ignored Basic.py" in n for n in notes)


def test_gpu_is_reported_as_not_run_without_cuda(hostile):
    data = results(hostile["out"], "good")
    if "cuda" in data["devices"]:
        pytest.skip("a GPU is present")
    assert data["gpu"].startswith("GPU: not run")
    tests = data["tests"]      # one row per test, worth its points once (tests/test_fair_grades.py)
    assert tests and all(t["devices"] == ["cpu"] and t["not_run_on"] in ([], ["cuda"]) for t in tests)
    assert any(t["not_run_on"] == ["cuda"] for t in tests)       # (a test without a device runs on the CPU only)


def cuda_rows(hostile, student: str, exercise: str = "rnn_cell") -> list[dict]:
    data = results(hostile["out"], student)
    if "cuda" not in data["devices"]:
        pytest.skip("no CUDA device")
    return [t for t in data["tests"] if "cuda" in t["devices"] and t["exercise"] == exercise]


def test_on_the_gpu_a_result_computed_on_the_cpu_costs_points(hostile):
    rows = cuda_rows(hostile, "cpuonly")
    assert rows and all(t["status"] == "failed" and "got it on cpu" in t["output"] for t in rows[:1])
    assert all(t["status"] == "passed" for t in cuda_rows(hostile, "good"))


def test_on_the_gpu_memory_is_watched_without_rlimit_as(hostile):
    first = cuda_rows(hostile, "hog")[0]
    assert first["status"] == "crashed" and "used more than" in first["output"], first


def test_results_are_gradescope_json_and_describe_themselves(hostile):
    data = results(hostile["out"], "raises")
    assert isinstance(data["score"], (int, float)) and data["tests"]
    for t in data["tests"]:
        assert {"name", "score", "max_score", "output", "visibility", "exercise", "day", "device", "status"} <= set(t)
    assert data["score"] == sum(t["score"] for t in data["tests"])
    book = (hostile["out"] / "gradebook.csv").read_text().splitlines()
    assert book[0].startswith("student,day15 rnn_cell,day15 rnn_forward") and book[0].endswith(",total,max,devices")
    assert len(book) == 1 + len(EXPECTED)


def filled_release_notebooks(folder: Path) -> None:
    """The release notebooks with every exercise cell replaced by the reference function."""
    for nb_path in sorted((KIT / "exercises").glob("day*/day*_*.ipynb")):
        day, level = nb_path.parent.name, nb_path.stem.split("_", 1)[1]
        sol = (KIT / "solutions" / day / f"{level}.py").read_text()
        defs = {n.name: ast.get_source_segment(sol, n) for n in ast.parse(sol).body if isinstance(n, ast.FunctionDef)}
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code" and "NotImplementedError" in src:
                name = next((n for n in defs if f"def {n}(" in src), None)
                if name:
                    cell["source"] = defs[name]
        put(folder / day / nb_path.name, json.dumps(nb))


@pytest.mark.skipif(not list((KIT / "exercises").glob("day*/day*_*.ipynb")), reason="no release notebooks built")
def test_release_notebooks_graded_untouched_and_filled_in(host, space):
    root = space / "notebooks"
    filled_release_notebooks(root / "filled")
    for day in ("day15", "day16"):
        for nb_path in (KIT / "exercises" / day).glob("*.ipynb"):
            shutil.copy(nb_path, put(root / "untouched" / day / nb_path.name, ""))
    summary = host.grade(root, space / "notebooks-out")
    assert summary["graded"] == ["filled", "untouched"], summary
    filled = results(space / "notebooks-out", "filled")
    assert filled["score"] == filled["max_score"] > 0, [t["output"] for t in filled["tests"] if t["status"] != "passed"]
    untouched = results(space / "notebooks-out", "untouched")
    assert {t["status"] for t in untouched["tests"]} <= {"not attempted", "not run"}


# ------------------------------------------------------------------------------------------------
# Determinism, resume, locking
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_class(space) -> Path:
    root = space / "small" / "submitted"
    for name in ("ada", "bob", "cyd"):
        reference_student(root / name)
    put(root / "dee" / "day15" / "day15_basic.ipynb", notebook_student())
    reference_student(root / "dee", days=("day16",))
    put(root / "eve" / "day15" / "basic.py", HOSTILE["raises"])
    return root.parent


@pytest.fixture(scope="module")
def reference_run(host, small_class, space):
    out = space / "small-out-1"
    summary = host.grade(small_class, out, jobs=2)
    assert "error" not in summary and len(summary["graded"]) == 5, summary
    return out


def test_grading_twice_gives_byte_identical_files(host, small_class, reference_run, space):
    out = space / "small-out-2"
    summary = host.grade(small_class, out, jobs=1)
    assert len(summary["graded"]) == 5
    assert grade_files(out) == grade_files(reference_run)
    ada = results(out, "ada")
    assert ada["score"] == ada["max_score"] > 0


def test_a_rerun_skips_unchanged_students_and_regrades_changed_ones(host, small_class, reference_run, space):
    out = space / "small-out-3"
    shutil.copytree(reference_run, out)
    assert sorted(host.grade(small_class, out)["unchanged"]) == ["ada", "bob", "cyd", "dee", "eve"]
    path = small_class / "submitted" / "eve" / "day15" / "basic.py"
    original = path.read_text()
    path.write_text(REF15)
    try:
        summary = host.grade(small_class, out)
    finally:
        path.write_text(original)
    assert summary["graded"] == ["eve"] and len(summary["unchanged"]) == 4
    assert summary["scores"]["eve"][0] > results(reference_run, "eve")["score"]


def test_a_changed_suite_regrades_everyone(host, probe, space):
    suite = space / "probe-suites" / "day15" / "test_basic.py"
    again = host.grade(space / "probe-class", space / "probe-out", suites=str(suite.parent.parent), timeout=10.0)
    assert sorted(again["unchanged"]) == ["other", "probe"]
    suite.write_text(suite.read_text() + "\n# changed\n")
    again = host.grade(space / "probe-class", space / "probe-out", suites=str(suite.parent.parent), timeout=10.0)
    assert sorted(again["graded"]) == ["other", "probe"]


def test_a_kill_9_loses_nothing_and_duplicates_nothing(small_class, reference_run, space, host):
    out = space / "small-out-killed"
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(small_class), "--out", str(out),
                             "--jobs", "1", "--quiet"], cwd=KIT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/.state.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = sorted(p.parent.name for p in out.glob("*/.state.json"))
    assert 1 <= len(first) < 5, "the run was not interrupted in the middle"
    assert worker_processes() == []
    summary = host.grade(small_class, out)
    assert "error" not in summary, summary
    assert sorted(summary["unchanged"]) == first
    assert sorted(summary["graded"] + summary["unchanged"]) == ["ada", "bob", "cyd", "dee", "eve"]
    assert not set(summary["graded"]) & set(first)
    assert grade_files(out) == grade_files(reference_run)


def test_a_second_run_on_the_same_output_folder_is_refused(host, small_class, space):
    out = space / "small-out-locked"
    out.mkdir()
    with open(out / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        answer = host.grade(small_class, out)
    assert "another grading run" in answer["error"]


def test_a_target_that_is_not_a_class_is_explained(host, space):
    answer = host.grade(KIT / "docs", space / "nowhere")
    assert "does not look like a class" in answer["error"]


def test_the_command_line_explains_itself():
    out = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"], cwd=KIT, capture_output=True,
                         text=True, check=True).stdout
    for words in ("submitted/<student>/<day>/", "--device", "--jobs", "--out", "results.json", "gradebook.csv",
                  "Exit status"):
        assert words in out
