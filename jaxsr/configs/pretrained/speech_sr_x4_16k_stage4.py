"""Stage 4 of `speech-sr-x4-16k`: stage 3 (`speech_sr_x4_16k_stage3.py`) trained further on patches of
either polarity.

Stages 1-3 saw every recording in the polarity it was stored in, and the network came to rely on the
asymmetry of voiced speech: on the held-out files with their sign inverted (a recording from a microphone
or preamp of the other polarity) stage 3 fell below the cubic spline's SNR on every resampler of the sweep
(RESULTS.md, "Polarity"). Here `data.random_polarity` negates half the patches; everything else is the
recipe of stages 1-3, with the start, cosine schedule and seed that `next_stage` sets.

Not shipped (decided on the 10 validation files, the 10 before the held-out 20): it fixed the inverted
files' SNR (mean over the sweep -0.18 -> -0.04 dB vs the spline) but lost three points of LSD (-35.8% ->
-33.0% as stored), and the issue's goal asks for -35% on every resampler; run polarity-equivariant it was
-0.01 dB and -30.8%. Stage 3 ships; the 0.9 M network has too little room to learn both polarities as well
as it learnt one.

    python launch/train.py --config configs/pretrained/speech_sr_x4_16k_stage4.py \
        --workdir runs/pretrained/speech-sr-x4-16k-stage4
"""

from jaxsr.configs.pretrained import next_stage, speech_sr_x4_16k


def get_config():
    config = next_stage(speech_sr_x4_16k.get_config(), "runs/pretrained/speech-sr-x4-16k-stage3", steps=4000, seed=3)
    config.data.random_polarity = True
    return config
