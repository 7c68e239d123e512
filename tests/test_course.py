"""The nbgrader course workflow end to end, with the real nbgrader 0.9.6 of this environment.

One module fixture lays out a course (``make course``), runs ``generate_assignment`` for both
days, submits the honest demo students as notebooks plus a student who tampers with test cells
and one who attacks the kernel, runs ``nbgrader autograde`` (the two days as two concurrent
processes: disjoint assignments, one sqlite gradebook; a day that fails is retried alone), reads
nbgrader's hidden-cell points, sets a manual grade on an interview answer, then runs the engine on
``<course>/submitted`` (``python -m autograder grade``), which writes its points into gradebook.db.
The tests check the release, the agreement exercise by exercise, nbgrader's restoring of tampered
cells, the feedback, the export and the gradebook. About 4 minutes on 2 cores.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
nbformat = pytest.importorskip("nbformat")

from autograder import build, course, demo  # noqa: E402
from autograder.catalogue import CATALOGUE, DAYS, levels_of  # noqa: E402

pytestmark = pytest.mark.slow
KIT = Path(__file__).resolve().parents[1]

def _confinable() -> bool:
    """The engine's sandbox works here (as root, or rootless where user namespaces are allowed)."""
    from test_engine_grading import _confinable as confinable   # (tests/ is on sys.path)
    return confinable()


HONEST = ["ben_notebooks", "cara_partial", "dan_missing_bias", "eve_gate_order", "finn_no_detach",
          "gil_no_zero_grad", "hana_untouched"]
# Students whose mistake lives in one notebook hand in only that one (the rest would be ben's again):
# half the kernels, the same coverage. Every notebook of every day is still graded for ben, cara, hana.
ONLY = {"dan_missing_bias": "day15/day15_basic.ipynb", "eve_gate_order": "day15/day15_intermediate.ipynb",
        "finn_no_detach": "day16/day16_intermediate.ipynb", "gil_no_zero_grad": "day16/day16_basic.ipynb"}
PERFECT, UNTOUCHED, TAMPER, CHEAT = "ben_notebooks", "hana_untouched", "zz_tamper", "zz_kernel_cheat"
MANUAL = ("day15", "day15_basic", "day15_basic_q1")      # (assignment, notebook, answer cell) graded by hand

WARNS = '''\
    import sys, warnings
    warnings.warn("rnn_cell: a friendly warning from a correct solution")
    print("and a line on stderr", file=sys.stderr)
'''


def _cells(nb: dict) -> dict[str, dict]:
    return {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade_id")}


def _tamper_files() -> dict[str, bytes]:
    """Day 15 only. basic: rnn_cell right but warns and writes to stderr; rnn_forward left as the stub,
    its hidden-test cell edited to ``100.0``. intermediate: both right, hidden_lstm_cell deleted."""
    solved = build.build_files(release=False)
    release = build.build_files(release=True)
    basic = json.loads(release[Path("day15") / "day15_basic.ipynb"])
    cells = _cells(basic)
    ref_cell = "".join(_cells(json.loads(solved[Path("day15") / "day15_basic.ipynb"]))["rnn_cell"]["source"])
    ref_cell = ref_cell.replace("    ### BEGIN SOLUTION\n", "    ### BEGIN SOLUTION\n" + WARNS, 1)
    cells["rnn_cell"]["source"] = ref_cell
    cells["hidden_rnn_forward"]["source"] = "100.0"
    inter = json.loads(solved[Path("day15") / "day15_intermediate.ipynb"])
    inter["cells"] = [c for c in inter["cells"]
                      if c["metadata"].get("nbgrader", {}).get("grade_id") != "hidden_lstm_cell"]
    for c in inter["cells"]:      # a student's copy of the release: no hidden code, no answers
        gid = c["metadata"].get("nbgrader", {}).get("grade_id", "")
        if gid.startswith("hidden_"):
            c["source"] = build.HIDDEN_HEADER.format(name=gid.removeprefix("hidden_"))
    return {"day15/day15_basic.ipynb": build.notebook_text(basic).encode(),
            "day15/day15_intermediate.ipynb": build.notebook_text(inter).encode()}


KERNEL_CHEAT = '''\
import builtins as _b
_real_import = _b.__import__
def _full_marks(name, *args, **kwargs):       # the hidden cell imports the test runner: swap it
    module = _real_import(name, *args, **kwargs)
    if name == "autograder.nbgrader_bridge":
        module.hidden_points = lambda day, level, exercise, ns: {points!r}[exercise]
    return module
_b.__import__ = _full_marks

'''


def _cheat_files() -> dict[str, bytes]:
    """Day 15 basic, stubs left as they are, plus one cell that makes nbgrader pay out in full."""
    basic = json.loads(build.build_files(release=True)[Path("day15") / "day15_basic.ipynb"])
    cell = _cells(basic)["rnn_cell"]
    cell["source"] = KERNEL_CHEAT.format(points=build.hidden_points("day15")) + "".join(cell["source"])
    return {"day15/day15_basic.ipynb": build.notebook_text(basic).encode()}


def _counts(root: Path) -> tuple[int, int, int]:
    from nbgrader.api import Gradebook
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.gradebook_url(root), course.COURSE_ID) as gb:
            return (len(gb.students), sum(len(a.submissions) for a in gb.assignments),
                    sum(len(nb.grades) for a in gb.assignments for s in a.submissions for nb in s.notebooks))


