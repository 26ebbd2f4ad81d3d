"""Damped log growth: long-range population forecasts that stay positive and stationary.

Everything happens in log space, on the yearly growth rate g_t = log P_t - log P_{t-1}:

* Component A, an AR(p) on the *change* of the growth rate d_t = g_t - g_{t-1}, without a
  constant, fitted by ridged least squares on the last WINDOW years. Why: population growth
  follows slow demographic trends (the transition makes growth fall for decades); the recent change
  of growth carries that trend, and a stationary zero-mean AR on it turns the trend into a *damped*
  trend (d -> 0, so g settles at a constant instead of trending for ever). Two members are
  averaged in log space, AR(3) on 40 years and AR(2) on 20 (a geometric mean of two positive
  forecasts, so still positive).
* Component B, the median growth of the last NAIVE_YEARS years held constant. Why: a very stable
  second forecaster; averaging it with A cuts the large misses of A on series whose growth changed
  abruptly just before the origin (war, oil migration), which drive the *mean* MAPE.
* The blend w_k*A + (1-w_k)*B, w_k falling linearly from 1 to WEIGHT over DELAY years (short
  horizons are the AR's, long ones lean on the stable median), is multiplied by
  psi**max(0, k - DELAY): a slow pull of every growth rate towards zero. Why: no population grows
  (or shrinks) at a fixed rate for 80 years. Regions growing faster than GREF get a stronger pull.
* A local trend for smooth series: over the first LOCAL_YEARS the path leans towards the last
  growth rate plus its last change, damped by LOCAL_RHO a year, with a weight falling from 1 to 0
  and gated by how steady the growth has been. Why: the AR members, fitted on 40 and 20 years,
  lag behind a recent turn of a steady trend (on the selection windows: median MAPE -2.6 %, better
  in 7 of 8; mean MAPE -0.7 %, better in 8 of 8; interval score -0.8 %; coverage unchanged).
  The last change of growth goes on changing at its last pace for as many years (0 to
  CURVE_AHEAD_MAX) as the series' own record says it should (``curvature_years``: WPP's
  estimates bend between five-year steps).
* Rounded tiny series: WPP publishes thousands, so the growth rates of a region of 2,000 people
  are rounding noise; component A's weight shrinks with the rounding and B uses the mean growth.
* The growth path is soft-capped (``_cap``): at one year ahead the cap is the identity below KNEE
  and saturates towards GCAP above it; over CAP_FADE years it turns into GCAP * tanh(g / GCAP),
  which also pulls fast ordinary growth gently towards zero. log P_{T+h} = log P_T + the sum of
  the path; persons = exp(...), hence > 0 by construction (no clamp).
* Rounded tiny series keep only a share of their forecast change (``predict``'s ``share``, from
  the calibration: longrange_calibration.growth_shares): one rounding step (2,000 -> 1,000
  people) reads as a growth rate that the series then does not follow.

Stationarity: every fit whose largest companion eigenvalue modulus exceeds MAX_ROOT has all its
roots scaled by the same factor (see ``enforce_stationary``): the fit keeps its shape and its
largest modulus becomes exactly MAX_ROOT < 1. Short series are ridged towards phi = 0.

``predict`` also returns ``log_scale``, 0.01 * h for every varying series (0 for a constant one):
a scale the same for all regions cannot collapse; region differences come from the calibrated
region factor (longrange_calibration.py; intervals read in longrange_table.py).
The parameters were chosen on validation windows (origins 1970–1995, judged on years <= 2005).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Raised whenever a change alters the forecasts: calibration tables stored with a dataset name
# the version whose errors they measured, and a table of another version is built again.
# 3: region factors shrunk harder (longrange_calibration.SHRINKAGE 400); 4: region factors from the
# 5th power of past errors, recent origins weighed with a 2.5-year half-life (longrange_calibration);
# 5: the cap leaves ordinary growth alone near the origin (KNEE), region factors per horizon band,
# rounded tiny series keep a calibrated share of their forecast change; 6: the calibration weighs
# origins in the forecast origin's phase of the five-year cycle more, and the local trend carries
# the curvature of growth where a series' own record earns it; 7: for as many years as that record
# says (curvature_years), instead of two
MODEL_VERSION = 7
ORDER = 3  # AR order of the main member: three lags of the growth change carry the trend
WINDOW = 40  # years of growth changes it is fitted on: the demographic transition's time scale
ENS_ORDER = 2  # second member, AR(2): a shorter memory for regions whose trend recently turned
ENS_WINDOW = 20  # its fit window
MAX_ROOT = 0.9  # largest allowed |root|: well inside the unit circle, so every fit damps
RIDGE = 2.0  # pseudo-rows of phi = 0: negligible for 40 rows, decisive for 5
NAIVE_YEARS = 10  # component B: median growth of the last 10 years, robust to one-off shocks
WEIGHT = 0.75  # weight of component A once the blend is complete (after DELAY years)
PSI = 0.98  # yearly pull of growth towards zero after DELAY years: no growth lasts 80 years
DELAY = 10  # years before the pull starts and the blend reaches WEIGHT (the AR is best at h <= 10)
KAPPA = 3.0  # extra pull psi ** (1 + KAPPA * excess): Gulf states, refugee rebounds
GREF = 0.03  # recent growth beyond 3 %/year counts as excess (ordinary regions are unchanged)
ROUND_REF = 0.02  # A's weight times 1 / (1 + (rounding / ROUND_REF)^2): > 250,000 people unchanged
GCAP = 0.08  # soft cap on forecast growth, |g| < 8 %/year
KNEE = 0.04  # one year ahead, growth up to 4 %/year passes the cap unchanged
CAP_FADE = 5  # years over which the cap turns from that form into GCAP * tanh(g / GCAP)
LOCAL_WEIGHT = 1.0  # weight of the local trend in the first forecast year (0 turns it off)
LOCAL_YEARS = 8  # years over which that weight falls to 0
LOCAL_RHO = 0.9  # yearly damping of the last change of growth in the local trend
LOCAL_REF = 0.001  # spread of growth changes at which the local trend's weight halves
CYCLE = 5  # WPP's yearly estimates are built on five-year steps (see ``curvature_years``)
CURVE_YEARS = 40  # years back over which a series' own record judges the curvature, every CYCLE
CURVE_AHEAD_MAX = 5  # at most this many years does the local trend's change of growth keep changing
CURVE_JUDGED = 5  # years ahead over which the record judges each choice of those (<= CYCLE)
SCALE = 0.01  # log_scale per year ahead; the calibration table sets the actual width


@dataclass
class Fit:
    """Per-series parameters of the damped-growth model (arrays of length ``series``).

    ``last_log`` log persons at the last year; ``growth`` the last NAIVE_YEARS growth rates
    (oldest first); ``phi`` / ``phi2`` the two members' stationary AR coefficients on the change
    of growth; ``rounding`` half the rounding unit over the last value; ``max_root`` the largest
    |root| of either member; ``constant`` which series never change; ``curve_years`` the years
    over which the local trend carries the last change of the change of growth (``curvature_years``).
    """

    last_log: np.ndarray
    growth: np.ndarray
    phi: np.ndarray
    phi2: np.ndarray
    rounding: np.ndarray
    max_root: np.ndarray
    constant: np.ndarray
    curve_years: np.ndarray

    def row(self, index: int) -> Fit:
        """Series ``index`` alone, as a one-series Fit (each series' parameters are its own)."""
        return Fit(**{name: value[index : index + 1] for name, value in vars(self).items()})

    @staticmethod
    def stack(fits: list[Fit]) -> Fit:
        """One Fit of the series of ``fits``, in order (their growth windows are equally long)."""
        names = vars(fits[0])
        return Fit(**{name: np.concatenate([vars(f)[name] for f in fits]) for name in names})


def companion_roots(phi: np.ndarray) -> np.ndarray:
    """Moduli of the companion eigenvalues (inverse roots of 1 - sum phi_k z^k), (series, p).

    A value >= 1 means a root on or inside the unit circle: an explosive / unit-root fit.
    """
    n, p = phi.shape
    comp = np.zeros((n, p, p))
    comp[:, 0, :] = phi
    comp[:, np.arange(1, p), np.arange(p - 1)] = 1.0
    return np.abs(np.linalg.eigvals(comp))


def enforce_stationary(phi: np.ndarray, max_root: float) -> np.ndarray:
    """phi_k * lam**k with lam = max_root / modulus where the largest modulus exceeds max_root.

    Scaling phi_k by lam**k scales *every* root by lam, so the fit keeps its oscillation period
    and relative weights, and its largest modulus becomes exactly ``max_root``.
    """
    modulus = companion_roots(phi).max(axis=1)
    lam = np.where(modulus > max_root, max_root / np.maximum(modulus, 1e-300), 1.0)
    return phi * lam[:, None] ** np.arange(1, phi.shape[1] + 1)[None, :]


def fit(histories: np.ndarray) -> Fit:
    """Fit every row of ``histories`` (series, length): persons > 0, NaN before a late start.

    All rows are taken to end in the same year (damped.py groups series by last year). A row needs
    at least 2 recorded years; with few, the ridge pulls its AR to zero (constant-growth
    forecast). Vectorised: one batched normal-equation solve per member.
    """
    values = np.asarray(histories, dtype=float)
    x = np.log(values)
    if np.any(~np.isfinite(x[:, -1])):
        raise ValueError("every series needs a positive value in its last year")
    g = np.diff(x, axis=1)
    d = np.diff(g, axis=1)
    phi = _fit_ar(d, ORDER, WINDOW)
    phi2 = _fit_ar(d, ENS_ORDER, ENS_WINDOW)
    keep = max(ORDER + 1, ENS_ORDER + 1, NAIVE_YEARS)
    return Fit(
        last_log=x[:, -1],
        # Missing early growth (very short series): repeat the oldest known one.
        growth=_fill_left(g[:, -keep:]),
        phi=phi,
        phi2=phi2,
        rounding=rounding_noise(values),
        max_root=np.maximum(companion_roots(phi).max(axis=1), companion_roots(phi2).max(axis=1)),
        constant=np.nanmax(np.abs(g), axis=1, initial=0.0) == 0.0,
        curve_years=curvature_years(g),
    )


def curvature_years(g: np.ndarray) -> np.ndarray:
    """For each series (rows of growth rates ``g``, the last one the origin's), the years (0 to
    CURVE_AHEAD_MAX) over which the local trend should carry the last change of its change of
    growth, as the series' own record says.

    From the positions CYCLE, 2 CYCLE ... CURVE_YEARS years before the last (the origin's phase of
    the cycle), it forecasts the next CURVE_JUDGED years of growth with the local trend (``_local``)
    bending for 0, 1 ... CURVE_AHEAD_MAX years, and keeps the choice whose absolute errors add up to
    the least (the fewest years on a tie). Why: WPP's yearly estimates are smooth curves between
    five-year steps. From an origin on a step the growth's last change is the best guide (the curve
    bends anew at the step); from an origin between steps the curve goes on bending as it did,
    for as long as the record shows. One year ahead on WPP2019 (median absolute error, percent):
    from 1990, 2000, 2010 the local trend 0.011-0.017, with the curvature 0.025-0.039; from 1988,
    2003, 2008, 2013 the local trend 0.027-0.048, with the curvature 0.018-0.024. How long it
    goes on bending depends on the phase, which the series' own record finds; no calendar year is
    assumed to be a step. Point forecasts ten years ahead from every origin 1965-1995, geometric
    mean of median MAPE by the origin's year modulo 5, bending for two years where the one-year
    record earned it (model version 6) against the years chosen here: 0: 0.797 -> 0.785, 1: 1.016
    -> 1.009, 2: 1.095 -> 1.084, 3: 0.919 -> 0.899, 4: 0.716 -> 0.724 (five years ahead from
    1965-2000: 0.265 -> 0.260). CURVE_AHEAD_MAX 3 or 8 and CURVE_JUDGED 3 gave the same within
    0.002, CURVE_JUDGED 8 less."""
    choices = np.arange(CURVE_AHEAD_MAX + 1)
    # The positions judged, all at once: t forecasts g[t + 1 : t + 1 + CURVE_JUDGED] from
    # g[t - 2 : t + 1] (CURVE_JUDGED <= CYCLE, so those years are recorded before the origin).
    positions = g.shape[1] - 1 - np.arange(CYCLE, CURVE_YEARS + 1, CYCLE)
    positions = positions[positions >= 2]
    recent = g[:, positions[:, None] + np.arange(-2, 1)]  # (series, positions, 3)
    actual = g[:, positions[:, None] + np.arange(1, CURVE_JUDGED + 1)]  # (series, positions, years)
    # A position with a year unrecorded counts for no choice: all zeros, it misses by nothing.
    known = np.all(np.isfinite(recent), axis=2) & np.all(np.isfinite(actual), axis=2)
    recent = np.where(known[..., None], recent, 0.0)
    actual = np.where(known[..., None], actual, 0.0)
    missed = np.stack(
        [
            np.abs(_local(recent, years, CURVE_JUDGED) - actual).sum(axis=(1, 2))
            for years in choices
        ],
        axis=1,
    )  # (series, choices)
    return choices[np.argmin(missed, axis=1)].astype(float)


def _local(recent: np.ndarray, bend_years, steps: int) -> np.ndarray:
    """The local trend's growth path, uncapped, ``steps`` years from the last three growth rates
    (``recent``'s last axis): the last growth plus its last change, damped by LOCAL_RHO a year, that
    change going on changing at its last pace for ``bend_years`` (broadcast against the rest)."""
    k = np.arange(1, steps + 1)
    damping = LOCAL_RHO**k
    last_change = recent[..., -1] - recent[..., -2]
    bend = last_change - (recent[..., -2] - recent[..., -3])
    years = np.minimum(k, np.asarray(bend_years, dtype=float)[..., None])
    # The sums over the years ahead are taken of the weights, not of each series' changes:
    # curvature_years judges each choice at eight positions of every series at once.
    return (
        recent[..., -1:]
        + last_change[..., None] * np.cumsum(damping)
        + bend[..., None] * np.cumsum(years * damping, axis=-1)
    )


def _lagged(values: np.ndarray, p: int) -> np.ndarray:
    """(series, time, p) array whose [:, t, j] is values[:, t - 1 - j] (NaN before the start)."""
    n, t = values.shape
    out = np.full((n, t, p), np.nan)
    for j in range(p):
        out[:, j + 1 :, j] = values[:, : t - j - 1]
    return out


def _fit_ar(d: np.ndarray, p: int, window: int) -> np.ndarray:
    """Ridged least squares AR(p) without constant on the growth changes ``d`` over the last
    ``window`` rows, made stationary. The ridge is RIDGE average rows, so it scales with the data."""
    lags = _lagged(d, p)[:, -window:]
    target = d[:, -window:]
    valid = np.isfinite(target) & np.all(np.isfinite(lags), axis=2)
    X = np.where(valid[..., None], lags, 0.0)
    y = np.where(valid, target, 0.0)
    rows = valid.sum(axis=1)
    xtx = np.einsum("nti,ntj->nij", X, X)
    xty = np.einsum("nti,nt->ni", X, y)
    avg = np.trace(xtx, axis1=1, axis2=2) / np.maximum(rows, 1) / p
    lam = RIDGE * np.maximum(avg, 1e-18)
    phi = np.linalg.solve(xtx + lam[:, None, None] * np.eye(p), xty[..., None])[..., 0]
    phi[rows < 2] = 0.0
    return enforce_stationary(phi, MAX_ROOT)


def rounding_noise(histories: np.ndarray) -> np.ndarray:
    """Half the rounding unit over the last value, per series (0 for unrounded data).

    The unit is the largest power of ten (1 .. 10**6) that divides every recorded value: WPP
    publishes thousands, so a region of 2,000 people is known only to +-25 %, and its yearly growth
    rates are mostly rounding noise (2000, 2000, 3000, 3000 ...).
    """
    v = np.asarray(histories, float)
    rec = np.isfinite(v)
    unit = np.zeros(len(v))
    for k in range(7):
        u = 10.0**k
        div = np.all(~rec | (np.mod(np.where(rec, v, 0.0), u) == 0), axis=1)
        unit = np.where(div, u, unit)
    return 0.5 * unit / v[:, -1]


def _fill_left(a: np.ndarray) -> np.ndarray:
    """NaN entries take the next known value to their right (0 where a row has none)."""
    a = a.copy()
    for j in range(a.shape[1] - 2, -1, -1):
        a[:, j] = np.where(np.isfinite(a[:, j]), a[:, j], a[:, j + 1])
    return np.where(np.isfinite(a), a, 0.0)


def _cap(g: np.ndarray, horizons) -> np.ndarray:
    """Soft cap on growth ``g`` whose columns are ``horizons`` years ahead: |result| < GCAP,
    smooth, odd and increasing in g.

    One year ahead it is the identity up to KNEE and saturates above (``_knee_cap``); by
    1 + CAP_FADE years ahead it is GCAP * tanh(g / GCAP), linearly in between. Why: tanh is not
    the identity for ordinary growth, it takes 2 % of a growth of 2 %/year (8 % of 4 %/year).
    Near the origin that shrinking was the largest part of the error, where the last growth
    rates are the best forecast (2010 origin, one year ahead: median error 0.045 % with it,
    0.018 % without); further ahead it is a gentle pull of fast growth that the selection
    windows kept (without it, mean MAPE and interval score were worse)."""
    fade = np.clip((np.asarray(horizons, dtype=float) - 1) / CAP_FADE, 0.0, 1.0)
    fade = np.broadcast_to(fade, g.shape[-1:])
    capped = GCAP * np.tanh(g / GCAP)
    near = fade < 1.0  # the knee is computed only where it counts (80 years: the first 5)
    if near.any():
        part = fade[near]
        capped[..., near] = (1 - part) * _knee_cap(g[..., near]) + part * capped[..., near]
    return capped


def _knee_cap(g: np.ndarray) -> np.ndarray:
    """g for |g| <= KNEE; beyond, KNEE + (GCAP - KNEE) * tanh((|g| - KNEE) / (GCAP - KNEE)) with
    g's sign: slope 1 at the knee (smooth), below GCAP for any g."""
    size = np.abs(g)
    room = GCAP - KNEE
    return np.sign(g) * (np.minimum(size, KNEE) + room * np.tanh(np.maximum(size - KNEE, 0) / room))


def predict_in_sample(histories: np.ndarray, f: Fit) -> np.ndarray:
    """One-step predictions (persons) for the years inside the history; NaN where not predictable.

    The main member only, blended at WEIGHT and pulled once, without the rounding rule: the
    prediction beside the record, not the long-range recursion.
    """
    x = np.log(np.asarray(histories, dtype=float))
    g = np.diff(x, axis=1)
    p, m = f.phi.shape[1], NAIVE_YEARS
    gl = _lagged(g, max(p + 1, m))  # gl[:, t, j] = g[t-1-j]
    dl = gl[:, :, :p] - gl[:, :, 1 : p + 1]  # d[t-1-j]
    a = gl[:, :, 0] + np.einsum("ntj,nj->nt", dl, f.phi)
    b = np.median(gl[:, :, :m], axis=2)
    b = np.where(np.all(np.isfinite(gl[:, :, :m]), axis=2), b, np.nan)
    pred = _cap((WEIGHT * a + (1 - WEIGHT) * b) * PSI, horizons=1)
    out = np.full(x.shape, np.nan)
    out[:, 1:] = np.exp(x[:, :-1] + pred)
    return out


def predict(f: Fit, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-sample forecast of the next ``steps`` years: (mean persons, log_scale), both
    (series, steps). The recursion is p multiply-adds a year: 80 years of 285 series take ~1 ms.
    A series with a growth share below 1 keeps that share of it afterwards (``with_share``)."""
    recent = f.growth[:, -NAIVE_YEARS:]
    naive = np.median(recent, axis=1)
    excess = np.maximum(np.abs(naive) - GREF, 0.0) / GREF
    psi = PSI ** (1.0 + KAPPA * excess)
    # Reliability of component A: the AR extrapolates the rounding noise of tiny series ...
    reliable = 1.0 / (1.0 + (f.rounding / ROUND_REF) ** 2)
    # ... and their median growth of 0, 0, +0.4, 0 is 0: B leans on the mean instead.
    naive = reliable * naive + (1 - reliable) * recent.mean(axis=1)
    members = (_member_path(f, phi, steps, naive, psi, reliable) for phi in (f.phi, f.phi2))
    path = sum(members) / 2
    if LOCAL_WEIGHT:
        path = _with_local_trend(f, path, steps, reliable)
    mean = np.exp(f.last_log[:, None] + np.cumsum(path, axis=1))
    h = np.arange(1, steps + 1)
    scale = np.where(f.constant, 0.0, SCALE)
    return mean, scale[:, None] * h.astype(float)[None, :]


def with_share(last_log: np.ndarray, mean: np.ndarray, share) -> np.ndarray:
    """Forecast persons ``mean`` (series, steps) keeping ``share`` of their log change from
    ``last_log``: share 1 is the forecast, 0 the last value held flat, in between a geometric
    mean of the two (positive whatever the share). The calibration scores the same rule on log
    changes (longrange_calibration.backtest_scores)."""
    share = np.broadcast_to(np.asarray(share, dtype=float), last_log.shape)
    return np.exp(last_log[:, None] + share[:, None] * (np.log(mean) - last_log[:, None]))


def _with_local_trend(f: Fit, path, steps, reliable) -> np.ndarray:
    """``path`` with its first LOCAL_YEARS blended towards the local trend of smooth series.

    The local trend continues the last change of growth, damped by LOCAL_RHO a year, and that
    change goes on changing at its last pace for the series' ``curve_years`` (``_local``). The
    blend weight falls linearly from LOCAL_WEIGHT to 0 over LOCAL_YEARS and is gated by how smooth
    the growth has been (the spread of its last changes against LOCAL_REF) and by the rounding
    reliability: a series whose growth moves steadily (most countries in their demographic
    transition) is best read from its last years at short horizons, where the AR members, fitted
    on 40 and 20 years, lag behind a recent turn."""
    k = np.arange(1, steps + 1)
    local = _cap(_local(f.growth[:, -3:], f.curve_years, steps), k)
    wiggle = np.std(np.diff(f.growth, axis=1), axis=1)
    gate = reliable / (1 + (wiggle / LOCAL_REF) ** 2)
    v = LOCAL_WEIGHT * np.maximum(0, 1 - (k - 1) / LOCAL_YEARS)[None, :] * gate[:, None]
    return v * local + (1 - v) * path


def _member_path(f: Fit, phi, steps, naive, psi, reliable) -> np.ndarray:
    """One member's capped growth path (series, steps): its AR recursion on the change of growth,
    blended with component B and pulled towards zero (see the module doc).

    Only the recursion needs a loop, one multiply-add row a year; the blend and the pull are
    whole-array operations afterwards (a request forecasts one to three regions, where a loop of
    small numpy operations per year would cost more than the arithmetic). Same arithmetic, in the
    same order, as a year-by-year loop: the results are identical to the last bit."""
    n, p = phi.shape
    changes = np.empty((n, p + steps))
    changes[:, :p] = np.diff(f.growth, axis=1)[:, -p:]  # oldest first; the newest at p - 1
    for k in range(steps):
        window = changes[:, k : k + p][:, ::-1]  # most recent change first, as phi is ordered
        changes[:, p + k] = (phi * window).sum(axis=1)
    growth = np.cumsum(np.concatenate([f.growth[:, -1:], changes[:, p:]], axis=1), axis=1)[:, 1:]
    year = np.arange(1, steps + 1)
    weight = WEIGHT + (1.0 - WEIGHT) * np.maximum(0.0, 1 - year / DELAY)
    wr = weight[None, :] * reliable[:, None]
    pull = psi[:, None] ** np.maximum(0, year - DELAY)[None, :]
    return _cap((wr * growth + (1 - wr) * naive[:, None]) * pull, year)
