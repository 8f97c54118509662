"""`speech-denoise-16k` (many voices): removes noise from 16 kHz speech of any speaker, keeps clean speech.

LibriSpeech speakers (`configs/voices.py`'s data and splits). Noise, drawn per example: white, pink and
brown; colour and level drifting over time; babble of other training speakers (twice as often: the hardest
kind); the real recordings of ../shared/data/noise-real (twice as often), of which the last 20% of every
file is held out for validation and the benchmarks. Input SNR from -5 to 20 dB, and one example in ten has
no noise at all, so that clean speech comes back unchanged. Either polarity. Five stages, each
`--config configs/pretrained/speech_denoise_16k.py:STAGE`:
1. Mean squared error, fine-tuned from the one-speaker denoiser jaxsr shipped under this name before
   (`git show 0a01e7f:jaxsr/pretrained/models/speech-denoise-16k.npz`). The MSE is ruled by the loud
   errors of the noisiest examples: on the validation speakers the model leaves lightly noisy speech
   worse than it came in, and clean speech comes back at about 15 dB SI-SDR.
2. From stage 1, with the negative-SNR loss (`train.loss = "snr"`), which weighs every example alike in
   dB, one example in five clean and inputs up to 30 dB SNR: what the first stage under-weighed. On the
   validation speakers clean speech now comes back at 33 dB, but the gain on noisy speech falls (mean
   +3.0 dB over white, pink, real noise and babble at 0-10 dB, against stage 1's +4.2).
3. From stage 2, the same loss with stage 1's mix again (one example in ten clean, -5 to 20 dB): mean
   gain +4.4 dB and clean speech back at 24 dB on the validation speakers, better than stage 1 on both.
4. Stage 3 for 2000 more steps: mean gain +4.8 dB, worst validation speaker +2.7 (stage 3: +2.4), clean
   speech 23.8 dB.
5. Stage 4 for 7000 more steps at a lower learning rate (2e-4): mean gain +5.1 dB, worst validation speaker
   +3.4, clean speech 24.9 dB, each better than stage 4. This is the packaged model. (Validation speakers:
   the 12 held out of train/, scored with `benchmarks.denoise_robustness --data` on a folder of their
   recordings; the test speakers play no part.)

    python launch/train.py --config configs/pretrained/speech_denoise_16k.py:1 --workdir runs/pretrained/speech-denoise-16k
    python launch/train.py --config configs/pretrained/speech_denoise_16k.py:2 --workdir runs/pretrained/speech-denoise-16k-2
    python launch/train.py --config configs/pretrained/speech_denoise_16k.py:3 --workdir runs/pretrained/speech-denoise-16k-3
    python launch/train.py --config configs/pretrained/speech_denoise_16k.py:4 --workdir runs/pretrained/speech-denoise-16k-4
    python launch/train.py --config configs/pretrained/speech_denoise_16k.py:5 --workdir runs/pretrained/speech-denoise-16k-5
"""

from jaxsr.configs import voices


def get_config(stage: str = "5"):
    config = voices.get_config()
    config.seed = 13
    config.data.min_top_band_db = None  # denoising needs no top band: every recording trains
    config.task.name = "denoise"
    config.task.snr_db = (-5.0, 20.0)
    config.task.noise_types = (
        "white",
        "pink",
        "brown",
        "varying",
        "babble",
        "babble",
        "folder",
        "folder",
    )
    config.task.noise_dir = "../shared/data/noise-real"
    config.task.noise_holdout = 0.2
    config.task.clean_prob = 0.1
    config.train.init_from = "speech-denoise-16k"
    config.train.num_train_steps = 2500
    config.train.learning_rate = 5e-4
    config.train.warmup_steps = 100
    config.train.eval_every = 500
    if str(stage) in ("2", "3", "4", "5"):
        config.seed = 23
        config.train.init_from = "runs/pretrained/speech-denoise-16k"
        config.train.loss = "snr"
        config.task.snr_db = (-5.0, 30.0)
        config.task.clean_prob = 0.2
        config.train.num_train_steps = 1500
        config.train.learning_rate = 3e-4
        config.train.warmup_steps = 50
        config.train.eval_every = 500
    if str(stage) in ("3", "4", "5"):
        config.seed = 24
        config.train.init_from = "runs/pretrained/speech-denoise-16k-2"
        config.task.snr_db = (-5.0, 20.0)
        config.task.clean_prob = 0.1
        config.train.num_train_steps = 800
        config.train.eval_every = 400
    if str(stage) == "4":
        config.seed = 26
        config.train.init_from = "runs/pretrained/speech-denoise-16k-3"
        config.train.num_train_steps = 2000
        config.train.eval_every = 1000
    elif str(stage) == "5":
        config.seed = 27
        config.train.init_from = "runs/pretrained/speech-denoise-16k-4"
        config.train.num_train_steps = 7000
        config.train.learning_rate = 2e-4
        config.train.eval_every = 1000
    elif str(stage) not in ("1", "2", "3"):
        raise ValueError(f"speech_denoise_16k: stage {stage!r}; use 1, 2, 3, 4 or 5")
    return config
