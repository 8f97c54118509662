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
import re
from typing import Any, NamedTuple

import numpy as np

# $JAXSR_PRETRAINED_DIR points at another folder of packaged models (e.g. your own, built with build.py).
MODELS_DIR = pathlib.Path(
    os.environ.get("JAXSR_PRETRAINED_DIR") or pathlib.Path(__file__).resolve().parent / "models"
)
PREFIX = "pretrained:"  # Model.path of a packaged model


# What a manifest must hold to be loaded, with the type of each.
_REQUIRED = {"name": str, "file": str, "sha256": str, "config": dict}
# The manifest fields that decide what a packaged model outputs. `config_sha256` covers them, so an edited
# ratio, rate or config is refused like a damaged weights file instead of silently changing the output.
OUTPUT_FIELDS = ("config", "task", "ratio", "sample_rate", "input_rate", "sha256")
_REINSTALL = (
    "reinstall jaxsr (pip install --force-reinstall jaxsr, or git checkout the file in a clone)"
)


def config_sha256(manifest: dict) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of `manifest`'s `OUTPUT_FIELDS`: the value
    of the manifest's `config_sha256`, which `build` writes and every load checks."""
    fields = {k: manifest.get(k) for k in OUTPUT_FIELDS}
    return hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@dataclasses.dataclass(frozen=True)
class _Scan:
    good: dict  # name -> manifest
    paths: dict  # name -> the manifest's path
    broken: dict  # name -> why that model cannot load (a manifest missing a field, a name claimed twice)
    unnamed: list  # problems of manifests that name no model (not JSON, not an object)


def _scan() -> _Scan:
    """Every manifest in MODELS_DIR, each checked on its own: one bad file never hides the others."""
    good: dict[str, dict] = {}
    paths: dict[str, list[pathlib.Path]] = {}
    broken: dict[str, str] = {}
    unnamed: list[str] = []
    for p in sorted(MODELS_DIR.glob("*.json")):
        try:
            meta = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            unnamed.append(f"{p} is not a readable JSON manifest ({e}); {_REINSTALL}, or remove it")
            continue
        if not isinstance(meta, dict):
            unnamed.append(
                f"{p} holds a JSON {type(meta).__name__}, not a manifest object; {_REINSTALL}, or remove it"
            )
            continue
        missing = [k for k, t in _REQUIRED.items() if not isinstance(meta.get(k), t)]
        if missing:
            msg = (
                f"{p} is not a complete manifest: {', '.join(missing)} missing or of the wrong type; "
                f"{_REINSTALL}, or remove it"
            )
            if isinstance(meta.get("name"), str) and meta["name"]:
                broken[meta["name"]] = msg
            else:
                unnamed.append(msg)
            continue
        paths.setdefault(meta["name"], []).append(p)
        good[meta["name"]] = meta
    for name, ps in paths.items():
        if len(ps) > 1:  # which one is meant cannot be told: neither is loaded
            good.pop(name)
            broken[name] = (
                f"packaged model {name!r} is claimed by {len(ps)} manifests: "
                f"{' and '.join(map(str, ps))}; remove the one that is not jaxsr's, or rename it inside"
            )
    return _Scan(good, {n: ps[0] for n, ps in paths.items()}, broken, unnamed)


def _manifests() -> dict[str, dict]:
    return _scan().good


def names() -> list[str]:
    """The packaged models' names, sorted."""
    return sorted(_manifests())


def available() -> list[dict[str, Any]]:
    """One dict per packaged model: `name`, `task`, `ratio` (sr), `sample_rate` (output Hz),
    `input_rate` (Hz the model expects), `params`, `description`, `scores` (held-out), `storage`."""
    keys = (
        "name",
        "task",
        "ratio",
        "sample_rate",
        "input_rate",
        "params",
        "description",
        "scores",
        "storage",
        "training",
    )
    return [{k: m.get(k) for k in keys} for m in _manifests().values()]


def problems() -> list[str]:
    """One line per manifest in MODELS_DIR that cannot be loaded (empty when all are well)."""
    scan = _scan()
    return scan.unnamed + [scan.broken[n] for n in sorted(scan.broken)]


def is_name(text: str) -> bool:
    """Whether `text` names a packaged model (with or without the `pretrained:` prefix); a model whose
    manifest is damaged counts, so that loading it says what is wrong with it."""
    scan = _scan()
    name = str(text).removeprefix(PREFIX)
    return name in scan.good or name in scan.broken


