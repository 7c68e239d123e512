"""``make release``: the student distribution, one bundle per day and one for both, in ``dist/student/``.

    python -m autograder.release [--out dist]

Each bundle is a folder and a zip of it (``rnnkit-student-day15/`` and ``rnnkit-student-day15.zip``):

* ``day15/``: the notebooks, the ``.py`` stubs and the public checks (``checking.py``, ``misuse.py``,
  ``public_tests.py``), generated from ``solutions/`` by :func:`autograder.build.build_files` (never
  copied from ``exercises/``, which may be a TA's filled-in working copy);
* ``rnnkit_student/``: the student tools, the kit's own ``selfcheck.py`` and ``submit.py`` with the
  modules they need (catalogue, loading, safe reads, :mod:`autograder.submissions`), their imports
  renamed; ``known_mistakes.json`` (what each known-wrong variant returns on the public checks'
  inputs, summarised: :mod:`autograder.known_mistakes`) and ``release_stubs.json`` (hashes of the
  stubs' definitions, to tell an attempted form);
* ``pyproject.toml`` (``pip install .`` gives ``rnnkit-check`` and ``rnnkit-submit``),
  ``requirements.txt``, ``README.md``.

No reference code, hidden test, hidden input or fingerprint variant goes in: the bundle is written
from an explicit list, and ``tests/test_release.py`` searches every byte of it for solution lines
and hidden-test names.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import stat
import sys
import zipfile
from pathlib import Path

from autograder import build, known_mistakes
from autograder import catalogue
from autograder.catalogue import CATALOGUE, DAYS, levels_of
from autograder.submissions import forms

KIT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rnnkit_student"
DIST_NAME = "rnnkit-student"
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
# The kit's modules a student tool needs, as they are named in the bundle's package.
TOOL_MODULES = {
    "autograder/catalogue.py": "catalogue.py",
    "autograder/loading.py": "loading.py",
    "autograder/safe_files.py": "safe_files.py",
    "autograder/known_mistakes.py": "known_mistakes.py",
    "autograder/selfcheck.py": "selfcheck.py",
    "autograder/submit.py": "submit.py",
    "autograder/submissions/__init__.py": "submissions/__init__.py",
    "autograder/submissions/notebooks.py": "submissions/notebooks.py",
    "autograder/submissions/forms.py": "submissions/forms.py",
}
REQUIREMENTS = """\
# The student bundle's dependencies (pip install -r requirements.txt, or pip install . which reads pyproject.toml).
torch>=2.4,<3
numpy>=1.26
matplotlib>=3.8
nbformat>=5.9
"""


class ReleaseError(Exception):
    pass


def bundles() -> dict[str, list[str]]:
    """{bundle name: its days}: one per day and one for both."""
    out = {f"{DIST_NAME}-{day}": [day] for day in DAYS}
    out[DIST_NAME] = list(DAYS)
    return out


def kit_version() -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (KIT_ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    return m[1] if m else "0"


def tool_source(text: str) -> str:
    """A kit module as the bundle's package holds it: its imports of the kit renamed."""
    text = re.sub(r"\bautograder\.", f"{PACKAGE}.", text)
    text = re.sub(r"\bfrom autograder import\b", f"from {PACKAGE} import", text)
    text = re.sub(r"\bautograder\b", "kit", text)     # what is left is prose (a docstring naming a kit file)
    for kit_words, bundle_words in (("make submit STUDENT=<id>", "rnnkit-submit --student <id>"),
                                    ("with FORCE=1", "with --force"), ("EXERCISES=<folder", "--exercises <folder"),
                                    ("run make submit from the kit, or give", "run rnnkit-submit in the bundle's folder, "
                                     "or give"),
                                    ("make check", "rnnkit-check"), ("make submit", "rnnkit-submit")):
        text = text.replace(kit_words, bundle_words)
    if re.search(r"\bautograder\b", text):
        raise ReleaseError("a student tool still names the kit's grader after renaming: "
                           + next(ln for ln in text.splitlines() if re.search(r"\bautograder\b", ln)).strip())
    return text


def release_tree() -> dict[Path, str]:
    """The generated release (stubs, notebooks, public checks) of every day: build's own output."""
    try:
        return build.build_files(release=True)
    except build.BuildError as exc:
        raise ReleaseError(f"the exercises cannot be generated: {exc}") from None


def release_stub_hashes(tree: dict[Path, str]) -> dict[str, dict[str, str]]:
    out = {}
    for day in DAYS:
        for level in levels_of(day):
            out[f"{day}/{level}"] = forms.definition_hashes(tree[Path(day) / f"{level}.py"], CATALOGUE[day][level])
    return out


