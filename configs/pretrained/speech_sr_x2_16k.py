"""Shim: the config lives in jaxsr/configs/pretrained/speech_sr_x2_16k.py."""

from jaxsr.configs.pretrained.speech_sr_x2_16k import get_config  # noqa: F401
