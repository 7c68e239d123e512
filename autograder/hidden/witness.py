"""The grader witnesses a ``provoke`` mistake itself (both days): it asks the submission for the
misuse as a recipe (plain data, ``solutions/misuse.py``'s format) and runs that recipe with genuine
PyTorch in the grader's own process.  Only an error raised there counts: a submission that builds
an exception by hand, returns one, or returns a recipe that raises nothing earns nothing.
"""
from __future__ import annotations

import torch

from solutions.checking import fail
from solutions.misuse import RecipeError, run_misuse


def fresh(kind: str) -> str:
    """The kind as a new string object, the way a grader reads it from elsewhere: ``kind is "..."``
    (identity with the submission's own literal) must not pass where ``kind == "..."`` is meant."""
    return str(bytearray(kind, "utf-8"), "utf-8")


def recipe_of(submission, kind: str) -> dict:
    """``submission.provoke(kind)``, refused with a learner message unless it is a recipe (a dict)."""
    try:
        recipe = submission.provoke(fresh(kind))
    except NotImplementedError:
        raise
    except Exception as raised:
        fail(f"provoke({kind!r}) raised {type(raised).__name__} instead of returning a recipe: {str(raised)[:200]}",
             "return the mistake as a recipe (a dict in misuse.py's format); the grader runs it")
    if isinstance(recipe, BaseException):
        fail(f"provoke({kind!r}) returned an exception ({type(recipe).__name__}), not a recipe: the grader only counts "
             f"an error it sees PyTorch raise when it runs your recipe itself.",
             "return the mistake as a dict in misuse.py's format; try it with run_misuse(provoke(kind))")
    if not isinstance(recipe, dict):
        fail(f"provoke({kind!r}) returned {type(recipe).__name__}, not a recipe (a dict).",
             "return the mistake as a dict in misuse.py's format")
    return recipe


def witnessed(submission, kind: str, hint: str) -> tuple[dict, BaseException]:
    """(the recipe, the exception PyTorch raised when the grader ran it); ``hint`` says how to commit
    ``kind``.  Fails the test when the recipe is malformed or raises nothing."""
    recipe = recipe_of(submission, kind)
    try:
        exc = run_misuse(recipe)
    except RecipeError as bad:
        fail(f"provoke({kind!r}) returned a recipe that is not in misuse.py's format: {str(bad)[:240]}",
             f"see misuse.py's docstring for the format; for {kind}: {hint}")
    if exc is None:
        fail(f"provoke({kind!r})'s recipe ran without an error in torch {torch.__version__}.",
             f"the recipe must commit the mistake: {hint}")
    return recipe, exc
