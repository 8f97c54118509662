"""Inference speed on this machine: every jaxsr runtime next to PyTorch's best CPU mode, and the
real-time factor of `jaxsr.enhance` and `jaxsr.Streamer` through each runtime.

    python -m benchmarks.inference --models tiny --quick           # smoke run (under a minute)
    python -m benchmarks.inference                                 # forward + real-time tables, full and small
                                                                   #   (about 7-9 min on 2 cores)
    python benchmarks/inference.py --json out.json --write-results # ... also as JSON and into RESULTS.md
    python -m benchmarks.inference --tables rtf                    # the RTF table: xla f32, 10/60 s, 16/48 kHz
    python -m benchmarks.inference --tables sweep                  # chunk_length x batch_size options

Tables (`--tables`, default `forward,realtime`):

  forward   The network's forward pass on a batch of chunks of `--forward-length` (8192) samples: the
            full paper model (B=4, width 1.0) on 2 chunks, width 0.25 on 4 (tiny, for smoke tests: 2),
            through each jaxsr runtime (`jaxsr.deploy.load_forward` on a `jaxsr.Model`: xla, stablehlo,
            onnxruntime, openvino; float32 and bfloat16 where the runtime has it) and the PyTorch twin
            (benchmarks/torch_unet.py, given the same weights): eager and `torch.compile` (and, named in
            `--runtimes`, `torch-freeze`: torch.compile with inductor's freezing), float32 and
            `torch.autocast("cpu", dtype=torch.bfloat16)`, under `torch.inference_mode()` with
            `torch.set_num_threads(<cores>)`. Every implementation is set up (export, compile: the
            `setup s` column, excluded from the timings) and warmed up, then all are timed in turns,
            `--repeats` rounds: median and min per row. Summary: jaxsr's fastest runtime against
            PyTorch's fastest mode per model; the goal is at least 1.2x.
  realtime  10 s (`--rt-seconds`) of band-limited 16 kHz audio through `jaxsr.enhance(...,
            band_limited=True)` (chunked) and through a `jaxsr.Streamer` fed 0.5 s blocks, per jaxsr
            runtime (`--rt-runtimes`), timed in turns after a warm-up on a prefix with the same chunk
            shapes: x realtime = audio seconds / wall seconds. With the model's FLOPs per audio second
            (`jaxsr.models.forward_flops`) and the GFLOP/s each row sustained, so that a reader sees what
            the goal (the full model at least 5x faster than real time, chunked and streamed) would need.
  rtf       the RTF table (the xla runtime only): `enhance` on `--seconds` x `--rates`, the spline front
            end timed apart (the `spline s` column, not in the RTF); `CPU s` is the process's CPU time.
  sweep     `rtf` over chunk_length x batch_size (`--sweep-chunks`, `--sweep-batches`; 10 s at 16 kHz).

Sanity column: every row's output is compared with xla float32 on the same input (max abs difference;
float32 rows must agree within 1e-4, bfloat16 rows within 5% of the network's own part of the output,
max |y - x|, since the model is residual, y = x + f(x), and f is small with random weights).
A row that disagrees is marked "WRONG OUTPUT" and never counts as the fastest: a broken runtime
cannot post a fast time. A row whose package is missing says "not installed"; one that fails says why.

Weights are random (speed does not depend on them). Output: the Markdown tables on stdout, with the
CPU (model, AMX / AVX-512 BF16 flags, cores), versions, date and command; `--json PATH` writes
everything as JSON; `--write-results [FILE]` replaces the section between `<!-- runtimes:begin -->` and
`<!-- runtimes:end -->` of FILE (default benchmarks/RESULTS.md; appended if absent).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import importlib.util
import json
import os
import pathlib
import platform
import shlex
import statistics
import sys
import time
from typing import Any, Callable

if (
    not __package__
):  # run as `python benchmarks/inference.py`: the repository root, for `benchmarks.*`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import RESULTS_MD, log, write_section  # noqa: E402
from benchmarks.speed import Prepared, cpu_info, time_round_robin  # noqa: E402
from jaxsr import inference as E  # noqa: E402
from jaxsr.config import default_config  # noqa: E402
from jaxsr.tasks.upsampling import spline_upsample  # noqa: E402
from jaxsr.deploy.runtimes import load_forward, num_cores  # noqa: E402
from jaxsr.models import (
    compute_dtype,
    count_params,
    forward_flops,
    init_variables,
    model_from_config,
)  # noqa: E402

MODELS = {"full": 1.0, "small": 0.25, "tiny": 0.0625}  # tiny: smoke tests of this script
FORWARD_CHUNKS = {
    "full": 2,
    "small": 4,
    "tiny": 2,
}  # chunks per forward call (the measure the goal uses)
BEGIN, END = "<!-- runtimes:begin -->", "<!-- runtimes:end -->"
HEADING = "Inference runtimes: jaxsr vs PyTorch on this CPU"
GOAL_VS_TORCH = 1.2  # jaxsr's best runtime at least this many times faster than PyTorch's best mode
GOAL_X_REALTIME = (
    5.0  # the full model at least this many times faster than real time, chunked and streamed
)
RT_RATE = 16000
# Max |diff| vs xla float32: absolute for float32; for bfloat16 a fraction of max |f(x)| (see check_output).
TOLERANCE = {"float32": 1e-4, "bfloat16": 5e-2}


# ------------------------------------------------------------------------------------ implementations
@dataclasses.dataclass(frozen=True)
class Impl:
    """One row of the forward table: a jaxsr runtime or a PyTorch mode, at one precision."""

    framework: str  # "jaxsr" | "PyTorch"
    runtime: str  # xla, stablehlo, onnxruntime, openvino | eager, compile
    precision: str  # float32 | bfloat16
    packages: tuple[str, ...]  # modules that must be importable

    @property
    def name(self) -> str:
        """The `--runtimes` name: `xla`, `openvino/bfloat16`, `torch-compile/bfloat16`, ..."""
        rt = self.runtime if self.framework == "jaxsr" else f"torch-{self.runtime}"
        return rt if self.precision == "float32" else f"{rt}/{self.precision}"

    @property
    def label(self) -> str:
        if self.framework == "jaxsr":
            return self.runtime
        return {"compile": "torch.compile", "freeze": "torch.compile+freezing"}.get(
            self.runtime, self.runtime
        )


IMPLS = [
    Impl("jaxsr", "xla", "float32", ()),
    Impl("jaxsr", "xla", "bfloat16", ()),
    Impl("jaxsr", "stablehlo", "float32", ("flatbuffers",)),
    Impl("jaxsr", "stablehlo", "bfloat16", ("flatbuffers",)),
    Impl("jaxsr", "onnxruntime", "float32", ("onnx", "onnxruntime")),
    Impl("jaxsr", "openvino", "float32", ("onnx", "openvino")),
    Impl("jaxsr", "openvino", "bfloat16", ("onnx", "openvino")),
    Impl("PyTorch", "eager", "float32", ("torch",)),
    Impl("PyTorch", "eager", "bfloat16", ("torch",)),
    Impl("PyTorch", "compile", "float32", ("torch",)),
    Impl("PyTorch", "compile", "bfloat16", ("torch",)),
    Impl("PyTorch", "freeze", "float32", ("torch",)),
    Impl("PyTorch", "freeze", "bfloat16", ("torch",)),
]
BY_NAME = {i.name: i for i in IMPLS}
# torch-freeze (torch.compile with inductor's `freezing`: weights folded in as constants, oneDNN prepacking) is
# opt-in: on a 2-core CPU (2026-11-27) it was no faster than plain torch.compile (within the noise); name it
# in --runtimes to add it.
DEFAULT_RUNTIMES = [i.name for i in IMPLS if i.runtime != "freeze"]
DEFAULT_RT_RUNTIMES = ["xla", "onnxruntime", "openvino", "openvino/bfloat16"]
INSTALL = {
    "onnx": "pip install jaxsr[export]",
    "onnxruntime": "pip install jaxsr[export]",
    "openvino": "pip install jaxsr[export]",
    "torch": "pip install -r requirements-bench.txt",
    "flatbuffers": "pip install flatbuffers",
}


def missing_packages(impl: Impl) -> list[str]:
    return [p for p in impl.packages if importlib.util.find_spec(p) is None]


def not_installed(missing: list[str]) -> str:
    """The status of a row whose packages are missing: it stays in the table, saying what to install."""
    return f"not installed ({', '.join(missing)}: {INSTALL.get(missing[0], 'pip install ' + missing[0])})"


def versions() -> dict:
    """Versions of what the tables compare (None: not installed), from the installed distributions: nothing
    is imported for this."""
    from importlib import metadata

    out = {"python": platform.python_version(), "numpy": np.__version__, "jax": jax.__version__}
    for name in ("jaxlib", "torch", "onnxruntime", "openvino", "onnx"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine_info() -> dict:
    info = cpu_info()
    return {
        **info,
        "amx": any(f.startswith("amx") for f in info["cpu_flags"]),
        "avx512_bf16": "avx512_bf16" in info["cpu_flags"],
        "cores": num_cores(),
        "cpu_count": os.cpu_count(),
        "jax_backend": jax.default_backend(),
        "jax_device": jax.devices()[0].device_kind,
        "versions": versions(),
    }


# ------------------------------------------------------------------------------------------- models
def make_config(width: float, sample_rate: int):
    c = default_config()
    c.model.width = width
    c.model.num_blocks = 4
    c.data.sample_rate = sample_rate
    c.task.name, c.task.ratio = "sr", 4
    return c


def make_model(name: str, sample_rate: int = RT_RATE) -> E.Model:
    """The `name` model (MODELS) with random weights (seed 0): speed does not depend on them."""
    c = make_config(MODELS[name], sample_rate)
    return E.Model.from_variables(init_variables(model_from_config(c), jax.random.key(0)), c)


def make_signal(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def make_chunks(n: int, length: int) -> np.ndarray:
    """`[n, length, 1]` chunks of the benchmark signal (a tone in noise), consecutive pieces of it."""
    return make_signal(n * length / RT_RATE + 1, RT_RATE)[: n * length].reshape(n, length, 1)


def check_output(y: np.ndarray, ref: np.ndarray | None, x: np.ndarray, precision: str) -> dict:
    """The sanity columns: max |y - ref| against xla float32's `ref` on the same input `x`, and whether it is
    within tolerance: 1e-4 for float32; for bfloat16 5% of the network's own part of the output,
    max |ref - x| (the model is residual, y = x + f(x): a runtime that returned its input would be 100% off)."""
    if ref is None:
        return {"max_abs_diff": None, "tolerance": None, "agrees": None}
    diff = (
        float(np.max(np.abs(np.asarray(y, np.float64) - ref)))
        if np.shape(y) == ref.shape
        else float("inf")
    )
    tol = (
        TOLERANCE["float32"]
        if precision == "float32"
        else TOLERANCE["bfloat16"] * max(float(np.max(np.abs(ref - x))), 1e-6)
    )
    return {
        "max_abs_diff": diff,
        "tolerance": tol,
        "agrees": bool(np.isfinite(diff) and diff <= tol),
    }


def timed_in_turns(
    rows: list[dict], prepared: list[Prepared], repeats: int, warmup: int
) -> list[list[float] | None]:
    """`time_round_robin` of `prepared` (one per row of `rows`); a step that raises marks its row failed
    (its times: None) while the others go on."""
    errors: dict[int, str] = {}

    def guarded(k: int, step: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            if k in errors:
                return None
            try:
                return step()
            except Exception as e:  # e.g. out of memory on one runtime: report it, time the rest
                errors[k] = f"failed: {type(e).__name__}: {str(e)[:200]}"
                return None

        return run

    times = time_round_robin(
        [dataclasses.replace(p, step=guarded(k, p.step)) for k, p in enumerate(prepared)],
        repeats,
        1,
        warmup=warmup,
    )
    for k, msg in errors.items():
        rows[k]["status"] = msg
    return [None if k in errors else t for k, t in enumerate(times)]


# ------------------------------------------------------------------------------------- forward table
def prepare_jaxsr_forward(model: E.Model, impl: Impl, x: np.ndarray) -> tuple[Prepared, np.ndarray]:
    """`load_forward` of the model through `impl`, run once: setup time and first output. xla float32 is
    a fresh `load_forward`; the others come from `model.with_runtime`, which calls `load_forward` once
    per (runtime, precision) and keeps it, so the real-time table reuses the exported artefact."""
    t0 = time.perf_counter()
    if (impl.runtime, impl.precision) == ("xla", "float32"):
        forward = load_forward(model, "xla", precision="float32")
    else:
        forward = model.with_runtime(impl.runtime, impl.precision).forward
    y = np.array(forward(x))

    def step() -> np.ndarray:
        return forward(x)  # numpy: the runtimes' results are read back, so the time is complete

    return Prepared(step, lambda _: None, time.perf_counter() - t0), y


def prepare_torch_forward(model: E.Model, impl: Impl, x: np.ndarray) -> tuple[Prepared, np.ndarray]:
    """The PyTorch twin with the model's weights, eager or `torch.compile`d, float32 or bf16 autocast."""
    import torch

    from benchmarks.torch_unet import load_flax_variables, model_from_config as torch_model

    net = load_flax_variables(torch_model(model.config), model.variables).eval()
    fwd = torch.compile(net, dynamic=False) if impl.runtime in ("compile", "freeze") else net
    xt = torch.from_numpy(np.ascontiguousarray(x))
    bf16 = impl.precision == "bfloat16"

    def step() -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return fwd(xt).float().numpy()

    t0 = time.perf_counter()
    if (
        impl.runtime == "freeze"
    ):  # read when the first call compiles; the same input never recompiles
        import torch._inductor.config

        with torch._inductor.config.patch(freezing=True):
            y = step()
    else:
        y = step()  # torch.compile compiles here: setup time, like jaxsr's
    return Prepared(step, lambda _: None, time.perf_counter() - t0), y


