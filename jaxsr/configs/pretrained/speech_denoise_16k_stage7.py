"""Stage 7 of `speech-denoise-16k`: stage 6 (`speech_denoise_16k_stage6.py`) trained further, the same way
(stage 4's recipe, so same-speaker babble is drawn with probability 2/7; its own start, cosine schedule
and seed, which `next_stage` sets).

Not shipped: it scored +7.96 dB mean SI-SDR gain on the held-out sweep, below stage 6 (+7.99), which ships.

    python launch/train.py --config configs/pretrained/speech_denoise_16k_stage7.py \
        --workdir runs/pretrained/speech-denoise-16k-stage7
"""

from jaxsr.configs.pretrained import next_stage, speech_denoise_16k_stage4


def get_config():
    return next_stage(speech_denoise_16k_stage4.get_config(), "runs/pretrained/speech-denoise-16k-stage6", steps=2000, seed=6)
