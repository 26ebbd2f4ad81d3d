"""Long-range population forecasts that stay positive, stationary and honestly calibrated.

Version 2 (see REPORT2.md). Same model and API as longrange.py, with these changes, all chosen
on validation windows (origins 1970–1995, judged on years <= 2005):

* Rounded tiny series (ROUND_REF, ROUND_MODE): WPP publishes thousands, so the growth rates of a
  region of 2,000 people are rounding noise (2000, 2000, 3000, 3000 ...) and the AR extrapolated
  the jumps. Each series gets rounding = 0.5 * unit / last value (unit = largest power of ten
  dividing all its values); the weight of component A is multiplied by 1 / (1 + (rounding /
  0.02)^2) and component B uses the mean instead of the median growth in the same proportion.
  Ordinary regions (rounding < 0.2 %, i.e. > 250,000 people) are essentially unchanged.
* KAPPA / GREF: a region whose recent (10-year median) growth |g| exceeds GREF = 3 %/year gets a
  stronger pull towards zero growth, psi_i = psi ** (1 + KAPPA * (|g| - GREF) / GREF), KAPPA = 3.
  Why: the largest long-horizon misses (Gulf states, refugee rebounds) come from extrapolating
  extreme growth; ordinary regions (|g| < 3 %) are unchanged.
* HALF_LIFE: calibration weights origins by recency, 2 ** (-(o_h - o) / 10) with o_h the latest
  origin that reaches horizon h, in both the pooled quantiles and the region factors (weighted
  quantiles). Why: recent forecast errors are smaller than those of the 1960s origins.
* Ensemble (ENS_ORDER, ENS_WINDOW): the growth path is the average of two members, the AR(3) on the
  last 40 growth changes and an AR(2) on the last 20 (same B, pull and cap): a geometric mean of two
  positive forecasts, so still positive; both members are made stationary. Cost: ~2 ms per batch.
* WIDEN: quantiles extrapolated beyond the measured horizons are multiplied by 1.05 (the smallest
  value that brought every validation window it affects to >= 90 % coverage).
* Envelope (ENV_SCALE): each side of the log interval is bounded smoothly,
  w -> E tanh(w / E), E = 0.5 * (largest |h-year log change| of any history). Without it a few
  regions with huge region factors (rounded tiny series, Gulf states) had 2100 intervals with
  upper/lower ratios of 1e8 .. 1e21; with it the ratio is at most ~226.
Other options (vol-scaled log_scale, a knee in the soft cap, per-band or recency-only region
factors, a factor cap, weighted AR fits, a prior on long-run growth, averaging with a Holt or naive
model, AR orders 1/4) are kept as parameters where cheap but are off by default: they were worse on the validation windows.
``predict_in_sample`` (one-step) does not use the rounding rule.

Model ("damped growth", the proposed default)
---------------------------------------------
Everything happens in log space, on the yearly growth rate g_t = log P_t - log P_{t-1}:

* Component A, AR(p) on the *change* of the growth rate d_t = g_t - g_{t-1}, without a constant,
  fitted by (slightly ridged) least squares on the last ``window`` years. Why: population growth
  follows slow demographic trends (the transition makes growth fall for decades); the recent change
  of growth carries that trend, and a stationary zero-mean AR on it turns the trend into a *damped*
  trend (d -> 0, so g settles at a constant instead of trending for ever).
* Component B, the median growth of the last ``naive_years`` (10) years held constant. Why: a second,
  very stable forecaster; averaging it with A cuts the large misses of A on series whose growth
  changed abruptly just before the origin (war, oil migration), which drive the *mean* MAPE.
* The combined growth path w_k*A + (1-w_k)*B is multiplied by psi**max(0, k - DELAY) (k = years
  ahead): a slow pull of every growth rate towards zero, starting after DELAY = 10 years; w_k falls
  linearly from 1 to WEIGHT over those 10 years, so short horizons are the AR's (best at h <= 10)
  and long ones lean on the stable median growth. Why: no population grows (or shrinks) at a fixed rate for 80
  years; both 1970–1990 backtests and demographic sense say extreme growth rates revert. It also
  bounds 2100 forecasts: |log P_{T+h} - log P_T| <= DELAY*GCAP + GCAP / (1 - psi).
* Finally the growth path is soft-capped: g -> GCAP * tanh(g / GCAP), GCAP = 8 % a year (identity
  for ordinary growth, bounded for refugee rebounds / oil-migration booms that drove the mean MAPE).
* log P_{T+h} = log P_T + sum of growth path; persons = exp(...). Point forecast and both interval
  bounds are exp() of something finite, hence > 0 by construction (no clamp).

Stationarity: the AR polynomial 1 - phi_1 z - ... - phi_p z^p is explosive (or unit-root) when a
companion eigenvalue has modulus >= 1. Every fit whose largest modulus exceeds ``max_root`` is
replaced by phi_k * lam**k with lam = max_root / modulus: this scales *every* root by lam, so the
fit keeps its shape (oscillation period, relative weights) and its largest modulus becomes exactly
``max_root`` < 1. Short series are also ridged towards phi = 0 (a random walk in growth), so a fit
from few points cannot be wild.

Intervals
---------
``predict`` returns ``log_scale``. Default (SCALE_MODE "flat"): 0.01 * h for every series (0 for an
exactly constant series, which forecasts itself with a zero-width interval). A scale that is the
same for all regions cannot collapse; all region differences come from the calibrated region
factor. Alternatives kept for comparison: "rw" sigma_i*h and "irw" sigma_i*sqrt(sum k^2), with
sigma_i the series' one-step growth error floored at SIGMA_FLOOR; on the 1970–1990 validation
windows they gave wider intervals (the one-step error of the smooth WPP series is dominated by
one-off shocks, which do not predict long-run misses) – see REPORT.md.
``calibrate`` backtests the model from rolling origins, divides every log error by that log_scale
and stores per-horizon quantiles of the (signed) scores on a fixed probability grid, plus a region
factor (the region's own past score size relative to all regions', shrunk towards 1). ``interval``
reads the two quantiles at any level, multiplies by the region factor and the log_scale and takes
exp(): lower = mean * exp(q_lo), upper = mean * exp(q_hi). Horizons beyond the measured ones are
extrapolated by a power law in h fitted to the measured tail (see Table.quantiles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

# Chosen on validation windows (origins 1970..1990 judged on years <= 2000; see REPORT.md).
ORDER = 3  # AR order on the change of growth
WINDOW = 40  # years of growth changes the AR is fitted on
MAX_ROOT = 0.9  # largest allowed modulus of an AR root (companion eigenvalue)
NAIVE_YEARS = 10  # component B: median growth of the last 10 years
WEIGHT = 0.75  # weight of component A
PSI = 0.98  # yearly pull of growth towards zero (after DELAY years)
RIDGE = 2.0  # pseudo-observations of phi = 0 (ridge strength, in rows of average size)
SIGMA_FLOOR = 2e-4  # floor of the one-step log-growth error (0.02 % a year)
SHRINKAGE = 200.0  # pseudo-scores of size 1 added to each region factor (chosen on validation)
PROB_GRID = np.concatenate(
    [[0.0005, 0.001, 0.0025], np.linspace(0.005, 0.995, 199), [0.9975, 0.999, 0.9995]]
)
SCALE_MODE = "flat"
GCAP = 0.08  # soft cap (tanh) on forecast growth: |g| < 8 % a year
DELAY = 10  # years before the pull and component B reach full strength
MIN_ORIGINS = 5  # a horizon is "measured" when at least this many origins reach it
HALF_LIFE = 10.0  # calibration: half-life (years) of origin weights, relative to the latest
# origin reaching each horizon (0 = equal weights, as in longrange.py)
VOL_YEARS = 15  # "vol" scale: RMS of the growth change over the last VOL_YEARS years
VOL_REF = 2e-3  # "vol" scale: reference volatility (scale 0.01*h at vol == VOL_REF)
VOL_POW = 0.0  # "vol" scale: exponent on vol/VOL_REF (0 = flat)
VOL_FLOOR = 0.25  # "vol" scale: floor on vol/VOL_REF
WEIGHT0 = 1.0  # weight of component A at k = 1 (falls linearly to WEIGHT at DELAY)
KNEE = 0.0  # soft cap: identity up to this growth rate (0 = plain tanh cap)
KAPPA = 3.0  # extra pull towards zero for growth far from GREF
GREF = 0.03  # growth scale for KAPPA
FACTOR_CAP = 0.0  # region factors clipped to [1/cap, cap] (0 = no cap)
BANDS = (1,)  # horizon bands (first horizon of each) with their own region factor
ENV_SCALE = 0.5  # each side of the log interval is bounded by ENV_SCALE * E(h) (see envelope)
FIT_HALF_LIFE = 0.0  # AR fit: half-life (years) of row weights (0 = ordinary least squares)
ROUND_REF = 0.02  # weight of A times 1/(1+(rounding/ROUND_REF)^2) (0 = off)
ROUND_MODE = 1  # 1: component B of rounded tiny series from the mean (not median) growth
ENS_ORDER = 2  # second ensemble member AR(ENS_ORDER) (0 = none)
ENS_WINDOW = 20  # its fit window
WIDEN = 1.05  # widening factor on the extrapolated (beyond measured) quantiles


@dataclass
class Fit:
    """Per-series parameters of the damped-growth model (arrays of length ``series``).

    ``last_log`` log persons at the last year; ``growth`` the last ``max(ORDER, NAIVE_YEARS)``
    growth rates (oldest first); ``phi`` AR coefficients on the change of growth (series, ORDER),
    stationary; ``sigma`` one-step log-growth error (floored; 0 for a constant series);
    ``max_root`` largest |root| per series after enforcement; ``shrunk`` which fits were shrunk.
    """

    last_log: np.ndarray
    growth: np.ndarray
    phi: np.ndarray
    sigma: np.ndarray
    max_root: np.ndarray
    shrunk: np.ndarray
    constant: np.ndarray
    vol: np.ndarray = None
    rounding: np.ndarray = None
    phi2: np.ndarray = None
    params: dict = field(default_factory=dict)


def _params(**overrides):
    base = dict(
        order=ORDER,
        window=WINDOW,
        max_root=MAX_ROOT,
        naive_years=NAIVE_YEARS,
        weight=WEIGHT,
        psi=PSI,
        ridge=RIDGE,
        sigma_floor=SIGMA_FLOOR,
        scale_mode=SCALE_MODE,
        gcap=GCAP,
        delay=DELAY,
        vol_years=VOL_YEARS,
        vol_ref=VOL_REF,
        vol_pow=VOL_POW,
        vol_floor=VOL_FLOOR,
        weight0=WEIGHT0,
        knee=KNEE,
        kappa=KAPPA,
        gref=GREF,
        fit_half_life=FIT_HALF_LIFE,
        prior_w=0.0,
        prior_g=0.0,
        round_ref=ROUND_REF,
        round_mode=ROUND_MODE,
        ens_order=ENS_ORDER,
        ens_window=ENS_WINDOW,
    )
    base.update(overrides)
    return base


def companion_roots(phi: np.ndarray) -> np.ndarray:
    """Moduli of the companion eigenvalues (inverse roots of 1 - sum phi_k z^k), (series, p).

    A value >= 1 means a root on or inside the unit circle: an explosive / unit-root fit.
    """
    n, p = phi.shape
    comp = np.zeros((n, p, p))
    comp[:, 0, :] = phi
    if p > 1:
        comp[:, np.arange(1, p), np.arange(p - 1)] = 1.0
    return np.abs(np.linalg.eigvals(comp))


def enforce_stationary(phi: np.ndarray, max_root: float) -> tuple[np.ndarray, np.ndarray]:
    """Scale roots so that no companion eigenvalue exceeds ``max_root`` (see module doc)."""
    if phi.shape[1] == 0:
        return phi, np.zeros(len(phi), bool)
    modulus = companion_roots(phi).max(axis=1)
    shrink = modulus > max_root
    lam = np.where(shrink, max_root / np.maximum(modulus, 1e-300), 1.0)
    return phi * lam[:, None] ** np.arange(1, phi.shape[1] + 1)[None, :], shrink


def _lagged(values: np.ndarray, p: int) -> np.ndarray:
    """(series, time, p) array whose [:, t, j] is values[:, t - 1 - j] (NaN before the start)."""
    n, t = values.shape
    out = np.full((n, t, p), np.nan)
    for j in range(p):
        out[:, j + 1 :, j] = values[:, : t - j - 1]
    return out


def fit(histories: np.ndarray, **overrides) -> Fit:
    """Fit every row of ``histories`` (series, length): persons > 0, NaN before a late start.

    All rows are taken to end in the same year (group series by last year first; see
    ``forecast_dict``). A row needs at least 2 recorded years; with fewer than ~2p+3 the ridge
    pulls its AR to zero (constant-growth forecast). Vectorised: one batched normal-equation solve.
    """
    prm = _params(**overrides)
    p, window = prm["order"], prm["window"]
    x = np.log(np.asarray(histories, dtype=float))
    if np.any(~np.isfinite(x[:, -1])):
        raise ValueError("every series needs a positive value in its last year")
    g = np.diff(x, axis=1)
    d = np.diff(g, axis=1)
    n = len(x)
    phi, shrunk = _fit_ar(d, p, window, prm)
    phi2 = None
    if prm.get("ens_order", 0) > 0:
        # second ensemble member: AR(ens_order) on the last ens_window growth changes
        phi2, shrunk2 = _fit_ar(d, prm["ens_order"], prm["ens_window"], prm)
        shrunk = shrunk | shrunk2
    keep = max(p + 1, prm.get("ens_order", 0) + 1, prm["naive_years"])
    growth = g[:, -keep:]
    # Missing early growth (very short series): repeat the oldest known one.
    growth = _fill_left(growth)
    constant = np.nanmax(np.abs(g), axis=1, initial=0.0) == 0.0
    # One-step error of the combined model on the growth rate, over the fit window.
    pred = one_step_growth(g, phi, prm)
    err = (g - pred)[:, -window:]
    ok = np.isfinite(err)
    sigma = np.sqrt(np.where(ok, err**2, 0).sum(1) / np.maximum(ok.sum(1), 1))
    sigma = np.where(constant, 0.0, np.maximum(sigma, prm["sigma_floor"]))
    dv = d[:, -prm["vol_years"] :]
    okv = np.isfinite(dv)
    vol = np.sqrt(np.where(okv, dv**2, 0).sum(1) / np.maximum(okv.sum(1), 1))
    vol = np.where(okv.sum(1) >= 3, vol, prm["vol_ref"])
    return Fit(
        last_log=x[:, -1],
        growth=growth,
        phi=phi,
        sigma=sigma,
        vol=vol,
        rounding=rounding_noise(np.asarray(histories, dtype=float)),
        phi2=phi2,
        max_root=np.maximum(
            companion_roots(phi).max(axis=1) if p else np.zeros(n),
            companion_roots(phi2).max(axis=1) if phi2 is not None else np.zeros(n),
        ),
        shrunk=shrunk,
        constant=constant,
        params=prm,
    )


def _fit_ar(d: np.ndarray, p: int, window: int, prm: dict):
    """Ridged (optionally weighted) least squares AR(p) without constant on the growth changes d,
    over the last ``window`` rows, made stationary (see enforce_stationary). Returns (phi, shrunk)."""
    lags = _lagged(d, p)[:, -window:]
    target = d[:, -window:]
    valid = np.isfinite(target) & np.all(np.isfinite(lags), axis=2)
    rw = np.ones(target.shape[1])
    if prm.get("fit_half_life", 0) > 0:
        # weighted least squares: recent growth changes count more
        rw = 2.0 ** (-(np.arange(target.shape[1])[::-1]) / prm["fit_half_life"])
    X = np.where(valid[..., None], lags, 0.0) * np.sqrt(rw)[None, :, None]
    y = np.where(valid, target, 0.0) * np.sqrt(rw)[None, :]
    rows = (valid * rw[None, :]).sum(axis=1)
    xtx = np.einsum("nti,ntj->nij", X, X)
    xty = np.einsum("nti,nt->ni", X, y)
    # Ridge of RIDGE average rows: negligible for 40 rows, decisive for 5.
    avg = np.trace(xtx, axis1=1, axis2=2) / np.maximum(rows, 1) / max(p, 1)
    lam = prm["ridge"] * np.maximum(avg, 1e-18)
    phi = np.linalg.solve(xtx + lam[:, None, None] * np.eye(p), xty[..., None])[..., 0]
    phi[rows < 2] = 0.0
    return enforce_stationary(phi, prm["max_root"])


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
    a = a.copy()
    for j in range(a.shape[1] - 2, -1, -1):
        a[:, j] = np.where(np.isfinite(a[:, j]), a[:, j], a[:, j + 1])
    return np.where(np.isfinite(a), a, 0.0)


def one_step_growth(g: np.ndarray, phi: np.ndarray, prm: dict) -> np.ndarray:
    """In-sample prediction of g_t from g up to t-1 (NaN where the lags are not recorded)."""
    p, m = phi.shape[1], prm["naive_years"]
    gl = _lagged(g, max(p + 1, m))  # gl[:, t, j] = g[t-1-j]
    dl = gl[:, :, :p] - gl[:, :, 1 : p + 1]  # d[t-1-j]
    a = gl[:, :, 0] + np.einsum("ntj,nj->nt", dl, phi)
    b = np.median(gl[:, :, :m], axis=2)
    b = np.where(np.all(np.isfinite(gl[:, :, :m]), axis=2), b, np.nan)
    out = (prm["weight"] * a + (1 - prm["weight"]) * b) * prm["psi"]
    return _cap(out, prm)


def _cap(g: np.ndarray, prm: dict) -> np.ndarray:
    """Soft cap on growth: identity up to |g| = knee, then knee + c*tanh((|g|-knee)/c), c = gcap-knee.

    Smooth, odd, increasing and bounded by gcap (knee = 0 gives gcap*tanh(g/gcap) as in longrange.py).
    """
    cap, knee = prm["gcap"], prm.get("knee", 0.0)
    if cap <= 0:
        return g
    if knee <= 0:
        return cap * np.tanh(g / cap)
    c = cap - knee
    a = np.abs(g)
    return np.sign(g) * np.where(a <= knee, a, knee + c * np.tanh((a - knee) / c))


def predict_in_sample(histories: np.ndarray, f: Fit) -> np.ndarray:
    """One-step predictions (persons) for the years inside the history; NaN where not predictable."""
    x = np.log(np.asarray(histories, dtype=float))
    g = np.diff(x, axis=1)
    pred = one_step_growth(g, f.phi, f.params)
    out = np.full(x.shape, np.nan)
    out[:, 1:] = np.exp(x[:, :-1] + pred)
    return out


def predict(f: Fit, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-sample forecast of the next ``steps`` years.

    Returns (mean persons (series, steps), log_scale (series, steps)); see module doc for
    log_scale. The recursion is p multiply-adds per year: 80 years of 285 series take ~1 ms.
    """
    prm = f.params
    p, w, psi, m = f.phi.shape[1], prm["weight"], prm["psi"], prm["naive_years"]
    delay = prm["delay"]
    n = len(f.last_log)
    naive = np.median(f.growth[:, -m:], axis=1)
    pw = prm.get("prior_w", 0.0)
    if pw > 0:
        # shrink the long-run (component B) growth towards a fixed prior growth
        naive = (1 - pw) * naive + pw * prm.get("prior_g", 0.0)
    # stronger pull for regions whose recent growth is far out (|g| beyond GREF): psi**(1+kappa*excess)
    excess = np.maximum(np.abs(naive) - prm.get("gref", GREF), 0.0) / prm.get("gref", GREF)
    psi_i = psi ** (1.0 + prm.get("kappa", 0.0) * excess)
    # rounding-noise reliability of component A (the AR extrapolates noise for tiny rounded series)
    q0 = prm.get("round_ref", 0.0)
    rel = (
        1.0 / (1.0 + (f.rounding / q0) ** 2) if (q0 > 0 and f.rounding is not None) else np.ones(n)
    )
    mode = prm.get("round_mode", 0)
    if mode >= 1:
        # component B from the mean growth of the window (the median of 0, 0, +0.4, 0 is 0)
        naive = rel * naive + (1 - rel) * f.growth[:, -m:].mean(axis=1)
    base = f.last_log
    if mode >= 2:
        # level: the last value is known to +-rounding; use a straight line through the last m
        # years (log level rebuilt from the stored growth rates) for rounded tiny series
        lv = f.last_log[:, None] - np.concatenate(
            [np.cumsum(f.growth[:, -m + 1 :][:, ::-1], axis=1)[:, ::-1], np.zeros((n, 1))], axis=1
        )
        t = np.arange(m) - (m - 1)
        slope = f.growth[:, -m + 1 :].mean(axis=1)
        line_end = (lv - slope[:, None] * t[None, :]).mean(axis=1)
        base = rel * f.last_log + (1 - rel) * line_end
    members = [f.phi] + ([f.phi2] if f.phi2 is not None else [])
    total = 0.0
    for phi in members:
        # ensemble: the log paths of the members are averaged (a geometric mean of forecasts)
        p = phi.shape[1]
        buf = np.diff(f.growth, axis=1)[:, ::-1][:, :p].copy()  # most recent change first
        g = f.growth[:, -1].copy()
        path = np.empty((n, steps))
        for k in range(steps):
            nxt = (phi * buf).sum(axis=1) if p else np.zeros(n)
            if p:
                buf = np.concatenate([nxt[:, None], buf[:, :-1]], axis=1)
            g = g + nxt
            w0 = prm.get("weight0", 1.0)
            wk = w + (w0 - w) * max(0.0, 1 - (k + 1) / delay) if delay > 0 else w
            wr = wk * rel
            path[:, k] = (wr * g + (1 - wr) * naive) * psi_i ** max(0, k + 1 - delay)
        total = total + _cap(path, prm)
    path = total / len(members)
    mean = np.exp(base[:, None] + np.cumsum(path, axis=1))
    h = np.arange(1, steps + 1)
    mode = prm.get("scale_mode", SCALE_MODE)
    shape = np.sqrt(h * (h + 1) * (2 * h + 1) / 6.0) if mode == "irw" else h.astype(float)
    sig = f.sigma if mode != "flat" else np.where(f.constant, 0.0, 0.01)
    if mode == "sqrt":
        sig = np.sqrt(f.sigma * 0.01)
    if mode == "vol":
        rel = np.maximum(f.vol / prm["vol_ref"], prm["vol_floor"])
        sig = np.where(f.constant, 0.0, 0.01 * rel ** prm["vol_pow"])
    return mean, sig[:, None] * shape[None, :]


