"""Calibration of the damped model's intervals from rolling-origin backtests (longrange.py).

``calibrate`` backtests the model from every origin, divides each log error by the forecast's
log_scale (a score) and stores per-horizon quantiles of the signed scores on a fixed probability
grid, plus region factors: the region's own past score size relative to all regions', shrunk
towards 1, one per horizon band (BANDS). Horizons too far for enough origins to reach are
extrapolated by a power law in h fitted to the measured tail. Recent origins weigh more, and so
do origins in the same phase of WPP's five-year cycle as the forecast's (``_origin_weights``).
longrange_table.interval reads the result. Before the scores, it chooses the growth share of every
rounded tiny series (``growth_shares``) from the same backtests.
The parameters were chosen on validation windows (origins 1970–1995, judged on years <= 2005).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import longrange
from .longrange_table import Table, band_index

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
# Model version 5 (the cap no longer shrinks ordinary growth near the origin, so one-year errors
# fell to a third): one factor per horizon band, and 25,600 pseudo-scores. On the selection
# windows, geometric mean interval score 9.63 with one factor and 6,400; 9.38 with one factor and
# 25,600 (coverage 97-98 % at short horizons: the short horizons' errors no longer looked like the
# long ones'); 9.28 with these bands and 25,600 (bands 1,3,6: 9.25; 1,2,4,7: 9.22; 1,2,3,4,6: 9.28;
# 1,2,4,8,16 with its own factor for every band, the long ones from few old origins: 11.6).
FACTOR_POWER = 5.0
SHRINKAGE = 25600.0
# Band starts: h = 1, 2, 3-5 each have their region's factor from its scores at those horizons;
# from 6 years ahead on, the factor from all its scores (few origins reach the long horizons).
BANDS = (1, 2, 3, 6)
MIN_ORIGINS = 5  # a horizon is measured when this many origins reach it (and >= 50 scores)
MIN_SCORES = 50
# Years: recent origins' errors are smaller than older ones (the estimates of recent decades are
# smoother), so the scores of an origin weigh half as much as those of one 2.5 years later.
HALF_LIFE = 2.5
# Model version 6: the scores of origins in another phase of the five-year cycle than the forecast's
# origin weigh OFF_CYCLE_WEIGHT as much (see ``_origin_weights``). On the selection windows (with
# version 6's curvature, two years where one year ahead earned it): geometric mean interval score
# 9.15 (weight 1; 6 of 8 in 90-97 %), 9.06 (0.5; 7 of 8), 9.03 (0.25; 7 of 8), 8.94 (0.1; 6 of 8,
# the lowest 88.0 %); on 29 earlier windows from origins between the steps, in the band 24, 24, 24
# and 22. Not chosen again for version 7 (selection windows 9.08 with 0.25).
OFF_CYCLE_WEIGHT = 0.25
# Extrapolated quantiles: the least widening with >= 90 % validation coverage (1.05 before version
# 5, whose extrapolation read the shape in h of quantiles divided by several bands' factors).
WIDEN = 1.0
MIN_YEARS_BEFORE = 4  # an origin backtests the histories that start 4 or more years before it
# Growth shares of rounded tiny series (``growth_shares``): chosen on the series' own forecasts
# from the SHARE_ORIGINS origins before, each judged on its errors up to SHARE_HORIZON years ahead
# that are known by then, an origin weighing half as much as one SHARE_HALF_LIFE years later.
SHARE_ORIGINS = 15
SHARE_HORIZON = 10
SHARE_HALF_LIFE = 5.0
SHARE_GRID = np.linspace(1.0, 0.0, 21)  # from 1 down: a tie keeps the whole forecast
# The chosen shrinking applies in full to series rounded far beyond this (rounding noise: half the
# rounding unit over the value; 0.005 is a region of 100,000 people published in thousands) and
# half at it: (r / R)^2 / (1 + (r / R)^2). Larger regions keep their whole forecast.
SHARE_ROUNDING = 0.005
MIN_GATE = 0.01  # below (rounding noise under 0.0005: a million people in thousands), share 1


def calibrate(histories: dict, origins, max_horizon: int) -> Table:
    """Build a Table from rolling-origin backtests of ``histories`` {key: (years, persons)}.

    Only the years the histories record are used: to judge a forecast from origin Y honestly, pass
    histories cut after Y and origins < Y. See ``table_from_scores``.
    """
    runs = backtests(histories, origins, max_horizon)
    if not runs:
        raise ValueError("no backtest scores from these origins")
    keys, hs, scores, orig = backtest_scores(runs)
    shares = _shares_at_end(runs, histories)
    start = max(int(np.asarray(years)[-1]) for years, _ in histories.values())
    return table_from_scores(
        keys, hs, scores, orig, origins, max_horizon, envelope(histories), shares, start
    )


@dataclass
class Backtest:
    """The model's forecasts of every history from one origin, fitted on the years up to it.

    ``change`` the forecast log change from the last value (series, horizons), ``actual`` the
    recorded one (NaN where not recorded), ``scale`` the log_scale, ``rounding`` the series'
    rounding noise at the origin, ``share`` the growth share each series keeps (``growth_shares``).
    """

    origin: int
    keys: list
    change: np.ndarray
    actual: np.ndarray
    scale: np.ndarray
    rounding: np.ndarray
    share: np.ndarray


def backtests(histories: dict, origins, max_horizon: int) -> list[Backtest]:
    """One Backtest per origin that has histories to forecast (all fitted in one batch), with
    each series' growth share chosen on the backtests before it."""
    runs = []
    for origin in origins:
        cut = _cut_at(histories, origin, max_horizon)
        if cut is None:
            continue
        keys, past, actual = cut
        fit = longrange.fit(past)
        mean, scale = longrange.predict(fit, max_horizon)
        runs.append(
            Backtest(
                origin=origin,
                keys=keys,
                change=np.log(mean) - fit.last_log[:, None],
                actual=np.log(actual) - fit.last_log[:, None],
                scale=scale,
                rounding=fit.rounding,
                share=np.ones(len(keys)),
            )
        )
    for run in runs:
        chosen = growth_shares(runs, run.origin, dict(zip(run.keys, run.rounding, strict=True)))
        run.share = np.array([chosen.get(key, 1.0) for key in run.keys])
    return runs


