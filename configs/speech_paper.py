"""Shim: the config lives in jaxsr/configs/speech_paper.py."""

from jaxsr.configs.speech_paper import get_config  # noqa: F401
