"""The `inpaint` task's gaps: where samples go missing, and the linear fill that is its baseline.

numpy only, on float32 `[time]` signals at the target rate (`target_rate`), deterministic given the
`np.random.Generator` the caller passes (the example's generator).
"""

from __future__ import annotations

import numpy as np


def gap_mask(
    rng: np.random.Generator,
    length: int,
    target_rate: int,
    num_gaps: int,
    gap_ms: tuple[float, float],
) -> np.ndarray:
    """Boolean `[length]` mask, True inside `num_gaps` gaps of uniform random length in `gap_ms`.

    Gaps never touch the first or last sample, so linear interpolation always has both neighbours.
    Gaps are kept apart by at least one known sample (a start that would overlap or touch an earlier gap
    is redrawn), so the mask has `num_gaps` separate gaps, each within `gap_ms`, unless they cannot fit.
    """
    if length < 3:
        raise ValueError(
            f"inpainting needs a signal of at least 3 samples (a gap between two known ones); got {length}."
        )
    mask = np.zeros(length, bool)
    lo, hi = gap_ms
    for _ in range(int(num_gaps)):
        g = int(round(rng.uniform(lo, hi) * target_rate / 1000.0))
        g = max(1, min(g, length - 2))
        for _attempt in range(100):  # rejection sampling; only redraws when gaps would merge
            start = int(rng.integers(1, length - g))  # in [1, length - g - 1]
            if not mask[start - 1 : start + g + 1].any():
                break
        mask[start : start + g] = True
    return mask


def linear_fill(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Replace samples where `mask` is True by linear interpolation between the known neighbours.
    `x`, `mask`: `[time]` -> `[time]` float32 (all zeros when nothing is known)."""
    x = np.asarray(x, np.float32)
    if mask.shape != x.shape:
        raise ValueError(f"mask shape {mask.shape} does not match signal shape {x.shape}")
    if not mask.any():
        return x.copy()
    known = np.flatnonzero(~mask)
    if known.size == 0:
        return np.zeros_like(x)
    out = x.copy()
    holes = np.flatnonzero(mask)
    out[holes] = np.interp(holes, known, x[known])
    return out
