"""Stage 2 of `speech-sr-x3-48k`: stage 1 (`speech_sr_x3_48k.py`) trained further through codecs, on patches
of either polarity.

Stage 1 never heard a codec and fell 0.3 dB below the cubic spline on 16 kHz input that had been through
Vorbis (RESULTS.md, "Codecs"); a 16 kHz recording has often been through one (a wideband call, a
compressed file). Here half the examples pass their low-rate signal through a codec drawn per example
(`task.sr_codec_prob`: G.711, 8-bit PCM, MP3, Vorbis, Opus), and `data.random_polarity` negates half the
patches; everything else is stage 1's recipe, with the start, cosine schedule and seed of `next_stage`.

Not shipped (chosen on the 10 validation files): it did not mend Vorbis (soxr_hq then Vorbis: -0.32 dB vs
stage 1's -0.31; resample_poly then Vorbis: -0.29 vs -0.27), it lifted 8-bit PCM (+0.21 vs -0.07 dB), and it
cost the plain sweep (SNR +0.31 vs +0.35 dB, LSD -17.9% vs -20.0%). `speech-sr-x3-48k` stays at stage 1.

    python launch/train.py --config configs/pretrained/speech_sr_x3_48k_stage2.py \\
        --workdir runs/pretrained/speech-sr-x3-48k-stage2
"""

from jaxsr.configs.pretrained import next_stage, speech_sr_x3_48k


def get_config():
    config = next_stage(speech_sr_x3_48k.get_config(), "runs/pretrained/speech-sr-x3-48k", steps=2000)
    config.task.sr_codec_prob = 0.5
    config.data.random_polarity = True
    return config
