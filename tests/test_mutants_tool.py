"""bench/mutants.py (`make mutants`): what it mutates, which tests it runs, how it counts survivors."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from autograder.catalogue import CATALOGUE

KIT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_mutants", KIT / "bench" / "mutants.py")
mutants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutants)


@pytest.mark.parametrize("day, level", [("day15", "basic"), ("day16", "intermediate")])
def test_only_solution_regions_are_mutated(day, level):
    path = KIT / "solutions" / day / f"{level}.py"
    lines = path.read_text().splitlines()
    spans = mutants.regions(path)
    assert sorted(spans) == sorted(CATALOGUE[day][level])
    for first, last in spans.values():
        assert lines[first - 2].strip() == "### BEGIN SOLUTION" and lines[last].strip() == "### END SOLUTION"


def test_a_mutant_runs_the_tests_of_the_function_it_changed(tmp_path):
    source = (KIT / "solutions" / "day15" / "basic.py").read_text()
    mutated = tmp_path / "basic.py"
    mutated.write_text(source.replace("pre = pre + b_hh", "pre = pre - b_hh", 1))
    assert mutants.changed_exercises(mutated, KIT / "solutions" / "day15" / "basic.py",
                                     CATALOGUE["day15"]["basic"]) == ["rnn_cell"]


def _mutant(outcome, source="H = W_hh.shape[0]", id_="day15/basic:rnn_forward:L4:C19:NumberReplacer:c07db0"):
    return {"id": id_, "day": "day15", "level": "basic", "exercise": "rnn_forward", "outcome": outcome,
            "source": source}


def test_survivors_are_counted_unless_marked_equivalent_and_a_changed_line_is_stale():
    equivalent = {"day15/basic:rnn_forward:L4:C19:NumberReplacer:c07db0": {"line": "H = W_hh.shape[0]",
                                                                           "reason": "W_hh is square"}}
    found = [_mutant("survived"), _mutant("killed", id_="day15/basic:rnn_forward:L1:C1:X:1"),
             _mutant("error", id_="day15/basic:rnn_forward:L1:C1:X:2")]
    (row,), stale = mutants.summarize(found, equivalent)
    assert (row["generated"], row["killed"], row["equivalent"], row["surviving"], row["errors"]) == (2, 1, 1, 0, 1)
    assert row["kill_rate"] == 1.0 and stale == []
    (row,), stale = mutants.summarize([_mutant("survived", source="H = W_hh.size(0)")], equivalent)
    assert row["surviving"] == 1 and row["equivalent"] == 0 and "the line is now" in stale[0]