def known_mistake_table(day_dirs: dict[str, Path]) -> dict:
    """What the reference and each known-wrong variant return on the public checks, summarised."""
    from autograder import selfcheck
    from autograder.fingerprints import variants_for
    from autograder.loading import load_day
    table: dict = {"format": known_mistakes.FORMAT, "exercises": {}}
    for day, day_dir in day_dirs.items():
        checking = selfcheck._fresh_day_modules(day_dir)
        references = load_day(KIT_ROOT / "solutions", day)
        for level in levels_of(day):
            for name in CATALOGUE[day][level]:
                def run(fn):
                    known_mistakes.seed_like_release()
                    recorder = known_mistakes.SummaryRecorder(fn)
                    status, _ = checking.run_public_checks(name, recorder)
                    return status, recorder.calls
                status, reference_calls = run(getattr(references, name))
                if status != "passed":
                    raise ReleaseError(f"the reference {day}.{name} does not pass its public checks")
                variants = []
                for v in variants_for(day, name):
                    status, calls = run(v.fn)
                    if status == "failed" and calls:   # (a variant the public checks cannot see names nothing)
                        variants.append({"name": v.name, "explanation": v.explanation, "hint": v.hint,
                                         "calls": calls})
                table["exercises"][f"{day}:{name}"] = {"reference": reference_calls, "variants": variants}
    return table


def pyproject(name: str, days: list[str]) -> str:
    return f"""[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{DIST_NAME}"
version = "{kit_version()}"
description = "Self-check and submit for the RNN exercises ({', '.join(days)})"
requires-python = ">=3.10"
dependencies = ["torch>=2.4,<3", "numpy>=1.26", "matplotlib>=3.8", "nbformat>=5.9"]

[project.scripts]
rnnkit-check = "{PACKAGE}.selfcheck:main"
rnnkit-submit = "{PACKAGE}.submit:main"

[tool.setuptools]
packages = ["{PACKAGE}", "{PACKAGE}.submissions"]

[tool.setuptools.package-data]
{PACKAGE} = ["*.json", "KIT_VERSION"]
"""


def readme(name: str, days: list[str]) -> str:
    day_list = ", ".join(days)
    first = days[0]
    return f"""# RNN exercises ({day_list}): student bundle

What is here: `{'/, '.join(days)}/` hold the exercises, each level twice: a notebook
(`{first}_basic.ipynb`, ...) and a plain Python file (`basic.py`, ...). Work in whichever you like;
`checking.py`, `misuse.py` and `public_tests.py` are the public checks (do not edit them).

## Install (once)

    pip install .                     # in this folder: installs torch & co. and two commands
    # or: pip install -r requirements.txt   (then use python -m {PACKAGE}.selfcheck / .submit)

### On Colab (or any hosted Jupyter)

Upload `{name}.zip` to the session's files (`/content`), open a notebook of it (File > Upload
notebook: `{first}/{first}_basic.ipynb`) and run, in a first cell:

    !unzip -q -o /content/{name}.zip -d /content && pip install -q /content/{name}
    %cd /content/{name}/{first}

Then the notebook's own cells run as on your machine, and its `check(rnn_cell)` cells say what
`rnnkit-check` says (known mistakes named). To check every exercise or to submit, in a cell:
`!cd /content/{name} && rnnkit-check` (and `rnnkit-submit --student <your id>`). Those read the
files in `/content/{name}/{first}/`: a notebook you edit in Colab is saved elsewhere (Drive), so
first save it there (File > Download, then upload it into `{first}/`, replacing the handed-out one).

## Check your work

    rnnkit-check                      # every exercise of the days in this folder
    rnnkit-check --day {first[3:]} --level basic

Run it in this folder. Each exercise gets PASS, FAIL (what was expected, what came back, a hint;
when your code does what a classic mistake does, its name), TODO (not attempted yet) or ERROR
(the file does not import). In a notebook, the check cell under each exercise (`check(rnn_cell)`)
runs the same checks.

Notebook or `.py`? When both forms of a level are there, every tool (the check, submit and the
grader) reads the one you worked in: the one that differs from the handed-out version, or, when
both do, the one changed most recently. The check says which file it read.

## Submit

    rnnkit-submit --student <your id> --day {first[3:]}

writes `submissions/<your id>_{first}.zip` (your files, one form per level, and a manifest);
upload that file to your course's assignment page. Public checks passing is not the grade: the
grader runs more tests.

Works on Linux, macOS and Windows, Python 3.10 or newer.
"""


