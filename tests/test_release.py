"""``make release``: the student bundle holds nothing secret, installs outside the repository, and its
self-check agrees with the kit's (verdicts, messages, known-mistake names, which form it read)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from autograder import build, release, selfcheck, submit
from autograder.fingerprints import all_variants

KIT = Path(__file__).resolve().parents[1]
SOLVED = build.build_files(release=False)
RELEASE = build.build_files(release=True)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    written = release.release(out)
    return out, written


def _solution_lines() -> set[str]:
    """Lines inside the solution regions, longer than 20 characters, that the kit does not already show
    students (the generated release's own lines, the known mistakes' feedback text)."""
    public = "\n".join(RELEASE.values()) + "\n".join(v.explanation + v.hint for v in all_variants())
    lines = set()
    for path in (KIT / "solutions").glob("*/*.py"):
        inside = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 20 and line.strip() not in public:
                lines.add(line.strip())
    return lines


def _hidden_test_names() -> set[str]:
    return {name for path in (KIT / "autograder" / "hidden").rglob("*.py")
            for name in re.findall(r"^\s*def (test_\w+)", path.read_text(encoding="utf-8"), re.M)}


def _every_byte(out: Path) -> dict[str, bytes]:
    blobs = {}
    for path in out.rglob("*"):
        if path.is_file():
            blobs[str(path.relative_to(out))] = path.read_bytes()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zf:
                    blobs.update({f"{path.name}!{n}": zf.read(n) for n in zf.namelist()})
    return blobs


def test_the_bundle_holds_no_solution_line_no_hidden_test_name_and_no_grader_name(dist):
    out, _ = dist
    solution_lines, hidden = _solution_lines(), _hidden_test_names()
    assert len(solution_lines) > 100 and len(hidden) > 50      # (the search has something to find)
    found = []
    for name, data in _every_byte(out).items():
        text = data.decode("utf-8", "replace")
        found += [f"{name}: solution line {s!r}" for s in solution_lines if s in text]
        found += [f"{name}: hidden test {h}" for h in hidden if re.search(rf"\b{h}\b", text)]
        found += [f"{name}: the word autograder" for _ in re.finditer(r"autograder", text, re.I)][:1]
        found += [f"{name}: compiled or pickled data" for suffix in (".pyc", ".pkl", ".pt") if name.endswith(suffix)]
    assert not found, "\n".join(found[:20])


def test_one_bundle_a_day_and_one_for_both_each_a_folder_and_a_zip(dist):
    out, written = dist
    assert sorted(p.name for p in written) == sorted(
        [f"{n}{s}" for n in ("rnnkit-student-day15", "rnnkit-student-day16", "rnnkit-student") for s in ("", ".zip")])
    day15 = out / "rnnkit-student-day15"
    names = {p.relative_to(day15).as_posix() for p in day15.rglob("*") if p.is_file()}
    for expected in ("README.md", "requirements.txt", "pyproject.toml", "day15/basic.py", "day15/day15_basic.ipynb",
                     "day15/checking.py", "day15/misuse.py", "day15/public_tests.py",
                     "rnnkit_student/selfcheck.py", "rnnkit_student/submit.py", "rnnkit_student/known_mistakes.json"):
        assert expected in names
    assert not any(n.startswith("day16/") for n in names)
    assert "torch>=2.4,<3" in (day15 / "requirements.txt").read_text()
    for tool in (day15 / "rnnkit_student").rglob("*.py"):      # cross-platform: what students run
        text = tool.read_text()
        assert "signal.alarm(" not in text or "hasattr(signal, \"SIGALRM\")" in text, tool
        assert "/tmp" not in text and "fcntl" not in text, tool


def test_make_submit_imports_neither_the_engine_nor_pytest():
    code = ("import sys, autograder.submit, autograder.selfcheck; "
            "bad = [m for m in sys.modules if m.startswith(('autograder.engine', 'autograder.archives', 'pytest', "
            "'_pytest', 'autograder.fingerprints', 'torch'))]; print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], cwd=KIT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


# ------------------------------------------------------------------------------------------------
# The bundle's self-check against the kit's
# ------------------------------------------------------------------------------------------------

def _student(bundle: Path, where: Path, edits: dict[str, str]) -> Path:
    """A student's copy of ``bundle`` with ``edits`` ({day/file: text}) written in, the .py files newest."""
    copy = where / bundle.name
    shutil.copytree(bundle, copy)
    for rel, text in edits.items():
        (copy / rel).write_text(text, encoding="utf-8")
    return copy


