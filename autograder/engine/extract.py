"""What a TA points the engine at, and the code each student submitted.

* :func:`discover` reads a target: a class in nbgrader's layout
  (``submitted/<student>/<day>/``), one student's folder, one day folder, or one
  file, and says which (day, level) pairs it covers.
* :func:`read_student` finds, per level, the file to grade: ``<level>.py`` or
  ``<day>_<level>.ipynb``.  From a notebook it keeps only what defines things
  (imports, functions, classes, simple constants), found by parsing the code
  cells with ``ast``, never by trusting cell metadata the student can edit; demos,
  ``check()`` calls and magics are never run.  When both forms are there, the
  one that differs from the release version is graded, and the notes say so.

All of this runs in the grader, on untrusted files: sizes are capped before
reading, symbolic links are refused (a link to ``solutions/`` would otherwise be
graded as the student's code), nothing is executed.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from autograder.catalogue import CATALOGUE, DAYS, LEVELS, levels_of
from autograder.safe_files import UnsafeFile, read_regular_file
from autograder.submissions.forms import Form, choose
from autograder.submissions.notebooks import NotebookCode, catalogue_defs, notebook_code  # noqa: F401

MAX_PY = 1 << 20          # bytes of a .py exercise file
MAX_NOTEBOOK = 32 << 20   # bytes of a notebook (plots are embedded in them)
SILENT = {"checking.py", "misuse.py", "public_tests.py", ".ipynb_checkpoints", "__pycache__", ".DS_Store"}


class TargetError(Exception):
    """The path given to ``grade`` is not something the engine can grade."""


@dataclass
class StudentRef:
    name: str
    root: Path | None                                            # hashed for the resume check
    files: dict[str, list[Path]] = field(default_factory=dict)   # day -> candidate files
    notes: list[str] = field(default_factory=list)
    rejected: str | None = None        # an upload refused at staging (autograder.archives): why


@dataclass
class Target:
    kind: str                              # "class", "student" or "file"
    root: Path                             # what the worker must not see (the class, or the student)
    students: list[StudentRef]
    scope: list[tuple[str, str]]           # (day, level) graded, in teaching order

    def __post_init__(self) -> None:
        # A student's name is their output folder: never one the CLI writes for the class (a student
        # named gradebook.csv would crash every run); see autograder.outputs.
        from autograder.outputs import assign_folders
        assign_folders(self.students)


def _is_day(name: str) -> bool:
    return name in DAYS


def _dir_entries(folder: Path) -> list[os.DirEntry]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []


def _student(name: str, folder: Path) -> StudentRef:
    ref = StudentRef(name, folder)
    days = [e for e in _dir_entries(folder) if e.is_dir(follow_symlinks=False) and _is_day(e.name)]
    for e in days:
        ref.files[e.name] = [Path(f.path) for f in _dir_entries(Path(e.path))]
    if not days:
        others = [e.name for e in _dir_entries(folder) if not e.name.startswith(".")][:5]
        ref.notes.append(f"no {' or '.join(d + '/' for d in DAYS)} folder in your submission"
                         + (f" (found: {', '.join(others)})" if others else " (it is empty)"))
    return ref


def discover(path: Path) -> Target:
    path = Path(path).absolute()
    if not path.exists() and not path.is_symlink():
        raise TargetError(f"{path} does not exist")
    if path.is_symlink():
        raise TargetError(f"{path} is a symbolic link: give the real path")
    if path.is_file():
        return _file_target(path)
    if (path / "submitted").is_dir():
        path = path / "submitted"
    entries = [e for e in _dir_entries(path) if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")]
    if _is_day(path.name):
        ref = StudentRef(path.parent.name, path, {path.name: [Path(f.path) for f in _dir_entries(path)]})
        return Target("student", path, [ref], [(path.name, lv) for lv in levels_of(path.name)])
    if any(_is_day(e.name) for e in entries):
        ref = _student(path.name, path)
        return Target("student", path, [ref], [(d, lv) for d in DAYS if d in ref.files for lv in levels_of(d)])
    students = [_student(e.name, Path(e.path)) for e in entries]
    days = sorted({d for s in students for d in s.files}, key=DAYS.index)
    if _staged_notes(path, students) and not days:     # a class staged from archives, all refused
        days = list(DAYS)
    if not days:
        raise TargetError(
            f"{path} does not look like a class (submitted/<student>/{DAYS[0]}/...), a student's folder "
            f"(<student>/{DAYS[0]}/...) or an exercise file: no {DAYS[0]}/ or {DAYS[1]}/ folder found in it")
    return Target("class", path, students, [(d, lv) for d in days for lv in levels_of(d)])


def _staged_notes(path: Path, students: list[StudentRef]) -> bool:
    """A class staged from archives (``autograder.archives``): its notes, and why an upload was refused."""
    from autograder.submissions.staged import class_notes   # (the notes file only: never the archive code)
    notes = class_notes(path)
    for ref in students:
        entry = notes.get(ref.name)
        if isinstance(entry, dict):
            ref.rejected = entry.get("rejected") if isinstance(entry.get("rejected"), str) else None
            ref.notes = [str(n) for n in entry.get("notes", [])] + ([] if ref.rejected else ref.notes)
    return bool(notes)


def _file_target(path: Path) -> Target:
    day = path.parent.name if _is_day(path.parent.name) else None
    level = None
    m = re.fullmatch(r"(day\d+)_(\w+)\.ipynb", path.name)
    if m:
        day, level = day or m.group(1), m.group(2)
    elif path.suffix == ".py":
        level = path.stem
    if day not in DAYS or level not in levels_of(day):
        raise TargetError(
            f"cannot tell which exercise {path.name} is: grade a file named <level>.py inside a "
            f"{DAYS[0]}/ or {DAYS[1]}/ folder, or <day>_<level>.ipynb (levels: {', '.join(LEVELS)})")
    name = path.parent.parent.name if _is_day(path.parent.name) else path.stem
    ref = StudentRef(name, None, {day: [path]})
    return Target("file", path, [ref], [(day, level)])


def submission_hash(ref: StudentRef) -> str:
    """Content hash of everything the student submitted (a changed byte means regrade)."""
    h = hashlib.sha256()
    if ref.root is None:
        paths = [p for files in ref.files.values() for p in files]
    else:   # every file, links not followed
        paths = sorted(Path(top, n) for top, dirs, names in os.walk(ref.root) for n in dirs + names)
    for p in paths:
        try:
            st = p.lstat()
        except OSError:
            continue
        h.update(f"{os.path.relpath(p, ref.root or p.parent)}\0{st.st_size}\0{stat.S_IFMT(st.st_mode)}\0".encode())
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------
# Reading files
# ------------------------------------------------------------------------------------------

def _read_text(path: Path, limit: int) -> str:
    """The file's text, or a :class:`ValueError` whose message is written for the student."""
    try:
        data = read_regular_file(path, limit)
    except UnsafeFile as exc:
        advice = (", not a file: submit the file itself" if "symbolic link" in str(exc) else
                  " for an exercise file; submit the exercise file only" if "far too large" in str(exc) else "")
        raise ValueError(f"{exc}{advice}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
                         "save it with UTF-8 encoding") from None


