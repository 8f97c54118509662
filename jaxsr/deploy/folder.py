"""What an export folder is: its file names, the choices it is made with, the metadata that describes
the network, and the checks a reader makes before running anything from it.

    folder/
      forward.stablehlo | forward.onnx     the network (or forward-8192.stablehlo, ... per fixed length)
      jaxsr-export.json                    `describe(model)` + format, dtype, shapes, the files' SHA-256,
                                           and `metadata_sha256` over all of it

The writer (`jaxsr.deploy.export`), the runtimes (`jaxsr.deploy.runtimes`) and `jaxsr.load` all read
this module, so the three agree on one description. It knows a model only through `Exportable` (the
attributes a `jaxsr.Model` has), and the network only through `jaxsr.models`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any, Mapping, Protocol, Sequence

import ml_collections

FORMATS = ("stablehlo", "onnx")
DTYPES = ("float32", "bfloat16")
PRECISIONS = ("float32", "bfloat16")
METADATA = "jaxsr-export.json"
SUFFIX = {"stablehlo": ".stablehlo", "onnx": ".onnx"}
# Names of the symbolic dimensions, as the ONNX graph shows them (dim_param) and the metadata lists them.
BATCH, TIME = "batch", "time"


class Exportable(Protocol):
    """What deployment reads from a model: a `jaxsr.Model` (from `jaxsr.load`) has all of it.

    `variables`: `{'params', ['batch_stats']}` (empty for a model loaded from an export folder);
    `config`: the training config; `task`: `config.task` as a dict; `sample_rate`: the output rate;
    `input_rate`: the rate the task expects; `path`: where it was loaded from; `step`: its training step.
    """

    variables: Mapping
    config: ml_collections.ConfigDict
    task: Mapping
    sample_rate: int
    path: str
    step: int

    @property
    def input_rate(self) -> float: ...


def check_choice(option: str, value: Any, choices: Sequence[str]) -> str:
    """`value` if it is one of `choices`, else a one-line ValueError naming the option and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{option}={value!r} is not supported; choose one of {', '.join(map(repr, choices))}"
        )
    return value


def artefact_name(fmt: str, length: int | None) -> str:
    """`forward.onnx` for a symbolic time length, `forward-8192.onnx` for a fixed one."""
    return f"forward{'' if length is None else f'-{length}'}{SUFFIX[fmt]}"


def describe(model: Exportable) -> dict:
    """What a runtime needs to know about the model besides the graph: config, rates, task, geometry."""
    from jaxsr import __version__
    from jaxsr.config import config_to_json
    from jaxsr.models import count_params, length_multiple, receptive_field

    config = model.config
    task = dict(model.task) if getattr(model, "task", None) else config.task.to_dict()
    return {
        "jaxsr_version": __version__,
        "config": json.loads(config_to_json(config)),
        "task": task.get("name"),
        "ratio": int(task["ratio"]) if task.get("name") == "sr" else None,
        "output_rate": float(model.sample_rate),
        "input_rate": float(model.input_rate),
        "length_multiple": length_multiple(config.model.num_blocks),
        "receptive_field": list(receptive_field(config)),
        "parameters": count_params(model.variables.get("params", model.variables)),
        "source": {
            "path": str(getattr(model, "path", "") or ""),
            "step": int(getattr(model, "step", 0)),
        },
    }


def metadata_sha256(meta: dict) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of `jaxsr-export.json`'s fields but
    `metadata_sha256` itself: rates, ratio, config, geometry and the files' checksums all change the
    output, so an edit to any of them is refused at load like a damaged artefact."""
    fields = {k: v for k, v in meta.items() if k != "metadata_sha256"}
    return hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def export_folder(path: Any) -> pathlib.Path | None:
    """The folder if `path` is an export folder (or its `jaxsr-export.json`), else None (also for
    anything that is not a path, such as a `jaxsr.Model`)."""
    if not isinstance(path, (str, os.PathLike)):
        return None
    p = pathlib.Path(path).expanduser()
    if p.name == METADATA and p.is_file():
        return p.parent
    return p if (p / METADATA).is_file() else None


# What a runtime reads from `jaxsr-export.json`, with the type of each.
METADATA_FIELDS = {
    "config": dict,
    "files": dict,
    "format": str,
    "length_multiple": int,
    "receptive_field": list,
    "input_rate": (int, float),
    "output_rate": (int, float),
    "metadata_sha256": str,
}


def read_metadata(folder: pathlib.Path) -> dict:
    """`jaxsr-export.json` of `folder`, checked: a JSON object with every field a runtime reads, whose
    `metadata_sha256` matches its content. ValueError naming the file otherwise."""
    path = folder / METADATA
    try:
        meta = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); export the model again") from None
    if not isinstance(meta, dict):
        raise ValueError(
            f"{path} holds a JSON {type(meta).__name__}, not export metadata; export the model again"
        )
    missing = [k for k, t in METADATA_FIELDS.items() if not isinstance(meta.get(k), t)]
    if missing:
        raise ValueError(
            f"{path} lacks {', '.join(missing)} (or has the wrong type): damaged, edited or written by "
            "an older jaxsr; export the model again"
        )
    if meta["metadata_sha256"] != metadata_sha256(meta):
        raise ValueError(
            f"{path} was altered (its rates, ratio, config, geometry or file list no longer match its "
            "metadata_sha256); export the model again"
        )
    return meta


def read_artefact(folder: pathlib.Path, name: str, info: Mapping) -> bytes:
    """The bytes of artefact `name`, after checking its SHA-256 against `info` (its entry in
    `jaxsr-export.json`'s `files`)."""
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: listed in {METADATA} but missing; copy the whole export folder"
        )
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != info.get("sha256"):
        raise ValueError(
            f"{path}: its SHA-256 differs from the one in {METADATA} (damaged, truncated or replaced); "
            "export the model again"
        )
    return data
