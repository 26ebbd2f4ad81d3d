"""The AutoReg core: ordinary least squares of many series at once, as statsmodels computes it.

Series of the same length and lag order are stacked and solved together with the SVD
pseudo-inverse statsmodels' OLS uses, so a few hundred regions take milliseconds instead of a
second of one statsmodels model each; tests/test_modeling_autoreg.py checks the coefficients,
the order AIC picks and the forecast variance against statsmodels' AutoReg on every WPP2019 region.
Arrays in, arrays out: forecasting.py turns them into forecasts of populations.
"""

import math
from collections.abc import Sequence

import numpy as np

from forecasts.rules import LAGS_MAX

# statsmodels' OLS treats singular values below this share of the largest as zero (pinv_extended).
PINV_RCOND = 1e-15


def select_lags(values: Sequence[float], max_lags: int = LAGS_MAX) -> int:
    """The AR order p (1..max_lags) with the lowest AIC, as statsmodels' ``ar_select_order`` picks.

    ``ar_select_order(values, maxlag=m, ic="aic", trend="c")`` with m = min(max_lags, (n - 2) // 2):
    all orders are compared on the same observations, and at that m the largest model still has a
    residual. A series too short for one lag, or constant, gets 1; so does a series where AIC
    prefers no lags at all (the model always keeps one). The criterion is computed by the same
    stacked least squares as the fits (tests/test_modeling_batch.py checks it picks what
    statsmodels picks), so ``forecast_many(lags="auto")`` selects for all series at once.
    """
    series = np.asarray(values, dtype=float)
    return int(select_lags_stacked(series[None, :], max_lags)[0])


