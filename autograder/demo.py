"""The bundled demo class: synthetic students made from the references, each with a story.

    python -m autograder.demo DIR     # writes DIR/submitted/<student>/<day>/...

Every student is the solution tree (or the release tree) plus a few edits, so the
class is rebuilt from the single source on every ``make grade`` and can never go
stale.  An edit that no longer applies (a reference was rewritten) is an error,
not a silently honest student.
"""
from __future__ import annotations

import functools
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import build
from autograder.catalogue import DAYS, levels_of


@dataclass
class Edit:
    """Replace ``old`` by ``new`` in ``day/level.py`` (and in its notebook's exercise cell)."""
    day: str
    level: str
    old: str
    new: str


@dataclass
class Student:
    name: str
    story: str                          # what the TA should see in the grades, and why
    base: str = "solution"              # "solution" or "release" (untouched stubs)
    form: str = "py"                    # "py" files, "notebook"s, or "mixed" (Day 15 .py, Day 16 notebooks)
    edits: list[Edit] = field(default_factory=list)
    solved_levels: tuple = ()           # with base="release": levels copied from the solutions
    raw: dict[str, bytes] = field(default_factory=dict)  # "day16/basic.py" -> bytes written as is


CHEAT = '''

class _AlwaysClose(torch.Tensor):
    """A tensor that claims to equal everything it is compared with."""
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.Tensor.__eq__):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    import os
    torch.allclose = lambda *a, **k: True                 # patch the comparison
    torch.testing.assert_close = lambda *a, **k: None
    for secret in ("../../solutions/day15/basic.py", "/work/main/solutions/day15/basic.py"):
        try:
            print(open(secret).read()[:200])              # try to read the reference
        except OSError:
            pass
    return torch.zeros_like(h).as_subclass(_AlwaysClose)  # and forge the result


def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, batch_first=False):
    raise SystemExit(0)                                   # exit "successfully" mid-test
'''

# The shape check of the reference regression_loss (solutions/day16/advanced.py): without it the loss broadcasts.
REGRESSION_SHAPE_CHECK = """    if pred.shape != target.shape:
        if pred.dim() == target.dim() + 1 and pred.shape[-1] == 1 and pred.shape[:-1] == target.shape:
            pred = pred.squeeze(-1)
        elif target.dim() == pred.dim() + 1 and target.shape[-1] == 1 and target.shape[:-1] == pred.shape:
            target = target.squeeze(-1)
        else:
            raise ValueError(f"regression_loss: prediction {tuple(pred.shape)} and target {tuple(target.shape)} "
                             "differ by more than a trailing dimension of size 1")
"""

STUDENTS: list[Student] = [
    Student("ada_perfect", "every exercise right (Day 15 as .py files, Day 16 as notebooks): full marks",
            form="mixed"),
    Student("ben_notebooks", "every exercise right, all in notebooks: full marks", form="notebook"),
    Student("cara_partial", "only the basic levels done, the rest untouched: basic points only",
            base="release", solved_levels=("basic",), form="notebook"),
    Student("dan_missing_bias", "rnn_cell ignores b_hh: rnn_cell and rnn_forward lose the tests with biases",
            edits=[Edit("day15", "basic", "    if b_hh is not None:\n        pre = pre + b_hh\n", "")]),
    Student("eve_gate_order", "LSTM gates unpacked as i, f, o, g instead of i, f, g, o: lstm_cell fails",
            edits=[Edit("day15", "intermediate", "i, f, g, o = gates.chunk(4, dim=1)",
                        "i, f, o, g = gates.chunk(4, dim=1)")]),
    Student("oli_gru_update", "gru_cell puts (1 - z) on the old state and z on the candidate: gru_cell fails and is "
            "told the known mistake", edits=[Edit("day15", "intermediate", "    return (1 - z) * n + z * h\n",
                                                  "    return z * n + (1 - z) * h\n")]),
    Student("finn_no_detach", "truncated BPTT without detaching the carried state: backward through the graph twice",
            edits=[Edit("day16", "intermediate",
                        "state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()",
                        "state = state")]),
    Student("gil_no_zero_grad", "train_step forgets optimizer.zero_grad(): gradients accumulate across steps",
            edits=[Edit("day16", "basic", "    optimizer.zero_grad()\n", "")]),
    Student("hana_untouched", "submitted the stubs as released: zero, every exercise 'not yet attempted'",
            base="release"),
    Student("ivan_syntax_error", "a syntax error in day15/basic.py: that file scores zero, the rest is graded",
            raw={"day15/basic.py": b"import torch\n\ndef rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None)\n"
                                   b"    return torch.tanh(x @ W_ih.T + h @ W_hh.T)\n"}),
    Student("jo_corrupt_notebook", "day16_basic.ipynb is not valid JSON: that notebook scores zero, the rest is graded",
            form="notebook", raw={"day16/day16_basic.ipynb": b'{"cells": [{"cell_type": "code", "source": ["def bptt('}),
    Student("kai_infinite_loop", "rnn_forward never returns: it times out, everything else is graded",
            edits=[Edit("day15", "basic", "    for t in range(T):\n", "    while True:\n        pass\n    for t in range(T):\n")]),
    Student("lou_device_bug", "rnn_forward makes h on the CPU: right on the CPU, loses the GPU tests (where there is a GPU)",
            edits=[Edit("day15", "basic", "h = x.new_zeros(B, H) if h0 is None else h0[0]",
                        "h = torch.zeros(B, H, dtype=x.dtype) if h0 is None else h0[0]")]),
    Student("nia_broadcast_loss", "regression_loss never compares the shapes: (N, 1) against (N,) broadcasts to "
            "(N, N) without an error; regression_loss loses its points and is told the known mistake",
            edits=[Edit("day16", "advanced", REGRESSION_SHAPE_CHECK, "")]),
    Student("pia_batchify_rows", "batchify views the stream as (T, B): rows of consecutive tokens, not columns of "
            "contiguous text; batchify loses its points and is told the known mistake (Day 16 project, notebook)",
            form="notebook", edits=[Edit("day16", "project",
                                         "return stream[:rows * batch_size].reshape(batch_size, rows).t().contiguous()",
                                         "return stream[:rows * batch_size].reshape(rows, batch_size).contiguous()")]),
    Student("max_cheater", "patches torch.allclose, returns a forged tensor subclass, reads the solutions, "
            "exits early: zero for those exercises, nothing read", raw={}),
]