# ------------------------------------------------------------------------------------------
# A student's code
# ------------------------------------------------------------------------------------------

@dataclass
class LevelCode:
    filename: str                                # the file graded, as the student named it
    source: str                                  # written to <level>.py in the worker
    line_map: list | None = None                 # notebooks: module line -> (cell, line)
    problems: dict[str, str] = field(default_factory=dict)


@dataclass
class StudentCode:
    name: str
    levels: dict[tuple[str, str], LevelCode] = field(default_factory=dict)
    unusable: dict[tuple[str, str], str] = field(default_factory=dict)    # why a level has no code
    notes: list[str] = field(default_factory=list)
    public: dict[str, dict[str, str]] = field(default_factory=dict)      # day -> shipped helper files

    def has(self, day: str, level: str) -> bool:
        return (day, level) in self.levels

    def source_name(self, day: str, level: str) -> str:
        return self.levels[(day, level)].filename if (day, level) in self.levels else f"{level}.py"

    def missing_message(self, day: str, level: str) -> str:
        return self.unusable.get((day, level)) or \
            f"no {level}.py or {day}_{level}.ipynb in your {day} submission"

    def function_problem(self, day: str, level: str, name: str) -> str | None:
        code = self.levels.get((day, level))
        return code.problems.get(name) if code else None

    def worker_files(self) -> dict[str, dict[str, str]]:
        files = {}
        for (day, level), code in self.levels.items():
            files.setdefault(day, dict(self.public.get(day, {})))[f"{level}.py"] = code.source
        return files

    def describe_error(self, day: str, level: str, exc: BaseException, line) -> str:
        code = self.levels[(day, level)]
        where = ""
        if type(line) is int and line > 0 and not (code.line_map is None and f"line {line}" in str(exc)):
            if code.line_map is None:
                where = f" (line {line})"
            elif line <= len(code.line_map):
                cell, cell_line = code.line_map[line - 1]
                where = f" (cell {cell}, line {cell_line})"
        return f"{code.filename} could not be loaded: {type(exc).__name__}: {exc}{where}"


