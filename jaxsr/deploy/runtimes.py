"""Run the network through one of four runtimes behind one callable: `chunks [n, time, 1] -> [n, time, 1]`.

    forward = load_forward(jaxsr.load("runs/speech"), "xla")     # the Flax model, jitted (jaxsr's default)
    forward = load_forward("exported/", "stablehlo")             # a jax.export artefact: no Flax needed
    forward = load_forward("exported-onnx/", "onnxruntime")      # ONNX Runtime, all cores
    forward = load_forward("exported-onnx/", "openvino", precision="bfloat16")
    y = forward(chunks)                                          # float32 np.ndarray [n, time, 1]
    forward.metadata["output_rate"], forward.config.task.name

`model_or_folder` is a `jaxsr.Model` or a folder written by `jaxsr.deploy.export` (a workdir or
packaged model name is `jaxsr.load`'s to resolve). A model given to "stablehlo", "onnxruntime" or
"openvino" is exported to a temporary folder first, so the runtime runs exactly what an exported file
would. `jaxsr.Model.with_runtime` (and `runtime=` in `jaxsr.load` / `jaxsr.enhance`) call this.

The callable is the network only, with the same contract as inference's `apply_chunks` core: rows
are independent (eval-mode BatchNorm, no dropout), so any batch composition gives each row the same
result, which is what makes chunked == whole and streamed == offline hold for every runtime. XLA-based
runtimes ("xla", "stablehlo") compile once per input shape, so a batch is zero-padded to the next
power of two (at most log2(n)+1 batch shapes per chunk length); ONNX Runtime and OpenVINO take any
batch as it is (their graphs are shape-dynamic, nothing to compile per shape).

Precision: "float32" everywhere; "bfloat16" for "xla" (bf16 compute, float32 parameters, as
`config.dtype="bfloat16"`), for "stablehlo" artefacts exported with `dtype="bfloat16"`, and for
"openvino" (its CPU plugin's `INFERENCE_PRECISION_HINT`, on CPUs with AVX512-BF16 or AMX). OpenVINO
is always given the hint explicitly, because on a bfloat16-capable CPU its *default* is bf16: a
"float32" forward must not silently compute in bf16. ONNX Runtime is float32 only here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import sys
import tempfile
import threading
from typing import Any, Callable

import numpy as np

from jaxsr.deploy.export import check_model, export, network, require
from jaxsr.deploy.folder import (
    PRECISIONS,
    Exportable,
    check_choice,
    describe,
    export_folder,
    read_artefact,
    read_metadata,
)

RUNTIMES = ("xla", "stablehlo", "onnxruntime", "openvino")
_FORMAT_OF = {"stablehlo": "stablehlo", "onnxruntime": "onnx", "openvino": "onnx"}


def num_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which containers and `taskset` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _bucket(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


@dataclasses.dataclass(frozen=True, eq=False)
class Forward:
    """The network through one runtime: `forward(chunks [n, time, 1]) -> [n, time, 1]` float32 numpy.

    `runs`: chunk length -> function of a float32 `[b, time, 1]` array (key None: any multiple of
    `length_multiple`); `metadata`: as in `jaxsr-export.json` (config, rates, task, ratio,
    `receptive_field`, `length_multiple`, ...); `pad_batch`: round the batch up to a power of two.
    """

    runs: dict
    runtime: str
    precision: str
    metadata: dict
    pad_batch: bool = False

    @functools.cached_property
    def config(self) -> Any:
        """The training config (`ml_collections.ConfigDict`), as `jaxsr.load` would give it."""
        from jaxsr.config import config_from_json

        return config_from_json(json.dumps(self.metadata["config"]))

    @property
    def length_multiple(self) -> int:
        return int(self.metadata["length_multiple"])

    @property
    def chunk_lengths(self) -> tuple[int, ...] | None:
        """The fixed time lengths this forward takes, or None for any multiple of `length_multiple`."""
        return None if None in self.runs else tuple(sorted(self.runs))

    @property
    def output_rate(self) -> float:
        return float(self.metadata["output_rate"])

    @property
    def input_rate(self) -> float:
        return float(self.metadata["input_rate"])

    @property
    def receptive_field(self) -> tuple[int, int]:
        left, right = self.metadata["receptive_field"]
        return int(left), int(right)

    def __call__(self, chunks: np.ndarray) -> np.ndarray:
        """`chunks` `[n, time, 1]` (time a multiple of `length_multiple`, or one of `chunk_lengths`) ->
        the network's output `[n, time, 1]` float32 (possibly a read-only view of a runtime buffer:
        copy it before writing into it)."""
        return self.start(chunks)()

    def start(self, chunks: np.ndarray) -> Callable[[], np.ndarray]:
        """Like calling the forward, but returns a function that gives the result.

        XLA-based runtimes dispatch asynchronously, so a caller can start the next batch before
        reading this one back (inference keeps two batches in flight: host and device overlap).
        ONNX Runtime and OpenVINO compute before `start` returns.
        """
        x = np.asarray(chunks, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != 1:
            raise ValueError(f"forward expects chunks of shape [n, time, 1]; got {x.shape}")
        n, length = x.shape[:2]
        m = self.length_multiple
        if length == 0 or length % m:
            raise ValueError(
                f"forward: time length {length} is not a positive multiple of {m} (2**(num_blocks+1))"
            )
        run = self.runs.get(None) or self.runs.get(length)
        if run is None:
            raise ValueError(
                f"forward: this artefact was exported for chunk lengths {list(self.chunk_lengths)}; "
                f"got {length}"
            )
        if n == 0:
            return lambda: np.zeros((0, length, 1), np.float32)
        b = _bucket(n) if self.pad_batch else n
        if b > n:
            x = np.concatenate([x, np.zeros((b - n, length, 1), np.float32)])
        y = run(np.ascontiguousarray(x))  # numpy, or a jax.Array still being computed

        def result() -> np.ndarray:
            out = np.asarray(y, dtype=np.float32)
            return out[:n] if b > n else out

        return result


def load_forward(
    model_or_folder: Exportable | str | pathlib.Path,
    runtime: str = "xla",
    *,
    precision: str = "float32",
) -> Forward:
    """A `Forward` for `model_or_folder` (a `jaxsr.Model`, or a folder written by `export`).

    `runtime`: "xla" (the Flax model, jitted; needs a model, not an export folder), "stablehlo" (a
    `jax.export` artefact, no Flax), "onnxruntime" or "openvino" (an ONNX artefact; `pip install
    jaxsr[export]`). `precision`: "float32" or "bfloat16" (see the module docstring for which runtime
    takes which). Unknown options and missing packages are one-line ValueError / ImportError.
    """
    runtime = check_choice("runtime", runtime, RUNTIMES)
    precision = check_choice("precision", precision, PRECISIONS)
    if runtime == "onnxruntime" and precision != "float32":
        raise ValueError(
            "runtime='onnxruntime' runs float32 only (its CPU convolutions have no bfloat16); "
            "use runtime='openvino' for precision='bfloat16'"
        )
    if runtime == "onnxruntime":  # fail before any export work
        require("onnxruntime", "onnxruntime", "runtime='onnxruntime'")
    elif runtime == "openvino":
        import_openvino()
    folder = export_folder(model_or_folder)
    if runtime == "xla":
        if folder is not None:
            raise ValueError(
                f"runtime='xla' runs the Flax model from a jaxsr.Model or workdir; {folder} is an "
                "exported artefact: use runtime='stablehlo', 'onnxruntime' or 'openvino'"
            )
        return _xla(check_model(model_or_folder), precision)
    if folder is not None:
        return _load_folder(folder, runtime, precision)
    model = check_model(model_or_folder)
    with tempfile.TemporaryDirectory(prefix="jaxsr-export-") as tmp:
        fmt = _FORMAT_OF[runtime]
        export(model, tmp, fmt, dtype=precision if fmt == "stablehlo" else "float32")
        return _load_folder(pathlib.Path(tmp), runtime, precision)


def _load_folder(folder: pathlib.Path, runtime: str, precision: str) -> Forward:
    meta = read_metadata(folder)
    fmt, want = meta.get("format"), _FORMAT_OF[runtime]
    if fmt != want:
        raise ValueError(
            f"{folder} holds a {fmt!r} export; runtime={runtime!r} needs format={want!r} "
            f"(jaxsr.export(model, path, format={want!r}))"
        )
    if runtime == "stablehlo" and meta.get("dtype") != precision:
        raise ValueError(
            f"{folder} was exported with dtype={meta.get('dtype')!r}; for precision={precision!r} "
            f"export with dtype={precision!r}"
        )
    make = {
        "stablehlo": _stablehlo_run,
        "onnxruntime": _onnxruntime_run,
        "openvino": _openvino_run,
    }[runtime]
    runs = {
        info.get("chunk_length"): make(read_artefact(folder, name, info), precision)
        for name, info in meta["files"].items()
    }
    return Forward(
        runs=runs,
        runtime=runtime,
        precision=precision,
        metadata=meta,
        pad_batch=runtime == "stablehlo",
    )


# ------------------------------------------------------------------------------------------- runtimes
def _xla(model: Exportable, precision: str) -> Forward:
    import jax

    net = network(model, precision)
    # The variables are arguments here, not baked-in constants as in an export: nothing is copied into
    # the executable, and each input shape compiles once (as in inference's own jitted apply).
    apply = jax.jit(lambda variables, x: net.apply(variables, x, train=False))
    variables = model.variables

    def run(x: np.ndarray) -> Any:
        return apply(variables, x)  # a jax.Array, read back by Forward.start's result()

    meta = describe(model)
    meta.update({"format": None, "dtype": precision})
    return Forward(
        runs={None: run}, runtime="xla", precision=precision, metadata=meta, pad_batch=True
    )


def _stablehlo_run(data: bytes, precision: str) -> Callable[[np.ndarray], Any]:
    import jax

    exported = jax.export.deserialize(bytearray(data))
    return jax.jit(
        exported.call
    )  # compiled once per input shape; returns a jax.Array (asynchronous)


def _onnxruntime_run(data: bytes, precision: str) -> Callable[[np.ndarray], np.ndarray]:
    ort = require("onnxruntime", "onnxruntime", "runtime='onnxruntime'")
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_cores()  # one convolution at a time, spread over every core
    options.inter_op_num_threads = 1  # the graph is a chain: nothing to run side by side
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    session = ort.InferenceSession(data, sess_options=options, providers=providers)
    return lambda x: session.run(["y"], {"x": x})[0]


def import_openvino() -> Any:
    """`import openvino`, without its model-conversion tools (`openvino.tools.ovc`).

    `openvino/__init__.py` imports `openvino.tools.ovc` for `convert_model`, and that import sends a
    usage event to OpenVINO's telemetry service from a forked process (unless the user opted out with
    `opt_in_out --opt_out`, or CI=true), which in a JAX process also risks the fork-with-threads
    deadlock JAX warns about. jaxsr reads ONNX files with `Core.read_model`, which needs none of it, so
    `openvino.tools.ovc` is hidden while openvino imports (openvino skips it on ImportError) and
    unhidden afterwards: a later `import openvino.tools.ovc` by the user behaves as usual.
    """
    if "openvino" in sys.modules:
        return require("openvino", "openvino", "runtime='openvino'")
    hidden = "openvino.tools.ovc"
    already = hidden in sys.modules
    if not already:
        sys.modules[hidden] = None  # type: ignore[assignment]  # None in sys.modules: "cannot import"
    try:
        return require("openvino", "openvino", "runtime='openvino'")
    finally:
        if not already and sys.modules.get(hidden, 0) is None:
            del sys.modules[hidden]


def _openvino_run(data: bytes, precision: str) -> Callable[[np.ndarray], np.ndarray]:
    ov = import_openvino()
    core = ov.Core()
    if precision == "bfloat16" and "BF16" not in core.get_property(
        "CPU", "OPTIMIZATION_CAPABILITIES"
    ):
        raise ValueError(
            "precision='bfloat16': OpenVINO finds no bfloat16 support on this CPU (it needs "
            "AVX512-BF16 or AMX); use precision='float32'"
        )
    with tempfile.TemporaryDirectory(prefix="jaxsr-openvino-") as tmp:
        path = (
            pathlib.Path(tmp) / "forward.onnx"
        )  # read_model takes a path for ONNX; the bytes are checked
        path.write_bytes(data)
        model = core.read_model(str(path))
    compiled = core.compile_model(
        model,
        "CPU",
        {
            "INFERENCE_PRECISION_HINT": "bf16"
            if precision == "bfloat16"
            else "f32",  # explicit: see above
            "PERFORMANCE_HINT": "LATENCY",  # one stream: the whole CPU on one request at a time
            "INFERENCE_NUM_THREADS": num_cores(),
        },
    )
    request = compiled.create_infer_request()
    lock = threading.Lock()  # one infer request, whose output buffer is reused: one call at a time

    def run(x: np.ndarray) -> np.ndarray:
        with lock:
            request.infer({0: x})
            return request.get_output_tensor(
                0
            ).data.copy()  # copy: the next call overwrites the buffer

    return run


__all__ = [
    "Forward",
    "PRECISIONS",
    "RUNTIMES",
    "import_openvino",
    "load_forward",
    "num_cores",
]
