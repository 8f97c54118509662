"""Shim: the config lives in jaxsr/configs/pretrained/speech_denoise_16k_stage7.py."""
from jaxsr.configs.pretrained.speech_denoise_16k_stage7 import get_config  # noqa: F401