def forward_table(name: str, model: E.Model, impls: list[Impl], length: int, repeats: int) -> dict:
    """Set up every implementation on `FORWARD_CHUNKS[name]` chunks, then time them in turns."""
    n = FORWARD_CHUNKS[name]
    x = make_chunks(n, length)
    flops = float(forward_flops(model.config, length)) * n
    log(f"forward {name}: {n} x {length} samples, {flops / 1e9:.1f} GFLOP per call")
    ref = None  # xla float32's output on x: the sanity column's reference
    rows, prepared = [], []
    for impl in impls:
        row = {
            "impl": impl.name,
            "framework": impl.framework,
            "runtime": impl.runtime,
            "label": impl.label,
            "precision": impl.precision,
            "status": "ok",
            "setup_s": None,
            "median_s": None,
            "min_s": None,
            "times": [],
            "gflops_per_s": None,
            "max_abs_diff": None,
            "tolerance": None,
            "agrees": None,
        }
        rows.append(row)
        prepared.append(None)
        missing = missing_packages(impl)
        if missing:
            row["status"] = not_installed(missing)
            log(f"  {impl.name}: {row['status']}")
            continue
        log(f"  setting up {impl.name} ...")
        try:
            p, y = (
                prepare_jaxsr_forward(model, impl, x)
                if impl.framework == "jaxsr"
                else prepare_torch_forward(model, impl, x)
            )
        except ImportError as e:
            row["status"] = f"not installed ({str(e)[:160]})"
        except (
            Exception
        ) as e:  # one failing runtime (no bf16 on this CPU, no compiler) must not end the run
            row["status"] = f"failed: {type(e).__name__}: {str(e)[:200]}"
        else:
            row["setup_s"] = round(
                p.compile_seconds, 2
            )  # export (once per runtime), compile, first call
            if impl.name == "xla":
                ref = np.array(y, np.float64)
            elif ref is None:
                ref = np.array(load_forward(model, "xla")(x), np.float64)
            row.update(check_output(y, ref, x, impl.precision))
            if not row["agrees"]:
                row["status"] = "WRONG OUTPUT"
            prepared[-1] = p
        log(
            f"  {impl.name}: {row['status']}"
            + (
                f", setup {row['setup_s']:.1f} s, max |diff| {row['max_abs_diff']:.2e}"
                if row["setup_s"] is not None
                else ""
            )
        )
    ok = [(r, p) for r, p in zip(rows, prepared) if p is not None]
    log(f"timing {len(ok)} implementations in turns, {repeats} round(s) ...")
    times = timed_in_turns([r for r, _ in ok], [p for _, p in ok], repeats, warmup=1)
    for (row, _), t in zip(ok, times):
        if t is None:
            continue
        row["times"] = [round(v, 7) for v in t]
        row["median_s"], row["min_s"] = statistics.median(t), min(t)
        row["gflops_per_s"] = round(flops / row["median_s"] / 1e9, 1)
    return {
        "model": name,
        "width": MODELS[name],
        "params": count_params(model.variables["params"]),
        "chunks": n,
        "chunk_length": length,
        "gflop": round(flops / 1e9, 2),
        "rows": rows,
        "summary": forward_summary(rows),
    }


