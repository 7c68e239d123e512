"""Every notebook opens and runs headless in a real Jupyter kernel (nbclient).

Solution notebooks run top to bottom through :mod:`autograder.execute` (what ``make
solutions-release`` runs), their plots stored as images and their demonstrations showing
what the text claims; release notebooks run until the first check of a stub, which must
fail as "not yet attempted" (and nothing before it may fail). Kernels start in parallel:
each pays for its own `import torch`. The fast tests check the executor's wiring and
error messages, and that the text quotes no measured number without naming where it was
measured.
"""
from __future__ import annotations

import re
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from autograder import build, execute, release  # noqa: E402
from autograder.catalogue import DAYS, levels_of  # noqa: E402

KIT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [(day, level) for day in DAYS for level in levels_of(day)]


def _execute(path: Path, kind: str):
    if kind == "solution":       # the release's own executor: outputs written back into the file
        try:
            execute.execute_notebook(path)
            return nbformat.read(path, as_version=4), None
        except execute.NotebookExecutionError as exc:
            return nbformat.read(path, as_version=4), exc
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
        results = dict(zip(jobs, pool.map(_execute, jobs.values(), [kind for kind, _, _ in jobs])))
    return results


@pytest.mark.slow
def test_generated_notebooks_are_valid_nbformat():
    for day, level in NOTEBOOKS:
        nb = nbformat.read(KIT / "exercises" / day / build.notebook_name(day, level), as_version=4)
        nbformat.validate(nb)


@pytest.mark.slow
@pytest.mark.parametrize("day, level", NOTEBOOKS)
def test_solution_notebook_runs_top_to_bottom(executed, day, level):
    nb, error = executed[("solution", day, level)]
    assert error is None, f"{day} {level} solution notebook failed:\n{error}"
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "PASS" in outputs and "FAIL" not in outputs and "TODO" not in outputs


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("day, level", NOTEBOOKS)
def test_every_plot_of_a_solution_notebook_is_stored_as_an_image(executed, day, level):
    nb, error = executed[("solution", day, level)]
    assert error is None, f"{day} {level} solution notebook failed:\n{error}"
    for cell in (c for c in nb.cells if c.cell_type == "code" and "plt.show()" in c.source):
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert images, f"{day} {level}: a plotting cell stored no image:\n{cell.source[:200]}"


def _printed(nb, marker: str) -> str:
    cells = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"expected one demonstration cell containing {marker!r}, found {len(cells)}"
    return "".join(o.get("text", "") for o in cells[0].outputs if o.get("output_type") == "stream")


@pytest.mark.slow
def test_the_day16_demonstrations_show_what_the_text_claims(executed):
    nb, error = executed[("solution", "day16", "intermediate")]
    assert error is None, error
    # Truncation: a cue 30 steps back is learned with k = 50 and not with k = 10.
    recall = dict(re.findall(r"k = (\d+): recall MSE [\d.]+, signs recalled correctly (\d+)%",
                             _printed(nb, "Truncated BPTT's limit")))
    assert set(recall) == {"10", "50"}, recall
    assert int(recall["50"]) >= 90 and int(recall["10"]) <= 70, recall
    # Clipping: without it the loss leaves the finite numbers; with it every step is finite and it learns.
    clipping = _printed(nb, "Exploding gradients, with and without clipping")
    raw = re.search(r"no clipping .*\((\d+) of (\d+) steps finite\)", clipping)
    clipped = re.search(r"clipped to norm .* at step 0: (\S+), at step \d+: (\S+) \((\d+) of (\d+)", clipping)
    assert raw and clipped, clipping
    assert int(raw[1]) < int(raw[2])
    assert clipped[3] == clipped[4] and float(clipped[2]) < 1e-3 * float(clipped[1]), clipping
    # Gating: at t = 0 the LSTM's gradient grows with its forget-gate bias; at default init it vanishes too.
    gating = _printed(nb, "Gating, measured")
    at_0 = {name.strip(): float(v)
            for name, v in re.findall(r"^(.+?)\s+\|\|dL/dh_t\|\| at t = 0: (\S+)", gating, re.M)}
    assert at_0["LSTM, default init"] < at_0["LSTM, forget bias +1"] < at_0["LSTM, forget bias +3"], at_0
    assert at_0["RNN (tanh)"] < at_0["LSTM, default init"] < 1e-6, at_0     # it vanishes too, more slowly


