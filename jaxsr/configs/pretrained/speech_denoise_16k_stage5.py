"""Stage 5 of `speech-denoise-16k`: stage 4 (`speech_denoise_16k_stage4.py`) trained further, the same way
(stage 4's recipe, so same-speaker babble is drawn with probability 2/7; its own start, cosine schedule
and seed, which `next_stage` sets).

    python launch/train.py --config configs/pretrained/speech_denoise_16k_stage5.py \
        --workdir runs/pretrained/speech-denoise-16k-stage5
"""

from jaxsr.configs.pretrained import next_stage, speech_denoise_16k_stage4


def get_config():
    return next_stage(speech_denoise_16k_stage4.get_config(), "runs/pretrained/speech-denoise-16k-stage4", steps=9000, seed=4)
