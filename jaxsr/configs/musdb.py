"""Music: MUSDB18 / MUSDB18-HQ mixtures (the paper's piano setting used a different corpus), `sr` r=4 at 16 kHz."""

from jaxsr.config import default_config


def get_config():
    config = default_config()
    config.data.name = "musdb18"
    config.data.path = ""
    config.data.sample_rate = 16000
    config.data.patch_length = 8192
    config.data.segment_seconds = (
        30.0  # whole tracks would be ~7 MB records; 30 s pieces read faster
    )
    config.task.name = "sr"
    config.task.ratio = 4
    config.model.width = 1.0
    config.train.batch_size = 64
    config.train.learning_rate = 3e-4
    config.train.num_train_steps = 100_000
    config.train.eval_every = 2000
    config.train.checkpoint_every = 2000
    config.eval.num_clips = 16
    return config
