"""Shim: the config lives in jaxsr/configs/pretrained/speech_sr_x3_48k_stage2.py."""

from jaxsr.configs.pretrained.speech_sr_x3_48k_stage2 import get_config  # noqa: F401