def best_row(rows: list[dict], framework: str, key: str = "median_s", **match: Any) -> dict | None:
    """The fastest row of `framework` that ran and agrees with xla float32 (WRONG OUTPUT never wins)."""
    ok = [
        r
        for r in rows
        if r.get("framework", "jaxsr") == framework
        and r[key] is not None
        and r["agrees"] is not False
        and all(r.get(k) == v for k, v in match.items())
    ]
    return min(ok, key=lambda r: r[key]) if ok else None


def forward_summary(rows: list[dict]) -> dict:
    jx, pt = best_row(rows, "jaxsr"), best_row(rows, "PyTorch")
    out = {
        "jaxsr_best": jx and jx["impl"],
        "torch_best": pt and pt["impl"],
        "speedup": None,
        "goal": GOAL_VS_TORCH,
        "met": None,
    }
    for r in rows:
        r["vs_torch_best"] = (
            round(pt["median_s"] / r["median_s"], 3) if pt and r["median_s"] else None
        )
        r["torch_best"] = pt is not None and r is pt
        r["jaxsr_best"] = jx is not None and r is jx
    if jx and pt:
        out["speedup"] = round(pt["median_s"] / jx["median_s"], 3)
        out["met"] = out["speedup"] >= GOAL_VS_TORCH
    return out


