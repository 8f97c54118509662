"""Shim: the config lives in jaxsr/configs/speech.py."""

from jaxsr.configs.speech import get_config  # noqa: F401