@pytest.fixture(scope="module")
def cycle(tmp_path_factory, request, autograder_cli):
    if any("route" in item.fixturenames for item in request.session.items):
        # The README's route (below) is mostly one process at a time (make, pip, nbgrader, one kernel):
        # started now, it runs beside this cycle's own one-process phases instead of after them.
        request.getfixturevalue("route_started")
    timings = {}
    t0 = time.perf_counter()
    root = course.write_course(tmp_path_factory.mktemp("course"))
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}     # a kernel per notebook on two cores
    for day in DAYS:   # one after the other: the first one creates gradebook.db's tables (a race if concurrent)
        course.nbgrader(root, "generate_assignment", day, "--force", env=env)
    timings["generate_assignment"] = time.perf_counter() - t0

    students = {name: dataclasses.replace(next(s for s in demo.STUDENTS if s.name == name), form="notebook")
                for name in HONEST}
    for name, student in students.items():
        for rel, data in demo.student_files(student).items():
            if name in ONLY and rel != ONLY[name]:
                continue
            path = root / "submitted" / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for who, files in ((TAMPER, _tamper_files()), (CHEAT, _cheat_files())):
        for rel, data in files.items():
            path = root / "submitted" / who / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(course.gradebook_url(root), course.COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        for who in sorted(p.name for p in (root / "submitted").iterdir()):   # not created by two processes at once
            gb.update_or_create_student(who)

    t1 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:   # two assignments at once: disjoint rows of one sqlite file
        done = list(pool.map(lambda d: course.nbgrader(root, "autograde", d, "--force", check=False, env=env), DAYS))
    for n, (day, result) in enumerate(zip(DAYS, done)):   # a locked database would show here: retry that day alone
        if result.returncode != 0:
            done[n] = course.nbgrader(root, "autograde", day, "--force", env=env)
    autograde_log = "".join(result.stdout + result.stderr for result in done)
    timings["autograde"] = time.perf_counter() - t1
    nbgrader_scores = course.hidden_scores(root)
    counts_before = _counts(root)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.gradebook_url(root), course.COURSE_ID) as gb:
            grade = gb.find_grade(MANUAL[2], MANUAL[1], MANUAL[0], PERFECT)
            grade.manual_score = 0.5
            gb.db.commit()

    t2 = time.perf_counter()
    grades = tmp_path_factory.mktemp("engine_grades")
    argv = ["grade", str(root / "submitted"), "--out", str(grades), "--quiet"]
    if not _confinable():
        argv.append("--unsafe-no-sandbox")          # the kit's own generated students only
    engine = autograder_cli.run(argv)       # python -m autograder ARGV, torch already imported (conftest.py)
    timings["engine"] = time.perf_counter() - t2
    assert engine.returncode in (0, 1), engine.stderr[-3000:]

    t3 = time.perf_counter()
    feedback = course.nbgrader(root, "generate_feedback", "day15", "--force", check=False)
    exported = course.nbgrader(root, "export", check=False)
    timings["feedback_export"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    print("\ncourse cycle timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    return dict(root=root, nbgrader=nbgrader_scores, engine=course.engine_points(grades), engine_run=engine,
                after=course.hidden_scores(root), counts_before=counts_before, counts_after=_counts(root),
                feedback=feedback, exported=exported, timings=timings, autograde_log=autograde_log)


# ------------------------------------------------------------------------------------------------ release


def _solution_lines(day: str, level: str) -> set[str]:
    """Lines of the level's solution regions that the kit's own release does not contain anyway."""
    shipped = (KIT / "exercises" / day / build.notebook_name(day, level)).read_text(encoding="utf-8")
    lines = set()
    for ex in build.read_level(day, level).exercises.values():
        lines |= {l for l in ex.solution_lines if len(l) > 12 and not l.startswith("#") and json.dumps(l)[1:-1] not in shipped}
    return lines


def test_release_has_no_solution_and_no_hidden_test(cycle):
    release = cycle["root"] / "release"
    files = [p for p in release.rglob("*") if p.is_file()]
    assert {p.name for p in files if p.suffix == ".ipynb"} == {
        build.notebook_name(d, l) for d in DAYS for l in levels_of(d)}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for bad in ("BEGIN HIDDEN TESTS", "_hidden_points", "nbgrader_bridge", str(KIT), "BEGIN SOLUTION"):
            assert bad not in text, f"{path.name}: {bad!r}"
        if path.suffix == ".ipynb":
            day, level = path.stem.split("_")
            code = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
            leaked = [line for line in _solution_lines(day, level) if line in code]
            assert not leaked, f"{path.name}: solution lines {leaked[:3]}"


def test_release_is_the_kits_exercises_modulo_nbgraders_stub(cycle):
    stub = re.compile(r"raise NotImplementedError\(.*\)$|# YOUR CODE HERE\nraise NotImplementedError\(\)$", re.M)
    for day in DAYS:
        for level in levels_of(day):
            name = build.notebook_name(day, level)
            ours = json.loads((KIT / "exercises" / day / name).read_text())["cells"]
            theirs = json.loads((cycle["root"] / "release" / day / name).read_text())["cells"]
            assert [c["id"] for c in theirs] == [c["id"] for c in ours], name
            for a, b in zip(ours, theirs):
                ga, gb = a["metadata"].get("nbgrader", {}), b["metadata"].get("nbgrader", {})
                assert (a["cell_type"], ga.get("grade_id"), ga.get("points")) == \
                    (b["cell_type"], gb.get("grade_id"), gb.get("points")), (name, a["id"])
                sa, sb = "".join(a["source"]).strip(), "".join(b["source"]).strip()
                if ga.get("solution") and a["cell_type"] == "code":
                    sa, sb = stub.sub("STUB", sa), stub.sub("STUB", re.sub(r"^ +(?=# YOUR|raise)", "", sb, flags=re.M))
                    sa, sb = re.sub(r"^ +STUB", "STUB", sa, flags=re.M), re.sub(r"^ +STUB", "STUB", sb, flags=re.M)
                assert sa == sb, (name, a["id"])


# ------------------------------------------------------------------------------------------------ scores


def test_agreement_nbgrader_and_engine_exercise_by_exercise(cycle):
    nbg, eng = cycle["nbgrader"], cycle["engine"]
    students = HONEST + [TAMPER]
    everyone = students + [CHEAT]
    keys = [(s, d, ex) for s in everyone for d in DAYS for lv in levels_of(d) for ex in CATALOGUE[d][lv]]
    rows, differ = [], []
    for s in everyone:
        for d in DAYS:
            n = sum(nbg.get((s, d, ex), 0.0) for (s2, d2, ex) in keys if (s2, d2) == (s, d))
            e = sum(eng.get((s, d, ex), 0.0) for (s2, d2, ex) in keys if (s2, d2) == (s, d))
            rows.append(f"{s:18s} {d}  nbgrader {n:5.1f}  engine {e:5.1f}")
    print("\nagreement (hidden-cell points per day):\n" + "\n".join(rows))
    for key in keys:
        if key[0] == CHEAT:
            continue
            continue
        if abs(nbg.get(key, 0.0) - eng.get(key, 0.0)) > 1e-6:
            differ.append((key, nbg.get(key), eng.get(key)))
    assert not differ, differ
    handed_in = {(s, d) for s in HONEST for d in DAYS if (cycle["root"] / "submitted" / s / d).is_dir()}
    assert all(key in nbg for key in keys if key[:2] in handed_in), "nbgrader graded every honest exercise"


def test_a_kernel_attack_fools_nbgrader_not_the_engine(cycle):
    """Where the two differ by design: nbgrader's tests run in the student's kernel."""
    full = build.hidden_points("day15")
    for ex in ("rnn_cell", "rnn_forward"):
        assert cycle["nbgrader"][(CHEAT, "day15", ex)] == pytest.approx(full[ex]), ex
        assert cycle["engine"].get((CHEAT, "day15", ex), 0.0) == 0.0, ex
        assert cycle["after"][(CHEAT, "day15", ex)] == 0.0, ex     # make grade puts the right points in


def test_perfect_full_marks_untouched_zero(cycle):
    nbg = cycle["nbgrader"]
    for day in DAYS:
        for ex, pts in build.hidden_points(day).items():
            assert nbg[(PERFECT, day, ex)] == pytest.approx(pts), (day, ex)
            assert nbg[(UNTOUCHED, day, ex)] == 0.0, (day, ex)


def test_tampered_test_cells_are_restored(cycle):
    nbg, root = cycle["nbgrader"], cycle["root"]
    full = build.hidden_points("day15")
    # edited to `100.0`: nbgrader put the original back, which scores the stub zero
    assert nbg[(TAMPER, "day15", "rnn_forward")] == 0.0
    autograded = json.loads((root / "autograded" / TAMPER / "day15" / "day15_basic.ipynb").read_text())
    assert "_hidden_points" in "".join(_cells(autograded)["hidden_rnn_forward"]["source"])
    # deleted: add_missing_cells puts it back, and it grades the (right) lstm_cell in full
    assert nbg[(TAMPER, "day15", "lstm_cell")] == pytest.approx(full["lstm_cell"])
    inter = json.loads((root / "autograded" / TAMPER / "day15" / "day15_intermediate.ipynb").read_text())
    assert "_hidden_points" in "".join(_cells(inter)["hidden_lstm_cell"]["source"])


def test_only_an_edited_hidden_cell_fails_its_checksum(cycle):
    """nbgrader 0.9.6 warns for every untouched hidden-test cell (jupyter/nbgrader#1961); the kit's
    RestoreCells verifies them against their released form. The one cell zz_tamper edited is flagged."""
    flagged = re.findall(r"Attribute 'checksum' for cell (\S+) has changed", cycle["autograde_log"])
    assert flagged == ["hidden_rnn_forward"], flagged
    assert "Autograding" in cycle["autograde_log"] and "hidden_lstm_cell" in cycle["autograde_log"]  # the log is read


def test_a_correct_function_that_warns_gets_full_points(cycle):
    assert cycle["nbgrader"][(TAMPER, "day15", "rnn_cell")] == pytest.approx(build.hidden_points("day15")["rnn_cell"])
    assert cycle["engine"][(TAMPER, "day15", "rnn_cell")] == pytest.approx(build.hidden_points("day15")["rnn_cell"])


# ------------------------------------------------------------------------------------------------ feedback, export, gradebook


def test_feedback_shows_no_hidden_test(cycle):
    assert cycle["feedback"].returncode == 0, cycle["feedback"].stderr[-3000:]
    pages = list((cycle["root"] / "feedback").rglob("*.html"))
    assert {p.parent.parent.name for p in pages} >= {PERFECT, TAMPER}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for bad in ("_hidden_points", "BEGIN HIDDEN TESTS", "nbgrader_bridge", str(KIT)):
            if bad == "nbgrader_bridge" and page.parent.parent.name == CHEAT:
                continue      # the cheat's own cell names it
            assert bad not in text, f"{page}: {bad!r}"


def test_engine_writes_gradebook_without_duplicates_and_keeps_manual_grades(cycle):
    assert "writing the engine's points into its gradebook" in cycle["engine_run"].stdout
    assert cycle["counts_after"] == cycle["counts_before"]
    after = cycle["after"]
    for key, value in cycle["engine"].items():
        if key[0] in HONEST and key in cycle["nbgrader"]:      # the days each student handed in
            assert after[key] == pytest.approx(value), key
    from nbgrader.api import Gradebook
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.gradebook_url(cycle["root"]), course.COURSE_ID) as gb:
            assert gb.find_grade(MANUAL[2], MANUAL[1], MANUAL[0], PERFECT).manual_score == 0.5


