"""Shim: the config lives in jaxsr/configs/pretrained/voices_denoise_16k.py."""

from jaxsr.configs.pretrained.voices_denoise_16k import get_config  # noqa: F401