def write_bundle(out: Path, name: str, days: list[str], tree: dict[Path, str], table: dict, stubs: dict) -> Path:
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for rel, text in tree.items():
        if rel.parts[0] in days:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
    package = folder / PACKAGE
    (package / "submissions").mkdir(parents=True)
    (package / "__init__.py").write_text('"""Self-check and submit for the RNN exercises (student tools)."""\n',
                                         encoding="utf-8")
    (package / "__main__.py").write_text(
        f'"""python -m {PACKAGE} [check|submit] ...: the two student commands without installing."""\n'
        "import sys\n\n"
        f"from {PACKAGE} import selfcheck, submit\n\n"
        "command = sys.argv[1] if len(sys.argv) > 1 else 'check'\n"
        "tool = {'check': selfcheck, 'submit': submit}.get(command)\n"
        "if tool is None:\n"
        f"    sys.exit('usage: python -m {PACKAGE} check|submit [options]')\n"
        "sys.exit(tool.main(sys.argv[2:]))\n", encoding="utf-8")
    for source, target in TOOL_MODULES.items():
        text = (KIT_ROOT / source).read_text(encoding="utf-8")
        if source == "autograder/catalogue.py":   # the course's OMIT, written in: the bundle's check needs no variable
            text = catalogue.baked_source(text)
        (package / target).write_text(tool_source(text), encoding="utf-8")
    (package / known_mistakes.TABLE_NAME).write_text(json.dumps(table, separators=(",", ":")) + "\n",
                                                     encoding="utf-8")
    (package / forms.RELEASE_TABLE).write_text(json.dumps(stubs, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (package / "KIT_VERSION").write_text(kit_version() + "\n", encoding="utf-8")
    (folder / "pyproject.toml").write_text(pyproject(name, days), encoding="utf-8")
    (folder / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    (folder / "README.md").write_text(readme(name, days), encoding="utf-8")
    return folder


def zip_folder(folder: Path) -> Path:
    """``<folder>.zip`` with one top-level folder (pip installs it as it is), fixed times and modes."""
    target = folder.with_name(folder.name + ".zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                zf.writestr(info, path.read_bytes())
    return target


def release(out: Path) -> list[Path]:
    tree = release_tree()
    out.mkdir(parents=True, exist_ok=True)
    staging = out / ".release-checks"   # the public checks of each day, to run the variants against
    if staging.exists():
        shutil.rmtree(staging)
    for rel, text in tree.items():
        if rel.name in ("checking.py", "misuse.py", "public_tests.py"):
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text, encoding="utf-8")
    try:
        table = known_mistake_table({day: staging / day for day in DAYS})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    stubs = release_stub_hashes(tree)
    written = []
    for name, days in bundles().items():
        folder = write_bundle(out, name, days, tree, table, stubs)
        written += [folder, zip_folder(folder)]
    return written


HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", re.S)


def _without_hidden_bodies(text: str) -> str:
    """A solution notebook with each graded cell cut back to its header (what nbgrader's release keeps)."""
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        source = "".join(cell.get("source", []))
        if "### BEGIN HIDDEN TESTS" in source:
            cell["source"] = HIDDEN_BLOCK.sub("", source).rstrip("\n").splitlines(keepends=True)
    return build.notebook_text(nb)


def solution_tree() -> dict[Path, str]:
    """The solution version (references, notebooks with model answers to the interview questions),
    without the graded cells' bodies (they run the kit's hidden suites, which stay with the grader)."""
    try:
        tree = build.build_files(release=False)
    except build.BuildError as exc:
        raise ReleaseError(f"the solutions cannot be generated: {exc}") from None
    return {rel: _without_hidden_bodies(text) if rel.suffix == ".ipynb" else text for rel, text in tree.items()}


def solutions_release(out: Path, execute: bool = False) -> list[Path]:
    """``make solutions-release``: ``rnnkit-solutions-<day>`` (folder and zip) per day, for courses that
    publish model answers after the deadline and for self-learners after trying.  Never in the student bundle.
    ``execute=True`` (what ``make solutions-release`` does) runs each notebook headless first and keeps its
    outputs, the demonstrations' plots and measured numbers included (:mod:`autograder.execute`)."""
    tree = solution_tree()
    written = []
    for day in DAYS:
        folder = out / f"rnnkit-solutions-{day}"
        if folder.exists():
            shutil.rmtree(folder)
        for rel, text in tree.items():
            if rel.parts[0] == day:
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_text(text, encoding="utf-8")
        (folder / "README.md").write_text(
            f"# RNN exercises, {day}: model solutions\n\nThe reference solution of every exercise "
            f"(`{day}/<level>.py`) and the notebooks with the model answers to the interview questions. "
            "Try the exercises first: reading a solution teaches far less than writing one.\n", encoding="utf-8")
        if execute:
            try:
                from autograder import execute as notebooks   # nbclient: only this step needs it
            except ImportError as exc:
                raise ReleaseError(f"running the notebooks needs nbclient and ipykernel ({exc}): "
                                   "pip install -r requirements.txt, or pass --no-execute") from None
            try:
                notebooks.execute_folder(folder)
            except notebooks.NotebookExecutionError as exc:
                raise ReleaseError(f"a solution notebook does not run: {exc}") from None
        written += [folder, zip_folder(folder)]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make release", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=KIT_ROOT / "dist" / "student",
                        help="where to write (default: dist/student/; hand out only these)")
    parser.add_argument("--solutions", action="store_true",
                        help="write the solutions release instead (default folder: dist/solutions/)")
    parser.add_argument("--no-execute", action="store_true",
                        help="with --solutions: leave the notebooks without outputs (default: run them, keep plots)")
    args = parser.parse_args(argv)
    try:
        if args.solutions:
            out = args.out if args.out != KIT_ROOT / "dist" / "student" else KIT_ROOT / "dist" / "solutions"
            written = solutions_release(out, execute=not args.no_execute)
        else:
            written = release(args.out)
    except ReleaseError as exc:
        print(f"release error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        if path.suffix == ".zip":
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB) and its folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