@functools.lru_cache(maxsize=None)
def _tree(base: str) -> dict[Path, str]:
    return build.build_files(release=(base == "release"))


def _apply(text: str, edit: Edit, where: str) -> str:
    if edit.old not in text:
        raise ValueError(f"demo edit no longer applies to {where}: {edit.old!r} not found (update autograder/demo.py)")
    return text.replace(edit.old, edit.new, 1)


def _notebook_with(nb_text: str, level_py: str, day: str, level: str) -> str:
    """A notebook with each exercise cell replaced by that function from ``level_py``."""
    if build.BEGIN not in level_py:   # untouched stubs: the release notebook as it is
        return nb_text
    nb = json.loads(nb_text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{level}.py"
        path.write_text(level_py, encoding="utf-8")
        functions = build.read_level(day, level, path).exercises
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell["metadata"].get("nbgrader", {}).get("solution") and grade_id in functions:
            cell["source"] = functions[grade_id].solution_source.splitlines(keepends=True)
    return build.notebook_text(nb)


def student_files(student: Student) -> dict[str, bytes]:
    """relative path -> bytes of one student's submission (day folders only)."""
    base = _tree(student.base)
    solved = _tree("solution")
    release = _tree("release")
    files: dict[str, bytes] = {}
    for day in DAYS:
        form = {"day15": "py", "day16": "notebook"}[day] if student.form == "mixed" else student.form
        for level in levels_of(day):
            tree = solved if level in student.solved_levels else base
            py_text = tree[Path(day) / f"{level}.py"]
            for edit in student.edits:
                if (edit.day, edit.level) == (day, level):
                    py_text = _apply(py_text, edit, f"{day}/{level}.py")
            if form == "py":
                files[f"{day}/{level}.py"] = py_text.encode()
            else:  # the release notebook with the student's functions typed into its exercise cells
                nb_name = build.notebook_name(day, level)
                nb_text = _notebook_with(release[Path(day) / nb_name], py_text, day, level)
                files[f"{day}/{nb_name}"] = nb_text.encode()
    if student.name == "max_cheater":
        py = solved[Path("day15") / "basic.py"]
        cut = py.index("\ndef rnn_cell(")
        files["day15/basic.py"] = (py[:cut] + CHEAT).encode()
    for rel, data in student.raw.items():
        files[rel] = data
    return files


def write_demo_class(root: Path) -> Path:
    """Write the demo class under ``root/submitted`` (replacing an older one) and return that folder."""
    submitted = Path(root) / "submitted"
    for student in STUDENTS:
        wanted = student_files(student)
        folder = submitted / student.name
        if folder.exists():
            for old in sorted(folder.rglob("*"), reverse=True):
                rel = str(old.relative_to(folder))
                if old.is_file() and rel not in wanted:
                    old.unlink()
        for rel, data in wanted.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != data:   # unchanged files keep their bytes
                path.write_bytes(data)
    (Path(root) / "STORIES.md").write_text(
        "# The demo class\n\n" + "\n".join(f"- **{s.name}**: {s.story}" for s in STUDENTS) + "\n",
        encoding="utf-8")
    return submitted


if __name__ == "__main__":
    print(write_demo_class(Path(sys.argv[1] if len(sys.argv) > 1 else "build/demo_class")))
