"""A class staged from archives, as the engine reads it: the staged files and the notes beside them.

``autograder.archives`` unpacks uploads into ``OUT/.staging/<digest>/<student>/<day>/<file>`` and
writes, beside the students, ``NOTES_FILE``: per student, what was graded, what was ignored and
why, and why an upload was refused.  The engine reads only that file and the staged files, never
the archive code (which holds every classmate's bytes while it stages, and is not imported before
the engine forks its workers: autograder/engine/seal.py).
"""
from __future__ import annotations

import json
from pathlib import Path

NOTES_FILE = ".rnnkit-archives.json"  # class level: per-student notes and rejections, read by the engine
STUDENT_NOTES = ".archive.json"       # per student: the same notes (their bytes enter the resume hash)


def class_notes(class_root: Path) -> dict[str, dict]:
    """The per-student notes a staged class carries ({} for any other folder)."""
    path = Path(class_root) / NOTES_FILE
    try:
        if path.is_symlink() or not path.is_file():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        return data.get("students", {}) if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