def backtest_scores(runs: list[Backtest]):
    """(keys, horizons, signed scores, origins) of every recorded year after every origin: the
    log error of the forecast that keeps its growth share (as longrange.with_share does, on the
    log change), over its log_scale. Constant series (log_scale 0) give no scores."""
    keys_all, hs, scores, orig = [], [], [], []
    for run in runs:
        err = run.actual - run.share[:, None] * run.change
        ok = np.isfinite(err) & (run.scale > 0)
        r, c = np.nonzero(ok)
        keys_all.extend(run.keys[i] for i in r)
        hs.append(c + 1)
        scores.append(err[ok] / run.scale[ok])
        orig.append(np.full(len(r), run.origin))
    if not hs:
        raise ValueError("no backtest scores from these origins")
    return keys_all, np.concatenate(hs), np.concatenate(scores), np.concatenate(orig)


def growth_shares(runs: list[Backtest], origin: int, rounding: dict) -> dict:
    """{key: share} for the series forecast from ``origin`` whose share is below 1.

    A series' share s is the one of SHARE_GRID whose forecasts, keeping s of their log change,
    had the least weighted absolute log error in its backtests from the SHARE_ORIGINS origins
    before ``origin``, over the horizons up to SHARE_HORIZON known by then. Only rounding earns
    a share below 1: the shrinking chosen is applied in proportion to (r / R)^2 / (1 + (r / R)^2),
    r the series' ``rounding`` at ``origin``, R = SHARE_ROUNDING. Why: WPP publishes thousands,
    so a territory of 1,000 to 3,000 people moves in steps of a third or a half; the model reads a
    step as a growth rate and forecasts it for years (Tokelau -7 %/year from 2010, the Falklands
    doubling from 2000) while the record stays flat. The series' own past says how much of its
    forecast growth to trust, from holding it flat (0) to all of it (1).
    """
    gates = {key: _gate(r) for key, r in rounding.items()}
    gates = {key: gate for key, gate in gates.items() if gate >= MIN_GATE}
    cost: dict = {}
    for run in runs:
        if not gates or not origin - SHARE_ORIGINS <= run.origin < origin:
            continue
        rows = [row for row, key in enumerate(run.keys) if key in gates]
        known = min(SHARE_HORIZON, origin - run.origin)
        weight = 0.5 ** ((origin - 1 - run.origin) / SHARE_HALF_LIFE)
        actual, change = run.actual[rows, :known], run.change[rows, :known]
        # (series, horizons, grid): the error of keeping each share of the change
        err = np.abs(actual[..., None] - SHARE_GRID * change[..., None])
        per_share = weight * np.nansum(err, axis=1)
        judged = np.isfinite(actual).any(axis=1)
        for position, row in enumerate(rows):
            if judged[position]:
                key = run.keys[row]
                cost[key] = cost.get(key, 0.0) + per_share[position]
    shares = {}
    for key, total in cost.items():
        share = 1.0 - (1.0 - SHARE_GRID[np.argmin(total)]) * gates[key]
        if share < 1.0:
            shares[key] = float(share)
    return shares


