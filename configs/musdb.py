"""Shim: the config lives in jaxsr/configs/musdb.py."""

from jaxsr.configs.musdb import get_config  # noqa: F401
