"""Shim: the config lives in jaxsr/configs/quickstart.py."""

from jaxsr.configs.quickstart import get_config  # noqa: F401
