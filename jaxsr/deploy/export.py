"""Export a trained model's forward pass as a self-contained artefact folder: StableHLO or ONNX.

    folder/
      forward.stablehlo          jax.export's serialisation (StableHLO + calling convention), or
      forward.onnx               an ONNX graph (opset 17); with fixed chunk_lengths, one file per length:
                                 forward-8192.stablehlo, forward-16384.stablehlo, ...
      jaxsr-export.json          config, rates, task, ratio, shapes, versions, SHA-256 of every file

The function exported is the network alone, in eval mode: `x [batch, time, 1] float32 -> y [batch,
time, 1] float32` (`y = x + f(x)`), with the parameters and BatchNorm statistics baked in as constants,
dropout off. Batch is symbolic (any size) and, unless `chunk_lengths` is given, so is time: any
multiple of the model's length multiple `2**(num_blocks+1)`. What surrounds the network in `enhance`
(resampling, the cubic spline for sr, chunking, overlap-add, the silence gate) stays in numpy on the
host; `jaxsr-export.json` carries what it needs (rates, task, `receptive_field`, `length_multiple`).

Loading needs neither Flax nor jaxsr's model code: a StableHLO artefact is
`jax.export.deserialize(bytearray(open(path, "rb").read())).call(x)`, an ONNX one any ONNX runtime;
`jaxsr.deploy.load_forward` wraps both, checking the checksums. The folder's names and metadata are
`jaxsr.deploy.folder`'s.

`export` takes a `jaxsr.Model`; `jaxsr.export` also takes a workdir or packaged model name, which it
loads with `jaxsr.load` first.

The StableHLO artefact is lowered for CPU, CUDA, ROCm and TPU at once (the same constants serve all
four, so the file barely grows) and runs on whichever of them it is called on.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pathlib
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from jaxsr.deploy.folder import (
    BATCH,
    DTYPES,
    FORMATS,
    METADATA,
    TIME,
    Exportable,
    artefact_name,
    check_choice,
    describe,
    metadata_sha256,
)

PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
INSTALL_HINT = 'pip install -e ".[export]" (from a clone) or pip install "jaxsr[export]"'


def require(module: str, package: str, what: str) -> Any:
    """Import an optional dependency, or raise a one-line ImportError naming the package and the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{what} needs the package '{package}', which is not installed: {INSTALL_HINT}"
        ) from None


def check_chunk_lengths(
    chunk_lengths: Iterable[int] | None, multiple: int
) -> tuple[int, ...] | None:
    """Sorted distinct fixed lengths, each a positive multiple of `multiple`; None keeps time symbolic."""
    if chunk_lengths is None:
        return None
    if isinstance(chunk_lengths, (int, np.integer)):
        chunk_lengths = [chunk_lengths]
    lengths = []
    for n in chunk_lengths:
        if int(n) != n or int(n) <= 0 or int(n) % multiple:
            raise ValueError(
                f"chunk_lengths: {n!r} is not a positive multiple of {multiple} (the model's "
                f"length multiple, 2**(num_blocks+1))"
            )
        lengths.append(int(n))
    if not lengths:
        raise ValueError(
            "chunk_lengths is empty; pass None for a symbolic time length, or some lengths"
        )
    return tuple(sorted(set(lengths)))


def check_model(model: Any) -> Exportable:
    """`model` if it is a `jaxsr.Model` that holds its weights; a one-line TypeError / ValueError
    saying what to pass otherwise."""
    if isinstance(model, (str, pathlib.PurePath)):
        raise TypeError(
            f"{str(model)!r} is a path or name, not a jaxsr.Model nor an export folder (no "
            f"{METADATA}); pass jaxsr.load({str(model)!r}) (jaxsr.export loads names itself)"
        )
    if not (hasattr(model, "variables") and hasattr(model, "config")):
        raise TypeError(
            f"model must be a jaxsr.Model (from jaxsr.load); got {type(model).__name__}"
        )
    if not model.variables:
        raise ValueError(
            f"{model.path or 'this model'} is an exported model without its Flax weights; copy its "
            "folder instead, or export the workdir or packaged model it came from"
        )
    return model


