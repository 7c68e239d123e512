"""Build students' material from the single source in ``solutions/``.

    python -m autograder.build            # write exercises/
    python -m autograder.build --check    # exit 1 if exercises/ is stale

The build is a list of small steps (like nbgrader's converters): read each level
file, cut every ``### BEGIN SOLUTION`` / ``### END SOLUTION`` region into a stub,
copy the shipped helpers, render each notebook template twice (solution and
release).  A malformed marker or template line stops the build with the file and
line number.  Output is deterministic (stable cell ids, sorted keys), so the
committed files can be compared byte for byte.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.catalogue import CATALOGUE, DAYS, DECLARED, levels_of, omitted_in

KIT_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = KIT_ROOT / "solutions"
EXERCISES = KIT_ROOT / "exercises"
HIDDEN = KIT_ROOT / "autograder" / "hidden"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SHIPPED_HELPERS = ("checking.py", "misuse.py")   # from solutions/, copied into every day folder
SHIPPED_PER_DAY = ("public_tests.py",)      # from solutions/dayNN/
# Data files a day's notebooks read (no download at run time), from solutions/dayNN/, shipped as they are.
SHIPPED_DATA = {"day16": ("data/cmudict_words.txt",)}


class BuildError(Exception):
    """A malformed source: the message names the file and line."""


# --------------------------------------------------------------------------- level files


@dataclass
class Exercise:
    name: str
    solution_source: str      # the whole function, markers included
    stub_source: str          # the function with its solution region replaced
    solution_lines: list[str]  # the code inside the region (for the leak test)


@dataclass
class LevelFile:
    day: str
    level: str
    path: Path
    solution_text: str
    stub_text: str
    setup_source: str          # everything at top level except the exercises and the docstring
    exercises: dict[str, Exercise] = field(default_factory=dict)


def _stub_line(indent: str, day: str, level: str, name: str, n_lines: int) -> str:
    return (f'{indent}raise NotImplementedError("{name} ({day} {level}): not yet attempted. '
            f'Replace this line with your code (the reference solution takes about {n_lines} lines).")')


def _regions(lines: list[str], path: Path) -> list[tuple[int, int]]:
    """(begin, end) 0-based line indices of every marker pair; hard error on anything malformed."""
    regions, open_at = [], None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("###") and ("SOLUTION" in stripped) and stripped not in (BEGIN, END):
            raise BuildError(f"{path}:{i + 1}: malformed marker {stripped!r} (expected {BEGIN!r} or {END!r})")
        if stripped == BEGIN:
            if open_at is not None:
                raise BuildError(f"{path}:{i + 1}: {BEGIN} inside the region opened at line {open_at + 1}")
            open_at = i
        elif stripped == END:
            if open_at is None:
                raise BuildError(f"{path}:{i + 1}: {END} without a {BEGIN}")
            if line[: len(line) - len(line.lstrip())] != lines[open_at][: len(lines[open_at]) - len(lines[open_at].lstrip())]:
                raise BuildError(f"{path}:{i + 1}: {END} is not indented like its {BEGIN} (line {open_at + 1})")
            regions.append((open_at, i))
            open_at = None
    if open_at is not None:
        raise BuildError(f"{path}:{open_at + 1}: {BEGIN} is never closed")
    return regions


def _without_functions(text: str, names) -> str:
    """``text`` less the top-level functions ``names`` (exercises the course omits, OMIT=...)."""
    if not names:
        return text
    lines = text.splitlines()
    drop = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            drop.update(range(_first_line(node) - 1, node.end_lineno))
            # and what follows up to the next top-level line: its trailing comments (### END SOLUTION),
            # and the blank lines, so the file keeps two blank lines between functions
            end = node.end_lineno
            while end < len(lines) and (not lines[end].strip() or lines[end][:1].isspace()):
                drop.add(end)
                end += 1
    return "\n".join(l for i, l in enumerate(lines) if i not in drop).rstrip("\n") + "\n"


def read_level(day: str, level: str, path: Path | None = None) -> LevelFile:
    path = path or SOLUTIONS / day / f"{level}.py"
    if not path.exists():
        raise BuildError(f"{path}: missing (the catalogue lists {', '.join(CATALOGUE[day][level])})")
    text = _without_functions(path.read_text(encoding="utf-8"), omitted_in(day, level))
    lines = text.splitlines()
    tree = ast.parse(text, filename=str(path))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    expected = CATALOGUE[day][level]
    missing = [n for n in expected if n not in functions]
    if missing:
        raise BuildError(f"{path}: the catalogue's {', '.join(missing)} not defined at top level")

    regions = _regions(lines, path)
    owner: dict[str, tuple[int, int]] = {}
    span = _spans(tree, lines)
    for begin, end in regions:
        holder = [n for n, f in functions.items() if span[n][0] < begin and end <= span[n][1]]
        if not holder or holder[0] not in expected:
            raise BuildError(f"{path}:{begin + 1}: solution region outside a catalogue function")
        if holder[0] in owner:
            raise BuildError(f"{path}:{begin + 1}: second solution region in {holder[0]} (one per exercise)")
        body_start = functions[holder[0]].body[0]
        if isinstance(body_start, ast.Expr) and isinstance(getattr(body_start, "value", None), ast.Constant):
            if begin < body_start.end_lineno:
                raise BuildError(f"{path}:{begin + 1}: solution region starts inside the docstring")
        owner[holder[0]] = (begin, end)
    for name in expected:
        if name not in owner:
            raise BuildError(f"{path}: {name} has no {BEGIN} / {END} region")

    stub_lines = list(lines)
    exercises = {}
    for name in sorted(expected, key=lambda n: -owner[n][0]):  # bottom-up keeps indices valid
        begin, end = owner[name]
        body = lines[begin + 1:end]
        code = [l for l in body if l.strip() and not l.strip().startswith("#")]
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        stub_lines[begin:end + 1] = [_stub_line(indent, day, level, name, len(code))]
    stub_text = "\n".join(stub_lines) + "\n"

    stub_lines = stub_text.splitlines()
    stub_span = _spans(ast.parse(stub_text), stub_lines)
    for name in expected:
        begin, end = owner[name]
        exercises[name] = Exercise(
            name=name,
            solution_source="\n".join(lines[span[name][0]:span[name][1] + 1]),
            stub_source="\n".join(stub_lines[stub_span[name][0]:stub_span[name][1] + 1]),
            solution_lines=[l.strip() for l in lines[begin + 1:end]],
        )

    setup = []
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name in expected:
            continue
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring becomes the notebook's text, not code
        setup.append("\n".join(lines[_first_line(node) - 1:node.end_lineno]))
    return LevelFile(day, level, path, text, stub_text, "\n\n".join(setup), exercises)


def _spans(tree: ast.Module, lines: list[str]) -> dict[str, tuple[int, int]]:
    """0-based (first, last) line of every top-level function, trailing comments included.

    A function's ``end_lineno`` stops at its last statement, so a closing
    ``### END SOLUTION`` comment would fall outside it; the span runs to the line
    before the next top-level statement instead, minus blank lines.
    """
    spans = {}
    starts = [_first_line(n) - 1 for n in tree.body] + [len(lines)]
    for node, nxt in zip(tree.body, starts[1:]):
        if isinstance(node, ast.FunctionDef):
            last = nxt - 1
            while last > node.lineno - 1 and (not lines[last].strip() or not lines[last].startswith((" ", "\t"))):
                last -= 1
            spans[node.name] = (_first_line(node) - 1, max(last, node.end_lineno - 1))
    return spans


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


# --------------------------------------------------------------------------- points


def hidden_points(day: str) -> dict[str, int]:
    """Points per exercise, summed from the hidden suites' ``grade`` marks (read, not imported)."""
    points: dict[str, int] = {}
    for path in sorted((HIDDEN / day).glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "grade":
                exercise = node.args[0].value if node.args else None
                pts = next((k.value.value for k in node.keywords if k.arg == "points"), 1)
                if exercise is not None:
                    points[exercise] = points.get(exercise, 0) + int(pts)
    return points


# --------------------------------------------------------------------------- notebooks

DIRECTIVE = re.compile(r"^%% (markdown|code|setup|exercise|check|answer)(?: (.*))?$")


@dataclass
class TemplateCell:
    kind: str
    args: list[str]
    body: str
    line: int


def parse_template(path: Path) -> list[TemplateCell]:
    cells: list[TemplateCell] = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.startswith("%%"):
            m = DIRECTIVE.match(line)
            if not m:
                raise BuildError(f"{path}:{i + 1}: unknown directive {line!r}")
            cells.append(TemplateCell(m.group(1), (m.group(2) or "").split(), "", i + 1))
        elif not cells:
            if line.strip():
                raise BuildError(f"{path}:{i + 1}: text before the first '%% ' directive")
        else:
            cells[-1].body += line + "\n"
    for c in cells:
        c.body = c.body.strip("\n")
        arity = {"markdown": 0, "code": 0, "setup": 0, "exercise": 1, "check": 1, "answer": 2}[c.kind]
        if c.kind in ("markdown", "code") and len(c.args) == 1:
            arity = 1      # "%% markdown NAME": text or demo of the exercise NAME, left out when a course omits it
        if len(c.args) != arity:
            raise BuildError(f"{path}:{c.line}: '%% {c.kind}' takes {arity} argument(s), got {c.args}")
        if c.kind in ("setup", "exercise", "check") and c.body:
            raise BuildError(f"{path}:{c.line}: '%% {c.kind}' is generated and takes no body")
        if c.kind in ("markdown", "code", "answer") and not c.body:
            raise BuildError(f"{path}:{c.line}: empty '%% {c.kind}' cell")
    return cells


def _cell(kind: str, source: str, cell_id: str, nbgrader: dict | None = None) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source.splitlines(keepends=True)}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "task": False, **nbgrader}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


