"""Shim: the config lives in jaxsr/configs/pretrained/voices_sr_x4_16k.py."""

from jaxsr.configs.pretrained.voices_sr_x4_16k import get_config  # noqa: F401
