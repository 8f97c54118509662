"""Shim: the config lives in jaxsr/configs/pretrained/voices_sr_x3_48k.py."""

from jaxsr.configs.pretrained.voices_sr_x3_48k import get_config  # noqa: F401
