"""Stage 2 of `speech-inpaint-16k`: stage 1 (`speech_inpaint_16k.py`) trained further on patches of either
polarity.

Stage 1 saw every recording in the polarity it was stored in: on the held-out files with their sign
inverted (a recording from a microphone or preamp of the other polarity) its gain inside 20 ms gaps over
linear interpolation fell from +6.2 to +3.6 dB (RESULTS.md, "Polarity"). Here `data.random_polarity`
negates half the patches; everything else is stage 1's recipe, with the start, cosine schedule and seed
that `next_stage` sets.

Ships, packaged polarity-equivariant (`python -m jaxsr.pretrained.build --polarity-equivariant`; chosen
on the 10 validation files: +6.96 dB in 20 ms gaps equivariant, against +6.76 as stored and +6.38 inverted
run plain).

    python launch/train.py --config configs/pretrained/speech_inpaint_16k_stage2.py \
        --workdir runs/pretrained/speech-inpaint-16k-stage2
"""

from jaxsr.configs.pretrained import next_stage, speech_inpaint_16k


def get_config():
    config = next_stage(speech_inpaint_16k.get_config(), "runs/pretrained/speech-inpaint-16k", steps=2000, seed=1)
    config.data.random_polarity = True
    return config