HIDDEN_HEADER = "# Hidden tests for {name}: the grader runs them here; the number they end with is your points."
HIDDEN_BODY = """
### BEGIN HIDDEN TESTS
from autograder.nbgrader_bridge import hidden_points as _hidden_points
_hidden_points({day!r}, {level!r}, {name!r}, globals())
### END HIDDEN TESTS"""


def hidden_cell(day: str, level: str, name: str, release: bool) -> str:
    """The graded cell of an exercise: in nbgrader, the kit's hidden suite run in the kernel.

    The release keeps only the header, which is what nbgrader's ClearHiddenTests leaves.
    The solution version imports the kit as an installed package (``pip install .``), never
    by a path, so a course laid out here runs anywhere the kit is installed.
    """
    header = HIDDEN_HEADER.format(name=name)
    return header if release else header + HIDDEN_BODY.format(day=day, level=level, name=name)


def render_notebook(level_file: LevelFile, template: Path, points: dict[str, int], release: bool) -> dict:
    day, level = level_file.day, level_file.level
    cells = []
    seen = set()
    omitted = set(omitted_in(day, level))
    for n, tc in enumerate(parse_template(template)):
        if tc.kind in ("markdown", "code") and tc.args and tc.args[0] not in DECLARED[day][level]:
            raise BuildError(f"{template}:{tc.line}: {tc.args[0]!r} is not an exercise of {day} {level}")
        cid = f"{day}-{level}-{n:02d}"
        if tc.kind in ("markdown", "code", "exercise", "check") and tc.args and tc.args[0] in omitted:
            continue       # an exercise this course omits: its cells go too
        if tc.kind == "markdown":
            cells.append(_cell("markdown", tc.body, cid, {"grade": False, "solution": False, "locked": True,
                                                              "grade_id": f"text_{n:02d}"}))
        elif tc.kind == "code":
            cells.append(_cell("code", tc.body, cid))
        elif tc.kind == "setup":
            source = (level_file.setup_source + "\n\n" if level_file.setup_source else "") + \
                "from checking import check\nimport public_tests  # registers this day's public checks"
            cells.append(_cell("code", source, cid, {"grade": False, "solution": False, "locked": True,
                                                       "grade_id": f"setup_{level}"}))
        elif tc.kind in ("exercise", "check"):
            name = tc.args[0]
            if name not in level_file.exercises:
                raise BuildError(f"{template}:{tc.line}: {name!r} is not an exercise of {day} {level}")
            seen.add((tc.kind, name))
            if tc.kind == "exercise":
                ex = level_file.exercises[name]
                cells.append(_cell("code", ex.stub_source if release else ex.solution_source, cid,
                                   {"grade": False, "solution": True, "locked": False, "grade_id": name}))
            else:
                # The public check is for the student; the points come from the hidden-test cell after it
                # (nbgrader strips its hidden region from the release, exactly as this build does).
                cells.append(_cell("code", f"check({name})", cid,
                                   {"grade": False, "solution": False, "locked": True, "grade_id": f"check_{name}"}))
                cells.append(_cell("code", hidden_cell(day, level, name, release), f"{cid}-hidden",
                                   {"grade": True, "solution": False, "locked": True,
                                    "grade_id": f"hidden_{name}", "points": points.get(name, 0)}))
        elif tc.kind == "answer":
            grade_id, pts = tc.args
            cells.append(_cell("markdown", "YOUR ANSWER HERE" if release else tc.body, cid,
                               {"grade": True, "solution": True, "locked": False, "grade_id": grade_id,
                                "points": int(pts)}))
    for name in level_file.exercises:
        for kind in ("exercise", "check"):
            if (kind, name) not in seen:
                raise BuildError(f"{template}: no '%% {kind} {name}' cell")
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- the pipeline


