"""Import a day's exercise modules from a folder laid out like ``exercises/``.

Each level is its own file (``day15/basic.py`` ...); a day's namespace merges
them, so a caller writes ``day.rnn_cell`` without knowing which level holds it.
Modules get private names so the references and a student's copy never collide
in ``sys.modules``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

from autograder.catalogue import DECLARED, levels_of


def load_module(path: Path, label: str = "kitmod") -> ModuleType:
    """Import one file as a fresh module (its folder is importable while it loads)."""
    path = Path(path).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"_{label}_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def load_day(root: Path, day: str) -> SimpleNamespace:
    """Namespace of every catalogue function of ``day`` found under ``root/day``."""
    functions = {}
    for level in levels_of(day):
        module = load_module(Path(root) / day / f"{level}.py", label=day)
        for name in DECLARED[day][level]:   # (the references keep an exercise a course omits)
            if hasattr(module, name):
                functions[name] = getattr(module, name)
    return SimpleNamespace(**functions)