def network(model: Exportable, dtype: str = "float32") -> Any:
    """The model's `AudioUNet` computing in `dtype` (its parameters stay float32, as in training)."""
    import jax.numpy as jnp

    from jaxsr.models import model_from_config

    return model_from_config(model.config).clone(dtype=jnp.dtype(dtype))


def forward_function(model: Exportable, dtype: str = "float32") -> Callable:
    """The eval-mode network with its variables closed over: `x [batch, time, 1] f32 -> [batch, time, 1] f32`.

    The variables are numpy arrays, so tracing bakes them in as constants; `dtype` is the compute dtype
    (the output is float32 either way: the residual sum is taken in float32).
    """
    import jax

    net = network(model, dtype)
    variables = jax.tree_util.tree_map(np.asarray, dict(model.variables))

    def forward(x: jax.Array) -> jax.Array:
        return net.apply(variables, x, train=False)

    return forward


def input_spec(multiple: int, length: int | None) -> Any:
    """`ShapeDtypeStruct` `[batch, time, 1]` float32: batch symbolic; time `multiple*t` or fixed."""
    import jax
    import jax.numpy as jnp

    if length is None:
        batch, time = jax.export.symbolic_shape(f"{BATCH}, {multiple}*t")
    else:
        (batch,), time = jax.export.symbolic_shape(BATCH), length
    return jax.ShapeDtypeStruct((batch, time, 1), jnp.float32)


def _listed(folder: pathlib.Path) -> set[str]:
    """The files an earlier export says it wrote into `folder` (none if its metadata is unreadable)."""
    try:
        files = json.loads((folder / METADATA).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        return set()
    return set(files) if isinstance(files, dict) else set()


def check_target(out: pathlib.Path, overwrite: bool = False) -> None:
    """Refuse a target that is a file, a training workdir, or a folder holding files no export wrote
    there (unless `overwrite`): an export must never replace or mix with what it did not create."""
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"{out} is a file, not a folder; pass a new or empty folder to export into (-o)"
        )
    if not out.is_dir():
        return
    if (out / "config.json").is_file() or (out / "checkpoints").is_dir() or (out / "best").is_dir():
        raise ValueError(
            f"{out} is a training workdir; export into a folder of its own (e.g. {out / 'export'})"
        )
    ours = _listed(out) | ({METADATA} if (out / METADATA).is_file() else set())
    foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if foreign and not overwrite:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise ValueError(
            f"{out} holds files no jaxsr export wrote there ({shown}); pick a new or empty folder, or "
            "pass overwrite=True (--overwrite) to write into it anyway"
        )


