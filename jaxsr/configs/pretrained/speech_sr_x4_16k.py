"""`speech-sr-x4-16k` (many voices): 4 kHz -> 16 kHz speech of any speaker, any resampler, either polarity.

Two stages, each `--config configs/pretrained/speech_sr_x4_16k.py:STAGE`:

1. `configs/voices.py` (LibriSpeech speakers; windowed-sinc front end; the input's band below 0.9 of its
   Nyquist kept as it is; random resampling chains; random polarity), fine-tuned from the one-speaker model
   that jaxsr shipped under this name before (see `jaxsr/configs/pretrained/__init__.py`): its convolutions
   already know speech, the many voices teach it to generalise. Mean squared error alone leaves the missing
   band too faint (validation LSD 3.8 against the sinc's 6.0).
2. From stage 1, with a multi-resolution STFT loss added (`train.stft_loss_weight`), which asks for the
   missing band's spectrum as well as its waveform. Chosen on the validation speakers: weight 5e-6 kept the
   SNR at the sinc's (+0.01 dB) and brought LSD from 3.8 to 2.1; 2e-5 reached LSD 1.3 but fell 0.06 dB
   under the sinc's SNR.

Validation: 12 held-out train speakers; the 10 test speakers are scored only afterwards.

    python launch/train.py --config configs/pretrained/speech_sr_x4_16k.py:1 --workdir runs/pretrained/speech-sr-x4-16k
    python launch/train.py --config configs/pretrained/speech_sr_x4_16k.py:2 --workdir runs/pretrained/speech-sr-x4-16k-2
"""

from jaxsr.configs import voices


def get_config(stage: str = "2"):
    config = voices.get_config()
    config.seed = 11
    config.train.init_from = "speech-sr-x4-16k"
    config.train.num_train_steps = 2000
    config.train.learning_rate = 5e-4
    config.train.warmup_steps = 100
    config.train.eval_every = 500
    if str(stage) == "2":
        config.seed = 21
        config.train.init_from = "runs/pretrained/speech-sr-x4-16k"
        config.train.num_train_steps = 600
        config.train.learning_rate = 3e-4
        config.train.warmup_steps = 50
        config.train.eval_every = 300
        config.train.stft_loss_weight = 5e-6
    elif str(stage) != "1":
        raise ValueError(f"speech_sr_x4_16k: stage {stage!r}; use 1 or 2")
    return config