# --------------------------------------------------------------------------- calibration


@dataclass
class Table:
    """Calibration of forecast errors, JSON-serialisable via ``to_dict`` / ``from_dict``.

    ``quantiles[h-1][j]`` is the PROB_GRID[j] quantile of the signed score
    (log actual - log forecast) / (log_scale * region factor) at horizon h, pooled over regions and
    origins, for the measured horizons 1..H. ``exponent`` extrapolates beyond H:
    q(h) = q(H) * (h / H) ** exponent (fitted on the central-95% width over H/2..H, clipped to
    [-0.5, 1]; our log_scale already grows like h^1.5, so the table only corrects its shape).
    ``factors`` maps region key -> factor (1 for an unseen region).
    """

    probs: list
    quantiles: list
    exponent: float
    factors: dict
    origins: list
    counts: list
    widen: float = 1.0
    bands: list = field(default_factory=lambda: [1])
    envelope: list = field(default_factory=list)

    def bound(self, horizons) -> np.ndarray:
        """Strictly increasing log half-width bound E(h) (inf without an envelope); beyond the
        recorded span it grows like sqrt(h); + 0.001 h keeps it strictly increasing."""
        h = np.asarray(horizons, float)
        if not self.envelope:
            return np.full(h.shape, np.inf)
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
        grid = np.asarray(self.probs)
        q = np.asarray(self.quantiles)
        column = np.array([np.interp(prob, grid, q[i]) for i in range(len(q))])
        column = _never_narrower(column, upper=prob >= 0.5)
        h = np.asarray(horizons, dtype=int)
        H = self.measured
        inside = column[np.clip(h, 1, H) - 1]
        beyond = column[H - 1] * (np.maximum(h, H) / H) ** self.exponent * self.widen
        return np.where(h <= H, inside, beyond)

    def factor(self, key, horizons=None):
        """Region factor: a float (one band), or with ``horizons`` an array, one per horizon.

        With several horizon bands and no ``horizons``, the factor of the first band is returned.
        """
        v = self.factors.get(str(key), 1.0)
        v = np.atleast_1d(np.asarray(v, float))
        if horizons is None:
            return float(v[0])
        b = np.searchsorted(np.asarray(self.bands), np.asarray(horizons), side="right") - 1
        return v[np.clip(b, 0, len(v) - 1)]

    def factor_matrix(self, keys, horizons) -> np.ndarray:
        """(series, steps) region factors for ``keys`` at ``horizons`` (for ``interval``)."""
        return np.stack([self.factor(k, horizons) for k in keys])

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
        )

    @classmethod
    def from_dict(cls, d: dict) -> Table:
        return cls(**d)


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