def _gate(rounding: float) -> float:
    """(r / R)^2 / (1 + (r / R)^2), R = SHARE_ROUNDING: how much of the chosen shrinking applies."""
    ratio = (rounding / SHARE_ROUNDING) ** 2
    return ratio / (1.0 + ratio)


def _shares_at_end(runs: list[Backtest], histories: dict) -> dict:
    """{key: share} of the histories forecast from their last year (``growth_shares`` from there,
    with their rounding noise as recorded), for those whose share is below 1."""
    by_last: dict = {}
    for key, (years, values) in histories.items():
        by_last.setdefault(int(np.asarray(years)[-1]), {})[key] = np.asarray(values, float)
    shares = {}
    for last, group in by_last.items():
        width = max(len(values) for values in group.values())
        padded = np.full((len(group), width), np.nan)  # NaN before a late start
        for row, values in enumerate(group.values()):
            padded[row, width - len(values) :] = values
        rounding = dict(zip(group, longrange.rounding_noise(padded).tolist(), strict=True))
        shares.update(growth_shares(runs, last, rounding))
    return shares


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


def table_from_scores(
    keys, hs, scores, orig, origins, max_horizon, envelope, shares, start
) -> Table:
    """Quantiles and region factors from backtest scores (see the helpers for each step), for
    forecasts from the year ``start`` (the histories' last year)."""
    wts = _origin_weights(hs, orig, max_horizon, start)
    factors, normalised, long_normalised = _region_factors(keys, hs, scores, wts, max_horizon)
    quantiles, counts = _pooled_quantiles(normalised, hs, orig, wts, max_horizon)
    return Table(
        probs=PROB_GRID.tolist(),
        quantiles=quantiles,
        exponent=_tail_exponent(long_normalised, hs, wts, len(quantiles)),
        factors=factors,
        origins=[int(o) for o in origins],
        counts=counts,
        widen=float(WIDEN),
        envelope=list(envelope),
        bands=list(BANDS),
        shares={str(key): share for key, share in shares.items()},
    )


