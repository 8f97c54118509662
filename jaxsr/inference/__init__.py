"""Inference: restore whole signals (`enhance`), streams (`Streamer`), and the chunked core (`run_model`).

    chunking.py   chunk geometry (ChunkPlan, from the network's receptive field in `jaxsr.models`),
                  `apply_chunks` (the one place the network runs), overlap-add, `run_model` for a
                  signal already at the target rate
    model.py      `Model`, `load` (a workdir, a packaged name or an export folder), variables checked
                  against the config; a Model runs through a `jaxsr.deploy` runtime when asked
    checks.py     input checks: audio, rates, masks, task, memory; clipping warnings
    api.py        `enhance` (checks -> resample -> sr spline / inpaint fill -> chunks), `zero_gaps`,
                  `keep_known`
    streaming.py  `Streamer` and its streaming front ends; output equal to `enhance` on the whole signal

Entry points: `load(workdir) -> Model`; `enhance(model, audio, sample_rate=...)` for whole signals;
`Streamer` for blocks as they arrive; `run_model` for a signal already at the target rate (used by
training-time evaluation). The package has no module named `enhance`, so `jaxsr.inference.enhance`
(and `jaxsr.enhance`) is always the function.
"""

from __future__ import annotations

from jaxsr.inference.api import enhance, keep_known, zero_gaps
from jaxsr.inference.checks import (
    MAX_CHANNELS,
    PLAUSIBLE_RATES,
    WORKING_COPIES,
    count_clipped,
    expected_input_rate,
    resolve_task,
)
from jaxsr.inference.chunking import (
    ChunkPlan,
    apply_chunks,
    chunk_plan,
    default_batch_size,
    run_model,
    silence_gate,
)
from jaxsr.inference.model import Model, load
from jaxsr.inference.streaming import SPLINE_CONTEXT, Streamer
from jaxsr.models import receptive_field

__all__ = [
    "MAX_CHANNELS",
    "PLAUSIBLE_RATES",
    "SPLINE_CONTEXT",
    "WORKING_COPIES",
    "ChunkPlan",
    "Model",
    "Streamer",
    "apply_chunks",
    "chunk_plan",
    "count_clipped",
    "default_batch_size",
    "enhance",
    "expected_input_rate",
    "keep_known",
    "load",
    "receptive_field",
    "resolve_task",
    "run_model",
    "silence_gate",
    "zero_gaps",
]