# ------------------------------------------------------------------------------------ real-time table
def warm_prefix(x: np.ndarray, plan: E.ChunkPlan) -> np.ndarray:
    """A prefix of `x` with the same chunk shapes (a full chunk, the same last-chunk bucket) and at most
    two chunks: warming up on it compiles what the whole signal needs, for a fraction of its time."""
    num = plan.num_chunks(len(x))
    warm = x[: len(x) - (num - 2) * plan.hop] if num > 2 else x
    assert plan.last_length(len(warm)) == plan.last_length(len(x))
    return warm


def stream(
    model: E.Model, x: np.ndarray, block: int, worst: list[float] | None = None, **kw
) -> np.ndarray:
    """`x` through a `Streamer` in blocks of `block` samples; the worst block's seconds go to `worst`."""
    s = E.Streamer(model, sample_rate=model.sample_rate, band_limited=True, **kw)
    out, slowest = [], 0.0
    for i in range(0, len(x), block):
        t0 = time.perf_counter()
        out.append(s.process(x[i : i + block]))
        slowest = max(slowest, time.perf_counter() - t0)
    t0 = time.perf_counter()
    out.append(s.flush())
    if worst is not None:
        worst.append(max(slowest, time.perf_counter() - t0))
    return np.concatenate(out)


def realtime_table(
    name: str,
    base: E.Model,
    impls: list[Impl],
    seconds: float,
    block_seconds: float,
    repeats: int,
    batch_size: int | None,
    chunk_length: int | None,
) -> dict:
    """`enhance` (chunked) and a `Streamer` through each jaxsr runtime, on `seconds` of 16 kHz audio."""
    c = base.config
    rate = base.sample_rate
    x = make_signal(seconds, rate)
    block = int(round(block_seconds * rate))
    kw = dict(batch_size=batch_size, chunk_length=chunk_length)
    plan = E.chunk_plan(c, chunk_length)
    num, last = plan.num_chunks(len(x)), plan.last_length(len(x))
    per_second = (
        float(forward_flops(c, plan.length)) / plan.length * rate
    )  # model FLOPs per audio second
    computed = (num - 1) * float(forward_flops(c, plan.length)) + float(
        forward_flops(c, last)
    )  # with overlap
    log(
        f"real time {name}: {seconds:g} s at {rate} Hz, {num} chunk(s) of {plan.length}, "
        f"{computed / 1e12:.3f} TFLOP per pass"
    )
    warm = warm_prefix(x, plan)
    rows, prepared = [], []
    outputs: dict[
        int, np.ndarray
    ] = {}  # row index -> its latest output: the sanity check, after the timing
    for impl in impls:
        for mode in ("chunked", "streamed"):
            row = {
                "impl": impl.name,
                "runtime": impl.runtime,
                "precision": impl.precision,
                "mode": mode,
                "status": "ok",
                "setup_s": None,
                "median_s": None,
                "min_s": None,
                "times": [],
                "x_realtime": None,
                "gflops_per_s": None,
                "worst_block_s": None,
                "max_abs_diff": None,
                "tolerance": None,
                "agrees": None,
            }
            rows.append(row)
            prepared.append(None)
            missing = missing_packages(impl)
            if missing:
                row["status"] = not_installed(missing)
                log(f"  {impl.name} {mode}: {row['status']}")
                continue
            worst: list[float] = []
            i = len(rows) - 1
            try:
                t0 = time.perf_counter()
                m = base.with_runtime(
                    impl.runtime, impl.precision
                )  # exported once, shared with the forward table
                if mode == "chunked":

                    def step(m=m, i=i) -> np.ndarray:
                        outputs[i] = E.enhance(m, x, sample_rate=rate, band_limited=True, **kw)
                        return outputs[i]

                    E.enhance(
                        m, warm, sample_rate=rate, band_limited=True, **kw
                    )  # compiles these shapes
                else:

                    def step(m=m, i=i, worst=worst) -> np.ndarray:
                        outputs[i] = stream(m, x, block, worst, **kw)
                        return outputs[i]

                    stream(m, warm, block, **kw)
            except ImportError as e:
                row["status"] = f"not installed ({str(e)[:160]})"
            except Exception as e:
                row["status"] = f"failed: {type(e).__name__}: {str(e)[:200]}"
            else:
                row["setup_s"] = round(
                    time.perf_counter() - t0, 2
                )  # export (if not done yet) and warm-up
                prepared[-1] = (Prepared(step, lambda _: None, row["setup_s"]), worst)
            log(
                f"  {impl.name} {mode}: {row['status']}"
                + ("" if row["setup_s"] is None else f", setup {row['setup_s']:.1f} s")
            )
    ok = [(i, r, p) for i, (r, p) in enumerate(zip(rows, prepared)) if p is not None]
    log(f"timing {len(ok)} runs in turns, {repeats} round(s) ...")
    times = timed_in_turns([r for _, r, _ in ok], [p for _, _, (p, _) in ok], repeats, warmup=0)
    xla_chunked = next(
        (
            i
            for (i, r, _), t in zip(ok, times)
            if r["impl"] == "xla" and r["mode"] == "chunked" and t is not None
        ),
        None,
    )
    ref = np.array(
        outputs[xla_chunked]
        if xla_chunked is not None
        else E.enhance(base, x, sample_rate=rate, band_limited=True, **kw),
        np.float64,
    )
    for (i, row, (_, worst)), t in zip(ok, times):
        if t is None:
            continue
        row["times"] = [round(v, 6) for v in t]
        row["median_s"], row["min_s"] = statistics.median(t), min(t)
        row["x_realtime"] = round(seconds / row["median_s"], 3)
        row["gflops_per_s"] = round(computed / row["median_s"] / 1e9, 1)
        if worst:
            row["worst_block_s"] = round(max(worst), 4)
        row.update(check_output(outputs[i], ref, x, row["precision"]))
        if not row["agrees"]:
            row["status"] = "WRONG OUTPUT"
    best = {mode: best_row(rows, "jaxsr", mode=mode) for mode in ("chunked", "streamed")}
    for r in rows:
        r["best"] = any(b is r for b in best.values())
    goal = {
        mode: ({"impl": b["impl"], "x_realtime": b["x_realtime"]} if b else None)
        for mode, b in best.items()
    }
    measured = all(goal.values())
    goal.update(
        {
            "goal": GOAL_X_REALTIME,
            "applies": name == "full",
            "met": measured
            and all(goal[m]["x_realtime"] >= GOAL_X_REALTIME for m in ("chunked", "streamed"))
            if measured
            else None,
        }
    )
    return {
        "model": name,
        "width": MODELS[name],
        "params": count_params(base.variables["params"]),
        "sample_rate": rate,
        "seconds": seconds,
        "block_seconds": block_seconds,
        "chunk_length": plan.length,
        "hop": plan.hop,
        "num_chunks": num,
        "last_chunk": last,
        "batch_size": batch_size or E.default_batch_size(c),
        "gflop_per_audio_s": round(per_second / 1e9, 2),
        "gflop_per_audio_s_computed": round(computed / seconds / 1e9, 2),
        "gflops_for_goal": round(GOAL_X_REALTIME * computed / seconds / 1e9, 1),
        "rows": rows,
        "goal": goal,
    }


