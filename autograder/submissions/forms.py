"""Which form of an exercise level the student worked in: ``<level>.py`` or ``<day>_<level>.ipynb``.

One rule for every tool (``make check``, ``make submit``, the student bundle and the grader):

1. only one form is there: that one;
2. the student named one (``--form``): that one;
3. one form differs from the release (it is attempted) and the other does not: the attempted one;
4. both are attempted: the one changed most recently (file times); equal or unknown times: the ``.py``;
5. neither is attempted: the ``.py`` (both are the release version).

Every tool says which file it read and why (:class:`Choice`). ``make submit`` puts only the chosen
form of each level in the archive, so the grader cannot choose differently.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from autograder.submissions.notebooks import catalogue_defs


@dataclass
class Form:
    kind: str                  # "py" or "nb"
    filename: str              # as the student named it (basic.py, day15_basic.ipynb)
    source: str                # Python source: the file, or the notebook's definitions
    mtime: float | None = None


@dataclass
class Choice:
    form: Form
    why: str                   # "" when there was nothing to choose from

    def describe(self) -> str:
        return f"read {self.form.filename}" + (f" ({self.why})" if self.why else "")


def definition_hashes(source: str, names) -> dict[str, str] | None:
    """{catalogue function: SHA-256 of its AST}: compared with the release's to tell an attempted form."""
    defs = catalogue_defs(source, names)
    return None if defs is None else {n: hashlib.sha256(d.encode()).hexdigest() for n, d in defs.items()}


def attempted(form: Form, names, release: dict[str, str] | None) -> bool:
    return release is None or definition_hashes(form.source, names) != release


def choose(forms: dict[str, Form], names, release: dict[str, str] | None, named: str | None = None) -> Choice:
    """The form to read, by the rule above; ``release`` is :func:`definition_hashes` of the release stub."""
    if len(forms) == 1:
        return Choice(next(iter(forms.values())), "")
    py, nb = forms["py"], forms["nb"]
    if named in forms:
        return Choice(forms[named], "the form you named")
    tried = {kind: attempted(f, names, release) for kind, f in forms.items()}
    if tried["py"] and not tried["nb"]:
        return Choice(py, f"{nb.filename} has the unchanged release code")
    if tried["nb"] and not tried["py"]:
        return Choice(nb, f"{py.filename} is the unchanged release file")
    if not tried["py"]:
        return Choice(py, "both files are the unchanged release version")
    if py.mtime is not None and nb.mtime is not None and py.mtime != nb.mtime:
        newer, older = (py, nb) if py.mtime > nb.mtime else (nb, py)
        return Choice(newer, f"both are filled in; {newer.filename} was changed more recently than "
                             f"{older.filename}")
    return Choice(py, f"both are filled in; {nb.filename} too, but the .py file wins when their dates "
                      "cannot tell which is newer")


# ------------------------------------------------------------------------------------------
# A student's own folder (make check, make submit, the bundle's tools)
# ------------------------------------------------------------------------------------------

RELEASE_TABLE = "release_stubs.json"    # shipped in the student bundle: definition_hashes of each stub
MAX_PY = 1 << 20
MAX_NOTEBOOK = 32 << 20


class FormError(ValueError):
    """A form of a level cannot be read (not UTF-8, not a notebook, a link...): ``str`` says why."""


def release_hashes(day: str, level: str, names, shipped: dict | None) -> dict[str, str] | None:
    """The release stub's definition hashes: from the bundle's table, else generated from the kit's solutions."""
    if shipped is not None:
        return shipped.get(f"{day}/{level}")
    try:
        from autograder import build   # the kit only (never shipped): the stubs generated from solutions/
        return definition_hashes(build.read_level(day, level).stub_text, names)
    except Exception:  # noqa: BLE001 - no solutions here: every filled-in form counts as attempted
        return None


def read_form(path, kind: str, names) -> Form:
    from pathlib import Path

    from autograder.safe_files import UnsafeFile, read_regular_file
    from autograder.submissions.notebooks import notebook_code
    path = Path(path)
    try:
        data = read_regular_file(path, MAX_NOTEBOOK if kind == "nb" else MAX_PY, label=path.name)
        text = data.decode("utf-8-sig")
    except UnsafeFile as exc:
        raise FormError(str(exc)) from None
    except UnicodeDecodeError:
        raise FormError(f"{path.name} is not UTF-8 text") from None
    source = text
    if kind == "nb":
        try:
            source = notebook_code(text, path.name, names).source
        except ValueError as exc:
            raise FormError(str(exc)) from None
    return Form(kind, path.name, source, path.stat().st_mtime)


def level_paths(day_dir, day: str, level: str) -> dict:
    """{"py": path, "nb": path} of the forms present in a student's day folder."""
    from pathlib import Path
    day_dir = Path(day_dir)
    candidates = {"py": day_dir / f"{level}.py", "nb": day_dir / f"{day}_{level}.ipynb"}
    return {k: p for k, p in candidates.items() if p.is_file() or p.is_symlink()}


def choose_in_folder(day_dir, day: str, level: str, names, shipped: dict | None = None,
                     named: str | None = None) -> tuple[Choice | None, dict[str, str]]:
    """(the chosen form or None, {kind: why it could not be read}) of one level in a student's folder."""
    forms, errors = {}, {}
    for kind, path in level_paths(day_dir, day, level).items():
        try:
            forms[kind] = read_form(path, kind, names)
        except FormError as exc:
            errors[kind] = str(exc)
    if not forms:
        return None, errors
    release = release_hashes(day, level, names, shipped) if len(forms) > 1 else None
    return choose(forms, names, release, named), errors
