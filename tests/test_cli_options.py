"""The TA's options: each wrong value is one clear line (exit 2, no traceback); `make help` lists every
target and variable; a regrade of one student or exercise keeps the rest of the class; the gradebook
and summary count only the students of the class graded."""
from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import cli

KIT = Path(__file__).resolve().parents[1]


def usage_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["grade", "class", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return " ".join(err.split())          # (argparse wraps nothing, but be safe about spaces)


@pytest.mark.parametrize("argv, expected", [
    (["--jobs", "abc"], "whole number, 1 or more, not 'abc'"),
    (["--jobs", "-1"], "1 or more, not -1"),
    (["--jobs", "0"], "1 or more, not 0"),
    (["--timeout", "0"], "between 1 and 600 seconds, not 0: honest calls take up to ~1.5 s"),
    (["--timeout", "-2"], "between 1 and 600 seconds, not -2"),
    (["--timeout", "nan"], "a number, not 'nan'"),
    (["--timeout", "1e9"], "between 1 and 600 seconds"),
    (["--memory", "-5"], "at least 256 MiB, not -5"),
    (["--memory", "0"], "at least 256 MiB, not 0"),
    (["--memory", "2G"], "a whole number, not '2G'"),
    (["--device", "tpu"], "must be cpu, cuda (or gpu) or all, not 'tpu'"),
    (["--exercise", "rnn_cel"], "no exercise 'rnn_cel'"),
    (["--exercise", "day15:bptt"], "no exercise 'day15:bptt'"),
])
def test_a_wrong_option_is_one_clear_line(capsys, argv, expected):
    err = usage_error(capsys, *argv)
    assert expected in err, err


@pytest.mark.parametrize("variable, value, expected", [
    ("JOBS", "abc", "whole number, 1 or more, not 'abc'"),
    ("JOBS", "-1", "1 or more, not -1"),
    ("DEVICE", "tpu", "not 'tpu'"),
])
def test_a_wrong_environment_variable_is_one_clear_line(capsys, monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    assert expected in usage_error(capsys)


def test_accepted_values(monkeypatch):
    monkeypatch.delenv("JOBS", raising=False)
    monkeypatch.setenv("DEVICE", "GPU")
    args = cli.parse_args(["grade", "class", "--student", "alice,bob", "--student", " carol ,alice",
                           "--exercise", "provoke", "--exercise", "day15:rnn_cell,day16/bptt", "--timeout", "2.5"])
    assert args.device == "cuda"                              # gpu is cuda, in any case
    assert args.student == ["alice", "bob", "carol"]
    assert args.exercise == [("day15", "provoke"), ("day15", "rnn_cell"), ("day16", "bptt"), ("day16", "provoke")]
    assert args.timeout == 2.5 and args.jobs >= 1 and args.memory == 2048
    assert cli.parse_args(["grade", "class", "--device", "gpu"]).device == "cuda"
    assert cli.parse_args(["grade", "class", "--exercise", "day16:provoke"]).exercise == [("day16", "provoke")]


def test_the_demo_class_grades_into_its_own_folder():
    assert cli.parse_args(["grade", "--demo"]).out == Path("grades-demo")
    assert cli.parse_args(["grade", "class"]).out == Path("grades")
    assert cli.parse_args(["grade", "--demo", "--out", "x"]).out == Path("x")


def test_make_help_lists_every_target_and_every_variable():
    makefile = (KIT / "Makefile").read_text()
    targets = re.search(r"^\.PHONY:(.*)$", makefile, re.M)[1].split()
    variables = re.findall(r"^([A-Z_]+)\s*\?=", makefile, re.M)
    shown = subprocess.run(["make", "-s", "help"], cwd=KIT, capture_output=True, text=True, check=True).stdout
    assert not [t for t in targets if not re.search(rf"\bmake {re.escape(t)}\b", shown)]
    assert not [v for v in variables if not re.search(rf"\b{v}=", shown)]


def make_grade_line(*variables) -> str:
    """The command `make grade` would run (its continued lines joined)."""
    shown = subprocess.run(["make", "-n", "--no-print-directory", "grade", *variables], cwd=KIT, capture_output=True, text=True).stdout
    return " ".join(shown.replace("\\\n", " ").splitlines()[-1].split())


def test_make_grade_passes_the_regrade_options_and_quotes_them():
    line = make_grade_line("SUBMISSIONS=my class", "STUDENT=alice", "EXERCISE=rnn_cell", "TIMEOUT=3", "MEMORY=1024",
                           "JOBS=2", "DEVICE=gpu", "FORCE=1")
    for part in ('"my class"', '--student "alice"', '--exercise "rnn_cell"', '--timeout "3"', '--memory "1024"',
                 '--jobs "2"', '--device "gpu"', "--force"):
        assert part in line, line
    demo = make_grade_line()
    assert "--demo" in demo and "--out" not in demo and "--student" not in demo    # (grades-demo/)


@pytest.mark.parametrize("width", [20, 35, 50])
def test_progress_lines_are_never_cut_mid_word(width):
    text = "grading [###############...............] 12/30  a_student_with_a_long_name 14.5/69"
    shown = cli.fit(text, width)
    assert len(shown) <= width and shown.endswith("…")
    kept = shown.removesuffix("…")
    assert text.startswith(kept) and text[len(kept)] == " "
    assert cli.fit("short line", width) == "short line"


# ---------------------------------------------------------------------------------------------- regrade
def grade(cli, target: Path, out: Path, *options) -> str:
    """``python -m autograder grade``, forked from the session's host (``cli``: tests/conftest.py)."""
    done = cli.run(["grade", str(target), "--out", str(out), "--quiet", "--jobs", "2", *options], timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def rows(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text())


def by_exercise(data: dict) -> dict[str, float]:
    points: dict[str, float] = {}
    for t in data["tests"]:
        points[t["exercise"]] = points.get(t["exercise"], 0) + t["score"]
    return points


@pytest.mark.slow     # three grading runs of a class of two (~60 s on 2 busy cores)
def test_regrade_one_student_and_one_exercise_keeps_the_rest_of_the_class(autograder_cli, tmp_path):
    klass, out = tmp_path / "class", tmp_path / "grades"
    for student, source in (("alice", KIT / "solutions"), ("bob", KIT / "exercises")):
        (klass / student / "day15").mkdir(parents=True)
        shutil.copy(source / "day15" / "basic.py", klass / student / "day15" / "basic.py")
    # Another class graded into the same folder earlier (the demo's students): never counted with this one.
    (out / "demo_kid").mkdir(parents=True)
    (out / "demo_kid" / "results.json").write_text(json.dumps(
        {"score": 1, "max_score": 1, "tests": [{"score": 1, "max_score": 1, "day": "day15", "exercise": "rnn_cell"}]}))

    grade(autograder_cli, klass, out)
    assert sorted(rows(out)) == ["alice", "bob"]
    assert "Class summary: 2 students" in (out / "summary.txt").read_text()
    alice_before = (out / "alice" / "results.json").read_bytes()
    bob_before = results(out, "bob")
    assert by_exercise(bob_before)["rnn_cell"] == 0 and by_exercise(bob_before)["rnn_forward"] == 0

    # Both students change their files; only bob's rnn_cell is asked for.
    shutil.copy(KIT / "exercises" / "day15" / "basic.py", klass / "alice" / "day15" / "basic.py")
    shutil.copy(KIT / "solutions" / "day15" / "basic.py", klass / "bob" / "day15" / "basic.py")
    said = grade(autograder_cli, klass, out, "--student", "bob", "--exercise", "rnn_cell")
    assert "graded 1 student(s) (only day15:rnn_cell" in said and "1 kept as they were" in said
    assert (out / "alice" / "results.json").read_bytes() == alice_before
    merged = results(out, "bob")
    points = by_exercise(merged)
    assert points["rnn_cell"] == 10 and points["rnn_forward"] == 0      # only rnn_cell was run again
    assert merged["score"] == sum(points.values()) and merged["max_score"] == bob_before["max_score"]
    assert merged["output"].startswith(f"bob: {merged['score']} / {merged['max_score']} points.")
    assert [t for t in merged["tests"] if t["exercise"] != "rnn_cell"] == \
        [t for t in bob_before["tests"] if t["exercise"] != "rnn_cell"]
    book = rows(out)
    assert sorted(book) == ["alice", "bob"] and book["bob"]["day15 rnn_cell"] == "10" \
        and book["bob"]["day15 rnn_forward"] == "0" and book["alice"]["total"] == "24"
    assert "Class summary: 2 students" in (out / "summary.txt").read_text()

    # The merged rows are the rows a full grade writes, in the same places.
    grade(autograder_cli, klass, out, "--student", "bob")
    full = results(out, "bob")
    assert [t["name"] for t in full["tests"]] == [t["name"] for t in merged["tests"]]
    assert [t for t in full["tests"] if t["exercise"] == "rnn_cell"] == \
        [t for t in merged["tests"] if t["exercise"] == "rnn_cell"]
    assert by_exercise(full)["rnn_forward"] == 14


def test_an_unknown_student_is_a_usage_error_that_lists_the_class(tmp_path):
    klass = tmp_path / "class"
    for student in ("alice", "bob"):
        (klass / student / "day15").mkdir(parents=True)
        shutil.copy(KIT / "exercises" / "day15" / "basic.py", klass / student / "day15" / "basic.py")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(klass), "--out", str(tmp_path / "o"),
                           "--quiet", "--student", "carol"], cwd=KIT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--student 'carol': no such student" in done.stderr and "alice, bob" in done.stderr
