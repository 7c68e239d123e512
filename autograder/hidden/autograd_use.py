"""Does a submitted function compute gradients with autograd?  Read from its text, on the grader's side.

``bptt`` is "backpropagation through time by hand": a one-line ``torch.autograd.grad`` gives the
same numbers, so no comparison of results can tell the two apart, and nothing the worker reports
can be trusted.  The grader has the submitted text, so it reads it instead: the function, and
everything at the top of its module that the function reaches by name (helpers, classes,
constants, imports, transitively), plus the module's top-level assignments to attributes (a
patched ``torch.tanh``) and star imports.

What counts as autograd, anywhere in that code:
* an attribute, an imported name or a dotted string (``getattr(torch, "autograd")``,
  ``import_module("torch.func")``) naming one of :data:`AUTOGRAD_NAMES` (``x.backward``,
  ``torch.autograd.grad``, ``torch.func.vjp``, ``t.register_hook``, ``out.grad_fn``, ``p.grad``...);
* code the grader cannot read statically: ``eval``/``exec``/``compile``/``__import__``,
  ``importlib``, ``getattr`` with a computed name, ``vars``/``globals``/``__dict__``/``sys.modules``,
  ``operator.attrgetter``/``methodcaller``;
* an import from outside torch and a few standard modules (the public checks, the other levels'
  files and third-party code could do it on the function's behalf).

Limits (documented, not caught): code that reaches autograd through objects the scan does not
follow (for instance a torch function patched by another module's import side effects).
"""
from __future__ import annotations

import ast
import functools

AUTOGRAD_NAMES = frozenset({
    "autograd", "_autograd", "backward", "grad", "grad_fn", "func", "functorch", "vjp", "jvp", "jacobian",
    "hessian", "jacrev", "jacfwd", "hvp", "vhp", "register_hook", "register_backward_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_post_accumulate_grad_hook",
})
UNREADABLE_CALLS = frozenset({"eval", "exec", "compile", "__import__", "vars", "globals", "locals",
                              "attrgetter", "methodcaller", "import_module", "__getattribute__"})
UNREADABLE_ATTRIBUTES = frozenset({"__dict__", "__getattribute__", "modules", "importlib", "import_module"})
ALLOWED_IMPORT_ROOTS = frozenset({"torch", "math", "cmath", "typing", "__future__", "collections", "itertools",
                                  "functools", "dataclasses", "numbers", "warnings", "numpy"})


def _dotted_names(text: str) -> list[str]:
    """The parts of a string that reads as a dotted name ("torch.autograd" -> ["torch", "autograd"])."""
    parts = text.strip().split(".")
    return parts if all(p.isidentifier() for p in parts) else []


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _patches_attributes(node: ast.stmt) -> bool:
    """A top-level statement that changes an object's attribute or item (``torch.tanh = ...``, ``setattr``)."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(n, (ast.Attribute, ast.Subscript)) for t in targets for n in ast.walk(t))
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "setattr"
               for n in ast.walk(node))


def _reached(tree: ast.Module, name: str) -> list[ast.stmt]:
    """The function ``name`` and the top-level statements it reaches by name, transitively."""
    top = [n for n in tree.body if not (isinstance(n, ast.If) and "__main__" in ast.dump(n.test))]
    binders: dict[str, list[ast.stmt]] = {}
    for node in top:
        for bound in _bound_names(node):
            binders.setdefault(bound, []).append(node)
    reached = [n for n in top if _patches_attributes(n)
               or (isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names))]
    todo = list(binders.get(name, []))
    seen: set[int] = set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        reached.append(node)
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                todo.extend(binders.get(n.id, []))
    return reached


def _finding(node: ast.AST) -> str | None:
    """Why this node is (or may be) a use of autograd, or None."""
    if isinstance(node, ast.Attribute):
        if node.attr in AUTOGRAD_NAMES or "autograd" in node.attr:
            return f"it uses .{node.attr}"
        if node.attr in UNREADABLE_ATTRIBUTES:
            return f"it uses .{node.attr}, which hides what is called"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
        for module in modules:
            if set(module.split(".")) & AUTOGRAD_NAMES or "autograd" in module:
                return f"it imports {module}"
            if module.split(".")[0] not in ALLOWED_IMPORT_ROOTS:
                return f"it imports from {module or 'a relative module'}, which the grader does not read"
        for name in names:
            if name in AUTOGRAD_NAMES or name in UNREADABLE_CALLS:
                return f"it imports {name}"
    if isinstance(node, ast.Name) and node.id in UNREADABLE_CALLS:
        return f"it uses {node.id}, which hides what is called"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr",
                                                                                            "setattr", "delattr"):
        if len(node.args) < 2 or not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            return f"it calls {node.func.id} with a computed name, which hides what is called"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        parts = _dotted_names(node.value)
        if set(parts) & AUTOGRAD_NAMES or any("autograd" in p for p in parts):
            return f"it names {node.value.strip()!r} in a string"
    return None


@functools.lru_cache(maxsize=64)
def autograd_use(source: str, name: str) -> str | None:
    """Why the function ``name`` of ``source`` uses autograd, quoting the code; None when it does not.

    ``source`` that does not parse gives None: the grader reports that failure elsewhere."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    findings = []
    for stmt in _reached(tree, name):
        for node in ast.walk(stmt):
            why = _finding(node)
            if why is not None:
                code = " ".join((ast.get_source_segment(source, node) or "").split())[:80]
                findings.append(f"{why}: {code}")
    # The most telling one first: the one that names autograd, if any.
    return min(findings, key=lambda f: "autograd" not in f.split(":")[0], default=None)
