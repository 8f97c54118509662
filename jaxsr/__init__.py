"""jaxsr: audio super-resolution, denoising and gap filling with a waveform U-Net, in JAX/Flax.

    import jaxsr
    model = jaxsr.load("speech-sr-x4-16k")                     # a packaged model (jaxsr.pretrained.available())
    model = jaxsr.load("runs/quickstart")                      # params + config from a workdir
    restored = jaxsr.enhance(model, audio, sample_rate=4000)   # [time] or [time, channels]
"""

from jaxsr import metrics
from jaxsr.config import default_config
from jaxsr.models import AudioUNet, subpixel_1d

# The inference API at the top level; its module is `jaxsr.inference` (not `enhance.py`, so that
# `jaxsr.enhance` is always this function, never a submodule shadowing it).
from jaxsr.inference import Model, Streamer, enhance, load, run_model  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name):
    # Training pulls in Orbax, grain and TFDS; import it on first use only.
    if name == "train_and_evaluate":
        from jaxsr.train import train_and_evaluate

        return train_and_evaluate
    if name == "pretrained":
        import importlib

        return importlib.import_module("jaxsr.pretrained")
    raise AttributeError(f"module 'jaxsr' has no attribute {name!r}")


__all__ = ["AudioUNet", "subpixel_1d", "metrics", "default_config", "load", "enhance", "Streamer", "Model",
           "run_model", "train_and_evaluate", "pretrained", "__version__"]
