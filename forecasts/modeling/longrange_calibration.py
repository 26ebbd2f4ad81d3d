"""Calibration of the damped model's intervals from rolling-origin backtests (longrange.py).

``calibrate`` backtests the model from every origin, divides each log error by the forecast's
log_scale (a score) and stores per-horizon quantiles of the signed scores on a fixed probability
grid, plus a region factor: the region's own past score size relative to all regions', shrunk
towards 1. Horizons too far for enough origins to reach are extrapolated by a power law in h
fitted to the measured tail. longrange_table.interval reads the result.
The parameters were chosen on validation windows (origins 1970–1995, judged on years <= 2005).
"""

from __future__ import annotations

import numpy as np

from . import longrange
from .longrange_table import Table

PROB_GRID = np.concatenate(
    [[0.0005, 0.001, 0.0025], np.linspace(0.005, 0.995, 199), [0.9975, 0.999, 0.9995]]
)  # dense in the middle, with the tails a 99.9 % interval needs
# Region factors (model version 4): the FACTOR_POWER-th root of a region's mean FACTOR_POWER-th power
# of relative |score|, shrunk with SHRINKAGE pseudo-scores of size 1. A high power makes the factor
# follow a region's largest past errors (a war, a migration, a series rounded to thousands): those
# regions get the width, and the pooled quantiles of every other region, divided by smaller
# factors, get narrower. A mean of squares (power 2) diluted those errors among ordinary years.
# Chosen on the selection windows (origins 1975-1995, judged on years <= 2005) together with
# HALF_LIFE: geometric mean interval score 10.05 with power 2, 400 pseudo-scores and a 10-year
# half-life (version 3); 9.32 with 5, 6400 and 2.5 years, the middle of a plateau (power 5 and
# 4800-9600 pseudo-scores, half-lives 2.5-3: 9.31-9.36). With half-lives 2.5-3 and 1600-4800
# pseudo-scores: power 3 9.82-10.97, 3.5 9.56-10.14, 4 9.45-9.61, 5 9.31-9.81; power 6 with
# 4800-9600: 9.34-9.66.
FACTOR_POWER = 5.0
SHRINKAGE = 6400.0
MIN_ORIGINS = 5  # a horizon is measured when this many origins reach it (and >= 50 scores)
MIN_SCORES = 50
# Years: recent origins' errors are smaller than older ones (the estimates of recent decades are
# smoother), so the scores of an origin weigh half as much as those of one 2.5 years later.
HALF_LIFE = 2.5
WIDEN = 1.05  # extrapolated quantiles: the least widening with >= 90 % validation coverage
MIN_YEARS_BEFORE = 4  # an origin backtests the histories that start 4 or more years before it


def calibrate(histories: dict, origins, max_horizon: int) -> Table:
    """Build a Table from rolling-origin backtests of ``histories`` {key: (years, persons)}.

    Only the years the histories record are used: to judge a forecast from origin Y honestly, pass
    histories cut after Y and origins < Y. See ``table_from_scores``.
    """
    keys, hs, scores, orig = backtest_scores(histories, origins, max_horizon)
    return table_from_scores(keys, hs, scores, orig, origins, max_horizon, envelope(histories))


def backtest_scores(histories: dict, origins, max_horizon: int):
    """(keys, horizons, signed scores, origins) of every recorded year after every origin.

    Each origin fits all histories cut after it (batched) and forecasts ``max_horizon`` years.
    Constant series (log_scale 0) give no scores.
    """
    keys_all, hs, scores, orig = [], [], [], []
    for origin in origins:
        cut = _cut_at(histories, origin, max_horizon)
        if cut is None:
            continue
        keys, past, actual = cut
        mean, scale = longrange.predict(longrange.fit(past), max_horizon)
        err = np.log(actual) - np.log(mean)
        ok = np.isfinite(err) & (scale > 0)
        r, c = np.nonzero(ok)
        keys_all.extend(keys[i] for i in r)
        hs.append(c + 1)
        scores.append(err[ok] / scale[ok])
        orig.append(np.full(len(r), origin))
    if not hs:
        raise ValueError("no backtest scores from these origins")
    return keys_all, np.concatenate(hs), np.concatenate(scores), np.concatenate(orig)


def _cut_at(histories: dict, origin: int, max_horizon: int):
    """(keys, history matrix up to ``origin``, actual values of the ``max_horizon`` years after)
    for the histories that start early enough and go beyond ``origin``; None when there are none."""
    group = {}
    for key, (years, values) in histories.items():
        years = np.asarray(years)
        if years[0] > origin - MIN_YEARS_BEFORE or years[-1] <= origin:
            continue
        group[key] = (years, np.asarray(values, float))
    if not group:
        return None
    keys = list(group)
    first = min(int(group[k][0][0]) for k in keys)
    past = np.full((len(keys), origin - first + 1), np.nan)
    actual = np.full((len(keys), max_horizon), np.nan)
    for i, k in enumerate(keys):
        years, values = group[k]
        inside = years <= origin
        past[i, years[inside] - first] = values[inside]
        after = (years > origin) & (years <= origin + max_horizon)
        actual[i, years[after] - origin - 1] = values[after]
    return keys, past, actual


