"""Run solution notebooks headless and keep their outputs (``make solutions-release``).

The solution notebooks are published with what their demonstrations print and plot, so the numbers
their text refers to are the ones this machine measured, with the torch it has, when the release was
built (nothing hand-copied that can drift).  Student notebooks are never executed: they ship without
outputs.

A notebook runs with nbclient (the maintained executor behind ``jupyter nbconvert --execute``) in a
kernel of the Python running this module (the kit's virtual environment), whatever kernels the user
has installed, from the notebook's own folder (where ``checking.py``, ``public_tests.py`` and the
level files sit), with matplotlib's inline backend so that every plot becomes an ``image/png`` output.
A failure names the notebook, the cell and the error.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbclient
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

CELL_TIMEOUT_S = 300
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


class NotebookExecutionError(Exception):
    """A cell of a notebook raised: the message names the notebook, the cell and the error."""


def _kit_kernel() -> KernelManager:
    # No kernel folders: "python3" resolves to ipykernel's native spec, i.e. sys.executable (this venv),
    # not a python3 kernel the user may have registered elsewhere.
    return KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


def _failed_cell(nb) -> tuple[int, str] | None:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return index, cell.source
    return None


def execute_notebook(path: Path, timeout: int = CELL_TIMEOUT_S) -> None:
    """Execute ``path`` top to bottom in its folder and write it back with its outputs.

    Raises NotebookExecutionError naming the notebook, the cell (its index and first line) and the error.
    """
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "MPLBACKEND": INLINE_BACKEND, "PYTHONHASHSEED": "0"}
    kernel = _kit_kernel()
    client = nbclient.NotebookClient(nb, km=kernel, timeout=timeout,
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        try:
            client.execute(env=env)
        finally:      # nbclient shuts down only the kernels it made itself
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
    except nbclient.exceptions.CellTimeoutError as exc:
        where = _running_cell(nb)
        raise NotebookExecutionError(f"{path}: cell {where} ran longer than {timeout} s") from exc
    except nbclient.exceptions.CellExecutionError as exc:
        failed = _failed_cell(nb)
        where = f"cell {failed[0]} ({failed[1].splitlines()[0] if failed[1] else 'empty'!s})" if failed else "a cell"
        raise NotebookExecutionError(f"{path}: {where} failed: {exc.ename}: {exc.evalue}") from exc
    nbformat.write(nb, path)


def _running_cell(nb) -> str:
    # nbclient leaves the outputs of the cells it finished; the first code cell without execution_count ran out.
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("execution_count") is None:
            return f"{index} ({cell.source.splitlines()[0] if cell.source else 'empty'})"
    return "?"


def execute_folder(folder: Path) -> list[Path]:
    """Execute every notebook under ``folder`` in place, in name order; return their paths."""
    notebooks = sorted(folder.rglob("*.ipynb"))
    for path in notebooks:
        execute_notebook(path)
    return notebooks