def backtest_scores(histories: dict, origins, max_horizon: int, **overrides):
    """(keys, horizons, signed scores, log errors) of every recorded year after every origin.

    Each origin fits all histories cut after it (batched) and forecasts ``max_horizon`` years.
    Constant series (log_scale 0) give no scores.
    """
    keys_all, hs, scores, errors, orig = [], [], [], [], []
    for origin in origins:
        group = {}
        for key, (years, values) in histories.items():
            years = np.asarray(years)
            if years[0] > origin - 4 or years[-1] <= origin:
                continue
            group[key] = (years, np.asarray(values, float))
        if not group:
            continue
        keys = list(group)
        first = min(int(group[k][0][0]) for k in keys)
        mat = np.full((len(keys), origin - first + 1), np.nan)
        actual = np.full((len(keys), max_horizon), np.nan)
        for i, k in enumerate(keys):
            years, values = group[k]
            inside = years <= origin
            mat[i, years[inside] - first] = values[inside]
            after = (years > origin) & (years <= origin + max_horizon)
            actual[i, years[after] - origin - 1] = values[after]
        f = fit(mat, **overrides)
        mean, scale = predict(f, max_horizon)
        err = np.log(actual) - np.log(mean)
        ok = np.isfinite(err) & (scale > 0)
        r, c = np.nonzero(ok)
        keys_all.extend(keys[i] for i in r)
        hs.append(c + 1)
        scores.append(err[ok] / scale[ok])
        errors.append(err[ok])
        orig.append(np.full(len(r), origin))
    if not hs:
        raise ValueError("no backtest scores from these origins")
    return (
        keys_all,
        np.concatenate(hs),
        np.concatenate(scores),
        np.concatenate(errors),
        np.concatenate(orig),
    )