def export(
    model: Exportable,
    path: str | pathlib.Path,
    format: str = "stablehlo",
    *,
    chunk_lengths: Iterable[int] | None = None,
    dtype: str = "float32",
    platforms: Sequence[str] = PLATFORMS,
    overwrite: bool = False,
) -> pathlib.Path:
    """Write `model`'s forward pass to the folder `path` (created) as `format`; returns the folder.

    `model`: a `jaxsr.Model` (`jaxsr.load(...)`; `jaxsr.export` also takes a workdir or packaged name).
    `format`: "stablehlo" (needs only jax and flatbuffers) or "onnx" (needs `onnx`; `pip install
    jaxsr[export]`). `chunk_lengths`: None exports one artefact with a symbolic time length (any
    multiple of `2**(num_blocks+1)`); a list of lengths exports one artefact per length instead, for
    runtimes that want static shapes. Batch is symbolic either way. `dtype`: the compute dtype of a
    StableHLO artefact ("bfloat16" suits GPUs and TPUs); ONNX is float32 only, and is run in bfloat16
    by OpenVINO (`load_forward(path, "openvino", precision="bfloat16")`). `platforms`: what the
    StableHLO artefact is lowered for.

    Files an earlier export listed in the folder's `jaxsr-export.json` and this one does not write are
    removed, so the folder never mixes two exports. A folder holding other files is refused (ValueError
    naming them) unless `overwrite`, and so are a file and a training workdir.
    """
    model = check_model(model)
    fmt = check_choice("format", format, FORMATS)
    dtype = check_choice("dtype", dtype, DTYPES)
    out = pathlib.Path(path).expanduser()
    check_target(out, overwrite)
    if fmt == "onnx" and dtype != "float32":
        raise ValueError(
            "format='onnx' is exported in float32 only (ONNX Runtime has no bfloat16 convolutions "
            "on CPU); run it in bfloat16 with load_forward(path, 'openvino', precision='bfloat16')"
        )
    if fmt == "stablehlo":
        require("flatbuffers", "flatbuffers", "format='stablehlo' (jax.export serialisation)")
    else:
        require("onnx", "onnx", "format='onnx'")

    import jax

    from jaxsr.files import write_atomic

    meta = describe(model)
    lengths = check_chunk_lengths(chunk_lengths, meta["length_multiple"])
    forward = forward_function(model, dtype)
    out.mkdir(parents=True, exist_ok=True)

    files: dict[str, dict] = {}
    for length in lengths or (None,):
        spec = input_spec(meta["length_multiple"], length)
        if fmt == "stablehlo":
            exported = jax.export.export(jax.jit(forward), platforms=tuple(platforms))(spec)
            data = bytes(exported.serialize())
        else:
            data = _onnx_bytes(forward, spec, meta)
        name = artefact_name(fmt, length)
        write_atomic(out / name, data)
        files[name] = {
            "chunk_length": length,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    time_dim = TIME if lengths is None else "chunk_length"
    meta.update(
        {
            "format": fmt,
            "dtype": dtype,
            "jax_version": jax.__version__,
            "chunk_lengths": list(lengths) if lengths else None,
            "input": {"name": "x", "shape": [BATCH, time_dim, 1], "dtype": "float32"},
            "output": {"name": "y", "shape": [BATCH, time_dim, 1], "dtype": "float32"},
            "files": files,
        }
    )
    if fmt == "stablehlo":
        meta["platforms"] = list(platforms)
    else:
        from jaxsr.deploy.onnx_lowering import OPSET

        meta["onnx_opset"] = OPSET
    meta["metadata_sha256"] = metadata_sha256(meta)
    _remove_stale(out, set(files))
    write_atomic(out / METADATA, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


def _onnx_bytes(forward: Callable, spec: Any, meta: dict) -> bytes:
    import jax

    from jaxsr.deploy.onnx_lowering import lower_to_onnx

    closed = jax.make_jaxpr(forward)(spec)
    batch, time = spec.shape[0], spec.shape[1]
    dim_names = {str(batch): BATCH}
    if not isinstance(time, int):
        dim_names[str(time)] = TIME
    m = meta["length_multiple"]
    proto = lower_to_onnx(
        closed,
        input_names=["x"],
        output_names=["y"],
        dim_names=dim_names,
        graph_name="jaxsr_audiounet",
        doc=(
            "jaxsr AudioUNet, eval mode: x [batch, time, 1] float32 -> y [batch, time, 1] float32; "
            + (f"time = {time}" if isinstance(time, int) else f"time a multiple of {m}")
        ),
        metadata={
            "jaxsr_version": meta["jaxsr_version"],
            "task": meta["task"],
            "ratio": meta["ratio"],
            "input_rate": meta["input_rate"],
            "output_rate": meta["output_rate"],
            "length_multiple": m,
        },
    )
    import onnx

    onnx.checker.check_model(proto)
    if proto.ByteSize() >= 2**31 - 1:
        raise ValueError(
            f"the ONNX graph is {proto.ByteSize() / 2**30:.1f} GiB, over protobuf's 2 GiB limit; "
            "export a smaller model (model.width) or use format='stablehlo'"
        )
    return proto.SerializeToString()


def _remove_stale(folder: pathlib.Path, keep: set[str]) -> None:
    """Delete the artefacts an earlier export listed in `folder` that this export does not rewrite."""
    old = folder / METADATA
    if not old.is_file():
        return
    try:
        listed = json.loads(old.read_text()).get("files", {})
    except (OSError, ValueError):
        return
    for name in listed:
        p = folder / name
        if name not in keep and p.parent == folder and p.is_file():
            p.unlink()