# ------------------------------------------------------------------------------- the RTF table
def time_enhance(model: E.Model, x: np.ndarray, repeats: int, **kw) -> tuple[float, float]:
    """Median (wall, process CPU) seconds. CPU time is the steadier number on a shared machine."""
    # Warm-up (compiles): a prefix with the same chunk shapes (full chunks, same last-chunk bucket), so
    # that long signals are not processed twice.
    plan = E.chunk_plan(model.config, kw.get("chunk_length"))
    num = plan.num_chunks(len(x))
    warm = x[: len(x) - (num - 3) * plan.hop] if num > 3 else x
    assert plan.last_length(len(warm)) == plan.last_length(len(x))
    E.enhance(model, warm, sample_rate=model.sample_rate, band_limited=True, **kw)
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        E.enhance(model, x, sample_rate=model.sample_rate, band_limited=True, **kw)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def chunk_flops(model: E.Model, length: int) -> float:
    """Model FLOPs on one `[1, length, 1]` chunk, from the architecture (XLA's own count omits cuDNN convs)."""
    return float(forward_flops(model.config, length))


def rtf_rows(
    models: list[str],
    seconds: list[float],
    rates: list[int],
    repeats: int,
    batch_size: int | None,
    chunk_length: int | None,
) -> list[dict]:
    rows = []
    for name in models:
        width = MODELS[name]
        for rate in rates:
            model = make_model(name, rate)
            c = model.config
            kw = dict(batch_size=batch_size, chunk_length=chunk_length)
            plan = E.chunk_plan(c, chunk_length)
            for sec in seconds:
                x = make_signal(sec, rate)
                t, t_cpu = time_enhance(model, x, repeats, **kw)
                num, last = plan.num_chunks(len(x)), plan.last_length(len(x))
                flops = (num - 1) * chunk_flops(model, plan.length) + chunk_flops(model, last)
                t0 = time.perf_counter()
                spline_upsample(x[::4], 4, len(x))
                t_spline = time.perf_counter() - t0
                rows.append(
                    {
                        "model": name,
                        "width": width,
                        "params": count_params(model.variables["params"]),
                        "dtype": compute_dtype(c.dtype).name,
                        "rate": rate,
                        "seconds": sec,
                        "chunk_length": plan.length,
                        "batch_size": batch_size or E.default_batch_size(c),
                        "time_s": round(t, 4),
                        "cpu_s": round(t_cpu, 4),
                        "tflop": round(flops / 1e12, 3),
                        "gflops_per_s": round(flops / t / 1e9, 1),
                        "rtf": round(t / sec, 5),
                        "x_realtime": round(sec / t, 2),
                        "spline_s": round(t_spline, 4),
                    }
                )
                log(f"  rtf {name} {rate} Hz {sec:g} s: {t:.3f} s (RTF {rows[-1]['rtf']:.4f})")
    return rows


def sweep_rows(name: str, chunks: list[int], batches: list[int], repeats: int) -> list[dict]:
    model = make_model(name, 16000)
    x = make_signal(10.0, 16000)
    out = []
    for chunk in chunks:
        for bs in batches:
            t, t_cpu = time_enhance(model, x, repeats, batch_size=bs, chunk_length=chunk)
            out.append(
                {
                    "model": name,
                    "chunk_length": chunk,
                    "batch_size": bs,
                    "rtf": round(t / 10.0, 5),
                    "cpu_s": round(t_cpu, 3),
                }
            )
            log(f"  sweep chunk {chunk} batch {bs}: RTF {t / 10:.4f}, CPU {t_cpu:.2f} s")
    return out


# ------------------------------------------------------------------------------------------- report
def _ms(s: float | None) -> str:
    return "-" if s is None else f"{1e3 * s:.1f}" if s < 1 else f"{1e3 * s:.0f}"


def _diff(r: dict) -> str:
    if r["max_abs_diff"] is None:
        return "-"
    return "0" if r["max_abs_diff"] == 0 else f"{r['max_abs_diff']:.1e}"


def _status(r: dict) -> str:
    return "**WRONG OUTPUT**" if r["status"] == "WRONG OUTPUT" else r["status"]


def machine_line(result: dict, with_command: bool = True) -> str:
    m, v = result["machine"], result["machine"]["versions"]
    flags = ", ".join(m["cpu_flags"]) or "none of avx2 / avx512f / avx512_bf16 / amx"
    bf16 = (
        "AMX"
        if m["amx"]
        else "AVX-512 BF16, no AMX"
        if m["avx512_bf16"]
        else "no AVX-512 BF16 or AMX"
    )
    soft = ", ".join(f"{k} {v[k]}" for k in ("jax", "torch", "onnxruntime", "openvino") if k in v)
    soft = soft.replace(" None", " not installed")
    line = f"CPU: {m['cpu_model']} ({flags}; bf16 hardware: {bf16}), {m['cores']} cores; {soft}."
    if with_command:
        line += f" {result['date']}, `{result['command']}` ({result['elapsed_s']:.0f} s)."
    return line


