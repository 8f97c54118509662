"""Stage 3 of `speech-denoise-16k`: stage 2 (`speech_denoise_16k_stage2.py`) trained further, the same way.

Each stage starts from the previous stage's last params and BatchNorm statistics with a fresh optimizer
and its own cosine schedule and seed (see `next_stage`); same data, same held-out files (the last step ships).

    python launch/train.py --config configs/pretrained/speech_denoise_16k_stage3.py \
        --workdir runs/pretrained/speech-denoise-16k-stage3
"""

from jaxsr.configs.pretrained import next_stage, speech_denoise_16k


def get_config():
    return next_stage(speech_denoise_16k.get_config(), "runs/pretrained/speech-denoise-16k-stage2", steps=4000, seed=2)
