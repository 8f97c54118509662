"""Shims: the recipes of the packaged models live in jaxsr/configs/pretrained/."""
