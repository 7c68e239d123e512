"""The worker holds nothing of the class: a spy graded through every path of the CLI finds nothing.

A worker is a fork of the zygote, itself a fork of the CLI's engine process, so the worker's memory
is what the CLI process held when the engine started.  The spy (``autograder/engine/probe/spy.py``)
scans its worker (every readable byte of memory, the frames up the stack, gc, sys.modules, open
descriptors, the environment, files) for a classmate's canary, lines of the solutions, lines of the
hidden suites and a canary in the grader's environment, checks that no tensor reached it but its
calls' arguments, and reports in its feedback.  Each path of ``python -m autograder grade`` is run as
a fresh command, forked from one ``python -m autograder.engine.host --cli`` (torch imported once).
"""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

import test_engine_grading as eg   # noqa: E402 - building classes (tests/ is on sys.path)
from autograder.engine import disclosure

KIT, REF15, put = eg.KIT, eg.REF15, eg.put
SPY = KIT / "autograder" / "engine" / "probe" / "spy.py"
TOKEN = secrets.token_hex(6)
CANARY = {"classmate": f"rnnkit-spy-classmate-{TOKEN}", "env": f"rnnkit-spy-env-{TOKEN}",
          "control": f"rnnkit-spy-control-{TOKEN}", "source": f"rnnkit-spy-source-{TOKEN}"}

needs_engine = eg.pytestmark     # (Linux, and what the sandbox needs)


# ------------------------------------------------------------------------------------------------
# What the spy looks for
# ------------------------------------------------------------------------------------------------

def _public_text() -> str:
    """Text a worker may legitimately hold: what students get, and the engine's own code."""
    files = [*(KIT / "exercises").rglob("*.py"), *(KIT / "exercises").rglob("*.ipynb"),
             *(KIT / "autograder" / "engine").rglob("*.py"), *(KIT / "autograder").glob("*.py")]
    return "\n".join(f.read_text(errors="replace") for f in files if f.name != "demo.py")