def notebook_name(day: str, level: str) -> str:
    return f"{day}_{level}.ipynb"


def build_files(release: bool = True) -> dict[Path, str]:
    """Every generated file, path relative to the day folder root -> text.

    ``release=True`` gives ``exercises/``; ``release=False`` gives the same tree
    with solutions in (the solution notebooks, and the source of an nbgrader course).
    """
    files: dict[Path, str] = {}
    for day in DAYS:
        points = hidden_points(day)
        for helper in SHIPPED_HELPERS:
            files[Path(day) / helper] = (SOLUTIONS / helper).read_text(encoding="utf-8")
        for shipped in SHIPPED_PER_DAY:
            files[Path(day) / shipped] = (SOLUTIONS / day / shipped).read_text(encoding="utf-8")
        for shipped in SHIPPED_DATA.get(day, ()):
            files[Path(day) / shipped] = (SOLUTIONS / day / shipped).read_text(encoding="utf-8")
        for level in levels_of(day):
            lf = read_level(day, level)
            files[Path(day) / f"{level}.py"] = lf.stub_text if release else lf.solution_text
            template = SOLUTIONS / day / f"{level}.nb.md"
            if not template.exists():
                raise BuildError(f"{template}: missing notebook template")
            files[Path(day) / notebook_name(day, level)] = notebook_text(
                render_notebook(lf, template, points, release))
    return files


def write_tree(root: Path, files: dict[Path, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def stale_files(root: Path = EXERCISES) -> list[str]:
    """Generated files that differ from (or are missing in) ``root``."""
    return [str(rel) for rel, text in build_files(release=True).items()
            if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale generated files (exit 1 if any)")
    parser.add_argument("--solutions-to", type=Path, metavar="DIR",
                        help="also write the solution version of the tree (notebooks with answers) to DIR")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files()
            for name in stale:
                print(f"stale: exercises/{name}")
            print("exercises/ is up to date" if not stale else "run `make exercises` and commit the result")
            return 1 if stale else 0
        write_tree(EXERCISES, build_files(release=True))
        print(f"wrote {EXERCISES.relative_to(KIT_ROOT)}/")
        if args.solutions_to:
            write_tree(args.solutions_to, build_files(release=False))
            print(f"wrote {args.solutions_to}")
    except BuildError as exc:
        print(f"build error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
