"""Reading a notebook a student handed in: the definitions of its code cells, as one module.

Torch-free and nothing executed: the grader (``engine/extract.py``), ``make submit`` and the
student bundle's tools all read notebooks with these functions, so they agree on what a
notebook defines.  From a notebook only what defines things is kept (imports, functions,
classes, simple constants), found by parsing the code cells with ``ast``, never by trusting
cell metadata the student can edit; demos, ``check()`` calls and magics are dropped.
"""
from __future__ import annotations

import ast
import builtins
import json
import re
from dataclasses import dataclass


def catalogue_defs(source: str, names) -> dict[str, str] | None:
    """{function name: its AST dump} for the catalogue functions a source defines (None if it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:   # (an expression nested thousands deep parses, but dumping it recurses past the limit)
        return {n.name: ast.dump(n) for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names}
    except RecursionError:
        return None


# Calls a constant may make: cheap and side-effect free (never torch.randn(...) of a demo).
_CONSTANT_CALLS = {"torch.device", "torch.Size", "torch.finfo", "torch.iinfo", "float", "int", "tuple",
                   "frozenset", "range", "math.sqrt", "math.log", "math.exp", "math.pi"}


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _simple(node: ast.AST, depth: int = 0) -> bool:
    """A constant-like value: literals, names, attributes, arithmetic, torch.float64, torch.device("cpu")."""
    if depth > 20:
        return False
    rec = lambda n: _simple(n, depth + 1)  # noqa: E731
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return rec(node.value)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(rec(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or rec(k) for k in node.keys) and all(rec(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return rec(node.operand)
    if isinstance(node, ast.BinOp):
        return rec(node.left) and rec(node.right)
    if isinstance(node, ast.Call):
        return _dotted(node.func) in _CONSTANT_CALLS and all(rec(a) for a in node.args) \
            and all(rec(k.value) for k in node.keywords)
    return False


def _names_used(nodes) -> set[str]:
    return {n.id for node in nodes if node is not None for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _targets(node: ast.stmt) -> list[str] | None:
    """Names an assignment binds, or None when it binds anything else (x[0] = ..., a.b = ...)."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = []
    for t in targets:
        elts = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
        if not all(isinstance(e, ast.Name) for e in elts):
            return None
        names += [e.id for e in elts]
    return names


def _keep(node: ast.stmt, defined: set[str]) -> list[str] | None:
    """The names a top-level statement of a notebook defines if it is kept, None if it is dropped.

    Kept: imports, functions, classes and constants, and only when everything they need at
    definition time is defined by what was kept before them (a constant computed from a demo's
    variables would stop the whole module from importing)."""
    if isinstance(node, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return [a.asname or a.name for a in node.names if a.name != "*"]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        needed = _names_used([*node.decorator_list, *node.args.defaults, *node.args.kw_defaults])
        return [node.name] if needed <= defined else None
    if isinstance(node, ast.ClassDef):
        return [node.name] if _names_used([*node.decorator_list, *node.bases]) <= defined else None
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        names = _targets(node)
        if names and _simple(node.value) and _names_used([node.value]) <= defined:
            return names
    return None


@dataclass
class NotebookCode:
    source: str
    line_map: list[tuple[int, int]]          # line of ``source`` (1-based, index - 1) -> (cell, line)
    problems: dict[str, str]                 # catalogue function -> why its cell was not used


def notebook_code(text: str, filename: str, names) -> NotebookCode:
    """The definitions of a notebook's code cells, as one module."""
    try:
        nb = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{filename} is not a readable notebook (it is not valid JSON: {exc})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"{filename} is not a Jupyter notebook (it has no list of cells)")
    future, body, line_map, future_map, problems = [], [], [], [], {}
    defined = set(dir(builtins)) | {"__name__", "__file__"}
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            continue
        # IPython magics and shell escapes are not Python: blank them (line numbers stay).
        lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.split("\n")]
        try:
            tree = ast.parse("\n".join(lines))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            for name in re.findall(r"^def\s+(\w+)", src, re.M):
                if name in names:
                    where = f"line {exc.lineno} of that cell: " if getattr(exc, "lineno", None) else ""
                    problems[name] = f"the cell of {filename} that defines {name} (cell {number}) has a " \
                                     f"syntax error ({where}{getattr(exc, 'msg', exc)})"
            continue
        for node in tree.body:
            names = _keep(node, defined)
            if names is None:
                continue
            defined.update(names)
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            chunk = lines[first - 1:node.end_lineno]
            target, tmap = (future, future_map) if isinstance(node, ast.ImportFrom) and \
                node.module == "__future__" else (body, line_map)
            target.extend(chunk)
            tmap.extend((number, first + i) for i in range(len(chunk)))
    for name in list(problems):
        if catalogue_defs("\n".join(body), [name]):
            del problems[name]        # a later cell defines it after all
    return NotebookCode("\n".join(future + body) + "\n", future_map + line_map, problems)
