"""Stage 2 of `speech-sr-x8-16k`: stage 1 (`speech_sr_x8_16k.py`) trained further on patches of either
polarity.

Stage 1 saw every recording in the polarity it was stored in and came to rely on the asymmetry of voiced
speech: on the held-out files with their sign inverted (a recording from a microphone or preamp of the
other polarity) it fell 1.6-2.6 dB below the cubic spline's SNR (RESULTS.md, "Polarity"). Here
`data.random_polarity` negates half the patches; everything else is stage 1's recipe, with the start,
cosine schedule and seed that `next_stage` sets.

Ships as trained (plain): run polarity-equivariant it lost LSD on the 10 validation files (-40% vs -43%).

    python launch/train.py --config configs/pretrained/speech_sr_x8_16k_stage2.py \
        --workdir runs/pretrained/speech-sr-x8-16k-stage2
"""

from jaxsr.configs.pretrained import next_stage, speech_sr_x8_16k


def get_config():
    config = next_stage(speech_sr_x8_16k.get_config(), "runs/pretrained/speech-sr-x8-16k", steps=2500, seed=1)
    config.data.random_polarity = True
    return config
