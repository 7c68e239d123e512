"""Every notebook opens and runs headless in a real Jupyter kernel (nbclient).

Solution notebooks run top to bottom; release notebooks run until the first check
of a stub, which must fail as "not yet attempted" (and nothing before it may fail).
Kernels start in parallel: each pays for its own `import torch`.
"""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from autograder import build  # noqa: E402
from autograder.catalogue import DAYS, levels_of  # noqa: E402

pytestmark = pytest.mark.slow
KIT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [(day, level) for day in DAYS for level in levels_of(day)]


def _execute(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
        return nb, None
    except nbclient.exceptions.CellExecutionError as exc:
        return nb, exc


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    # Three kernels share two cores: one thread each, or torch's thread pools fight (10x slower steps).
    mp = pytest.MonkeyPatch()
    mp.setenv("OMP_NUM_THREADS", "1")
    mp.setenv("MKL_NUM_THREADS", "1")
    try:
        yield _execute_all(tmp_path_factory)
    finally:
        mp.undo()


def _execute_all(tmp_path_factory):
    solved = tmp_path_factory.mktemp("solution_nb")
    build.write_tree(solved, build.build_files(release=False))
    released = tmp_path_factory.mktemp("release_nb")
    for day in DAYS:
        shutil.copytree(KIT / "exercises" / day, released / day)
    jobs = {(kind, day, level): root / day / build.notebook_name(day, level)
            for kind, root in (("solution", solved), ("release", released)) for day, level in NOTEBOOKS}
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(jobs, pool.map(_execute, jobs.values())))
    return results


def test_generated_notebooks_are_valid_nbformat():
    for day, level in NOTEBOOKS:
        nb = nbformat.read(KIT / "exercises" / day / build.notebook_name(day, level), as_version=4)
        nbformat.validate(nb)


@pytest.mark.parametrize("day, level", NOTEBOOKS)
def test_solution_notebook_runs_top_to_bottom(executed, day, level):
    nb, error = executed[("solution", day, level)]
    assert error is None, f"{day} {level} solution notebook failed:\n{error}"
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "PASS" in outputs and "FAIL" not in outputs and "TODO" not in outputs


@pytest.mark.parametrize("day, level", NOTEBOOKS)
def test_hidden_cells_give_the_references_full_points_in_the_kernel(executed, day, level):
    """The graded cells nbgrader runs: the hidden suite in the kernel, its points as partial credit."""
    nb, _ = executed[("solution", day, level)]
    hidden = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert hidden
    for cell in hidden:
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        # Its reasons on stdout (nbgrader's feedback shows them), nothing on stderr (it would zero the cell).
        kinds = [(o.output_type, o.get("name")) for o in cell.outputs]
        assert kinds in ([("execute_result", None)], [("stream", "stdout"), ("execute_result", None)]), kinds
        said = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert " hidden tests passed" in said and "def test_" not in said, said
        assert float(results[0].data["text/plain"]) == cell.metadata.nbgrader.points


@pytest.mark.parametrize("day, level", NOTEBOOKS)
def test_release_notebook_runs_up_to_the_first_stub(executed, day, level):
    nb, error = executed[("release", day, level)]
    assert error is not None, "the release notebook ran through: a stub did not fail its check"
    assert "not yet attempted" in str(error)
    code = [c for c in nb.cells if c.cell_type == "code"]
    failed_at = next(i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.outputs))
    assert code[failed_at].source.startswith("check("), f"failed in a non-check cell:\n{code[failed_at].source}"
    first_check = next(i for i, c in enumerate(code) if c.source.startswith("check("))
    assert failed_at == first_check
