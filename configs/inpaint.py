"""Shim: the config lives in jaxsr/configs/inpaint.py."""

from jaxsr.configs.inpaint import get_config  # noqa: F401
