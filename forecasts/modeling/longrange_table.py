"""The calibration table of the damped model and the intervals it gives (longrange.py's forecasts).

``interval`` reads two score quantiles of the table at any level, multiplies them by the region
factor and the forecast's ``log_scale`` and takes exp(): lower = mean * exp(q_lo), upper = mean *
exp(q_hi), so both bounds are positive. Each side is then bounded smoothly by the largest change
any history recorded (the envelope). The table is built by longrange_calibration.calibrate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

ENV_SCALE = 0.5  # each side of the log interval is at most half the largest recorded change
COLUMNS_KEPT = 64  # score quantile columns a table remembers (levels asked; the default first)
SINGLE_BAND = [1]  # one region factor for all horizons, recorded as such in the JSON


@dataclass
class Table:
    """Calibration of forecast errors, JSON-serialisable via ``to_dict`` / ``from_dict``.

    ``quantiles[h-1][j]`` is the ``probs[j]`` quantile of the signed score
    (log actual - log forecast) / (log_scale * region factor) at horizon h, pooled over regions and
    origins, for the measured horizons 1..H. ``exponent`` extrapolates beyond H:
    q(h) = q(H) * (h / H) ** exponent * widen. ``factors`` maps region key -> factor (1 for an
    unseen region); ``envelope`` the largest |h-year log change| of any history, h = 1, 2 ...
    """

    probs: list
    quantiles: list
    exponent: float
    factors: dict
    origins: list
    counts: list
    widen: float
    envelope: list
    # The quantile column of each level asked (probability -> measured horizons 1..H): a request
    # reads two, and building one interpolates every horizon. Not part of the table's data.
    _columns: dict = field(default_factory=dict, repr=False, compare=False)

    def bound(self, horizons) -> np.ndarray:
        """Strictly increasing log half-width bound E(h); beyond the recorded span it grows like
        sqrt(h); + 0.001 h keeps it strictly increasing."""
        h = np.asarray(horizons, float)
        e = np.asarray(self.envelope)
        n = len(e)
        inside = np.interp(h, np.arange(1, n + 1), e)
        beyond = e[-1] * np.sqrt(np.maximum(h, n) / n)
        return np.where(h <= n, inside, beyond) + 1e-3 * h

    @property
    def measured(self) -> int:
        return len(self.quantiles)

    def quantile(self, prob: float, horizons: np.ndarray) -> np.ndarray:
        """Score quantile at ``prob`` for each horizon (interpolated on the grid, extrapolated in h).

        The measured quantiles are made monotone in |q(h)| * h (see ``_never_narrower``).
        """
        column = self._column(prob)
        h = np.asarray(horizons, dtype=int)
        H = self.measured
        inside = column[np.clip(h, 1, H) - 1]
        beyond = column[H - 1] * (np.maximum(h, H) / H) ** self.exponent * self.widen
        return np.where(h <= H, inside, beyond)

    def _column(self, prob: float) -> np.ndarray:
        """The measured quantiles at ``prob`` for horizons 1..H, built once per probability."""
        column = self._columns.get(prob)
        if column is None:
            grid = np.asarray(self.probs)
            q = np.asarray(self.quantiles)
            column = np.array([np.interp(prob, grid, q[i]) for i in range(len(q))])
            column = _never_narrower(column, upper=prob >= 0.5)
            if len(self._columns) >= COLUMNS_KEPT:  # unusual levels: keep the memory bounded
                self._columns.clear()
            self._columns[prob] = column
        return column

    def factor(self, key) -> float:
        """The region factor of ``key`` (1 for a region the calibration did not see)."""
        return float(self.factors.get(str(key), 1.0))

    def factor_matrix(self, keys, horizons) -> np.ndarray:
        """(series, steps) region factors for ``keys`` at ``horizons`` (for ``interval``)."""
        column = np.array([self.factor(k) for k in keys])
        return np.repeat(column[:, None], len(np.atleast_1d(horizons)), axis=1)

    def to_dict(self) -> dict:
        return dict(
            probs=list(map(float, self.probs)),
            quantiles=self.quantiles,
            exponent=self.exponent,
            factors=self.factors,
            origins=self.origins,
            counts=self.counts,
            widen=float(self.widen),
            bands=list(SINGLE_BAND),
            envelope=list(self.envelope),
        )

    @classmethod
    def from_dict(cls, d: dict) -> Table:
        """The table of ``to_dict``; ``bands`` is always [1] (one factor for all horizons)."""
        return cls(**{key: value for key, value in d.items() if key != "bands"})


def _never_narrower(column: np.ndarray, *, upper: bool) -> np.ndarray:
    """Measured quantiles q(1..H) adjusted so that q(h) * h never moves towards 0 as h grows.

    Why: the log_scale grows like h, so the interval's side at horizon h is |q(h)| * h (times the
    region factor). Tail quantiles (99 %, 99.99 %) measured at each horizon separately are noisy
    near the last measured horizons, where few origins reach: raw, they let a 99 % interval at
    h = 45 be narrower than at h = 44. Further ahead is never more certain, so each side is the
    running extreme of q(k) * k over k <= h, divided by h again.
    """
    h = np.arange(1, len(column) + 1)
    scaled = column * h
    running = np.maximum.accumulate(scaled) if upper else np.minimum.accumulate(scaled)
    return running / h


def interval(
    mean: np.ndarray, log_scale: np.ndarray, table: Table, horizons, level: float, region_factor
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds (persons) at ``level`` (0 < level < 1) for forecasts ``mean``.

    ``mean``/``log_scale`` (series, steps) from ``predict``; ``horizons`` the years ahead of each
    column; ``region_factor`` scalar, (series,) or (series, steps) from ``table.factor`` /
    ``table.factor_matrix``. A zero log_scale (constant series) gives a zero-width interval. Each
    side w is bounded smoothly, w -> E tanh(w / E), E = ENV_SCALE * table.bound(h): without it the
    regions with huge region factors (rounded tiny series, Gulf states) reached 2100 intervals
    with upper/lower ratios of 1e8 .. 1e21.
    """
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    alpha = 1 - level
    q_lo = table.quantile(alpha / 2, horizons)
    q_hi = table.quantile(1 - alpha / 2, horizons)
    rf = np.asarray(region_factor, float)
    fac = rf if rf.ndim == 2 else np.broadcast_to(rf, (mean.shape[0],))[:, None]
    s = log_scale * fac
    w_lo = -np.minimum(q_lo[None, :], 0.0) * s
    w_hi = np.maximum(q_hi[None, :], 0.0) * s
    e = ENV_SCALE * table.bound(horizons)[None, :]
    w_lo, w_hi = e * np.tanh(w_lo / e), e * np.tanh(w_hi / e)
    return mean * np.exp(-w_lo), mean * np.exp(w_hi)


def normal_interval(mean, log_scale, level):
    """Uncalibrated model interval (normal in log space) – for callers without a table."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return mean * np.exp(-z * log_scale), mean * np.exp(z * log_scale)
