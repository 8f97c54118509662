"""Stage 2 of `speech-sr-x2-16k`: the stage-1 network (`speech_sr_x2_16k.py`) trained further.

A fine-tuning run from stage 1's last params and BatchNorm statistics (`train.init_from`), with a fresh
optimizer and a second, lower cosine schedule (`next_stage`), on the same random resampling chains,
patches of either polarity and the same 121 training files (the last 20 held out; the last step ships).

Not shipped: on the 10 validation files it fell further below the spline's SNR than stage 1 (mean -0.16 vs
-0.11 dB) while lowering LSD a little more (-33% vs -31%); see `speech_sr_x2_16k.py`.

    python launch/train.py --config configs/pretrained/speech_sr_x2_16k_stage2.py \\
        --workdir runs/pretrained/speech-sr-x2-16k-stage2
"""

from jaxsr.configs.pretrained import next_stage, speech_sr_x2_16k


def get_config():
    return next_stage(speech_sr_x2_16k.get_config(), "runs/pretrained/speech-sr-x2-16k", steps=4000)
