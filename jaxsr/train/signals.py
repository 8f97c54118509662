"""Stopping a run on SIGTERM / SIGINT: a flag the loop checks after each step, and the `Interrupted`
exception it raises once the step it reached is saved."""

from __future__ import annotations

import logging
import pathlib
import signal

log = logging.getLogger("jaxsr")


class StopFlag:
    """Turns SIGTERM/SIGINT into a flag the loop checks, so it can save a checkpoint before exiting."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old = {}

    def __enter__(self) -> "StopFlag":
        for s in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread (e.g. a notebook worker): leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        if self.signal is not None:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.signal = signum
        log.warning(
            "received %s: saving a checkpoint and stopping after this step",
            signal.Signals(signum).name,
        )

    def __exit__(self, *exc) -> bool:
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


class Interrupted(Exception):
    """Training stopped by SIGTERM / SIGINT after saving a checkpoint at `step`.

    Raised (rather than returning a summary) so that no caller mistakes an interrupted run for a finished
    one; `launch/train.py` exits with `exit_code`, 128 + the signal number, as shells report a killed process.
    """

    def __init__(self, signum: int, step: int, workdir: pathlib.Path):
        self.signum, self.step, self.workdir = int(signum), int(step), workdir
        self.exit_code = 128 + self.signum
        super().__init__(
            f"stopped by {signal.Signals(self.signum).name} at step {self.step}; the checkpoint of that "
            f"step is saved in {workdir}. Re-run the same command to resume."
        )
