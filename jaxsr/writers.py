"""Where a run reports: TensorBoard event files (tensorboardX, no TensorFlow), a plain-text log in the
workdir, stderr logging and a tqdm bar. Only process 0 writes; the others get a silent writer."""

from __future__ import annotations

import contextlib
import logging
import pathlib
import sys
import time

import numpy as np

log = logging.getLogger("jaxsr")


def setup_cli_logging(quiet: bool = False) -> None:
    """Logging for the launch scripts: jaxsr's own messages at INFO on stderr (`quiet`: WARNING, so only
    what went wrong is said); absl, Orbax and other libraries only from WARNING up (stdout stays free for
    --json)."""
    from absl import logging as absl_logging

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("jaxsr").setLevel(logging.WARNING if quiet else logging.INFO)
    absl_logging.set_verbosity(absl_logging.WARNING)


class MetricWriter:
    def __init__(self, workdir: pathlib.Path, enabled: bool = True, quiet: bool = False):
        self.enabled = enabled
        self.quiet = quiet
        self._tb = None
        self._log_file = None
        if enabled:
            from tensorboardX import SummaryWriter

            workdir.mkdir(parents=True, exist_ok=True)
            self._tb = SummaryWriter(str(workdir / "tensorboard"))
            self._log_file = open(workdir / "log.txt", "a", buffering=1)

    def text(self, message: str, echo: bool = True) -> None:
        """`message` into log.txt, and on stderr unless quiet (`echo=False`: the caller reports it there)."""
        if not self.enabled:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log_file.write(f"[{stamp}] {message}\n")
        if echo and not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def scalars(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        for k, v in values.items():
            self._tb.add_scalar(k, float(v), step)
        self._log_file.write(
            f"step {step}: " + ", ".join(f"{k}={float(v):.5g}" for k, v in values.items()) + "\n"
        )

    def audio(self, step: int, tag: str, signals: dict, sample_rate: int) -> None:
        if not self.enabled:
            return
        for name, sig in signals.items():
            sig = np.clip(np.asarray(sig, np.float32).reshape(-1), -1, 1)
            self._tb.add_audio(
                f"{tag}/{name}", sig[:, None], step, sample_rate=sample_rate
            )  # [time, channels]

    def image(self, step: int, tag: str, png_path: pathlib.Path) -> None:
        if not self.enabled:
            return
        import matplotlib.image

        img = matplotlib.image.imread(str(png_path))[..., :3]
        self._tb.add_image(tag, img, step, dataformats="HWC")

    @contextlib.contextmanager
    def progress(self, start: int, total: int):
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total,
            initial=start,
            desc="train",
            unit="step",
            dynamic_ncols=True,
            disable=not self.enabled or self.quiet,
            file=sys.stderr,
        )
        try:
            yield bar
        finally:
            bar.close()

    def close(self) -> None:
        """Flush and close; on a full disk (OSError) the pending events are dropped and the error raised."""
        if self._tb is not None:
            tb, self._tb = self._tb, None
            try:
                tb.close()
            except OSError:
                # The events could not be written. Stop TensorBoard's writer thread without another flush,
                # so that neither it nor its exit hook fails again (with a traceback) while Python exits.
                for w in (tb.all_writers or {}).values():
                    events = getattr(w, "event_writer", None)
                    if getattr(events, "_worker", None) and not getattr(events, "_closed", True):
                        events._worker.stop()
                        events._closed = True
                raise
        if self._log_file is not None:
            self._log_file.close()
