"""Checkpoints that are damaged after they were written: loading and resuming fall back to the newest
step that reads back, and say which step was skipped; an explicitly chosen step is never swapped."""

from __future__ import annotations

import pathlib
import shutil
import warnings

import jax
import numpy as np
import pytest
from conftest import train_tiny_model

import jaxsr


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> pathlib.Path:
    """A finished 6-step run with checkpoints at steps 2, 4 and 6 (the root holding `run/` and `data/`)."""
    root = tmp_path_factory.mktemp("ckpt")
    train_tiny_model(root, train__num_train_steps=6, train__checkpoint_every=2)
    assert sorted(
        int(p.name) for p in (root / "run" / "checkpoints").iterdir() if p.name.isdigit()
    ) == [2, 4, 6]
    return root


def _truncate_model_data(step_dir: pathlib.Path) -> None:
    """Cut the largest array file of the model item in half, as an interrupted copy or a full disk would."""
    big = max(
        (p for p in (step_dir / "model").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )
    data = big.read_bytes()
    big.write_bytes(data[: len(data) // 2])


def _garble_meta(step_dir: pathlib.Path) -> None:
    (step_dir / "meta" / "metadata").write_bytes(b"\x00\xff garbage \x13" * 7)


DAMAGE = {"truncated model data": _truncate_model_data, "garbled meta": _garble_meta}


@pytest.fixture(params=list(DAMAGE))
def damaged(request, trained, tmp_path) -> pathlib.Path:
    """A copy of the trained root whose latest step (6) is damaged."""
    root = tmp_path / "copy"
    shutil.copytree(trained, root)
    DAMAGE[request.param](root / "run" / "checkpoints" / "6")
    return root


def _leaves(variables) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(variables)]


def test_load_falls_back_to_the_newest_step_that_reads(damaged, trained):
    run = damaged / "run"
    with pytest.warns(
        UserWarning, match=r"damaged checkpoint\(s\) skipped: .*checkpoints/6 .*loaded step 4"
    ):
        model = jaxsr.load(run)
    assert model.step == 4
    for a, b in zip(_leaves(model.variables), _leaves(jaxsr.load(trained / "run", 4).variables)):
        np.testing.assert_array_equal(a, b)
    # An explicit step is that step: the damaged one is an error of one line, the others load silently.
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoints/6 is damaged") as e:
        jaxsr.load(run, 6)
    assert "\n" not in str(e.value) and len(str(e.value)) < 600
    with pytest.raises(ValueError, match=r"checkpoints/6 is damaged"):
        jaxsr.load(run / "checkpoints" / "6")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jaxsr.load(run, 4).step == 4 and jaxsr.load(run, "best").step == 6  # best/ is intact


def test_no_readable_step_is_one_error(trained, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(trained, root)
    for step in (2, 4, 6):
        _garble_meta(root / "run" / "checkpoints" / str(step))
    with pytest.raises(
        ValueError,
        match=r"no checkpoint under .*checkpoints can be read \(damaged or half-written\)",
    ) as e:
        jaxsr.load(root / "run")
    assert "\n" not in str(e.value)


def test_resume_falls_back_and_continues_exactly(damaged, tmp_path):
    # Resume the damaged run to step 8: it restarts from step 4 and must end where an uninterrupted
    # 8-step run ends, with the damaged step moved out of the way (not deleted) and named in the log.
    train_tiny_model(damaged, train__num_train_steps=8, train__checkpoint_every=2)
    run = damaged / "run"
    log = (run / "log.txt").read_text()
    assert "resumed from" in log and f"{run / 'checkpoints' / '4'} at step 4" in log
    assert "moved the damaged checkpoint(s) [6]" in log
    (aside,) = (run / "checkpoints-damaged").iterdir()
    assert aside.name.startswith("6-")
    full = train_tiny_model(tmp_path / "full", train__num_train_steps=8, train__checkpoint_every=2)
    resumed, reference = jaxsr.load(run), jaxsr.load(full)
    assert resumed.step == reference.step == 8
    for a, b in zip(_leaves(resumed.variables), _leaves(reference.variables)):
        np.testing.assert_array_equal(a, b)