def select_lags_stacked(targets: np.ndarray, max_lags: int) -> np.ndarray:
    """select_lags for each row of equally long series."""
    count, length = targets.shape
    chosen = np.ones(count, dtype=int)
    most = min(max_lags, (length - 2) // 2)
    if most < 1:
        return chosen
    usable = np.all(np.isfinite(targets), axis=1) & ~np.all(targets == targets[:, :1], axis=1)
    if np.any(usable):
        orders = lowest_aic_orders(targets[usable], most)
        chosen[usable] = np.maximum(orders, 1)
    return chosen


def lowest_aic_orders(targets: np.ndarray, most: int) -> np.ndarray:
    """Per row, the order 0..most whose AR fit has the lowest AIC, as ar_select_order computes it.

    Every order is fitted to the same responses (the first ``most`` values held back). AIC is
    -2 llf + 2 rank, with llf the Gaussian log-likelihood at sigma2 = SSR / nobs and rank the
    design's numerical rank (statsmodels counts a rank-deficient fit's parameters so). Ties go to
    the smaller order, as statsmodels' stable sort does.
    """
    regressors, response = design(targets, most)
    nobs = response.shape[1]
    criteria = np.empty((targets.shape[0], most + 1))
    for order in range(most + 1):
        columns = np.ascontiguousarray(regressors[:, :, : order + 1])
        params, singular = pseudo_inverse_solve(columns, response)
        residuals = response - (columns @ params[:, :, None])[:, :, 0]
        sigma2 = np.sum(residuals**2, axis=1) / nobs
        with np.errstate(divide="ignore"):
            llf = -nobs * (np.log(2 * np.pi * sigma2) + 1) / 2
        tolerance = np.max(singular, axis=1, keepdims=True) * (order + 1) * np.finfo(float).eps
        rank = np.sum(singular > tolerance, axis=1)
        criteria[:, order] = -2.0 * llf + 2.0 * rank
    return np.argmin(criteria, axis=1)


def fit_autoreg(target: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """OLS of each row of ``target`` on a constant and its own ``lags`` previous values.

    Returns params (series, 1 + lags) as [constant, phi_1, ..., phi_p] and sigma2 = SSR / nobs,
    statsmodels AutoReg's estimate of the innovation variance. A constant target is an exact fit
    with zero variance; its params are set to that (the pseudo-inverse's answer may be off by
    rounding), so a constant series forecasts itself exactly.
    """
    regressors, response = design(target, lags)
    params, _ = pseudo_inverse_solve(regressors, response)
    residuals = response - (regressors @ params[:, :, None])[:, :, 0]
    sigma2 = np.sum(residuals**2, axis=1) / response.shape[1]
    constant = np.all(target == target[:, :1], axis=1)
    params[constant] = 0.0
    params[constant, 0] = target[constant, 0]
    sigma2[constant] = 0.0
    return params, sigma2


def design(target: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Regressors [1, z(t-1), ..., z(t-p)] and responses z(t) for t = p .. n-1, per series."""
    count, length = target.shape
    regressors = np.empty((count, length - lags, lags + 1))
    regressors[:, :, 0] = 1.0
    for lag in range(1, lags + 1):
        regressors[:, :, lag] = target[:, lags - lag : length - lag]
    return regressors, target[:, lags:]


def pseudo_inverse_solve(regressors: np.ndarray, response: np.ndarray):
    """Least squares for a stack of problems via the SVD pseudo-inverse, as statsmodels' OLS does.

    Same decomposition, cutoff and order of products as statsmodels' ``pinv_extended``, so the
    coefficients agree with AutoReg's to rounding even when the lagged columns are nearly
    collinear (smooth population series make them so). Returns the coefficients (stack, columns)
    and the singular values of each design.
    """
    left, singular, right_t = np.linalg.svd(regressors, full_matrices=False)
    cutoff = PINV_RCOND * np.max(singular, axis=1, keepdims=True)
    inverse_singular = np.divide(
        1.0, singular, out=np.zeros_like(singular), where=singular > cutoff
    )
    # Contiguous operands let matmul hand each slice to BLAS, as np.dot does in statsmodels.
    right = np.ascontiguousarray(np.swapaxes(right_t, 1, 2))
    scaled_left_t = np.ascontiguousarray(inverse_singular[:, :, None] * np.swapaxes(left, 1, 2))
    pseudo_inverse = right @ scaled_left_t
    return (pseudo_inverse @ response[:, :, None])[:, :, 0], singular


def one_step(working, target, params, lags, differences, rows) -> np.ndarray:
    """In-sample one-step predictions of ``working`` at positions ``rows`` (from recorded values).

    The model predicts the differenced value; the recorded values before each position turn it
    back into a prediction of the (log) population.
    """
    positions = rows - differences
    prediction = params[:, :1].copy()
    for lag in range(1, lags + 1):
        prediction = prediction + params[:, lag : lag + 1] * target[:, positions - lag]
    return prediction + carried(working, differences, rows)


def carried(working: np.ndarray, differences: int, rows: np.ndarray) -> np.ndarray:
    """What the earlier values contribute to a value whose d-th difference is predicted.

    y(t) = diff^d y(t) + sum_k (-1)^(k+1) C(d, k) y(t-k): zero for d=0, y(t-1) for d=1,
    2 y(t-1) - y(t-2) for d=2.
    """
    carried = np.zeros((working.shape[0], len(rows)))
    for back in range(1, differences + 1):
        sign = 1 if back % 2 else -1
        carried += sign * math.comb(differences, back) * working[:, rows - back]
    return carried


def recursion(target: np.ndarray, params: np.ndarray, steps: int) -> np.ndarray:
    """The model's own forecasts of ``target`` for the ``steps`` positions after its end."""
    lags = params.shape[1] - 1
    path = np.empty((target.shape[0], lags + steps))
    path[:, :lags] = target[:, target.shape[1] - lags :]
    for step in range(steps):
        value = params[:, 0].copy()
        for lag in range(1, lags + 1):
            value += params[:, lag] * path[:, lags + step - lag]
        path[:, lags + step] = value
    return path[:, lags:]


def integrate(forecasts: np.ndarray, working: np.ndarray, differences: int) -> np.ndarray:
    """Add differenced forecasts back up, starting from the last recorded value of each order."""
    for order in reversed(range(differences)):
        last = np.diff(working, n=order, axis=1)[:, -1]
        forecasts = last[:, None] + np.cumsum(forecasts, axis=1)
    return forecasts


def cumulative_squared_weights(params, steps, differences) -> np.ndarray:
    """sum_{j<h} psi_j^2 for h = 1..steps: the forecast variance at horizon h over sigma2.

    psi are the MA(infinity) weights of the AR model (what statsmodels computes with arma2ma),
    summed once per difference so the errors of the added-up years accumulate.
    """
    phi = params[:, 1:]
    lags = phi.shape[1]
    psi = np.zeros((params.shape[0], steps))
    psi[:, 0] = 1.0
    for step in range(1, steps):
        reach = min(step, lags)
        psi[:, step] = np.sum(phi[:, :reach] * psi[:, step - 1 :: -1][:, :reach], axis=1)
    for _ in range(differences):
        psi = np.cumsum(psi, axis=1)
    return np.cumsum(psi**2, axis=1)
