"""`speech-sr-x4-16k` (many voices): 4 kHz -> 16 kHz speech of any speaker, any resampler, either polarity.

`configs/voices.py` (LibriSpeech speakers; windowed-sinc front end; the input's band below 0.9 of its
Nyquist kept as it is; random resampling chains; random polarity), fine-tuned from the one-speaker model
that jaxsr shipped under this name before (`git show 0a01e7f:jaxsr/pretrained/models/speech-sr-x4-16k.npz`,
trained on speech-44k): its convolutions already know speech, the many voices teach it to generalise.
Validation: 12 held-out train speakers; the 10 test speakers are scored only afterwards.

    python launch/train.py --config configs/pretrained/speech_sr_x4_16k.py --workdir runs/pretrained/speech-sr-x4-16k
"""

from jaxsr.configs import voices


def get_config():
    config = voices.get_config()
    config.seed = 11
    config.train.init_from = "speech-sr-x4-16k"
    config.train.num_train_steps = 2000
    config.train.learning_rate = 5e-4
    config.train.warmup_steps = 100
    config.train.eval_every = 500
    return config
