"""The experiment configs: one module per experiment, each with `get_config()` returning a full config.

    from jaxsr.configs import quickstart
    config = quickstart.get_config()
    config = jaxsr.configs.load("pretrained/speech_sr_x4_16k")   # by name, as `--config NAME` resolves it

`jaxsr/configs/pretrained/` holds the recipe of each packaged model (`jaxsr.pretrained`). The files under
the repository's `configs/` are one-line shims onto these modules, so `--config configs/vctk.py` keeps
working; `--config vctk` names the same module.
"""

from __future__ import annotations

import importlib
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent


def names() -> list[str]:
    """Every config name, sorted: `quickstart`, ..., `pretrained/speech_sr_x4_16k`, ..."""
    return sorted(
        p.relative_to(ROOT).with_suffix("").as_posix()
        for p in ROOT.rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    )


def module_name(name: str) -> str | None:
    """The module of config `name` (`vctk`, `pretrained/speech_sr_x4_16k`, also spelt with a `.py` suffix, a
    leading `configs/` or `jaxsr/configs/`, or dots), or None if there is no such config."""
    name = name.strip().replace("\\", "/").removesuffix(".py")
    for prefix in ("jaxsr/configs/", "configs/", "./configs/"):
        name = name.removeprefix(prefix)
    name = name.replace(".", "/")
    return f"jaxsr.configs.{name.replace('/', '.')}" if name in names() else None


def load(name: str, *args):
    """`get_config(*args)` of config `name`; ValueError naming the configs if there is none."""
    module = module_name(name)
    if module is None:
        raise ValueError(f"no config named {name!r}; use one of: {', '.join(names())}")
    return importlib.import_module(module).get_config(*args)
