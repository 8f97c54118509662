"""Pretrained `speech-sr-x2-16k`: 8 kHz -> 16 kHz speech (narrowband telephone and VoIP recordings to wideband),
robust to the resampler that made the input.

As `speech_sr_x4_16k.py` at ratio 2: the 0.9 M-parameter network on randomly drawn resampling chains (their
cutoffs, 0.7-1.0 of the 4 kHz Nyquist, include the telephone band's 3.4 kHz), trained only on speech-44k's
training files, with patches of either polarity from the start (`data.random_polarity`: the x4 and x8 models
first trained on one polarity fell below the spline on inverted recordings). The last 20 files are held
out, the last step ships.

    python launch/train.py --config configs/pretrained/speech_sr_x2_16k.py --workdir runs/pretrained/speech-sr-x2-16k
"""

from jaxsr.configs.pretrained import speech_sr_x4_16k


def get_config():
    config = speech_sr_x4_16k.get_config()
    config.task.ratio = 2
    config.data.random_polarity = True
    return config
