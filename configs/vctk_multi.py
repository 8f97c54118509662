"""Shim: the config lives in jaxsr/configs/vctk_multi.py."""

from jaxsr.configs.vctk_multi import get_config  # noqa: F401