def _wrong(day: str, level: str, old: str, new: str) -> str:
    text = SOLVED[Path(day) / f"{level}.py"]
    assert old in text
    return text.replace(old, new, 1)


def _bundle_check(folder: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    run = subprocess.run([sys.executable, "-m", "rnnkit_student", "check", *args], cwd=folder,
                         capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _kit_check(folder: Path, day: str) -> str:
    return selfcheck.render(selfcheck.check_day(folder, day, namer=selfcheck.ReplayNamer()))


CASES = {
    "untouched": ("day15", {}),
    "solved": ("day15", {f"day15/{lv}.py": SOLVED[Path("day15") / f"{lv}.py"] for lv in ("basic", "intermediate")}),
    "known mistakes": ("day15", {
        "day15/basic.py": _wrong("day15", "basic", "pre = pre + b_hh", "pass"),
        "day15/intermediate.py": _wrong("day15", "intermediate", "torch.sigmoid(o) * torch.tanh(c_next)", "torch.sigmoid(o) * c_next")}),
    "known mistake day16": ("day16", {"day16/basic.py": _wrong("day16", "basic", "    optimizer.zero_grad()\n", "    pass\n")}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_the_bundles_self_check_says_what_the_kits_says(dist, tmp_path, case):
    day, edits = CASES[case]
    out, _ = dist
    folder = _student(out / f"rnnkit-student-{day}", tmp_path, edits)
    kit = _kit_check(folder, day)
    bundle = _bundle_check(folder)
    assert bundle.strip() == kit.strip()
    if case.startswith("known mistake"):
        assert "This looks like a known mistake (" in bundle


def test_the_mistake_table_names_what_the_replay_names(dist, tmp_path):
    """In-process, one exercise: the precomputed table and the kit's replay name the same mistake."""
    out, _ = dist
    folder = _student(out / "rnnkit-student-day15", tmp_path,
                      {"day15/basic.py": _wrong("day15", "basic", "pre = pre + b_hh", "pass")})
    from autograder import known_mistakes
    table = known_mistakes.load_table(out / "rnnkit-student-day15" / "rnnkit_student")
    by_table = selfcheck.check_day(folder, "day15", ("basic",), namer=known_mistakes.TableNamer(table))
    by_replay = selfcheck.check_day(folder, "day15", ("basic",), namer=selfcheck.ReplayNamer())
    assert [(r.status, r.fingerprint, r.message) for r in by_table] == \
        [(r.status, r.fingerprint, r.message) for r in by_replay]
    assert by_table[0].fingerprint == "missing_b_hh"


# ------------------------------------------------------------------------------------------------
# Installs and runs outside the repository
# ------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_zip_installs_with_pip_in_a_new_venv_and_its_commands_check_and_submit(dist, tmp_path):
    out, _ = dist
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # torch & co. (and pip, setuptools) from the kit's environment: no download of torch again.
    (site / "kit_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    install = subprocess.run([str(py), "-m", "pip", "install", "--no-index", "--no-build-isolation", "--quiet",
                              str(out / "rnnkit-student-day15.zip")], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stdout + install.stderr
    with zipfile.ZipFile(out / "rnnkit-student-day15.zip") as zf:
        zf.extractall(tmp_path / "student")
    work = tmp_path / "student" / "rnnkit-student-day15"
    (work / "day15" / "basic.py").write_text(_wrong("day15", "basic", "pre = pre + b_hh", "pass"), encoding="utf-8")
    check = subprocess.run([str(venv / "bin" / "rnnkit-check")], cwd=work, env=env,
                           capture_output=True, text=True, timeout=900)
    assert check.returncode == 0, check.stderr
    assert "known mistake (missing_b_hh)" in check.stdout and "not yet attempted" in check.stdout
    sub = subprocess.run([str(venv / "bin" / "rnnkit-submit"), "--student", "s1", "--no-checks", "--force"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert sub.returncode == 0, sub.stderr
    with zipfile.ZipFile(work / "submissions" / "s1_day15.zip") as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert names == {"manifest.json", "day15/basic.py", "day15/intermediate.py", "day15/advanced.py"}
    assert manifest["student"] == "s1" and manifest["days"] == ["day15"]


def test_solutions_release_has_the_model_answers_and_no_hidden_test(tmp_path):
    written = release.solutions_release(tmp_path)
    assert sorted(p.name for p in written) == sorted(
        [f"rnnkit-solutions-{d}{s}" for d in ("day15", "day16") for s in ("", ".zip")])
    blobs = _every_byte(tmp_path)
    text = "\n".join(b.decode("utf-8", "replace") for b in blobs.values())
    assert "YOUR ANSWER HERE" not in text and "raise NotImplementedError" not in text
    assert sum(s in text for s in _solution_lines()) > 100          # the references themselves
    nb = json.loads((tmp_path / "rnnkit-solutions-day15" / "day15" / "day15_basic.ipynb").read_text())
    assert nb["cells"]
    hidden = _hidden_test_names()
    assert not [h for h in hidden if re.search(rf"\b{h}\b", text)]
    assert not re.search(r"autograder|### BEGIN HIDDEN TESTS", text, re.I)


# ------------------------------------------------------------------------------------------------
# What students run works where there is no SIGALRM and no O_NOFOLLOW (Windows)
# ------------------------------------------------------------------------------------------------

def test_an_endless_exercise_is_bounded_without_sigalrm():
    import threading
    result, release_it = {}, threading.Event()

    def from_a_thread():      # (SIGALRM serves the main thread only: this takes the thread path, as on Windows)
        try:
            selfcheck._bounded(lambda: release_it.wait(600), 0.5)     # a call that never returns by itself
        except selfcheck._Timeout:
            result["timed out"] = True
    t = threading.Thread(target=from_a_thread)
    t.start()
    t.join(60)
    release_it.set()          # (let the abandoned call end)
    assert result == {"timed out": True}
    assert selfcheck._bounded(lambda: 42, 5) == 42


def test_safe_reads_refuse_links_without_o_nofollow(tmp_path, monkeypatch):
    from autograder.safe_files import UnsafeFile, read_regular_file
    (tmp_path / "real.py").write_text("x = 1\n")
    os.symlink(tmp_path / "real.py", tmp_path / "link.py")
    monkeypatch.delattr(os, "O_NOFOLLOW")
    assert read_regular_file(tmp_path / "real.py", 100) == b"x = 1\n"
    with pytest.raises(UnsafeFile, match="symbolic link"):
        read_regular_file(tmp_path / "link.py", 100)


# ------------------------------------------------------------------------------------------------
# An archive from the bundle's submit is graded by the kit like the student's folder itself
# ------------------------------------------------------------------------------------------------

def _gradebook(out: Path) -> list[dict]:
    import csv
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_the_bundles_archive_grades_to_the_points_of_the_folder(dist, autograder_cli, tmp_path):
    from test_engine_grading import _confinable     # (tests/ is on sys.path)
    if not _confinable():
        pytest.skip("no sandbox here: python -m autograder grade says why")
    out, _ = dist
    work = _student(out / "rnnkit-student-day15", tmp_path / "s1", {
        "day15/basic.py": _wrong("day15", "basic", "pre = pre + b_hh", "pass"),
        "day15/day15_intermediate.ipynb": SOLVED[Path("day15/day15_intermediate.ipynb")]})
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    sub = subprocess.run([sys.executable, "-m", "rnnkit_student", "submit", "--student", "s1", "--no-checks"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert sub.returncode == 0, sub.stderr
    archive = work / "submissions" / "s1_day15.zip"
    folder = tmp_path / "direct" / "s1"
    shutil.copytree(work / "day15", folder / "day15")
    books = []
    for target, grades in ((archive, tmp_path / "g_archive"), (folder, tmp_path / "g_folder")):
        run = autograder_cli.run(["grade", str(target), "--device", "cpu", "--out", str(grades)])  # (conftest.py)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        books.append(_gradebook(grades))
    points = [{k: v for k, v in row.items() if k not in ("student", "submitted", "graded_at")} for row in books[0]]
    assert points == [{k: v for k, v in row.items() if k not in ("student", "submitted", "graded_at")}
                      for row in books[1]]
    assert len(points) == 1


# ------------------------------------------------------------------------------------------------
# Portability of what students run: no Unix-only API, proven by running without them
# ------------------------------------------------------------------------------------------------

UNIX_ONLY_MODULES = {"fcntl", "resource", "pwd", "grp", "termios", "pty", "posix", "tty", "syslog"}
UNIX_ONLY_ATTRS = {("os", a) for a in ("fork", "forkpty", "setsid", "killpg", "getuid", "geteuid", "getpgid",
                                       "setpgid", "O_NOFOLLOW", "WNOHANG", "sched_setaffinity", "nice")} | \
    {("signal", a) for a in ("alarm", "SIGALRM", "setitimer", "SIGKILL", "SIGCHLD", "pause")}
UNIX_PATHS = re.compile(r"^/(tmp|dev|proc|sys|usr|var|etc)(/|$)")


def unix_only_uses(path: Path) -> list[str]:
    """Unix-only APIs ``path`` uses outside an ``if hasattr(module, "NAME")`` guard, and Unix-only paths."""
    import ast
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "hasattr(" in ast.unparse(node.test):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"import {n}" for n in names if n.split(".")[0] in UNIX_ONLY_MODULES]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                (node.value.id, node.attr) in UNIX_ONLY_ATTRS and id(node) not in guarded:
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and UNIX_PATHS.match(node.value):
            found.append(f"{node.value!r} (line {node.lineno})")
    return [f"{path.name}: {f}" for f in found]


def test_what_students_run_uses_no_unix_only_api(dist):
    out, _ = dist
    files = sorted((out / "rnnkit-student").rglob("*.py"))
    assert any(f.name == "selfcheck.py" for f in files) and any(f.name == "checking.py" for f in files)
    assert [u for f in files for u in unix_only_uses(f)] == []


def test_the_scan_sees_an_unguarded_unix_api(tmp_path):
    (tmp_path / "bad.py").write_text('import fcntl\nimport os, signal\nos.fork()\nsignal.alarm(3)\nopen("/tmp/x")\n'
                                     'if hasattr(signal, "SIGALRM"):\n    signal.alarm(1)\n')
    assert len(unix_only_uses(tmp_path / "bad.py")) == 4


# What Windows lacks, taken away before the bundle's check runs (macOS has them all: Linux-only is none here).
WITHOUT_UNIX = """\
import os, signal, sys, runpy
for name in ("SIGALRM", "alarm", "setitimer"):
    if hasattr(signal, name):
        delattr(signal, name)
for name in ("fork", "O_NOFOLLOW", "setsid", "killpg", "getuid", "geteuid"):
    if hasattr(os, name):
        delattr(os, name)
for name in ("fcntl", "resource", "pwd", "grp", "termios", "pty"):
    sys.modules[name] = None          # import fails as on Windows
sys.argv = ["rnnkit_student", "check"]
runpy.run_module("rnnkit_student", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow
def test_the_bundles_check_runs_without_unix_only_apis_and_says_the_same(dist, tmp_path):
    out, _ = dist
    day, edits = CASES["known mistakes"]
    folder = _student(out / f"rnnkit-student-{day}", tmp_path, edits)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    bare = subprocess.run([sys.executable, "-c", WITHOUT_UNIX], cwd=folder, capture_output=True, text=True,
                          env=env, timeout=900)
    assert bare.returncode == 0, bare.stderr[-3000:]
    assert bare.stdout == _bundle_check(folder)
    assert "missing_b_hh" in bare.stdout


def test_a_bundle_notebooks_check_cell_says_what_rnnkit_check_says(dist, tmp_path):
    """The notebook's ``check(rnn_cell)`` in the student bundle: rnnkit-check's message, the mistake named
    from the bundle's precomputed table (no reference code there)."""
    out, _ = dist
    folder = _student(out / "rnnkit-student-day15", tmp_path, {})
    wrong = _wrong("day15", "basic", "pre = pre + b_hh", "pass")
    code = ("import sys, checking, public_tests\n"
            "ns = {}\nexec(compile(sys.stdin.read(), 'basic.py', 'exec'), ns)\n"
            "try:\n    checking.check(ns['rnn_cell'])\nexcept checking.CheckFailure:\n    pass\n"
            "print('TOOL', checking._TOOL[0].__name__)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    run = subprocess.run([sys.executable, "-c", code], cwd=folder / "day15", input=wrong, capture_output=True,
                         text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    cell, tool = run.stdout.rsplit("TOOL ", 1)
    assert tool.strip() == "rnnkit_student.selfcheck"
    assert "This looks like a known mistake (missing_b_hh)" in cell, cell
    (folder / "day15" / "basic.py").write_text(wrong, encoding="utf-8")
    table = _bundle_check(folder, "--level", "basic")
    first, *rest = cell.strip().splitlines()
    assert first.startswith("FAIL rnn_cell: ")
    row = next(i for i, ln in enumerate(table.splitlines()) if "rnn_cell" in ln)
    shown = [ln.strip() for ln in table.splitlines()[row + 1:row + 1 + len(rest)]]
    assert first.removeprefix("FAIL rnn_cell: ") in table.splitlines()[row] and shown == [r.strip() for r in rest]


def test_the_bundle_readme_says_how_to_check_on_colab(dist):
    """Colab itself cannot run here: the README's commands name this bundle's own zip and folders."""
    out, _ = dist
    for name, days in release.bundles().items():
        text = (out / name / "README.md").read_text(encoding="utf-8")
        assert f"pip install -q /content/{name}" in text and f"%cd /content/{name}/{days[0]}" in text, name
        assert (out / name / days[0] / f"{days[0]}_basic.ipynb").is_file()


@pytest.mark.slow
def test_the_bundles_self_check_agrees_with_the_grader_over_the_demo_class(dist, demo_class_graded, tmp_path):
    """python -m autograder.agreement: per demo student and exercise, rnnkit-check's verdict in the bundle
    against make grade's points; PASS with points lost only on hidden tests is allowed, nothing else."""
    from test_engine_grading import _confinable     # (tests/ is on sys.path)
    if not _confinable():
        pytest.skip("no sandbox here: python -m autograder grade says why")
    from autograder import agreement
    out, _ = dist
    # make grade --demo --device cpu: the session's run (tests/conftest.py), which test_cluster reads too.
    run, grades = demo_class_graded["run"], demo_class_graded["out"]
    assert run.returncode == 0, run.stderr[-3000:]
    cells = agreement.agreement(out / release.DIST_NAME, grades, tmp_path / "students")
    table = agreement.render(cells)
    assert not [c for c in cells if c.verdict == "DISAGREE"], table
    assert {c.check for c in cells} >= {"PASS", "FAIL", "TODO", "ERROR"}, table
    named = {(c.student, c.exercise): c.check_mistake for c in cells if c.check_mistake}
    assert named.get(("dan_missing_bias", "rnn_cell")) == "missing_b_hh", table
