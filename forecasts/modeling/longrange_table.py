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


@dataclass
class Table:
    """Calibration of forecast errors, JSON-serialisable via ``to_dict`` / ``from_dict``.

    ``quantiles[h-1][j]`` is the ``probs[j]`` quantile of the signed score
    (log actual - log forecast) / (log_scale * region factor) at horizon h, pooled over regions and
    origins, for the measured horizons 1..H. ``exponent`` extrapolates beyond H:
    q(h) = q(H) * (h / H) ** exponent * widen. ``factors`` maps region key -> its factor in each
    horizon band (``bands``: the first horizon of each; 1 for an unseen region); ``envelope`` the
    largest |h-year log change| of any history, h = 1, 2 ...; ``shares`` region key -> the share
    of its forecast change a rounded tiny series keeps (1 when absent).
    """

    probs: list
    quantiles: list
    exponent: float
    factors: dict
    origins: list
    counts: list
    widen: float
    envelope: list
    bands: list = field(default_factory=lambda: [1])
    shares: dict = field(default_factory=dict)
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

    def factor_rows(self, keys) -> np.ndarray:
        """(series, bands) region factors of ``keys`` (for ``interval``; 1 for a region the
        calibration did not see)."""
        unseen = [1.0] * len(self.bands)
        rows = np.array([self.factors.get(str(key), unseen) for key in keys], dtype=float)
        return rows.reshape(len(keys), len(self.bands))

    def band_of(self, horizons) -> np.ndarray:
        """The index in ``bands`` of each horizon's band."""
        return band_index(self.bands, horizons)

    def share(self, key) -> float:
        """The share of its forecast change that ``key`` keeps (``longrange.with_share``)."""
        return float(self.shares.get(str(key), 1.0))

    def to_dict(self) -> dict:
        return dict(
            probs=list(map(float, self.probs)),
            quantiles=self.quantiles,
            exponent=self.exponent,
            factors=self.factors,
            origins=self.origins,
            counts=self.counts,
            widen=float(self.widen),
            bands=list(self.bands),
            envelope=list(self.envelope),
            shares=self.shares,
        )

    @classmethod
    def from_dict(cls, d: dict) -> Table:
        """The table of ``to_dict`` (a table of an earlier model version has one factor per
        region and band [1], and no shares)."""
        return cls(**d)


def band_index(bands, horizons) -> np.ndarray:
    """The index of each horizon's band, ``bands`` the first horizon of each (ascending)."""
    return np.searchsorted(bands, np.asarray(horizons), side="right") - 1


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

    ``mean``/``log_scale`` (series, steps) from ``predict``, ``log_scale`` proportional to the
    horizon (or 0); ``horizons`` the years ahead of each column; ``region_factor`` scalar or
    (series,) for one factor at every horizon, or (series, bands) from ``table.factor_rows``. A
    zero log_scale (constant series) gives a zero-width interval. Each side w is bounded
    smoothly, w -> E tanh(w / E), E = ENV_SCALE * table.bound(h): without it the regions with
    huge region factors (rounded tiny series, Gulf states) reached 2100 intervals with
    upper/lower ratios of 1e8 .. 1e21.
    """
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    alpha = 1 - level
    h = np.atleast_1d(np.asarray(horizons))
    rf = np.asarray(region_factor, float)
    rows = rf if rf.ndim == 2 else np.broadcast_to(rf, (mean.shape[0],))[:, None]
    rows = np.broadcast_to(rows, (mean.shape[0], len(table.bands))) if rows.shape[1] == 1 else rows
    unit = log_scale / h[None, :]  # the log_scale of one year ahead (0.01, or 0 if constant)
    w_lo = -_side(table, alpha / 2, h, rows, lower=True) * unit
    w_hi = _side(table, 1 - alpha / 2, h, rows, lower=False) * unit
    e = ENV_SCALE * table.bound(h)[None, :]
    w_lo, w_hi = e * np.tanh(w_lo / e), e * np.tanh(w_hi / e)
    return mean * np.exp(-w_lo), mean * np.exp(w_hi)


def _side(table: Table, prob: float, h: np.ndarray, rows: np.ndarray, *, lower: bool):
    """One side of the interval in units of a year's log_scale: q(h) * h * the region's factor of
    h's band, or, if larger, that of the last horizon of any earlier band (a quantile past 0 on
    this side counts as 0).

    Why the earlier bands: q(h) * h never shrinks as h grows (``_never_narrower``), but a region's
    factor can be smaller in a later band (its short-horizon errors larger than most, its long
    ones ordinary); further ahead is never more certain, so a side never narrows at a band's
    start. Each column depends on its own horizon alone, whatever other years a request asks."""

    def reach(horizons):
        q = table.quantile(prob, horizons)
        return (np.minimum(q, 0.0) if lower else np.maximum(q, 0.0)) * horizons

    extreme = np.minimum if lower else np.maximum
    band = table.band_of(h)
    side = reach(h)[None, :] * rows[:, band]
    for index, start in enumerate(table.bands[1:]):
        earlier = reach(np.array([start - 1]))[0] * rows[:, index]  # the last horizon of band
        later = band > index
        if later.any():
            side[:, later] = extreme(side[:, later], earlier[:, None])
    return side


def normal_interval(mean, log_scale, level):
    """Uncalibrated model interval (normal in log space) – for callers without a table."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return mean * np.exp(-z * log_scale), mean * np.exp(z * log_scale)
