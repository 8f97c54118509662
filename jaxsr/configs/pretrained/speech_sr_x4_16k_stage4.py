"""Stage 4 of `speech-sr-x4-16k`: stage 3 (`speech_sr_x4_16k_stage3.py`) trained further on patches of
either polarity.

Stages 1-3 saw every recording in the polarity it was stored in, and the network came to rely on the
asymmetry of voiced speech: on the held-out files with their sign inverted (a recording from a microphone
or preamp of the other polarity) stage 3 fell below the cubic spline's SNR on every resampler of the sweep
(RESULTS.md, "Polarity"). Here `data.random_polarity` negates half the patches; everything else is the
recipe of stages 1-3, with the start, cosine schedule and seed that `next_stage` sets.

    python launch/train.py --config configs/pretrained/speech_sr_x4_16k_stage4.py \
        --workdir runs/pretrained/speech-sr-x4-16k-stage4
"""

from jaxsr.configs.pretrained import next_stage, speech_sr_x4_16k


def get_config():
    config = next_stage(speech_sr_x4_16k.get_config(), "runs/pretrained/speech-sr-x4-16k-stage3", steps=4000, seed=3)
    config.data.random_polarity = True
    return config
