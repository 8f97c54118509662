"""Stage 7 of `speech-denoise-16k`: stage 6 (`speech_denoise_16k_stage6.py`) trained further, the same way
(same-speaker babble drawn with probability 2/7; its own cosine schedule and seed, see `stage2`).

Not shipped: it scored +7.96 dB mean SI-SDR gain on the held-out sweep, below stage 6 (+7.99), which ships.

    python launch/train.py --config configs/pretrained/speech_denoise_16k_stage7.py \
        --workdir runs/pretrained/speech-denoise-16k-stage7
"""

from jaxsr.configs.pretrained import speech_denoise_16k, speech_denoise_16k_stage4, stage2


def get_config():
    config = stage2(speech_denoise_16k.get_config(), "runs/pretrained/speech-denoise-16k-stage6", steps=2000, seed=6)
    config.task.noise_types = speech_denoise_16k_stage4.get_config().task.noise_types
    return config