def test_export_includes_the_scores(cycle):
    assert cycle["exported"].returncode == 0, cycle["exported"].stderr[-3000:]
    rows = {(r["assignment"], r["student_id"]): float(r["score"])
            for r in csv.DictReader((cycle["root"] / "grades.csv").open())}
    for student in HONEST:
        for day in DAYS:
            hidden = sum(v for (s, d, _), v in cycle["after"].items() if (s, d) == (student, day))
            manual = 0.5 if (student, day) == (PERFECT, MANUAL[0]) else 0.0
            assert rows[(day, student)] == pytest.approx(hidden + manual), (student, day)
    assert rows[("day15", PERFECT)] == pytest.approx(sum(build.hidden_points("day15").values()) + 0.5)


# ------------------------------------------------------------------------------------------------ the README's route


def _readme_route() -> str:
    """The fenced bash block of the README's "nbgrader courses" section, as written."""
    text = (KIT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### nbgrader courses"):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


PIP_INTO_COURSE_ENV = '''#!/bin/sh
# The course's own environment (a JupyterHub's, say), standing in for the shared one: `pip install X`
# installs X there, a folder on PYTHONPATH, so nbgrader and its kernels import it from there.
[ "$1" = install ] || exit 64
shift
exec "{python}" -m pip install --quiet --no-deps --no-build-isolation --target "$COURSE_ENV" "$@"
'''


MAKE_WITH_THE_KITS_VENV = '''#!/bin/sh
# The kit's checkout already has its venv: a stamp older than pyproject.toml must not reinstall it here.
exec "{make}" -o .venv/.installed "$@"
'''


@pytest.fixture(scope="module")
def route_started(tmp_path_factory):
    """The README's block run by bash from the kit's folder, the course laid out in a folder of its own,
    the kit installed (not linked) into a separate environment. Day 15 basic only: a perfect student,
    one with a mistake, one who edited a hidden-test cell. Started here, in the background (its output
    in files: a pipe nobody reads would stall it); ``route`` waits for it."""
    base = tmp_path_factory.mktemp("route")
    course_dir, env_dir, bin_dir = base / "hub" / "module8", base / "course_env", base / "bin"
    bin_dir.mkdir()
    (bin_dir / "pip").write_text(PIP_INTO_COURSE_ENV.format(python=sys.executable))
    (bin_dir / "pip").chmod(0o755)
    basic = "day15/day15_basic.ipynb"
    files = {PERFECT: demo.student_files(dataclasses.replace(
                 next(s for s in demo.STUDENTS if s.name == PERFECT), form="notebook"))[basic],
             "dan_missing_bias": demo.student_files(dataclasses.replace(
                 next(s for s in demo.STUDENTS if s.name == "dan_missing_bias"), form="notebook"))[basic],
             TAMPER: _tamper_files()[basic]}
    download = base / "submissions.zip"           # Canvas's bulk download: <user>_<user id>_<submission id>_<file>
    with zipfile.ZipFile(download, "w") as zf:
        for n, (who, data) in enumerate(files.items()):
            zf.writestr(f"{who}_{1000 + n}_{5000 + n}_day15_basic.ipynb", data)
    (bin_dir / "make").write_text(MAKE_WITH_THE_KITS_VENV.format(make=shutil.which("make")))
    (bin_dir / "make").chmod(0o755)
    env = {**os.environ, "COURSE": str(course_dir), "COURSE_ENV": str(env_dir), "PYTHONPATH": str(env_dir),
           "DOWNLOAD": str(download),
           "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "JOBS": "2"}
    if not (sys.platform == "linux" and os.geteuid() == 0):
        env["UNSAFE"] = "1"               # the kit's own generated students only
    logs = {name: (base / f"route.{name}").open("w+", encoding="utf-8") for name in ("stdout", "stderr")}
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", _readme_route()], cwd=KIT, env=env,
                            stdout=logs["stdout"], stderr=logs["stderr"], text=True, start_new_session=True)
    started = dict(proc=proc, logs=logs, env=env, course=course_dir, env_dir=env_dir, students=sorted(files))
    yield started
    if proc.poll() is None:        # (nothing waited for it: route's tests deselected or stopped early)
        os.killpg(proc.pid, signal.SIGKILL)      # (its own session: bash and what it started)
        proc.wait()
    for f in logs.values():
        f.close()


@pytest.fixture(scope="module")
def route(route_started):
    proc, logs, env, course_dir = (route_started[k] for k in ("proc", "logs", "env", "course"))
    returncode = proc.wait()
    text = {}
    for name, f in logs.items():
        f.seek(0)
        text[name] = f.read()
    done = subprocess.CompletedProcess(proc.args, returncode, text["stdout"], text["stderr"])
    where = subprocess.run([sys.executable, "-c", "import autograder, solutions.checking as c; "
                            "print(autograder.__file__); print(c.__file__)"],
                           cwd=course_dir, env=env, capture_output=True, text=True).stdout.split()
    collected = sorted(p.relative_to(course_dir / "submitted").as_posix()
                       for p in (course_dir / "submitted").rglob("*.ipynb"))
    return dict(done=done, course=course_dir, env_dir=route_started["env_dir"], imported_from=where,
                collected=collected, students=route_started["students"])


def test_readme_route_runs_in_a_relocated_course(route):
    done = route["done"]
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    assert all(Path(p).is_relative_to(route["env_dir"]) for p in route["imported_from"]), route["imported_from"]
    course_files = [p for p in route["course"].rglob("*") if p.is_file() and p.suffix in (".py", ".ipynb", ".html")]
    assert any(p.name == "nbgrader_config.py" for p in course_files)
    for path in course_files:
        assert str(KIT) not in path.read_text(encoding="utf-8", errors="replace"), path
    rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader((route["course"] / "grades.csv").open())
            if r["assignment"] == "day15"}
    assert rows[PERFECT] == pytest.approx(sum(build.hidden_points("day15")[ex] for ex in CATALOGUE["day15"]["basic"]))
    assert 0 < rows["dan_missing_bias"] < rows[PERFECT]


def test_readme_route_zip_collect_takes_the_ids_from_canvass_names(route):
    assert route["collected"] == [f"{who}/day15/day15_basic.ipynb" for who in route["students"]], route["collected"]


def test_readme_route_checksums_flag_only_the_edited_cell(route):
    flagged = re.findall(r"Attribute 'checksum' for cell (\S+) has changed", route["done"].stderr + route["done"].stdout)
    assert flagged == ["hidden_rnn_forward"], flagged


def test_readme_route_feedback_gives_the_reasons(route):
    page = (route["course"] / "feedback" / "dan_missing_bias" / "day15" / "day15_basic.html").read_text(encoding="utf-8")
    assert "hidden tests passed" in page
    assert re.search(r"test_rnn_cell_\w+(?: on cpu)?: h_next[^<]*differ", page), "a failed test's reason"
    for bad in ("_hidden_points", "BEGIN HIDDEN TESTS", "nbgrader_bridge", "def test_", "expect_close"):
        assert bad not in page, bad
    perfect = (route["course"] / "feedback" / PERFECT / "day15" / "day15_basic.html").read_text(encoding="utf-8")
    assert re.search(r"rnn_cell: (\d+) of \1 hidden tests passed", perfect)