def envelope(histories: dict) -> list:
    """E(h), h = 1..span: the largest |log P_{t+h} - log P_t| of any history (running max in h).

    Used by ``interval`` to bound the log half-width smoothly: no interval is wider than the
    largest h-year change ever recorded (Gulf states, ~x100 over 70 years) – the bound only bites
    for the few regions whose region factor is huge (series rounded to thousands, oil migration),
    which otherwise reach absurd widths by 2100.
    """
    first = min(int(np.asarray(y)[0]) for y, _ in histories.values())
    last = max(int(np.asarray(y)[-1]) for y, _ in histories.values())
    mat = np.full((len(histories), last - first + 1), np.nan)
    for i, (y, v) in enumerate(histories.values()):
        mat[i, np.asarray(y) - first] = np.log(np.asarray(v, float))
    out = []
    for h in range(1, mat.shape[1]):
        dd = np.abs(mat[:, h:] - mat[:, :-h])
        out.append(float(np.nanmax(dd)) if np.isfinite(dd).any() else (out[-1] if out else 0.0))
    return np.maximum.accumulate(np.asarray(out)).tolist() if out else []


def table_from_scores(keys, hs, scores, orig, origins, max_horizon, envelope) -> Table:
    """Quantiles and region factors from backtest scores (see the helpers for each step)."""
    wts = _origin_weights(hs, orig, max_horizon)
    factors, normalised = _region_factors(keys, hs, scores, wts, max_horizon)
    quantiles, counts = _pooled_quantiles(normalised, hs, orig, wts, max_horizon)
    return Table(
        probs=PROB_GRID.tolist(),
        quantiles=quantiles,
        exponent=_tail_exponent(np.asarray(quantiles)),
        factors=factors,
        origins=[int(o) for o in origins],
        counts=counts,
        widen=float(WIDEN),
        envelope=list(envelope),
    )


def _origin_weights(hs, orig, max_horizon) -> np.ndarray:
    """2 ** (-(o_h - o) / HALF_LIFE) for a score from origin o, o_h the latest origin reaching h.

    Why: forecast errors of the 1960s origins (before the post-1990 data revisions and the smooth
    WPP estimates of recent decades) are larger than recent ones; equal weights made the
    short-horizon intervals too wide.
    """
    last = np.zeros(max_horizon + 2)
    for h in np.unique(hs):
        last[h] = orig[hs == h].max()
    return 2.0 ** (-(last[hs] - orig) / HALF_LIFE)


def _region_factors(keys, hs, scores, wts, max_horizon) -> tuple[dict, np.ndarray]:
    """({region: factor}, scores divided by their region's factor).

    Factor = ((k + sum w r^p) / (k + sum w)) ** (1 / p), p = FACTOR_POWER, r the region's |score|
    over the pooled weighted median |score| at the same horizon, k = SHRINKAGE pseudo-scores of
    size 1 (scaled to the mean weight): a region with few or ordinary scores keeps a factor near
    1, one with a few very large errors gets a large factor.
    """
    keys = np.array([str(k) for k in keys])
    med = np.zeros(max_horizon + 1)
    for h in np.unique(hs):
        sel = hs == h
        med[h] = _wquantile(np.abs(scores[sel]), wts[sel], np.array([0.5]))[0] or 1.0
    rel = (np.abs(scores) / med[hs]) ** FACTOR_POWER
    uniq, inv = np.unique(keys, return_inverse=True)
    sums = np.bincount(inv, weights=rel * wts, minlength=len(uniq))
    cnts = np.bincount(inv, weights=wts, minlength=len(uniq))
    k_eff = SHRINKAGE * wts.mean()
    fac = ((k_eff + sums) / (k_eff + cnts)) ** (1 / FACTOR_POWER)
    factors = {k: float(v) for k, v in zip(uniq, fac, strict=True)}
    return factors, scores / fac[inv]


def _pooled_quantiles(normalised, hs, orig, wts, max_horizon) -> tuple[list, list]:
    """Weighted PROB_GRID quantiles of the normalised scores at horizons 1, 2 ... up to the first
    that fewer than MIN_ORIGINS origins (or MIN_SCORES scores) reach; and the score counts."""
    quantiles, counts = [], []
    for h in range(1, max_horizon + 1):
        sel = hs == h
        s = normalised[sel]
        if len(np.unique(orig[sel])) < MIN_ORIGINS or s.size < MIN_SCORES:
            break
        quantiles.append(_wquantile(s, wts[sel], PROB_GRID).tolist())
        counts.append(int(s.size))
    return quantiles, counts


def _tail_exponent(q: np.ndarray) -> float:
    """Power of h in the central-95 % width over the measured tail H/2..H, clipped to [-0.5, 1]:
    the log_scale already grows like h, so the table only corrects its shape."""
    H = len(q)
    lo, hi = np.searchsorted(PROB_GRID, 0.025), np.searchsorted(PROB_GRID, 0.975)
    width = q[:, hi] - q[:, lo]
    tail = np.arange(max(1, H // 2), H + 1)
    if len(tail) >= 2 and np.all(width[tail - 1] > 0):
        exponent = float(np.polyfit(np.log(tail), np.log(width[tail - 1]), 1)[0])
    else:
        exponent = 0.0
    return float(np.clip(exponent, -0.5, 1.0))


def _wquantile(values: np.ndarray, weights: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Weighted quantiles (mid-point rule on the cumulative weights; equal weights ~ np.quantile)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cw = np.cumsum(w)
    pos = (cw - 0.5 * w) / cw[-1]
    return np.interp(probs, pos, v)
