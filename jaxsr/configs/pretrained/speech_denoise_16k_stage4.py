"""Stage 4 of `speech-denoise-16k`: stage 3 (`speech_denoise_16k_stage3.py`) trained further, longer, with
same-speaker babble drawn twice as often.

Same-speaker babble is the hardest noise of the mix (stage 3 gains +3.6 dB SI-SDR on it, against +8-9 on
white, pink and drifting noise, +15 on brown): the model must tell the voice it keeps from four copies of
that same voice. This stage spends more of its examples there: `babble` appears twice in `noise_types`,
so it is drawn with probability 2/7 instead of 1/6; every other choice is stage 3's (see `next_stage`). Same
data, same held-out files, never used to pick a checkpoint (the last step ships).

    python launch/train.py --config configs/pretrained/speech_denoise_16k_stage4.py \
        --workdir runs/pretrained/speech-denoise-16k-stage4
"""

from jaxsr.configs.pretrained import next_stage, speech_denoise_16k


def get_config():
    config = next_stage(speech_denoise_16k.get_config(), "runs/pretrained/speech-denoise-16k-stage3", steps=10000, seed=3)
    config.task.noise_types = ("white", "pink", "brown", "varying", "babble", "babble", "babble_voices")
    return config