# ------------------------------------------------------------------------------------------------
# Fast: the executor's wiring and errors, and the numbers quoted in the text
# ------------------------------------------------------------------------------------------------

def test_a_failing_cell_is_named_with_its_notebook_and_error(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("print(x)\nraise ValueError('the demo broke')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "day99" / "demo.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    with pytest.raises(execute.NotebookExecutionError) as caught:
        execute.execute_notebook(path)
    said = str(caught.value)
    assert str(path) in said and "cell 1 (print(x))" in said and "ValueError: the demo broke" in said


def test_solutions_release_runs_every_notebook_and_keeps_the_outputs(tmp_path, monkeypatch):
    ran = []

    def headless(path, timeout=execute.CELL_TIMEOUT_S):     # stands in for the kernel: marks the notebook
        ran.append(path.relative_to(tmp_path).as_posix())
        nb = nbformat.read(path, as_version=4)
        code = next(c for c in nb.cells if c.cell_type == "code")
        code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran headless\n")]
        nbformat.write(nb, path)
    monkeypatch.setattr(execute, "execute_notebook", headless)
    release.solutions_release(tmp_path, execute=True)
    assert sorted(ran) == sorted(f"rnnkit-solutions-{day}/{day}/{build.notebook_name(day, level)}"
                                 for day in DAYS for level in levels_of(day))
    with zipfile.ZipFile(tmp_path / "rnnkit-solutions-day16.zip") as zf:
        assert "ran headless" in zf.read(f"rnnkit-solutions-day16/day16/{build.notebook_name('day16', 'intermediate')}").decode()

    def broken(path, timeout=execute.CELL_TIMEOUT_S):
        raise execute.NotebookExecutionError(f"{path}: cell 3 (plt.show()) failed: ValueError: no")
    monkeypatch.setattr(execute, "execute_notebook", broken)
    with pytest.raises(release.ReleaseError, match=r"does not run: .*day15_\w+\.ipynb: cell 3 .*ValueError"):
        release.solutions_release(tmp_path, execute=True)


MEASURED = re.compile(r"\d[\d ,.]*\s?(?:MiB|GiB|KiB|ms)\b|\b\d\.\d+e[-+]?\d+\b")


@pytest.mark.parametrize("day, level", NOTEBOOKS)
def test_quoted_measurements_name_the_gpu_and_torch_they_come_from(day, level):
    """A number the CPU can measure comes from a cell's output (measured whenever the notebook runs);
    a GPU number in the text names the GPU and the torch version it was measured with."""
    for cell in build.parse_template(KIT / "solutions" / day / f"{level}.nb.md"):
        if cell.kind not in ("markdown", "answer"):
            continue
        paragraphs = []
        for paragraph in re.split(r"\n\s*\n|\n(?=- )", cell.body):
            if paragraph.startswith("|") and paragraphs:     # a table: the paragraph before it is its caption
                paragraphs[-1] += "\n" + paragraph
            else:
                paragraphs.append(paragraph)
        for paragraph in paragraphs:
            if MEASURED.search(paragraph):
                assert re.search(r"torch \d+\.\d+", paragraph) and re.search(r"H200|A100|GPU", paragraph), (
                    f"solutions/{day}/{level}.nb.md:{cell.line}: a measured number without the GPU and torch "
                    f"version it was measured with (a CPU number: print it from a demonstration cell):\n{paragraph}")