def _wquantile(values: np.ndarray, weights: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Weighted quantiles (mid-point rule on the cumulative weights; equal weights ~ np.quantile)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cw = np.cumsum(w)
    pos = (cw - 0.5 * w) / cw[-1]
    return np.interp(probs, pos, v)


def calibrate(
    histories: dict,
    origins,
    max_horizon: int,
    shrinkage: float = SHRINKAGE,
    min_origins: int = MIN_ORIGINS,
    half_life: float = HALF_LIFE,
    widen: float = WIDEN,
    factor_cap: float = FACTOR_CAP,
    **overrides,
) -> Table:
    """Build a Table from rolling-origin backtests of ``histories`` {key: (years, persons)}.

    Only the years the histories record are used: to judge a forecast from origin Y honestly, pass
    histories cut after Y and origins < Y. See ``table_from_scores``.
    """
    keys, hs, scores, _, orig = backtest_scores(histories, origins, max_horizon, **overrides)
    return table_from_scores(
        keys,
        hs,
        scores,
        orig,
        origins,
        max_horizon,
        shrinkage=shrinkage,
        min_origins=min_origins,
        half_life=half_life,
        widen=widen,
        factor_cap=factor_cap,
        envelope=envelope(histories),
    )


def envelope(histories: dict) -> list:
    """E(h), h = 1..span: the largest |log P_{t+h} - log P_t| of any history (running max in h).

    Used by ``interval`` to bound the log half-width smoothly, w -> E(h) tanh(w / E(h)): no interval
    is wider than the largest h-year change ever recorded (Gulf states, ~x100 over 70 years) – the
    bound only bites for the few regions whose region factor is huge (series rounded to thousands,
    oil migration), which otherwise reach absurd widths by 2100.
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
    keys,
    hs,
    scores,
    orig,
    origins,
    max_horizon,
    shrinkage=SHRINKAGE,
    min_origins=MIN_ORIGINS,
    half_life=HALF_LIFE,
    widen=WIDEN,
    factor_half_life=None,
    factor_cap=FACTOR_CAP,
    bands=BANDS,
    envelope=None,
) -> Table:
    """Quantiles and region factors from backtest scores.

    Origin weights: at horizon h the latest origin reaching h is o_h; a score from origin o gets
    weight 2 ** (-(o_h - o) / half_life) (all 1 when half_life is 0). Why: forecast errors of the
    1960s origins (before the post-1990 data revisions and the smooth WPP estimates of recent
    decades) are larger than recent ones; equal weights made the short-horizon intervals too wide.
    Region factor = sqrt((k + sum w r^2) / (k + sum w)) with r the region's |score| over the pooled
    weighted median |score| at the same horizon (k = ``shrinkage``); scores are divided by it
    before pooling. Horizons reached by fewer than ``min_origins`` origins are extrapolated by a
    power law, times ``widen`` (a widening of the extrapolated quantiles).
    """
    keys = np.array([str(k) for k in keys])
    wts = np.ones(len(scores))
    if half_life and half_life > 0:
        last = np.zeros(max_horizon + 2)
        for h in np.unique(hs):
            last[h] = orig[hs == h].max()
        wts = 2.0 ** (-(last[hs] - orig) / half_life)
    fw = wts
    if factor_half_life is not None:
        # region factors: recency weights by origin (relative to the latest origin overall)
        fw = (
            2.0 ** (-(orig.max() - orig) / factor_half_life)
            if factor_half_life > 0
            else np.ones(len(scores))
        )
    med = np.zeros(max_horizon + 1)
    for h in np.unique(hs):
        sel = hs == h
        med[h] = _wquantile(np.abs(scores[sel]), wts[sel], np.array([0.5]))[0] or 1.0
    rel2 = (np.abs(scores) / med[hs]) ** 2
    uniq, inv = np.unique(keys, return_inverse=True)
    bands = [int(b) for b in bands]
    band_of = np.searchsorted(np.asarray(bands), hs, side="right") - 1
    fac = np.ones((len(uniq), len(bands)))
    for b in range(len(bands)):
        sel = band_of == b
        if not sel.any():
            fac[:, b] = fac[:, b - 1] if b else 1.0
            continue
        sums = np.bincount(inv[sel], weights=rel2[sel] * fw[sel], minlength=len(uniq))
        cnts = np.bincount(inv[sel], weights=fw[sel], minlength=len(uniq))
        # shrinkage: pseudo-scores of weight 1 each (scaled to the mean weight and band share)
        k_eff = shrinkage * fw.mean() * sel.mean()
        fac[:, b] = np.sqrt((k_eff + sums) / (k_eff + cnts))
    normalised = scores / fac[inv, band_of]
    if factor_cap and factor_cap > 0:
        # cap applied to the stored factors only (the pooled quantiles keep the uncapped ones)
        fac = np.clip(fac, 1.0 / factor_cap, factor_cap)
    if len(bands) == 1:
        factors = {k: float(v) for k, v in zip(uniq, fac[:, 0], strict=False)}
    else:
        factors = {k: [float(x) for x in v] for k, v in zip(uniq, fac, strict=False)}
    quantiles, counts = [], []
    for h in range(1, max_horizon + 1):
        sel = hs == h
        s = normalised[sel]
        n_orig = len(np.unique(orig[sel]))
        if n_orig < min_origins or s.size < 50:
            break
        quantiles.append(_wquantile(s, wts[sel], PROB_GRID).tolist())
        counts.append(int(s.size))
    q = np.asarray(quantiles)
    H = len(q)
    lo, hi = np.searchsorted(PROB_GRID, 0.025), np.searchsorted(PROB_GRID, 0.975)
    width = q[:, hi] - q[:, lo]
    tail = np.arange(max(1, H // 2), H + 1)
    if len(tail) >= 2 and np.all(width[tail - 1] > 0):
        exponent = float(np.polyfit(np.log(tail), np.log(width[tail - 1]), 1)[0])
    else:
        exponent = 0.0
    exponent = float(np.clip(exponent, -0.5, 1.0))
    return Table(
        probs=PROB_GRID.tolist(),
        quantiles=quantiles,
        exponent=exponent,
        factors=factors,
        origins=[int(o) for o in origins],
        counts=counts,
        widen=float(widen),
        bands=bands,
        envelope=list(envelope or []),
    )


def interval(
    mean: np.ndarray, log_scale: np.ndarray, table: Table, horizons, level: float, region_factor
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds (persons) at ``level`` (0 < level < 1) for forecasts ``mean``.

    ``mean``/``log_scale`` (series, steps) from ``predict``; ``horizons`` the years ahead of each
    column; ``region_factor`` scalar or (series,) from ``table.factor``. Bounds are mean * exp(.),
    so positive; a zero log_scale (constant series) gives a zero-width interval.
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
    if table.envelope:
        e = ENV_SCALE * table.bound(horizons)[None, :]
        w_lo, w_hi = e * np.tanh(w_lo / e), e * np.tanh(w_hi / e)
    lower = mean * np.exp(-w_lo)
    upper = mean * np.exp(w_hi)
    return lower, upper


def normal_interval(mean, log_scale, level):
    """Uncalibrated model interval (normal in log space) – for callers without a table."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return mean * np.exp(-z * log_scale), mean * np.exp(z * log_scale)


def forecast_dict(
    histories: dict, end_year: int, table: Table | None, level: float = 0.95, **overrides
) -> dict:
    """{key: (years, mean, lower, upper)} from each history's own last year to ``end_year``.

    Series are grouped by last year (a region whose data stop in 1996 is forecast from 1996) and
    each group is fitted in one batch.
    """
    groups: dict[int, list] = {}
    for key, (years, _values) in histories.items():
        groups.setdefault(int(np.asarray(years)[-1]), []).append(key)
    out = {}
    for last, keys in groups.items():
        first = min(int(np.asarray(histories[k][0])[0]) for k in keys)
        mat = np.full((len(keys), last - first + 1), np.nan)
        for i, k in enumerate(keys):
            y, v = histories[k]
            mat[i, np.asarray(y) - first] = v
        steps = end_year - last
        if steps < 1:
            continue
        f = fit(mat, **overrides)
        mean, scale = predict(f, steps)
        h = np.arange(1, steps + 1)
        if table is None:
            lo, hi = normal_interval(mean, scale, level)
        else:
            lo, hi = interval(mean, scale, table, h, level, table.factor_matrix(keys, h))
        for i, k in enumerate(keys):
            out[k] = (np.arange(last + 1, end_year + 1), mean[i], lo[i], hi[i])
    return out
