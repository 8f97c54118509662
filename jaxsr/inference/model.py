"""The model object: `Model` (variables + config), `load` (a workdir or a packaged name), and the check
that variables fit their config.

A `Model` holds `{'params', ['batch_stats']}` on the default device, already checked against
`config.model`, so `enhance` and `Streamer` can run it without looking again. What runs the network is
XLA (the Flax model, jitted) or a `jaxsr.deploy` runtime (`with_runtime`); a folder written by
`jaxsr.export` loads as a Model whose network is that runtime.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
from typing import TYPE_CHECKING, Any, Mapping

import jax
import ml_collections
import numpy as np
from numpy.typing import ArrayLike

from jaxsr import pretrained
from jaxsr.deploy.folder import export_folder, read_metadata
from jaxsr.deploy.runtimes import Forward, load_forward
from jaxsr.inference.checks import expected_input_rate
from jaxsr.inference.chunking import as_device, model_key
from jaxsr.models import model_from_config, variable_shapes

if TYPE_CHECKING:
    from jaxsr.inference.streaming import Streamer


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
    """A restored model: what `enhance` and `Streamer` need, from `load(workdir)`.

    `variables`: `{'params', 'batch_stats'}` on the default device; `sample_rate`: the target (output)
    rate; `task`: `config.task` as a dict; `step`: the training step of the checkpoint.
    """

    variables: dict
    config: ml_collections.ConfigDict
    sample_rate: int
    task: dict
    step: int = 0
    path: str = ""
    # The runtime that runs the network; None: the jitted Flax model (XLA).
    forward: Forward | None = None
    _runtimes: dict = dataclasses.field(default_factory=dict, init=False, repr=False)

    def __repr__(self) -> str:
        """One line, not the weights: what it does, its size, where it came from, what runs it."""
        t = self.task
        what = t.get("name", "?") + (f" x{t.get('ratio')}" if t.get("name") == "sr" else "")
        params = sum(
            int(np.prod(np.shape(a)))
            for a in jax.tree_util.tree_leaves(self.variables.get("params", {}))
        )
        size = f", {params / 1e6:.2f} M params" if params else ""
        return (
            f"Model({what}, {self.input_rate:g} -> {self.sample_rate} Hz{size}, step {self.step}, "
            f"{self.runtime} {self.precision}{', ' + self.path if self.path else ''})"
        )

    @classmethod
    def from_variables(
        cls, variables: Mapping, config: ml_collections.ConfigDict, step: int = 0
    ) -> "Model":
        variables = _normalise_variables(variables, config)
        return cls(
            variables=variables,
            config=config,
            sample_rate=int(config.data.sample_rate),
            task=config.task.to_dict(),
            step=int(step),
        )

    @property
    def input_rate(self) -> float:
        """Rate of the audio the task expects (the low rate for `sr`)."""
        return expected_input_rate(self.config, band_limited=False)

    @property
    def runtime(self) -> str:
        """ "xla" (the Flax model, jitted) or the runtime of `forward`."""
        return "xla" if self.forward is None else self.forward.runtime

    @property
    def precision(self) -> str:
        return "float32" if self.forward is None else self.forward.precision

    def with_runtime(self, runtime: str = "xla", precision: str = "float32") -> "Model":
        """This model run by `runtime` ("xla", "stablehlo", "onnxruntime", "openvino") at `precision`
        ("float32" or "bfloat16"; see `jaxsr.deploy.runtimes`). Chunking, streaming and `keep_known`
        are unchanged. Cached per (runtime, precision): exporting and compiling happen once."""
        if (runtime, precision) == (self.runtime, self.precision):
            return self
        if (runtime, precision) == ("xla", "float32") and self.variables:
            return dataclasses.replace(self, forward=None)
        if (runtime, precision) not in self._runtimes:
            if not self.variables:  # an exported model: its folder is the source
                source = self.path
            else:
                source = dataclasses.replace(self, forward=None)
            self._runtimes[runtime, precision] = dataclasses.replace(
                self, forward=load_forward(source, runtime, precision=precision)
            )
        return self._runtimes[runtime, precision]

    # enhance and Streamer take a Model, so their modules import this one: import them on call.
    def enhance(
        self, audio: ArrayLike, *, sample_rate: float, **kwargs: Any
    ) -> np.ndarray | tuple[np.ndarray, dict]:
        """`jaxsr.enhance(self, audio, sample_rate=..., **kwargs)`."""
        from jaxsr.inference.api import enhance

        return enhance(self, audio, sample_rate=sample_rate, **kwargs)

    def streamer(self, *, sample_rate: float, **kwargs: Any) -> Streamer:
        """`jaxsr.Streamer(self, sample_rate=..., **kwargs)`."""
        from jaxsr.inference.streaming import Streamer

        return Streamer(self, sample_rate=sample_rate, **kwargs)


# -------------------------------------------------------------------------------------------- loading
def load(
    workdir_or_checkpoint: str | os.PathLike,
    which: str | int = "latest",
    *,
    runtime: str | None = None,
    precision: str = "float32",
) -> Model:
    """Load a trained model for inference: a packaged model by name (`jaxsr.pretrained.available()`,
    e.g. "speech-sr-x4-16k"), a training workdir (or one of its step directories), or a folder
    written by `jaxsr.export` (run without the Flax model code).

    `which`: "latest", "best" or a step number. `runtime`: what runs the network: "xla" (the default
    for a model; the Flax model, jitted), "stablehlo", "onnxruntime" or "openvino" (the default for an
    export folder is its own format's runtime); `precision`: "float32" or "bfloat16" (see
    `jaxsr.deploy.runtimes`). Raises FileNotFoundError / ValueError naming the path for a missing,
    half-written or other-version checkpoint (see `jaxsr.checkpoints.load_checkpoint`).
    """
    text = os.fspath(workdir_or_checkpoint)
    path = pathlib.Path(text).expanduser()
    folder = export_folder(path)
    if folder is not None:
        if (
            which != "latest"
        ):  # an export holds one set of weights; "best" would silently load it anyway
            raise ValueError(
                f"{folder} is an exported model with one set of weights; drop which={which!r} (--which)"
            )
        if (folder / "checkpoints").is_dir() or (folder / "best").is_dir():
            raise ValueError(
                f"{folder} holds both an exported model (jaxsr-export.json) and a training run's "
                "checkpoints; move the export into a folder of its own and export again."
            )
        return _load_exported(folder, runtime, precision)
    named = pretrained.is_name(text)
    if named and (text.startswith(pretrained.PREFIX) or not path.exists()):
        if which not in ("latest", "best"):
            raise ValueError(
                f"{text!r} is a packaged model with one set of weights; drop which={which!r}"
            )
        packaged = pretrained.read(text)
        model = Model.from_variables(packaged.variables, packaged.config, packaged.step)
        model = dataclasses.replace(model, path=packaged.path)
    elif (
        not path.exists() and len(path.parts) == 1
    ):  # a bare word: most likely a misspelt model name
        raise pretrained.unknown_name_error(text)
    else:
        from jaxsr.checkpoints import load_checkpoint  # orbax is only needed here

        check_not_a_workdir_lookalike(path, text)
        restored = load_checkpoint(workdir_or_checkpoint, which)
        model = Model.from_variables(restored.variables, restored.config, restored.step)
        model = dataclasses.replace(model, path=str(restored.path))
    return model.with_runtime(runtime or "xla", precision)


def check_not_a_workdir_lookalike(path: pathlib.Path, text: str) -> None:
    """FileNotFoundError saying what `path` is when it is a folder that is neither a workdir nor a step
    directory but looks like something else: an export folder that lost its `jaxsr-export.json`, or a
    local folder named like a packaged model (which the folder shadows)."""
    if not path.is_dir() or (path / "config.json").is_file() or (path / "model").is_dir():
        return
    artefacts = sorted(p.name for p in path.glob("forward*") if p.suffix in (".stablehlo", ".onnx"))
    if artefacts:
        raise FileNotFoundError(
            f"{path} holds exported artefacts ({', '.join(artefacts[:3])}) but no "
            "jaxsr-export.json; copy that file back from the export, or export the model again."
        )
    if pretrained.is_name(path.name) and not text.startswith(pretrained.PREFIX):
        raise FileNotFoundError(
            f"{path} is a local folder, not a training workdir (no config.json), and its name is "
            f"that of a packaged model; for the packaged model pass {pretrained.PREFIX}{path.name}, "
            "or rename the folder."
        )


def _load_exported(folder: pathlib.Path, runtime: str | None, precision: str) -> Model:
    """A Model with no Flax variables whose network is the exported artefact in `folder`."""
    fmt = read_metadata(folder).get("format")
    runtime = runtime or {"stablehlo": "stablehlo", "onnx": "onnxruntime"}.get(fmt, "stablehlo")
    forward = load_forward(folder, runtime, precision=precision)
    config = forward.config
    return Model(
        variables={},
        config=config,
        sample_rate=int(config.data.sample_rate),
        task=config.task.to_dict(),
        step=int(forward.metadata.get("step", 0)),
        path=str(folder),
        forward=forward,
    )


# ------------------------------------------------------------------------------- checking the variables
@functools.lru_cache(maxsize=16)
def _expected_shapes(key: str, config_json: str) -> dict[str, tuple[int, ...]]:
    """`{path: shape}` of the variables of the model in `config_json`; cached per architecture (`key`)."""
    del key  # the cache key; config_json carries the same information
    shapes = variable_shapes(model_from_config(ml_collections.ConfigDict(json.loads(config_json))))
    return {
        jax.tree_util.keystr(p): tuple(s.shape)
        for p, s in jax.tree_util.tree_leaves_with_path(shapes)
    }


def _normalise_variables(params: Mapping, config: ml_collections.ConfigDict) -> dict:
    """A variables dict `{'params', ['batch_stats']}` checked against `config.model`, on the device."""
    if not isinstance(params, Mapping):
        raise ValueError(
            f"params must be a jaxsr.Model, a variables dict {{'params', 'batch_stats'}} or a "
            f"params dict; got {type(params).__name__}"
        )
    variables = dict(params) if "params" in params else {"params": params}
    if config.model.norm == "batch" and not variables.get("batch_stats"):
        raise ValueError(
            "params: this model (model.norm='batch') needs its BatchNorm statistics; pass the variables "
            "dict {'params': ..., 'batch_stats': ...} or a Model from jaxsr.load(workdir)."
        )
    if not variables.get("batch_stats"):
        variables.pop("batch_stats", None)
    cfg = ml_collections.ConfigDict({"model": config.model.to_dict(), "dtype": "float32"})
    want = _expected_shapes(model_key(cfg), json.dumps(cfg.to_dict(), sort_keys=True))
    got = {
        jax.tree_util.keystr(p): tuple(np.shape(a))
        for p, a in jax.tree_util.tree_leaves_with_path(variables)
    }
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        detail = (
            f"missing {missing[:3]}"
            if missing
            else f"unexpected {extra[:3]}"
            if extra
            else f"{wrong[0]} has shape {got[wrong[0]]}, expected {want[wrong[0]]}"
        )
        raise ValueError(
            f"params do not match config.model (num_blocks={config.model.num_blocks}, width="
            f"{config.model.width}): {detail}. Pass the config the params were trained with."
        )
    return as_device(variables)


def resolve_model(
    params: Model | Mapping,
    config: ml_collections.ConfigDict | None,
    runtime: str | None = None,
    precision: str | None = None,
) -> tuple[dict, ml_collections.ConfigDict, Any]:
    """`(variables on the device, config, forward)` from what `enhance` / `Streamer` were given;
    `forward` is the runtime (None: the jitted Flax model). `runtime` / `precision` switch it."""
    if isinstance(params, Model):
        if config is not None and model_key(config) != model_key(params.config):
            raise ValueError(
                "config: a Model carries its own config; pass config=None (or the same model config)."
            )
        model = params
    elif config is None:
        raise ValueError(
            "config is required when params is a variables/params pytree (it says which model they "
            "are); or pass a Model from jaxsr.load(workdir)."
        )
    else:
        model = Model.from_variables(params, config)
    if runtime is not None or precision is not None:
        model = model.with_runtime(runtime or model.runtime, precision or model.precision)
    return model.variables, model.config, model.forward