def _release(kit: Path, day: str, level: str, names) -> dict | None:
    """The catalogue functions of the release's ``<level>.py``: the stubs ``autograder.build`` generates
    from ``solutions/``, never the file in ``exercises/`` (a TA's working copy, maybe filled in: compared
    with it, a student's untouched stub would look attempted and their filled notebook would not)."""
    stub = release_text(kit, day, level)
    return None if stub is None else catalogue_defs(stub, names)


def release_text(kit: Path, day: str, level: str) -> str | None:
    """The release's ``<day>/<level>.py`` as ``autograder.build`` generates it from ``kit/solutions``."""
    path = kit / "solutions" / day / f"{level}.py"
    try:
        solution = path.read_bytes()
    except OSError:
        return None
    return _release_stub(str(path), hashlib.sha256(solution).hexdigest(), day, level)


@functools.lru_cache(maxsize=32)
def _release_stub(path: str, solution_sha256: str, day: str, level: str) -> str | None:
    """Stub text of one level, generated once per content of its solution file (the hash is the key)."""
    from autograder import build
    try:
        return build.read_level(day, level, Path(path)).stub_text
    except (build.BuildError, OSError, SyntaxError, ValueError):
        return None


def _public_files(kit: Path, day: str) -> dict[str, str]:
    """The helper modules shipped beside the exercises (public; student code imports them)."""
    out = {}
    for name, candidates in (("checking.py", [kit / "exercises" / day / "checking.py", kit / "solutions" / "checking.py"]),
                             ("misuse.py", [kit / "exercises" / day / "misuse.py", kit / "solutions" / "misuse.py"]),
                             ("public_tests.py", [kit / "exercises" / day / "public_tests.py",
                                                  kit / "solutions" / day / "public_tests.py"])):
        for path in reversed(candidates):   # the release's source first: exercises/ may be a TA's working copy
            if path.is_file():
                out[name] = path.read_text(encoding="utf-8")
                break
    return out


def read_student(ref: StudentRef, scope: list[tuple[str, str]], kit: Path) -> StudentCode:
    code = StudentCode(ref.name, notes=list(ref.notes))
    for day in sorted({d for d, _ in scope}, key=DAYS.index):
        code.public[day] = _public_files(kit, day)
        files = ref.files.get(day)
        if files is None:
            for d, level in scope:
                if d == day:
                    code.unusable[(day, level)] = ref.rejected or f"no {day}/ folder in your submission"
            continue
        levels = [lv for d, lv in scope if d == day]
        expected = {f"{lv}.py": lv for lv in levels_of(day)} | {f"{day}_{lv}.ipynb": lv for lv in levels_of(day)}
        found: dict[str, dict[str, Path]] = {}
        for path in files:
            lv = expected.get(path.name)
            if lv is None:
                if path.name not in SILENT and path.suffix in (".py", ".ipynb"):
                    code.notes.append(f"{day}: ignored {path.name}: not an exercise file name (expected "
                                      f"{', '.join(f'{lv}.py' for lv in levels_of(day))} or {day}_<level>.ipynb)")
                continue
            found.setdefault(lv, {})["nb" if path.suffix == ".ipynb" else "py"] = path
        for level in levels:
            _read_level(code, day, level, found.get(level, {}), kit)
    return code


def _read_level(code: StudentCode, day: str, level: str, forms: dict[str, Path], kit: Path) -> None:
    names = CATALOGUE[day][level]
    texts, errors = {}, {}
    for form, path in forms.items():
        try:
            text = _read_text(path, MAX_NOTEBOOK if form == "nb" else MAX_PY)
            if form == "nb":
                nb = notebook_code(text, path.name, names)
                texts[form] = LevelCode(path.name, nb.source, nb.line_map, nb.problems)
            else:
                texts[form] = LevelCode(path.name, text)
        except ValueError as exc:
            errors[form] = str(exc)
    if not texts:
        if errors:
            code.unusable[(day, level)] = "; ".join(errors.values())
        return
    for form, msg in errors.items():
        code.notes.append(f"{day}: {msg}")
    release = _release(kit, day, level, names) if len(texts) > 1 else None
    release_hashes = None if release is None else \
        {n: hashlib.sha256(d.encode()).hexdigest() for n, d in release.items()}
    candidates = {}
    for form, t in texts.items():
        try:
            mtime = forms[form].stat().st_mtime
        except OSError:
            mtime = None
        candidates[form] = Form(form, t.filename, t.source, mtime)
    choice = choose(candidates, names, release_hashes)   # the rule make check and make submit follow too
    chosen = texts[choice.form.kind]
    if choice.why:
        code.notes.append(f"{day}: graded {chosen.filename} ({choice.why})")
    code.levels[(day, level)] = chosen
