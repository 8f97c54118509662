"""The recipes of the packaged models (`jaxsr.pretrained`): one config per model, then one per fine-tuning stage."""


def next_stage(config, init_from: str, steps: int = 3000, learning_rate: float = 3e-4, seed: int = 1):
    """`config` as a fine-tuning stage: from the previous stage's workdir `init_from` (its last params and
    BatchNorm statistics), a fresh optimizer and a new, lower cosine schedule of `steps`, with another `seed`
    so that it draws other patches and degradations than the stages before; the held-out files are scored
    once, at the end."""
    config.train.init_from = init_from
    config.train.learning_rate = learning_rate
    config.train.warmup_steps = 100
    config.train.num_train_steps = steps
    config.train.eval_every = steps
    config.seed = seed
    return config
