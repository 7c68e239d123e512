"""What ``python -m autograder grade`` writes at the top of its output folder, named in one place.

    OUT/gradebook.csv  summary.txt  summary.png  summary_mistakes.png   the class's files
    OUT/canvas_grades.csv  moodle_grades.csv  moodle_feedback.zip       the LMS's (autograder.lms)
    OUT/.lock  OUT/.staging/  OUT/.<file>.<pid>.tmp                      the run's own (hidden)
    OUT/<student>/results.json  feedback.md  feedback.html  .state.json one folder per student

The modules that write a class-level file take its name from here, and a test runs the CLI and
checks that nothing else appears at the top of OUT, so this list is what the CLI writes, not a
list kept by hand beside it.  A student's folder shares OUT with those files: a student whose id
is one of these names (``gradebook.csv``, ``summary_mistakes.png``, ``.lock``) would make the CLI
write a file over a folder and crash on every run.  :func:`assign_folders` is the one rule that
keeps them apart: a student keeps their own name as their folder unless it is reserved (equal,
case-folded, to a class output, or hidden: starting with '.', like every temporary file of a
run), and then gets ``student_<name>`` (``_2``, ``_3`` ... if that is taken), with a note that
says so.  Every other student's folder is unchanged, so the layout other tools read stays.
"""
from __future__ import annotations

GRADEBOOK = "gradebook.csv"
SUMMARY_TEXT = "summary.txt"
SUMMARY_PLOT = "summary.png"
MISTAKES_PLOT = "summary_mistakes.png"
LOCK = ".lock"
STAGING = ".staging"
CANVAS_GRADES = "canvas_grades.csv"          # autograder.lms: the LMS's import files
MOODLE_GRADES = "moodle_grades.csv"
MOODLE_FEEDBACK = "moodle_feedback.zip"

CLASS_OUTPUTS = (GRADEBOOK, SUMMARY_TEXT, SUMMARY_PLOT, MISTAKES_PLOT, LOCK, STAGING,
                 CANVAS_GRADES, MOODLE_GRADES, MOODLE_FEEDBACK)
RENAMED_PREFIX = "student_"
_FOLDED = {name.casefold() for name in CLASS_OUTPUTS}
# (the renamed folders must not be reserved themselves)
assert not any(name.startswith(RENAMED_PREFIX) for name in CLASS_OUTPUTS)


def is_reserved(name: str) -> bool:
    """May a student's folder NOT be called ``name``?  Class outputs (case-folded: macOS and Windows
    file systems ignore case), hidden names (the lock, staging, temporary files) and non-names."""
    return name.startswith(".") or name.casefold() in _FOLDED or name in ("", ".", "..") or "/" in name


def free_folder(name: str, taken) -> str:
    """``name`` when it is not reserved and not in ``taken`` (a set of case-folded names), else
    ``student_<name>`` without its leading dots, then ``_2``, ``_3`` ... until free."""
    if not is_reserved(name) and name.casefold() not in taken:
        return name
    base = RENAMED_PREFIX + (name.lstrip(".").replace("/", "_") or "student")
    candidate, n = base, 1
    while is_reserved(candidate) or candidate.casefold() in taken:
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def assign_folders(students) -> None:
    """Give each student (objects with ``name`` and ``notes``) a folder name no class output can take.

    Students whose names are free keep them (their folders never move); the others, in name order,
    get :func:`free_folder`'s name and a note.  Deterministic: the same class gives the same folders
    on every run, so a rerun finds its results.  Idempotent: a second call changes nothing."""
    keep = [s for s in students if not is_reserved(s.name)]
    taken = {s.name.casefold() for s in keep}
    for s in sorted((s for s in students if is_reserved(s.name)), key=lambda s: s.name):
        folder = free_folder(s.name, taken)
        taken.add(folder.casefold())
        s.notes.append(f"your student id {s.name!r} is the name of a file the grader writes for the class; "
                       f"your grades are in the folder {folder!r}")
        s.name = folder
