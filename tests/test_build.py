"""The single source: exercises/ is generated from solutions/, fresh, and leaks nothing."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograder import build
from autograder.catalogue import CATALOGUE, DAYS, levels_of

KIT = Path(__file__).resolve().parents[1]
EXERCISES = KIT / "exercises"


def test_exercises_are_up_to_date():
    stale = build.stale_files()
    assert not stale, f"generated files are stale: {stale}; run `make exercises` and commit the result"


def test_build_is_deterministic():
    assert build.build_files(release=True) == build.build_files(release=True)


def test_exercises_hold_only_generated_files():
    generated = {str(p) for p in build.build_files(release=True)}
    on_disk = {str(p.relative_to(EXERCISES)) for p in EXERCISES.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}
    extra = on_disk - generated - {"README.md"}
    assert not extra, f"files in exercises/ that the build does not make (remove or add to the build): {extra}"


def _released_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(EXERCISES.rglob("*"))
                     if p.is_file() and p.suffix in (".py", ".ipynb", ".md"))


def test_release_contains_no_solution_code():
    released = _released_text()
    assert "BEGIN SOLUTION" not in released and "END SOLUTION" not in released
    leaked = []
    for day in DAYS:
        for level in levels_of(day):
            for ex in build.read_level(day, level).exercises.values():
                for line in ex.solution_lines:
                    # Distinctive lines only: `return h` could appear in any stub's docstring.
                    if len(line) >= 25 and not line.startswith("#") and line in released:
                        leaked.append(f"{day}/{level}/{ex.name}: {line}")
    assert not leaked, "solution lines found in the release:\n" + "\n".join(leaked)


def test_release_contains_no_hidden_test():
    released = _released_text()
    hidden = sorted((KIT / "autograder" / "hidden").rglob("test_*.py"))
    assert hidden
    names = set()
    for path in hidden:
        names |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    found = sorted(n for n in names if n in released)
    assert not found, f"hidden test names appear in the release: {found}"
    assert "autograder" not in released, "released files must not refer to the grader's code"


def test_every_stub_raises_not_implemented_naming_its_exercise():
    for day in DAYS:
        for level in levels_of(day):
            text = (EXERCISES / day / f"{level}.py").read_text(encoding="utf-8")
            for name in CATALOGUE[day][level]:
                assert re.search(rf'raise NotImplementedError\("{name} \({day} {level}\): not yet attempted', text)


def test_notebook_cells_carry_nbgrader_metadata():
    for day in DAYS:
        points = build.hidden_points(day)
        for level in levels_of(day):
            nb = json.loads((EXERCISES / day / build.notebook_name(day, level)).read_text(encoding="utf-8"))
            graded = {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"] if "nbgrader" in c["metadata"]}
            for name in CATALOGUE[day][level]:
                assert graded[name]["metadata"]["nbgrader"]["solution"] is True
                check = graded[f"check_{name}"]["metadata"]["nbgrader"]
                assert check["grade"] is False and check["locked"] is True
                hidden = graded[f"hidden_{name}"]
                assert hidden["metadata"]["nbgrader"]["grade"] is True and hidden["metadata"]["nbgrader"]["locked"]
                assert hidden["metadata"]["nbgrader"]["points"] == points[name] > 0
                assert "".join(hidden["source"]) == build.HIDDEN_HEADER.format(name=name)
            ids = [c["id"] for c in nb["cells"]]
            assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------- malformed sources

GOOD_BODY = '''
    """Doc."""
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION
'''


def _level(tmp_path, body: str, name: str = "rnn_cell") -> Path:
    path = tmp_path / "basic.py"
    other = "rnn_forward" if name == "rnn_cell" else "rnn_cell"
    # The malformed function last, so the error is about it and not about its neighbour.
    path.write_text(f"import torch\n\n\ndef {other}(x):{GOOD_BODY}\n\ndef {name}(x):{body}", encoding="utf-8")
    return path


def test_a_well_formed_file_builds(tmp_path):
    lf = build.read_level("day15", "basic", _level(tmp_path, GOOD_BODY))
    assert "not yet attempted" in lf.exercises["rnn_cell"].stub_source
    assert lf.exercises["rnn_cell"].solution_lines == ["return x"]


@pytest.mark.parametrize("body, error", [
    ('\n    ### BEGIN SOLUTION\n    return x\n', "never closed"),
    ('\n    return x\n    ### END SOLUTION\n', "without a"),
    ('\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n', "inside the region"),
    ('\n    ### BEGIN SOLUTIONS\n    return x\n    ### END SOLUTION\n', "malformed marker"),
    ('\n    return x\n', "has no"),
    ('\n    ### BEGIN SOLUTION\n    y = x\n    ### END SOLUTION\n    ### BEGIN SOLUTION\n    return y\n'
     '    ### END SOLUTION\n', "second solution region"),
    ('\n    ### BEGIN SOLUTION\n    if x:\n        return x\n        ### END SOLUTION\n', "not indented like"),
])
def test_malformed_markers_are_hard_errors(tmp_path, body, error):
    with pytest.raises(build.BuildError, match=error):
        build.read_level("day15", "basic", _level(tmp_path, body))


def test_a_region_outside_any_exercise_is_an_error(tmp_path):
    path = _level(tmp_path, GOOD_BODY)
    path.write_text(path.read_text() + "\n### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n")
    with pytest.raises(build.BuildError, match="outside a catalogue function"):
        build.read_level("day15", "basic", path)


@pytest.mark.parametrize("template, error", [
    ("%% markdown\nhi\n%% cod\nx = 1\n", "unknown directive"),
    ("stray text\n%% markdown\nhi\n", "before the first"),
    ("%% exercise\n", "takes 1 argument"),
    ("%% check rnn_cell\nprint(1)\n", "takes no body"),
    ("%% markdown\n", "empty"),
])
def test_malformed_templates_are_hard_errors(tmp_path, template, error):
    path = tmp_path / "basic.nb.md"
    path.write_text(template, encoding="utf-8")
    with pytest.raises(build.BuildError, match=error):
        build.parse_template(path)


def test_a_template_missing_an_exercise_is_an_error(tmp_path):
    lf = build.read_level("day15", "basic")
    path = tmp_path / "basic.nb.md"
    path.write_text("%% setup\n%% exercise rnn_cell\n%% check rnn_cell\n", encoding="utf-8")
    with pytest.raises(build.BuildError, match="rnn_forward"):
        build.render_notebook(lf, path, {}, release=True)


def test_readme_counts_the_known_mistakes_there_are():
    """The README's count of fingerprinted mistakes is the registry's, not a number copied by hand once."""
    from autograder.fingerprints import all_variants
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    quoted = re.findall(r"(\d+) classic mistakes", readme) + re.findall(r"`zero_grad`, (\d+) of them", readme)
    assert quoted and set(map(int, quoted)) == {len(all_variants())}, (
        f"README.md quotes {quoted} known mistakes; autograder/fingerprints registers {len(all_variants())}: "
        "update the README")