def _nearest_by_meaning(text: str, manifests: dict) -> list[str]:
    """The packaged model whose task, ratio and output rate best match what `text` spells (`sr-4x-16k`,
    `x4`, `denoise 16k`, ...), as a one-item list; [] when nothing in it matches or two models tie.
    Spelling distance alone would send `speech-sr-4x-16k` to `speech-sr-x8-16k`."""
    t = text.lower()
    ratio = re.search(r"(?:x(\d+)|(\d+)x)(?![\d])", t)
    ratio = int(ratio.group(1) or ratio.group(2)) if ratio else None
    rate = re.search(r"(\d+)\s*k(?:hz)?\b", t)
    rate = int(rate.group(1)) * 1000 if rate else None
    task = next((k for k in ("sr", "denoise", "inpaint") if re.search(rf"(?<![a-z]){k}", t)), None)
    scores = {}
    for name, m in manifests.items():
        score = (
            3 * (task is not None and m.get("task") == task)
            + 2 * (ratio is not None and m.get("ratio") == ratio)
            + (rate is not None and abs(float(m.get("sample_rate", 0)) - rate) < 1100)
        )
        scores[name] = score
    best = max(scores.values(), default=0)
    winners = [n for n, v in scores.items() if v == best]
    return winners if best > 0 and len(winners) == 1 else []


def unknown_name_error(text: str) -> ValueError:
    """The one-line error for a name that is neither a packaged model nor a path."""
    scan = _scan()
    known = sorted(scan.good)
    close = _nearest_by_meaning(str(text), scan.good) or difflib.get_close_matches(
        str(text), known, n=1
    )
    hint = f"; did you mean {close[0]!r}?" if close else "."
    bad = scan.unnamed + [scan.broken[n] for n in sorted(scan.broken)]
    unreadable = f" Unreadable manifest(s): {'; '.join(bad[:2])}." if bad else ""
    return ValueError(
        f"{text!r} is neither a training workdir nor a packaged model{hint} Packaged models: "
        f"{', '.join(known) or 'none'} (jaxsr.pretrained.available() lists them with their scores)."
        + unreadable
    )


def manifest(name: str) -> dict:
    """The JSON manifest of packaged model `name` (ValueError listing the names if there is none, or
    naming the file when it is damaged, edited or claims a name another manifest claims too)."""
    name = str(name).removeprefix(PREFIX)
    scan = _scan()
    if name in scan.broken:
        raise ValueError(scan.broken[name])
    m = scan.good.get(name)
    if m is None:
        raise unknown_name_error(name)
    # Manifests written before the field existed have none; every manifest build.py writes has it.
    if "config_sha256" in m and m["config_sha256"] != config_sha256(m):
        raise ValueError(
            f"packaged model {name!r}: {scan.paths[name]} was altered (its config, task, ratio or rates "
            f"no longer match its config_sha256); {_REINSTALL}."
        )
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
        raise ValueError(f"packaged model {m['name']!r}: {path} is missing; {_REINSTALL}.")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != m["sha256"]:
        raise ValueError(
            f"packaged model {m['name']!r}: {path} is damaged (SHA-256 {digest[:12]}... is not the "
            f"manifest's {m['sha256'][:12]}...); reinstall jaxsr (pip install --force-reinstall jaxsr, "
            "or git checkout the file in a clone)."
        )
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


class Packaged(NamedTuple):
    """A packaged model's parts, which `jaxsr.load(name)` makes a `jaxsr.Model` of."""

    variables: dict  # {'params': ..., 'batch_stats': ...}, float32 numpy
    config: Any  # the training config (ml_collections.ConfigDict)
    step: int  # training steps
    path: str  # "pretrained:<name>", where the Model says it came from


def read(name: str) -> Packaged:
    """Packaged model `name`: its variables (checksum checked), config and training steps."""
    from jaxsr.config import config_from_json

    m = manifest(name)
    config = config_from_json(json.dumps(m["config"]))
    steps = int(m.get("training", {}).get("steps", 0))
    return Packaged(read_variables(m["name"]), config, steps, PREFIX + m["name"])


__all__ = [
    "OUTPUT_FIELDS",
    "available",
    "config_sha256",
    "names",
    "problems",
    "Packaged",
    "read",
    "manifest",
    "is_name",
    "read_variables",
    "MODELS_DIR",
]
