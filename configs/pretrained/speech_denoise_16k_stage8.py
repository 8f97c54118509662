"""Shim: the config lives in jaxsr/configs/pretrained/speech_denoise_16k_stage8.py."""
from jaxsr.configs.pretrained.speech_denoise_16k_stage8 import get_config  # noqa: F401
