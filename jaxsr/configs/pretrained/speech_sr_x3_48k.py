"""Pretrained `speech-sr-x3-48k`: 16 kHz -> 48 kHz speech, robust to the resampler that made the input.

The 0.9 M-parameter network on randomly drawn resampling chains at ratio 3 and 48 kHz. speech-44k is
recorded at 44.1 kHz, so the 48 kHz targets are empty above 22.05 kHz: the model restores 8-22 kHz
and leaves the top band empty, as the recordings are. Trained only on speech-44k's training files; the
last 20 are held out, the last step ships.

    python launch/train.py --config configs/pretrained/speech_sr_x3_48k.py --workdir runs/pretrained/speech-sr-x3-48k
"""

from jaxsr.configs.pretrained import speech_sr_x4_16k


def get_config():
    config = speech_sr_x4_16k.get_config()
    config.data.sample_rate = 48000
    config.task.ratio = 3
    config.train.num_train_steps = 1500
    config.train.eval_every = 1500
    return config