def distinctive_lines(files: list[Path], public: str, per_file: int = 2, solution_only: bool = False) -> list[str]:
    """Long lines of ``files`` (inside the solution regions when ``solution_only``) found in no public file."""
    chosen = []
    for f in files:
        text = f.read_text()
        if solution_only:
            text = "\n".join(re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", text, flags=re.S))
        lines = sorted({ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 30
                        and not ln.strip().startswith("#") and ln.strip() not in public}, key=len, reverse=True)
        chosen += lines[:per_file]
    return chosen


def needles() -> dict[str, list[str]]:
    public = _public_text()
    sol = distinctive_lines(sorted((KIT / "solutions").glob("day1[56]/*.py")), public, solution_only=True)
    hid = distinctive_lines(sorted((KIT / "autograder" / "hidden").glob("day1[56]/test_*.py")), public)
    assert len(sol) >= 6 and len(hid) >= 6, (sol, hid)
    return {"classmate": [CANARY["classmate"]], "env": [CANARY["env"]], "control": [CANARY["control"]],
            "solution": sol + [CANARY["source"]], "hidden": hid}


def spy_source(paths: dict[str, list[str]]) -> str:
    hexed = {kind: [w.encode()[::-1].hex() for w in words] for kind, words in needles().items()}
    src = SPY.read_text()
    src = src.replace("\nNEEDLES = {}", f"\nNEEDLES = {hexed!r}", 1).replace("\nPATHS = {}", f"\nPATHS = {paths!r}", 1)
    assert "NEEDLES = {}" not in src and "PATHS = {}" not in src
    for words in needles().values():
        for w in words:
            assert w not in src, w
    return src


# ------------------------------------------------------------------------------------------------
# The class in every form the CLI takes
# ------------------------------------------------------------------------------------------------

def _outside_tmp() -> Path:
    """Outside /tmp (every worker gets its own empty /tmp anyway): hiding the class is the engine's job."""
    for parent in ("/opt", "/var/lib", "/work"):
        try:
            base = Path(tempfile.mkdtemp(prefix="rnnkit-spy-", dir=parent))
            break
        except OSError:
            continue
    else:
        base = Path(tempfile.mkdtemp(prefix="rnnkit-spy-"))
    base.chmod(0o755)
    return base


def _zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


# path -> (group, the CLI's arguments given the world folder, the spy's student name in the grades)
PATHS = {
    "nbgrader-class": ("course", lambda b: [b / "course" / "submitted"], "spy"),
    "nbgrader-course": ("course", lambda b: [b / "course"], "spy"),
    "student-folder": ("course", lambda b: [b / "course" / "submitted" / "spy"], "spy"),
    "day-folder": ("course", lambda b: [b / "course" / "submitted" / "spy" / "day15"], "spy"),
    "one-file": ("course", lambda b: [b / "course" / "submitted" / "spy" / "day15" / "basic.py"], "spy"),
    "lms-zip": ("lms", lambda b: [b / "lms" / "canvas.zip"], "spy_sam_1001"),
    "archives-folder": ("uploads", lambda b: [b / "uploads"], "spy"),
    "demo-class": ("demo", lambda b: ["--demo", "--demo-root", b / "demo", "--demo-student", b / "spystudent" / "spy"],
                   "spy"),
}


@pytest.fixture(scope="module")
def world():
    """The class as an nbgrader course, a Canvas download, a folder of archives and the demo class, each
    with the spy and a classmate; the spy of each knows the files of its class that it must not read."""
    base = _outside_tmp()
    classmate = REF15 + f'\n# {CANARY["classmate"]}\nNOTE = "{CANARY["classmate"]}"\n'
    course, canvas, uploads = base / "course", base / "lms" / "canvas.zip", base / "uploads"
    everywhere = {"solution": [str(KIT / "solutions" / "day15" / "basic.py")],
                  "hidden": [str(KIT / "autograder" / "hidden" / "day15" / "test_basic.py")]}
    classmates = {
        "course": [course / "submitted" / "zz_classmate" / "day15" / "basic.py",
                   course / "source" / "day15" / "basic.py"],
        "lms": [canvas], "uploads": [uploads / "zz-classmate_day15.zip"],
        "demo": [base / "demo" / "submitted" / "ada_perfect" / "day15" / "basic.py"],
    }
    spies = {}
    for group in classmates:
        outs = [base / f"out-{p}" for p, (g, _, _) in PATHS.items() if g == group]
        paths = {**everywhere, "classmate": [str(p) for p in classmates[group]]
                 + [str(o / ".staging") for o in outs], "grades": [str(o / "earlier" / "results.json") for o in outs]}
        spies[group] = spy_source(paths)
    put(course / "submitted" / "spy" / "day15" / "basic.py", spies["course"])
    put(course / "submitted" / "zz_classmate" / "day15" / "basic.py", classmate)
    put(course / "source" / "day15" / "basic.py", REF15 + f"\n# {CANARY['source']}\n")
    put(course / "nbgrader_config.py", "c = get_config()\nc.CourseDirectory.course_id = 'rnnkit-spy'\n")
    put(canvas, _zip({"spy_sam_1001_2001_spy_day15.zip": _zip({"day15/basic.py": spies["lms"]}),
                      "zz_kim_1002_2002_zz_day15.zip": _zip({"day15/basic.py": classmate})}))
    put(uploads / "spy_day15.zip", _zip({"day15/basic.py": spies["uploads"]}))
    put(uploads / "zz-classmate_day15.zip", _zip({"day15/basic.py": classmate}))
    put(base / "spystudent" / "spy" / "day15" / "basic.py", spies["demo"])
    yield base
    shutil.rmtree(base, ignore_errors=True)


class Commands:
    """``python -m autograder ARGV`` as fresh processes, forked from one host that imported torch once."""

    def __init__(self):
        env = {**os.environ, "RNNKIT_SPY_SECRET": CANARY["env"]}
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.engine.host", "--cli"], cwd=KIT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.logs = Path(tempfile.mkdtemp(prefix="rnnkit-spy-logs-"))

    def run(self, argv: list[str], import_first: tuple = ()) -> tuple[int, str, str]:
        out, err = self.logs / "stdout", self.logs / "stderr"
        self.proc.stdin.write(json.dumps({"argv": argv, "stdout": str(out), "stderr": str(err),
                                          "import_first": list(import_first)}) + "\n")
        self.proc.stdin.flush()
        rc = json.loads(self.proc.stdout.readline())["rc"]
        return rc, out.read_text(), err.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        shutil.rmtree(self.logs, ignore_errors=True)


@pytest.fixture(scope="module")
def commands():
    c = Commands()
    yield c
    c.close()


@needs_engine
@pytest.mark.parametrize("path", list(PATHS))
def test_the_spy_finds_nothing(world, commands, path):
    _, args, student = PATHS[path]
    out = world / f"out-{path}"
    earlier = put(out / "earlier" / "results.json", "{}")       # an earlier run's grades, in this run's output
    rc, stdout, stderr = commands.run(["grade", *map(str, args(world)), "--out", str(out), "--device", "cpu",
                                       "--jobs", "2", "--timeout", "20", "--quiet"])
    earlier.unlink()      # (the next run's spy must not find it readable outside that run's output)
    assert rc == 0, stderr[-3000:]
    rows = [t for t in json.loads((out / student / "results.json").read_text())["tests"]
            if t["exercise"] in ("rnn_cell", "rnn_forward")]
    assert len(rows) >= 10, rows
    for row in rows:
        report = row["output"].split("SPY ", 1)[-1]
        # (a test that tries several cases names the case first: "rnn_cell with B=1 ...: your code raised ...")
        assert "your code raised ValueError: SPY control=" in row["output"], row["output"]
        control, hits = re.fullmatch(r"control=(\S+) hits=(.*)", report.splitlines()[0].strip()).groups()
        assert control == "frames+gc+memory", f"a scan did not see the control needle: {report}"
        assert hits == "none", f"{path}: the spy found {hits} in {row['test']}"


@needs_engine
def test_a_command_that_loads_the_class_first_cannot_start_the_engine(world, commands):
    for module in ("autograder.archives", "autograder.demo"):
        rc, stdout, stderr = commands.run(["grade", str(world / "lms" / "canvas.zip"), "--out", str(world / "refused"),
                                           "--device", "cpu", "--quiet"], import_first=(module,))
        assert rc == 2 and "refusing to start the engine" in stderr and module in stderr, stderr[-2000:]
    assert not (world / "refused" / ".staging").exists()


# ------------------------------------------------------------------------------------------------
# What a student's own message may carry out
# ------------------------------------------------------------------------------------------------

def test_an_honest_message_is_quoted_whole():
    for text in ("mat1 and mat2 shapes cannot be multiplied (6x4 and 3x20)",
                 "Expected hidden[0] size (1, 3, 20), got [1, 4, 20]", "shapes do not match, I give up", ""):
        assert disclosure.student_text(text) == text


def test_a_dumped_tensor_is_cut_to_a_few_numbers():
    dump = repr([[0.12345678 * i - j for i in range(20)] for j in range(8)])
    text = disclosure.student_text(dump)
    assert len(re.findall(r"\d+\.\d+", text)) <= disclosure.MAX_NUMBERS
    assert text.endswith(f"[cut: feedback quotes at most {disclosure.MAX_NUMBERS} numbers of your message]")


def test_a_long_message_is_cut_to_its_first_characters():
    text = disclosure.student_text("word " * 500)
    assert len(text) < disclosure.MAX_CHARS + 80 and "first 300 characters" in text
