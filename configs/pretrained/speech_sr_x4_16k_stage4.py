"""Shim: the config lives in jaxsr/configs/pretrained/speech_sr_x4_16k_stage4.py."""
from jaxsr.configs.pretrained.speech_sr_x4_16k_stage4 import get_config  # noqa: F401
