"""Shared fixtures: the real-speech folder (read by path, never copied) and a tiny config."""

from __future__ import annotations

import os
import pathlib

import ml_collections
import numpy as np
import pytest

from jaxsr import config as config_lib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# The real-speech data: $JAXSR_SHARED_DATA, else the `shared/data` folder laid beside the checkout.
SHARED_DATA = pathlib.Path(
    os.environ.get("JAXSR_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data"
)
SPEECH_44K = SHARED_DATA / "speech-44k"
VOICES = SHARED_DATA / "librispeech-261"
_WHERE = (
    "the project's shared data folder (speech-44k, librispeech-261, noise-real; see its README.md), laid "
    "beside the checkout as ../shared/data, or wherever $JAXSR_SHARED_DATA points"
)


def _data_dir(path: pathlib.Path, pattern: str) -> pathlib.Path:
    """`path` if it holds files matching `pattern`. Skips where it is absent (a user's clone), but fails in CI
    (`CI` set), where it is always laid beside the checkout: the real-speech tests must not quietly skip."""
    if not path.is_dir() or not any(path.glob(pattern)):
        if os.environ.get("CI"):
            pytest.fail(f"real-speech data not found at {path}, which CI must provide")
        pytest.skip(f"real-speech data not found at {path}: it comes from {_WHERE}")
    return path


@pytest.fixture(scope="session")
def speech44k_dir() -> pathlib.Path:
    """`speech-44k` (141 mono 44.1 kHz FLAC files of one speaker)."""
    return _data_dir(SPEECH_44K, "*.flac")


@pytest.fixture(scope="session")
def voices_dir() -> pathlib.Path:
    """`librispeech-261`: `train/` 251 speakers, `test/SPEAKER/` 10 speakers no packaged model heard."""
    return _data_dir(VOICES, "test/*/*.flac")


@pytest.fixture(scope="session")
def noise_dir() -> pathlib.Path:
    """`noise-real`: six background-noise recordings at 16 kHz."""
    return _data_dir(SHARED_DATA / "noise-real", "*.wav")


@pytest.fixture(scope="session")
def speech44k_clip(speech44k_dir) -> tuple[np.ndarray, int]:
    """The first real recording as float32 `[time]` plus its sample rate (44100)."""
    import soundfile as sf

    path = sorted(speech44k_dir.glob("*.flac"))[0]
    audio, sr = sf.read(path, dtype="float32", always_2d=False)
    assert audio.ndim == 1, f"{path} should be mono"
    return audio, sr


@pytest.fixture
def tiny_config() -> ml_collections.ConfigDict:
    """A valid config small enough for a CPU test: 2 blocks, 1/16 width, 512-sample patches."""
    c = config_lib.default_config()
    c.model.num_blocks = 2
    c.model.width = 0.0625
    c.data.sample_rate = 16000
    c.data.patch_length = 512
    c.data.num_train_clips = 4
    c.data.num_eval_clips = 2
    c.data.clip_seconds = 0.5
    c.train.batch_size = 2
    c.train.num_train_steps = 2
    c.train.log_every = 1
    c.train.eval_every = 2
    c.train.checkpoint_every = 2
    c.eval.num_clips = 2
    c.eval.batch_size = 2
    config_lib.validate(c)
    return c


def train_tiny_model(root: pathlib.Path, **updates) -> pathlib.Path:
    """Train a tiny sr r=4 model on the synthetic corpus for 4 steps into `root/run`; return the workdir.

    `updates` are dotted config fields (`eval__num_clips=2` sets `config.eval.num_clips`).
    """
    from jaxsr.train import train_and_evaluate

    c = config_lib.default_config()
    c.dtype = "float32"
    c.model.update(width=0.0625, num_blocks=2)
    c.data.update(
        name="synthetic",
        sample_rate=8000,
        patch_length=512,
        num_train_clips=4,
        num_eval_clips=1,
        clip_seconds=0.5,
        data_dir=str(root / "data"),
    )
    c.train.update(
        batch_size=4,
        num_train_steps=4,
        log_every=2,
        eval_every=1000,
        checkpoint_every=4,
        learning_rate=1e-3,
    )
    c.eval.update(num_clips=1, save_examples=0, batch_size=2)
    for key, value in updates.items():
        section, field = key.split("__")
        c[section][field] = value
    train_and_evaluate(c, root / "run", quiet=True)
    return root / "run"


# Test files that load other native runtimes into the pytest process (ONNX Runtime, OpenVINO, PyTorch, each with
# its own threads and bundled libraries). With the optional `export` extra installed, a later in-process
# training run (a TFDS build and training after benchmarks.runtime_accuracy had run every runtime) crashed
# the whole pytest process with a segmentation fault, losing every result after it. They run last, so the
# rest of the suite never shares a process with them. (CI has no export extra; a user process that mixes
# runtimes and training is noted in the README's Deployment section.)
_NATIVE_RUNTIME_FILES = (
    "test_benchmark_inference.py",
    "test_export.py",
    "test_runtime_accuracy.py",
    "test_runtimes.py",
    "test_torch_twin.py",
)


def pytest_collection_modifyitems(config, items):
    items.sort(
        key=lambda item: pathlib.Path(str(item.fspath)).name in _NATIVE_RUNTIME_FILES
    )  # stable: order kept
