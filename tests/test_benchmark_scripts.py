"""benchmarks/: every script runs as `python -m benchmarks.X` and as `python benchmarks/X.py`; no import cycle;
one source of the held-out files."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = sorted(
    p.stem
    for p in (REPO / "benchmarks").glob("*.py")
    if 'if __name__ == "__main__"' in p.read_text()
)


def test_the_scripts_are_found():
    assert {
        "paper_table",
        "restoration_tables",
        "robustness",
        "denoise_robustness",
        "speed",
        "inference",
        "input_pipeline",
        "pretrained_latency",
    } <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_help_as_a_module_and_as_a_file(name, tmp_path):
    module = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert module.returncode == 0 and "usage:" in module.stdout, module.stderr[-2000:]
    # As a file, from another folder: the script finds its own package.
    script = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert script.returncode == 0 and "usage:" in script.stdout, script.stderr[-2000:]


def test_plotting_does_not_import_paper_table():
    code = "import sys, benchmarks.plotting; assert 'benchmarks.paper_table' not in sys.modules"
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr


def test_held_out_files_come_from_one_function():
    """Only benchmarks/common.py lists the audio files that are held out; the others call it."""
    listing = [
        p.name for p in (REPO / "benchmarks").glob("*.py") if "list_audio_files" in p.read_text()
    ]
    assert listing == ["common.py"]
    for name in ("paper_table", "restoration_tables", "robustness", "denoise_robustness"):
        text = (REPO / "benchmarks" / f"{name}.py").read_text()
        assert "held_out_files(" in text and (
            "add_held_out_args(" in text or "model_parser(" in text
        ), name
