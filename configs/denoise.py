"""Shim: the config lives in jaxsr/configs/denoise.py."""

from jaxsr.configs.denoise import get_config  # noqa: F401
