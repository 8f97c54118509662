"""Shim: the config lives in jaxsr/configs/vctk.py."""

from jaxsr.configs.vctk import get_config  # noqa: F401