def forward_report(t: dict) -> list[str]:
    s = t["summary"]
    lines = [
        f"**{t['model']}** (B=4, width {t['width']}, {t['params'] / 1e6:.1f} M params): {t['chunks']} chunks "
        f"x {t['chunk_length']} samples per call, {t['gflop']:.1f} GFLOP.",
        "",
        "| framework | runtime | precision | median ms | min ms | GFLOP/s | PyTorch best / this | setup s "
        "| max abs diff vs xla f32 | status |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in t["rows"]:
        mark = (
            " **(PyTorch best)**"
            if r.get("torch_best")
            else " **(jaxsr best)**"
            if r.get("jaxsr_best")
            else ""
        )
        ratio = f"{r['vs_torch_best']:.2f}x" if r.get("vs_torch_best") else "-"
        gf = "-" if r["gflops_per_s"] is None else f"{r['gflops_per_s']:.0f}"
        setup = "-" if r["setup_s"] is None else f"{r['setup_s']:.1f}"
        lines.append(
            f"| {r['framework']} | {r['label']}{mark} | {r['precision']} | {_ms(r['median_s'])} | "
            f"{_ms(r['min_s'])} | {gf} | {ratio} | {setup} | {_diff(r)} | {_status(r)} |"
        )
    lines.append("")
    if s["met"] is None:
        lines.append(
            f"Goal (jaxsr's best runtime at least {GOAL_VS_TORCH}x PyTorch's best mode): not measured "
            f"(jaxsr best: {s['jaxsr_best']}, PyTorch best: {s['torch_best']})."
        )
    else:
        lines.append(
            f"Goal (jaxsr's best runtime at least {GOAL_VS_TORCH}x PyTorch's best mode): jaxsr "
            f"`{s['jaxsr_best']}` vs PyTorch `{s['torch_best']}`: {s['speedup']:.2f}x: "
            f"{'met' if s['met'] else '**NOT met**'}."
        )
    return lines


def forward_summary_table(tables: list[dict]) -> list[str]:
    """One line per model: jaxsr's fastest runtime against PyTorch's fastest mode, and the goal."""
    lines = [
        f"Summary: jaxsr's best runtime vs PyTorch's best mode (goal: at least {GOAL_VS_TORCH}x faster).",
        "",
        "| model | jaxsr best | median ms | PyTorch best | median ms | speedup | goal |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for t in tables:
        s, rows = t["summary"], {r["impl"]: r for r in t["rows"]}
        jx, pt = rows.get(s["jaxsr_best"]), rows.get(s["torch_best"])
        verdict = "not measured" if s["met"] is None else "met" if s["met"] else "**NOT met**"
        lines.append(
            f"| {t['model']} | {s['jaxsr_best'] or '-'} | {_ms(jx and jx['median_s'])} | "
            f"{s['torch_best'] or '-'} | {_ms(pt and pt['median_s'])} | "
            f"{'-' if s['speedup'] is None else format(s['speedup'], '.2f') + 'x'} | {verdict} |"
        )
    return lines


def realtime_report(t: dict) -> list[str]:
    g = t["goal"]
    lines = [
        f"**{t['model']}** (width {t['width']}, {t['params'] / 1e6:.1f} M params): {t['seconds']:g} s at "
        f"{t['sample_rate']} Hz, {t['num_chunks']} chunks of {t['chunk_length']} (hop {t['hop']}, last "
        f"{t['last_chunk']}), batch {t['batch_size']}; Streamer blocks of {t['block_seconds']:g} s. "
        f"The model costs {t['gflop_per_audio_s']:.1f} GFLOP per audio second "
        f"({t['gflop_per_audio_s_computed']:.1f} with the chunks' overlap), so {GOAL_X_REALTIME:g}x real time "
        f"needs {t['gflops_for_goal']:.0f} GFLOP/s sustained.",
        "",
        "| runtime | precision | mode | median s | min s | x realtime | GFLOP/s | worst block s | setup s "
        "| max abs diff vs xla f32 | status |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    for r in t["rows"]:
        lines.append(
            f"| {r['runtime']} | {r['precision']} | {r['mode']} | {f(r['median_s'], '.3f')} | "
            f"{f(r['min_s'], '.3f')} | {'**' if r.get('best') else ''}{f(r['x_realtime'], '.2f')}"
            f"{'**' if r.get('best') else ''} | {f(r['gflops_per_s'], '.0f')} | "
            f"{f(r['worst_block_s'], '.3f')} | {f(r['setup_s'], '.1f')} | {_diff(r)} | {_status(r)} |"
        )
    lines.append("")
    best = "; ".join(
        f"{m} `{g[m]['impl']}` {g[m]['x_realtime']:.2f}x" if g[m] else f"{m} not measured"
        for m in ("chunked", "streamed")
    )
    verdict = "not measured" if g["met"] is None else "met" if g["met"] else "**NOT met**"
    fastest = max(
        (r for r in t["rows"] if r.get("best")), key=lambda r: r["gflops_per_s"], default=None
    )
    if g["applies"]:
        lines.append(
            f"Goal (the full model at least {GOAL_X_REALTIME:g}x faster than real time through the best "
            f"runtime, chunked and streamed): best {best}: {verdict}."
            + (
                f" The fastest row sustained {fastest['gflops_per_s']:.0f} GFLOP/s of the "
                f"{t['gflops_for_goal']:.0f} that {GOAL_X_REALTIME:g}x needs."
                if fastest
                else ""
            )
        )
    else:
        lines.append(
            f"Best runtime: {best} (the {GOAL_X_REALTIME:g}x goal is the full model's; here: {verdict})."
        )
    return lines


def rtf_report(rows: list[dict], sweep: list[dict], device: str) -> list[str]:
    lines = []
    if rows:
        lines += [
            f"Inference RTF on {device} (the xla runtime); model only, spline timed apart",
            "",
            "| model | width | params | dtype | rate | audio s | chunk | batch | time s | CPU s | TFLOP "
            "| GFLOP/s | RTF | x realtime | spline s |",
            "|---" * 15 + "|",
        ]
        for r in rows:
            lines.append(
                f"| {r['model']} | {r['width']} | {r['params'] / 1e6:.2f}M | {r['dtype']} | {r['rate']} | "
                f"{r['seconds']:g} | {r['chunk_length']} | {r['batch_size']} | {r['time_s']:.3f} | "
                f"{r['cpu_s']:.2f} | {r['tflop']:.3f} | {r['gflops_per_s']:.0f} | {r['rtf']:.4f} | "
                f"{r['x_realtime']:.1f} | {r['spline_s']:.3f} |"
            )
        lines.append("")
    if sweep:
        lines += [
            "| model | chunk_length | batch_size | RTF (10 s, 16 kHz) | CPU s |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {s['model']} | {s['chunk_length']} | {s['batch_size']} | {s['rtf']:.4f} | {s['cpu_s']:.2f} |"
            for s in sweep
        ]
        lines.append("")
    return lines


def report(result: dict, with_command: bool = True) -> str:
    o = result["options"]
    lines = [machine_line(result, with_command), ""]
    if result["forward"]:
        lines += [
            f"### Forward pass: jaxsr runtimes vs PyTorch ({o['repeats']} interleaved round(s), median and "
            "min)",
            "",
            "Each implementation set up (`setup s`: export, compile, first call; not in the times) and warmed "
            "up, then all timed in turns. `PyTorch best / this` > 1: this row is faster than PyTorch's fastest "
            "mode. PyTorch runs the same weights (benchmarks/torch_unet.py), under `torch.inference_mode()` "
            f"with {result['machine']['cores']} threads; bfloat16 is `torch.autocast`.",
            "",
        ]
        for t in result["forward"]:
            lines += forward_report(t) + [""]
        lines += forward_summary_table(result["forward"]) + [""]
    if result["realtime"]:
        lines += [
            f"### Real time: `jaxsr.enhance(..., band_limited=True)` and `jaxsr.Streamer` per runtime "
            f"({o['rt_repeats']} interleaved round(s) after a warm-up)",
            "",
            "x realtime = audio seconds / wall seconds (bold: the best runtime per mode); GFLOP/s = model "
            "FLOPs computed (chunks with their overlap) / wall seconds; `worst block s`: the slowest "
            "`Streamer.process` call (a block that completes a chunk runs it).",
            "",
        ]
        for t in result["realtime"]:
            lines += realtime_report(t) + [""]
    lines += rtf_report(result["rtf"], result["sweep"], result["machine"]["jax_device"])
    return "\n".join(lines).rstrip("\n")


# --------------------------------------------------------------------------------------------- main
def parse_runtimes(
    p: argparse.ArgumentParser, flag: str, spec: str, jaxsr_only: bool = False
) -> list[Impl]:
    names = DEFAULT_RUNTIMES if spec == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    out = []
    for n in names:
        n = n.removesuffix("/float32")
        if n not in BY_NAME or (jaxsr_only and BY_NAME[n].framework != "jaxsr"):
            choices = [i.name for i in IMPLS if not jaxsr_only or i.framework == "jaxsr"]
            p.error(f"{flag}: unknown runtime {n!r}; use any of {choices} (or 'all')")
        if BY_NAME[n] not in out:
            out.append(BY_NAME[n])
    return out


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    p = argparse.ArgumentParser(
        prog="benchmarks/inference.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument(
        "--tables",
        default=None,
        help="comma-separated: forward, realtime, rtf (the RTF table), sweep (default: forward,realtime; "
        "rtf when --seconds, --rates or --sweep is given, the table's first invocation)",
    )
    p.add_argument(
        "--models",
        default="full,small",
        help=f"comma-separated subset of {list(MODELS)} (default: %(default)s)",
    )
    p.add_argument(
        "--runtimes",
        default="all",
        help=f"forward table rows, comma-separated (RUNTIME or RUNTIME/bfloat16): "
        f"{[i.name for i in IMPLS]}; 'all' (default): {DEFAULT_RUNTIMES}",
    )
    p.add_argument(
        "--rt-runtimes",
        default=",".join(DEFAULT_RT_RUNTIMES),
        help="real-time table rows: jaxsr runtimes, or 'all' for every jaxsr runtime of --runtimes "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="forward table: interleaved rounds (default 5); rtf and sweep: runs per row (default 3)",
    )
    p.add_argument(
        "--rt-repeats",
        type=int,
        default=1,
        help="real-time table: interleaved rounds (default %(default)s)",
    )
    p.add_argument(
        "--rt-seconds",
        type=float,
        default=10.0,
        help="real-time table: audio seconds (default %(default)s)",
    )
    p.add_argument(
        "--block-seconds", type=float, default=0.5, help="Streamer block (default %(default)s s)"
    )
    p.add_argument(
        "--forward-length",
        type=int,
        default=8192,
        help="forward table: chunk length (default %(default)s)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="one round everywhere, 4 s of audio in the real-time table; rtf: 10 s at 16 kHz",
    )
    p.add_argument(
        "--json", metavar="PATH", help="write everything (tables, machine, options) as JSON to PATH"
    )
    p.add_argument(
        "--write-results",
        nargs="?",
        const=str(RESULTS_MD),
        metavar="FILE",
        help=f"write the report between the {BEGIN} markers of FILE (default: %(const)s)",
    )
    g = p.add_argument_group("the rtf and sweep tables (the xla runtime)")
    g.add_argument("--seconds", default=None, help="audio seconds (default 10,60)")
    g.add_argument("--rates", default=None, help="sample rates (default 16000,48000)")
    g.add_argument(
        "--batch-size",
        type=int,
        help="default: the config's eval.batch_size (also the real-time table's)",
    )
    g.add_argument(
        "--chunk-length",
        type=int,
        help="default: the config's (4 x patch_length; also the real-time table's)",
    )
    g.add_argument("--sweep", action="store_true", help="add the sweep table")
    g.add_argument("--sweep-chunks", default="8192,16384,32768,65536")
    g.add_argument("--sweep-batches", default="1,4,16")
    args = p.parse_args(argv)
    legacy = (
        args.seconds is not None or args.rates is not None or args.sweep
    )  # the RTF table's own flags
    if args.tables is None:
        args.tables = "rtf" if legacy else "forward,realtime"
    args.tables = [t.strip() for t in args.tables.split(",") if t.strip()] + (
        ["sweep"] if args.sweep else []
    )
    args.legacy_json = legacy or bool({"rtf", "sweep"} & set(args.tables))
    args.seconds, args.rates = args.seconds or "10,60", args.rates or "16000,48000"
    for t in args.tables:
        if t not in ("forward", "realtime", "rtf", "sweep"):
            p.error(f"--tables: unknown table {t!r}; use forward, realtime, rtf, sweep")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in args.models:
        if m not in MODELS:
            p.error(f"--models: unknown model {m!r}; use any of {list(MODELS)}")
    args.impls = parse_runtimes(p, "--runtimes", args.runtimes)
    if args.rt_runtimes == "all":
        args.rt_impls = [i for i in args.impls if i.framework == "jaxsr"]
    else:
        args.rt_impls = parse_runtimes(p, "--rt-runtimes", args.rt_runtimes, jaxsr_only=True)
    if args.quick:
        args.repeats, args.rt_repeats, args.rt_seconds = 1, 1, min(args.rt_seconds, 4.0)
    args.rtf_repeats = args.repeats or 3
    args.repeats = args.repeats or 5
    for k in ("repeats", "rt_repeats", "forward_length", "batch_size", "chunk_length"):
        if getattr(args, k) is not None and getattr(args, k) < 1:
            p.error(f"--{k.replace('_', '-')}: must be positive")
    if args.rt_seconds <= 0 or args.block_seconds <= 0:
        p.error("--rt-seconds and --block-seconds must be positive")
    if args.forward_length % 32:
        p.error(
            f"--forward-length: {args.forward_length} is not a multiple of 32 (2**(num_blocks+1) for B=4)"
        )
    return args, p


def run(argv: list[str] | None = None) -> dict:
    """Measure what the flags ask for; returns the result (what `--json` writes)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args, _ = parse_args(argv)
    t_start = time.perf_counter()
    info = machine_info()
    log(f"machine: {json.dumps(info)}")
    if info["jax_backend"] != "cpu" and {"forward", "realtime"} & set(args.tables):
        log(
            f"warning: jax runs on {info['jax_backend']}, the PyTorch twin on the CPU: the forward table compares "
            "different hardware (these tables are for CPUs)"
        )
    if (
        "forward" in args.tables
        and any(i.framework == "PyTorch" for i in args.impls)
        and importlib.util.find_spec("torch") is not None
    ):
        import torch

        torch.set_num_threads(num_cores())
    forward, realtime = [], []
    for name in args.models if {"forward", "realtime"} & set(args.tables) else []:
        model = make_model(name)
        if "forward" in args.tables:
            forward.append(
                forward_table(name, model, args.impls, args.forward_length, args.repeats)
            )
        if "realtime" in args.tables:
            realtime.append(
                realtime_table(
                    name,
                    model,
                    args.rt_impls,
                    args.rt_seconds,
                    args.block_seconds,
                    args.rt_repeats,
                    args.batch_size,
                    args.chunk_length,
                )
            )
        del model
        gc.collect()
        if "torch" in sys.modules:
            sys.modules["torch"]._dynamo.reset()  # a fresh compile cache per model
    rtf = []
    if "rtf" in args.tables:
        seconds = [10.0] if args.quick else [float(s) for s in args.seconds.split(",")]
        rates = [16000] if args.quick else [int(r) for r in args.rates.split(",")]
        rtf = rtf_rows(
            args.models, seconds, rates, args.rtf_repeats, args.batch_size, args.chunk_length
        )
    sweep = []
    if "sweep" in args.tables:
        sweep = sweep_rows(
            args.models[0],
            [int(v) for v in args.sweep_chunks.split(",")],
            [int(v) for v in args.sweep_batches.split(",")],
            args.rtf_repeats,
        )
    options = {k: v for k, v in vars(args).items() if k not in ("impls", "rt_impls")}
    options.update(
        runtimes=[i.name for i in args.impls], rt_runtimes=[i.name for i in args.rt_impls]
    )
    return {
        "benchmark": "inference",
        "command": "python -m benchmarks.inference " + shlex.join(argv),
        "date": datetime.date.today().isoformat(),
        "machine": info,
        "options": options,
        "tolerance": TOLERANCE,
        "goals": {"vs_torch": GOAL_VS_TORCH, "x_realtime_full": GOAL_X_REALTIME},
        "forward": forward,
        "realtime": realtime,
        "rtf": rtf,
        "sweep": sweep,
        "elapsed_s": round(time.perf_counter() - t_start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    result = run(argv)
    if result["options"]["json"]:
        from jaxsr.files import write_atomic

        write_atomic(pathlib.Path(result["options"]["json"]), json.dumps(result, indent=1))
        log(f"wrote {result['options']['json']}")
    if result["options"]["write_results"]:
        write_section(
            pathlib.Path(result["options"]["write_results"]),
            (BEGIN, END),
            HEADING,
            "benchmarks.inference",
            argv,
            result,
            report(result, with_command=False),
        )
        log(f'wrote the section "{HEADING}" of {result["options"]["write_results"]}')
    print(report(result))
    if result["options"][
        "legacy_json"
    ]:  # the RTF table's last line, which benchmarks/gpu/run.sh keeps (`tail -n 1`)
        dev = jax.devices()[0]
        print(
            json.dumps(
                {
                    "device": f"{dev.platform}:{dev.device_kind}",
                    "spline_in_rtf": False,
                    "rows": result["rtf"],
                    "sweep": result["sweep"],
                }
            )
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
