"""`make check`: untouched stubs are "not attempted", the references all pass, crashes are reported."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder import build, selfcheck
from autograder.catalogue import CATALOGUE, DAYS

KIT = Path(__file__).resolve().parents[1]
N_EXERCISES = sum(len(names) for day in CATALOGUE.values() for names in day.values())


@pytest.fixture(scope="module")
def solved_tree(tmp_path_factory) -> Path:
    """exercises/ with the solutions filled in: what a student who got everything right submits."""
    root = tmp_path_factory.mktemp("solved")
    build.write_tree(root, build.build_files(release=False))
    return root


def _rows(root: Path):
    return [row for day in DAYS for row in selfcheck.check_day(root, day)]


def test_untouched_exercises_are_all_not_attempted():
    rows = _rows(KIT / "exercises")
    assert len(rows) == N_EXERCISES
    assert {r.status for r in rows} == {"not attempted"}, [(r.exercise, r.status, r.message) for r in rows]
    assert all("not yet attempted" in r.message for r in rows)


def test_solutions_in_place_of_the_exercises_all_pass(solved_tree):
    rows = _rows(solved_tree)
    failing = [(r.day, r.exercise, r.message) for r in rows if r.status != "passed"]
    assert not failing


def test_the_table_says_what_to_do(capsys):
    assert selfcheck.main(["--day", "15", "--level", "basic"]) == 0
    out = capsys.readouterr().out
    assert "rnn_cell" in out and "TODO" in out and "0/2 exercises pass" in out


def test_a_syntax_error_is_reported_per_exercise_not_a_crash(tmp_path):
    shutil.copytree(KIT / "exercises" / "day15", tmp_path / "day15")
    (tmp_path / "day15" / "basic.py").write_text("def rnn_cell(x:\n", encoding="utf-8")
    rows = selfcheck.check_day(tmp_path, "day15", ["basic"])
    assert [r.status for r in rows] == ["error", "error"]
    assert "SyntaxError (line 1)" in rows[0].message


def test_a_wrong_answer_fails_with_a_learner_message(tmp_path, solved_tree):
    shutil.copytree(solved_tree / "day15", tmp_path / "day15")
    basic = tmp_path / "day15" / "basic.py"
    basic.write_text(basic.read_text().replace("return torch.tanh(pre)", "return torch.sigmoid(pre)"))
    rows = {r.exercise: r for r in selfcheck.check_day(tmp_path, "day15", ["basic"])}
    assert rows["rnn_cell"].status == "failed"
    assert "expected" in rows["rnn_cell"].message and "Hint" in rows["rnn_cell"].message


def test_a_notebooks_check_cell_names_the_known_mistake_like_make_check(capsys):
    """``check(rnn_cell)`` in a notebook of the kit's exercises: the verdict of ``make check``, word for word,
    the known mistake named (the bundle's notebooks: tests/test_release.py)."""
    checking = selfcheck._fresh_day_modules(KIT / "exercises" / "day15")    # what the notebook's kernel imports
    source = (KIT / "solutions" / "day15" / "basic.py").read_text(encoding="utf-8")
    assert "pre = pre + b_hh" in source
    student = {}
    exec(compile(source.replace("pre = pre + b_hh", "pass", 1), "basic.py", "exec"), student)  # noqa: S102
    with pytest.raises(checking.CheckFailure):
        checking.check(student["rnn_cell"])
    cell = capsys.readouterr().out
    status, message, fingerprint = selfcheck.check_function(checking, "day15", "rnn_cell", student["rnn_cell"],
                                                            selfcheck.ReplayNamer())
    assert (status, fingerprint) == ("failed", "missing_b_hh")
    assert cell == f"FAIL rnn_cell: {message}\n"
    assert "This looks like a known mistake (missing_b_hh)" in cell


def test_exit_in_a_students_function_is_a_fail_not_the_end_of_the_table():
    checking = selfcheck._fresh_day_modules(KIT / "exercises" / "day15")

    def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
        raise SystemExit(0)
    status, message, _ = selfcheck.check_function(checking, "day15", "rnn_cell", rnn_cell, selfcheck.ReplayNamer())
    assert status == "failed" and "called exit()" in message
