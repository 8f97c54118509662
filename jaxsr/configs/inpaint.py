"""Gap filling on the speech folder: 2 gaps of 10-50 ms per 8192-sample patch, 16 kHz."""

from jaxsr.configs import speech


def get_config():
    config = speech.get_config()
    config.task.name = "inpaint"
    config.task.num_gaps = 2
    config.task.gap_ms = (10.0, 50.0)
    return config
