"""Shim: the config lives in jaxsr/configs/voices.py."""

from jaxsr.configs.voices import get_config  # noqa: F401
