"""Pretrained restorers shipped inside the package, loadable offline by name.

    import jaxsr
    jaxsr.pretrained.available()                     # one dict per model: name, task, rates, scores, ...
    model = jaxsr.load("speech-sr-x4-16k")           # a jaxsr.Model, as jaxsr.load(workdir) returns
    restored = jaxsr.enhance(model, audio, sample_rate=4000)

Each model is two files in `jaxsr/pretrained/models/`: `NAME.npz` (the variables, parameters stored as
float16 to keep the package small, batch statistics as float32) and `NAME.json` (the training config,
what the model does, how it was trained, its held-out scores and the SHA-256 of the `.npz`, checked at
every load). `NAME.md` beside them is the model card; `$JAXSR_PRETRAINED_DIR` replaces the folder. They are made from a training workdir by
`python -m jaxsr.pretrained.build` (see `jaxsr/pretrained/build.py`). Nothing is downloaded, ever.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import io
import json
import os
import pathlib
from typing import Any

import numpy as np

# $JAXSR_PRETRAINED_DIR points at another folder of packaged models (e.g. your own, built with build.py).
MODELS_DIR = pathlib.Path(os.environ.get("JAXSR_PRETRAINED_DIR") or pathlib.Path(__file__).resolve().parent / "models")
PREFIX = "pretrained:"  # Model.path of a packaged model


def _manifests() -> dict[str, dict]:
    out = {}
    for p in sorted(MODELS_DIR.glob("*.json")):
        meta = json.loads(p.read_text())
        out[meta["name"]] = meta
    return out


def names() -> list[str]:
    """The packaged models' names, sorted."""
    return sorted(_manifests())


def available() -> list[dict[str, Any]]:
    """One dict per packaged model: `name`, `task`, `ratio` (sr), `sample_rate` (output Hz),
    `input_rate` (Hz the model expects), `params`, `description`, `scores` (held-out), `storage`."""
    keys = ("name", "task", "ratio", "sample_rate", "input_rate", "params", "description", "scores", "storage",
            "training")
    return [{k: m.get(k) for k in keys} for m in _manifests().values()]


def is_name(text: str) -> bool:
    """Whether `text` names a packaged model (with or without the `pretrained:` prefix)."""
    return str(text).removeprefix(PREFIX) in _manifests()


def unknown_name_error(text: str) -> ValueError:
    """The one-line error for a name that is neither a packaged model nor a path."""
    known = names()
    close = difflib.get_close_matches(str(text), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"{text!r} is neither a training workdir nor a packaged model{hint} Packaged models: "
                      f"{', '.join(known) or 'none'} (jaxsr.pretrained.available() lists them with their scores).")


def manifest(name: str) -> dict:
    """The JSON manifest of packaged model `name` (ValueError listing the names if there is none)."""
    name = str(name).removeprefix(PREFIX)
    m = _manifests().get(name)
    if m is None:
        raise unknown_name_error(name)
    return m


def sha256(path: str | pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_variables(name: str) -> dict:
    """The variables `{'params': ..., 'batch_stats': ...}` of packaged model `name`, as float32 numpy.

    Raises ValueError naming the file when its checksum does not match the manifest (a damaged or
    altered install), instead of running a model with corrupt weights.
    """
    m = manifest(name)
    path = MODELS_DIR / m["file"]
    if not path.is_file():
        raise ValueError(f"packaged model {m['name']!r}: {path} is missing; reinstall jaxsr "
                         "(pip install --force-reinstall jaxsr, or git checkout the file in a clone).")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != m["sha256"]:
        raise ValueError(f"packaged model {m['name']!r}: {path} is damaged (SHA-256 {digest[:12]}... is not the "
                         f"manifest's {m['sha256'][:12]}...); reinstall jaxsr (pip install --force-reinstall jaxsr, "
                         "or git checkout the file in a clone).")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        flat = {k: np.asarray(z[k], np.float32) for k in z.files}
    return unflatten(flat)


def flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """`{'params': {'down1': {'kernel': a}}}` -> `{'params/down1/kernel': a}`."""
    out = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) or hasattr(v, "items"):
            out.update(flatten(dict(v), key + "/"))
        else:
            out[key] = np.asarray(v)
    return out


def unflatten(flat: dict[str, np.ndarray]) -> dict:
    out: dict = {}
    for key, v in flat.items():
        node = out
        *path, leaf = key.split("/")
        for p in path:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out


def load(name: str):
    """Packaged model `name` as a `jaxsr.Model` (what `jaxsr.load(name)` returns); checksum checked."""
    from jaxsr.config import config_from_json
    from jaxsr.inference import Model

    m = manifest(name)
    config = config_from_json(json.dumps(m["config"]))
    model = Model.from_variables(read_variables(m["name"]), config, m.get("training", {}).get("steps", 0))
    return dataclasses.replace(model, path=PREFIX + m["name"])


__all__ = ["available", "names", "load", "manifest", "is_name", "read_variables", "MODELS_DIR"]
