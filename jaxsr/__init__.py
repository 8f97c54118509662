"""jaxsr: audio super-resolution, denoising and gap filling with a waveform U-Net, in JAX/Flax.

    import jaxsr
    model = jaxsr.load("runs/quickstart")                      # params + config from a workdir
    restored = jaxsr.enhance(model, audio, sample_rate=4000)   # [time] or [time, channels]
"""

from jaxsr import metrics
from jaxsr.config import default_config
from jaxsr.models import AudioUNet, subpixel_1d

_LAZY = {"load": "jaxsr.enhance", "enhance": "jaxsr.enhance", "Streamer": "jaxsr.enhance", "Model": "jaxsr.enhance",
         "run_model": "jaxsr.enhance"}  # TEMPORARY until the module is renamed

__version__ = "0.1.0"


def __getattr__(name):
    # Training pulls in Orbax, grain and TFDS; import it on first use only.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "train_and_evaluate":
        from jaxsr.train import train_and_evaluate

        return train_and_evaluate
    raise AttributeError(f"module 'jaxsr' has no attribute {name!r}")


__all__ = ["AudioUNet", "subpixel_1d", "metrics", "default_config", "load", "enhance", "Streamer", "Model",
           "run_model", "train_and_evaluate", "__version__"]
