"""The Colab notebooks: committed clean (no outputs, a `parameters` cell) and runnable end to end.

Each notebook is executed with nbclient in tiny mode on CPU, papermill-style: a cell assigning
`TINY = True` and paths under tmp_path is inserted right after the cell tagged `parameters`, and any
cell that raises fails the test. The kernel is this interpreter, through a kernelspec written into a
temp dir on JUPYTER_PATH, so CI's fresh venv needs no kernel installed and a user-level "python3"
kernelspec pointing at another Python is never picked up.
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import sys

import nbformat
import numpy as np
import pytest
import soundfile as sf

nbclient = pytest.importorskip(
    "nbclient", reason="nbclient is a test dependency (requirements.txt)"
)

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
NAMES = ("quickstart.ipynb", "train_vctk_tpu.ipynb", "enhance_your_audio.ipynb")
KERNEL = "jaxsr-notebook-tests"
CELL_TIMEOUT_S = 300


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def _parameters_index(nb: nbformat.NotebookNode) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected exactly one cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


def _assigned_names(source: str) -> set[str]:
    return {
        t.id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


# ------------------------------------------------------------------------------------ static checks
def test_notebook_names_are_the_committed_ones():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_clean_with_parameters_cell(name):
    nb = _read(name)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name} cell {i} has outputs: strip them before committing"
            assert cell.execution_count is None, (
                f"{name} cell {i} has an execution count: strip outputs"
            )
    params = nb.cells[_parameters_index(nb)]
    assert params.cell_type == "code"
    names = _assigned_names(params.source)
    # Training notebooks name a WORKDIR to write; the enhance notebook a MODEL to read (packaged or a workdir).
    assert {
        "TINY",
        "REPO_URL",
        "MODEL" if name == "enhance_your_audio.ipynb" else "WORKDIR",
    } <= names, names
    assert "TINY = False" in params.source, "notebooks are committed in full (not tiny) mode"
    # The first cell says how to open it in Colab from the user's own copy (no placeholder owner).
    assert "Colab" in nb.cells[0].source and "OWNER" not in nb.cells[0].source
    # Colab-only steps run under an `if` on IN_COLAB, so that the notebook runs anywhere.
    for i, cell in enumerate(nb.cells):
        lines = cell.source.splitlines()
        for j, line in enumerate(lines):
            if any(k in line for k in COLAB_ONLY):
                assert _enclosing_if(lines, j) and "IN_COLAB" in _enclosing_if(lines, j), (
                    f"{name} cell {i} line {j + 1} ({line.strip()!r}) must only run in Colab"
                )


COLAB_ONLY = (
    "google.colab import",
    "drive.mount(",
    "files.upload(",
    "files.download(",
    '"pip", "install"',
    '"git", "clone"',
    "run_line_magic(",
)


def _enclosing_if(lines: list[str], j: int) -> str:
    """The nearest `if`/`elif` line above line `j` that is indented less ("" if none)."""
    indent = len(lines[j]) - len(lines[j].lstrip())
    for line in reversed(lines[:j]):
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            if line.lstrip().startswith(("if ", "elif ")):
                return line
            indent = len(line) - len(line.lstrip())
    return ""


# ------------------------------------------------------------------------------------------ running
@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernelspec for sys.executable on JUPYTER_PATH, and a kernel environment pinned to CPU."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "data" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "jaxsr tests",
                "language": "python",
            }
        )
    )
    mp = pytest.MonkeyPatch()
    mp.setenv(
        "JUPYTER_PATH",
        os.pathsep.join([str(root / "data"), os.environ.get("JUPYTER_PATH", "")]).rstrip(
            os.pathsep
        ),
    )
    mp.setenv("JUPYTER_RUNTIME_DIR", str(root / "runtime"))
    mp.setenv(
        "IPYTHONDIR", str(root / "ipython")
    )  # no user profile / startup files, no history in $HOME
    mp.setenv(
        "PYTHONPATH",
        os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    mp.setenv("JAX_PLATFORMS", "cpu")
    mp.setenv("JAXSR_DATA_DIR", str(root / "datasets"))  # a safety net: nothing is built in $HOME
    mp.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    yield KERNEL
    mp.undo()


def run_notebook(name: str, params: dict, cwd: pathlib.Path) -> nbformat.NotebookNode:
    """Execute `name` with `params` injected after its parameters cell; raises on the first failing cell."""
    nb = _read(name)
    at = _parameters_index(nb)
    unknown = set(params) - _assigned_names(nb.cells[at].source)
    assert not unknown, f"{name} has no parameters {sorted(unknown)}"
    source = "# Injected by tests/test_notebooks.py\n" + "\n".join(
        f"{k} = {v!r}" for k, v in params.items()
    )
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source))
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def _outputs(nb: nbformat.NotebookNode, mime: str) -> list[str]:
    return [
        o.data[mime]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type in ("display_data", "execute_result") and mime in o.get("data", {})
    ]


def _stdout(nb: nbformat.NotebookNode) -> str:
    return "".join(
        o.text
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream" and o.name == "stdout"
    )


@pytest.fixture(scope="module")
def quickstart_run(kernel, tmp_path_factory) -> tuple[nbformat.NotebookNode, pathlib.Path]:
    """quickstart.ipynb executed once; enhance_your_audio.ipynb then restores audio with its checkpoint."""
    tmp = tmp_path_factory.mktemp("quickstart")
    workdir = tmp / "run"
    nb = run_notebook(
        "quickstart.ipynb",
        {"TINY": True, "WORKDIR": str(workdir), "DATA_DIR": str(tmp / "data")},
        cwd=tmp,
    )
    return nb, workdir


def test_quickstart_runs_tiny(quickstart_run):
    nb, workdir = quickstart_run
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["5"]
    assert json.loads((workdir / "config.json").read_text())["model"]["width"] == 0.0625
    assert "backend: cpu" in _stdout(nb)
    markdown = "\n".join(_outputs(nb, "text/markdown"))
    assert "| metric | spline | model | change |" in markdown  # the evaluation table
    assert "| this clip |" in markdown
    assert (
        len([h for h in _outputs(nb, "text/html") if "<audio" in h]) == 3
    )  # degraded, restored, reference
    assert len(_outputs(nb, "image/png")) == 1  # the spectrograms, side by side in one figure


def test_train_vctk_runs_tiny_on_a_fake_vctk(kernel, tmp_path):
    workdir, data = tmp_path / "vctk_run", tmp_path / "data"
    # cwd = notebooks/: the notebook finds configs/vctk.py by walking up, as when opened from a checkout.
    nb = run_notebook(
        "train_vctk_tpu.ipynb",
        {"TINY": True, "WORKDIR": str(workdir), "DATA_DIR": str(data)},
        cwd=NOTEBOOKS,
    )
    saved = json.loads((workdir / "config.json").read_text())
    assert saved["data"]["name"] == "vctk" and saved["data"]["vctk_speaker"] == "p225"
    assert saved["data"]["trim_silence"] is True  # configs/vctk.py was the base, not a copy of it
    assert (workdir / "best").is_dir() and (workdir / "checkpoints" / "5").is_dir()
    assert (data / "fake-VCTK-Corpus-0.92.zip").is_file() and any((data / "vctk").iterdir())
    out = _stdout(nb)
    # The paper's split on the fake speaker: 6 training recordings (1 carved off for valid), the other 2 test.
    assert "train 5 clips, valid 1 clips, test 2 clips" in out, out
    assert "1 device(s) [cpu]" in out
    assert "| metric | spline | model | change |" in "\n".join(_outputs(nb, "text/markdown"))
    assert len(_outputs(nb, "image/png")) == 1


def test_enhance_restores_scores_and_saves(quickstart_run, tmp_path):
    _, workdir = quickstart_run
    out = tmp_path / "restored.wav"
    nb = run_notebook(
        "enhance_your_audio.ipynb",
        {"TINY": True, "MODEL": str(workdir), "OUTPUT_PATH": str(out)},
        cwd=tmp_path,
    )
    restored, rate = sf.read(out)
    assert (
        rate == 8000 and len(restored) == 8000
    )  # the 1 s synthetic clip, restored at the model's rate
    assert np.max(np.abs(restored)) > 0.01
    printed = _stdout(nb)
    assert (
        "step 5," in printed and "task sr x4: input at 2000 Hz" in printed
    )  # quickstart's checkpoint
    markdown = "\n".join(_outputs(nb, "text/markdown"))
    assert "| spline (input) |" in markdown and "| restored |" in markdown
    assert len([h for h in _outputs(nb, "text/html") if "<audio" in h]) == 3
    assert len(_outputs(nb, "image/png")) == 1


def test_enhance_defaults_to_a_packaged_model(kernel, tmp_path):
    # No workdir, no training: the notebook's default MODEL is a pretrained model shipped in the package.
    out = tmp_path / "restored.wav"
    nb = run_notebook(
        "enhance_your_audio.ipynb", {"TINY": True, "OUTPUT_PATH": str(out)}, cwd=tmp_path
    )
    restored, rate = sf.read(out)
    assert rate == 16000 and len(restored) == 16000
    printed = _stdout(nb)
    assert "pretrained:speech-sr-x4-16k" in printed and "task sr x4: input at 4000 Hz" in printed
    assert not (
        tmp_path / "speech-sr-x4-16k"
    ).exists()  # nothing was trained into a folder of that name
    markdown = "\n".join(_outputs(nb, "text/markdown"))
    assert "| spline (input) |" in markdown and "| restored |" in markdown
