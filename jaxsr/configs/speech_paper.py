"""The paper's network on real speech: AudioUNet B=4, width 1.0 (56 M parameters), `sr` r=4 at 16 kHz.

Kuleshov et al.'s setup as far as it carries over: dropout 0.5, Adam at a constant 3e-4 (b1 0.9,
b2 0.999), batch 64 as in their reference code, patches of 8192 samples. Sized for an accelerator: on a
2-core CPU one step takes seconds. benchmarks/gpu/run.sh trains it on an H100/H200 for the minutes it
has (stopping with SIGTERM, which saves a checkpoint) and then scores the 20 held-out files.

    python launch/train.py --config configs/speech_paper.py --workdir runs/speech_paper \
        --config.data.path=../shared/data/speech-44k
"""

from jaxsr.configs import speech


def get_config():
    config = speech.get_config()
    config.model.width = 1.0
    config.model.dropout = 0.5
    config.train.batch_size = 64
    config.train.learning_rate = 3e-4
    config.train.schedule = "constant"
    config.train.warmup_steps = 0
    config.train.grad_clip = 0.0
    config.train.num_train_steps = 100_000  # stopped by time on the device; resume continues
    config.train.log_every = 100
    config.train.eval_every = 100_000
    config.train.checkpoint_every = 1000
    config.train.keep_checkpoints = 1
    config.data.num_workers = (
        8  # 56 M parameters on a GPU consume patches faster than one process decodes
    )
    return config
