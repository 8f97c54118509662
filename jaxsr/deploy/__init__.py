"""Deployment: export a trained model's forward pass (StableHLO or ONNX) and run it through XLA, a
StableHLO artefact, ONNX Runtime or OpenVINO behind one callable.

    from jaxsr.deploy import export, load_forward
    model = jaxsr.load("speech-sr-x4-16k")
    export(model, "exported/", "stablehlo")              # forward.stablehlo + jaxsr-export.json
    export(model, "exported-onnx/", "onnx")              # forward.onnx + jaxsr-export.json
    forward = load_forward("exported-onnx/", "onnxruntime")
    y = forward(chunks)                                  # [n, time, 1] float32 -> [n, time, 1]

    export.py         `export`: the artefact folder, its metadata and checksums
    onnx_lowering.py  jaxsr's jaxpr -> ONNX lowering (why not a general converter: see its docstring)
    runtimes.py       `load_forward` and `Forward`, the callable inference runs the network through

ONNX and the ONNX runtimes are optional (`pip install jaxsr[export]`); StableHLO needs only jax (and
flatbuffers, which jax.export serialises with).
"""

from __future__ import annotations

from jaxsr.deploy.export import DTYPES, FORMATS, METADATA, export
from jaxsr.deploy.runtimes import PRECISIONS, RUNTIMES, Forward, load_forward

__all__ = [
    "DTYPES",
    "FORMATS",
    "METADATA",
    "PRECISIONS",
    "RUNTIMES",
    "Forward",
    "export",
    "load_forward",
]
