"""Denoising on the speech folder: white, pink, brown and babble noise at 0-15 dB input SNR, 16 kHz."""

from jaxsr.configs import speech


def get_config():
    config = speech.get_config()
    config.task.name = "denoise"
    config.task.snr_db = (0.0, 15.0)
    config.task.noise_types = ("white", "pink", "brown", "babble")
    return config
