"""Shim: the config lives in jaxsr/configs/pretrained/voices_inpaint_16k.py."""

from jaxsr.configs.pretrained.voices_inpaint_16k import get_config  # noqa: F401
