"""Deployment: export a trained model's forward pass (StableHLO or ONNX) and run it through XLA, a
StableHLO artefact, ONNX Runtime or OpenVINO behind one callable.

    from jaxsr.deploy import export, load_forward
    model = jaxsr.load("speech-sr-x4-16k")               # names and workdirs: jaxsr.load
    export(model, "exported/", "stablehlo")              # forward.stablehlo + jaxsr-export.json
    export(model, "exported-onnx/", "onnx")              # forward.onnx + jaxsr-export.json
    forward = load_forward("exported-onnx/", "onnxruntime")
    y = forward(chunks)                                  # [n, time, 1] float32 -> [n, time, 1]

    folder.py         what an export folder holds: file names, choices, metadata (`describe`), checks
    export.py         `export`: a `jaxsr.Model` -> the artefact folder
    onnx_lowering.py  jaxsr's jaxpr -> ONNX lowering (why not a general converter: see its docstring)
    runtimes.py       `load_forward` and `Forward`, the callable inference runs the network through

Imports run one way: `jaxsr.inference` uses this package (a `Model` runs through a `Forward`; an export
folder loads as a `Model`), and this package knows a model only by its attributes (`folder.Exportable`)
and the network by `jaxsr.models`. Resolving a workdir or packaged name is `jaxsr.load`'s job, so
`export` and `load_forward` take a `Model` (or, for `load_forward`, an export folder); `jaxsr.export`
takes a name too and loads it first.

ONNX and the ONNX runtimes are optional (`pip install jaxsr[export]`); StableHLO needs only jax (and
flatbuffers, which jax.export serialises with).
"""

from __future__ import annotations

from jaxsr.deploy.export import export
from jaxsr.deploy.folder import DTYPES, FORMATS, METADATA, PRECISIONS
from jaxsr.deploy.runtimes import RUNTIMES, Forward, load_forward

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