def _origin_weights(hs, orig, max_horizon, start) -> np.ndarray:
    """2 ** (-(o_h - o) / HALF_LIFE) for a score from origin o, o_h the latest origin reaching h,
    times OFF_CYCLE_WEIGHT when o is not a multiple of longrange.CYCLE years before ``start``,
    the origin of the forecasts the table is for.

    Why the half-life: forecast errors of the 1960s origins (before the post-1990 data revisions
    and the smooth WPP estimates of recent decades) are larger than recent ones; equal weights made
    the short-horizon intervals too wide.
    Why the cycle: WPP's yearly estimates are built on five-year steps (1990, 1995, 2000 ...), so
    how well a forecast does depends on where its origin falls between them. Over WPP2019's
    backtests to 2009 (model version 6), origins on a step (o = 0 mod 5) missed by less than the
    others: median |score| 12-51 % smaller three to five years ahead, the 97.5 % quantile 2-22 %
    smaller five to ten years ahead. Pooling all origins gave forecasts from a step intervals too
    wide (coverage 96-97 %) and forecasts from between the steps intervals too narrow. On data
    without such a cycle every phase should miss alike, and the weights then only give some
    origins more say (not measured: no other file here has enough regions to backtest).
    """
    last = np.zeros(max_horizon + 2)
    for h in np.unique(hs):
        last[h] = orig[hs == h].max()
    in_phase = (start - orig) % longrange.CYCLE == 0
    return 2.0 ** (-(last[hs] - orig) / HALF_LIFE) * np.where(in_phase, 1.0, OFF_CYCLE_WEIGHT)


def _region_factors(keys, hs, scores, wts, max_horizon) -> tuple[dict, np.ndarray, np.ndarray]:
    """({region: [factor of each band]}, scores divided by their region's factor at their
    horizon, scores divided by their region's factor of the last band).

    Factor = ((k + sum w r^p) / (k + sum w)) ** (1 / p) over the region's scores in the band
    (the last band: all its scores), p = FACTOR_POWER, r the region's |score| over the pooled
    weighted median |score| at the same horizon, k = SHRINKAGE pseudo-scores of size 1 (scaled to
    the band's mean weight): a region with few or ordinary scores keeps a factor near 1, one with
    a few very large errors gets a large factor. Why bands: a region's largest misses are often
    at one range of horizons only (a war ten years after an origin; a rounding step one year
    after it), and one factor for all horizons widened its interval at every horizon for them.
    """
    keys = np.array([str(k) for k in keys])
    med = np.zeros(max_horizon + 1)
    for h in np.unique(hs):
        sel = hs == h
        med[h] = _wquantile(np.abs(scores[sel]), wts[sel], np.array([0.5]))[0] or 1.0
    rel = (np.abs(scores) / med[hs]) ** FACTOR_POWER
    uniq, inv = np.unique(keys, return_inverse=True)
    band = band_index(BANDS, hs)
    fac = np.ones((len(uniq), len(BANDS)))
    for j in range(len(BANDS)):
        sel = band == j if j < len(BANDS) - 1 else np.ones(len(hs), dtype=bool)
        if not sel.any():
            continue
        sums = np.bincount(inv[sel], weights=rel[sel] * wts[sel], minlength=len(uniq))
        cnts = np.bincount(inv[sel], weights=wts[sel], minlength=len(uniq))
        k_eff = SHRINKAGE * wts[sel].mean()
        fac[:, j] = ((k_eff + sums) / (k_eff + cnts)) ** (1 / FACTOR_POWER)
    factors = {key: fac[i].tolist() for i, key in enumerate(uniq)}
    return factors, scores / fac[inv, band], scores / fac[inv, -1]


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


def _tail_exponent(long_normalised, hs, wts, measured: int) -> float:
    """Power of h in the central-95 % width of the scores over the measured tail H/2..H, clipped
    to [-0.5, 1]: the log_scale already grows like h, so the table only corrects its shape.

    The scores are those divided by their region's factor of the last band, the one the far
    horizons use: the measured tail can span several bands (H = 6 from an origin with ten years
    of origins before it), and quantiles of scores divided by different factors have no common
    shape (version 5's first try read an exponent of 0.1 there, and 1970 h=40 covered 86 %)."""
    tail = np.arange(max(1, measured // 2), measured + 1)
    width = np.array(
        [
            np.diff(_wquantile(long_normalised[hs == h], wts[hs == h], np.array([0.025, 0.975])))[0]
            for h in tail
        ]
    )
    if len(tail) >= 2 and np.all(width > 0):
        exponent = float(np.polyfit(np.log(tail), np.log(width), 1)[0])
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
