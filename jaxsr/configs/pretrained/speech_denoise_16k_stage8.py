"""Stage 8 of `speech-denoise-16k`: stage 6 (`speech_denoise_16k_stage6.py`, the best before it) trained
on patches of either polarity.

Stages 1-7 saw every recording in the polarity it was stored in. Voiced speech is not symmetric, and the
network learned to rely on it: on the held-out files with their sign inverted (a recording from a
microphone or preamp of the other polarity) stage 6 gains much less SI-SDR than on the files as stored
(RESULTS.md, "Polarity"). Here `data.random_polarity` negates half the patches; everything else is
stage 4's recipe (same-speaker babble drawn with probability 2/7), with the start, cosine schedule and
seed that `next_stage` sets.

Ships, packaged polarity-equivariant (`python -m jaxsr.pretrained.build --polarity-equivariant`; chosen
on the 10 validation files: +8.15 dB mean equivariant, against +7.99 as stored and +7.57 inverted run plain).

    python launch/train.py --config configs/pretrained/speech_denoise_16k_stage8.py \
        --workdir runs/pretrained/speech-denoise-16k-stage8
"""

from jaxsr.configs.pretrained import next_stage, speech_denoise_16k_stage4


def get_config():
    config = next_stage(speech_denoise_16k_stage4.get_config(), "runs/pretrained/speech-denoise-16k-stage6",
                        steps=12000, seed=7)
    config.data.random_polarity = True
    return config
