"""jaxsr: audio super-resolution, denoising and gap filling with a waveform U-Net, in JAX/Flax.

    import jaxsr
    model = jaxsr.load("speech-sr-x4-16k")                     # a packaged model (jaxsr.pretrained.available())
    model = jaxsr.load("runs/quickstart")                      # params + config from a workdir
    restored = jaxsr.enhance(model, audio, sample_rate=4000)   # [time] or [time, channels]
    jaxsr.export(model, "exported/", format="onnx")            # StableHLO or ONNX, run without Flax:
    model = jaxsr.load("exported/", runtime="openvino", precision="bfloat16")

The public names are resolved on first use, so `import jaxsr.data` (or a grain worker reading data)
loads no model, inference or training code, and `import jaxsr` itself does not import JAX.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute); the inference API's module is `jaxsr.inference` (not `enhance.py`, so that
# `jaxsr.enhance` is always this function, never a submodule shadowing it).
_API = {
    "AudioUNet": ("jaxsr.models", "AudioUNet"),
    "subpixel_1d": ("jaxsr.models", "subpixel_1d"),
    "default_config": ("jaxsr.config", "default_config"),
    "Model": ("jaxsr.inference", "Model"),
    "Streamer": ("jaxsr.inference", "Streamer"),
    "enhance": ("jaxsr.inference", "enhance"),
    "load": ("jaxsr.inference", "load"),
    "run_model": ("jaxsr.inference", "run_model"),
    "train_and_evaluate": ("jaxsr.train", "train_and_evaluate"),
}
_SUBMODULES = ("metrics", "pretrained")


def export(model: Any, path: str | os.PathLike, format: str = "stablehlo", **options: Any) -> Any:
    """Write `model`'s forward pass to the folder `path` as `format` ("stablehlo" or "onnx"); returns
    the folder (a `pathlib.Path`).

    `model`: a `jaxsr.Model`, or a workdir / packaged model name, loaded with `jaxsr.load` first (the
    one place a name becomes a model for export). `options`: those of `jaxsr.deploy.export`
    (`chunk_lengths`, `dtype`, `platforms`, `overwrite`).
    """
    from jaxsr.deploy import export as write
    from jaxsr.inference import load

    if isinstance(model, (str, os.PathLike)):
        model = load(model)
    return write(model, path, format, **options)


def __getattr__(name: str):
    if name in _API:
        module, attr = _API[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # resolved once
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"jaxsr.{name}")
    raise AttributeError(f"module 'jaxsr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API) | set(_SUBMODULES))


__all__ = [
    "AudioUNet",
    "subpixel_1d",
    "metrics",
    "default_config",
    "load",
    "enhance",
    "Streamer",
    "Model",
    "run_model",
    "train_and_evaluate",
    "export",
    "pretrained",
    "__version__",
]
