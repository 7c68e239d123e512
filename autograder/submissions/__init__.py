"""What students hand in, read without torch and without running anything.

Shared by the grader (``engine/extract.py``, ``archives.py``), ``make submit`` and the student
bundle's tools (``make release`` ships this package), so every tool reads a notebook, names an
archive's manifest and decides which form of an exercise the student worked in the same way.
"""
from __future__ import annotations

import re

MANIFEST = "manifest.json"                              # the archive member ``make submit`` writes
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")  # a student id as a folder name
