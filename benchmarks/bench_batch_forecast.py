"""Time the vectorized batch forecast of every WPP2019 region against a statsmodels loop.

    .venv/bin/python benchmarks/bench_batch_forecast.py [--file PATH] [--runs 30]

Fits all regions with data (Estimates 1950–2020) and predicts 2030–2035, as
`manage.py forecast --all --from 2030 --to 2035` does. Prints the best and median of several runs
for: the numpy core alone, forecast_many (core plus the Forecast/Point objects callers get), and a
loop of one statsmodels AutoReg per region. Target: under 20 ms for the batch.
No database: the file is read with forecasts.wpp.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402
from wpp2019 import DEFAULT_FILE, wpp2019_histories  # noqa: E402

from forecasts import modeling, rules  # noqa: E402

ROWS = [
    ("levels", 1),
    ("levels", 2),
    ("levels", 5),
    ("levels", rules.LAGS_AUTO),
    (rules.DEFAULT_METHOD, rules.DEFAULT_LAGS),
]
# What each method fits AutoReg to: (logarithm first?, how many differences).
TRANSFORMS = {
    "levels": (False, 0),
    "log": (True, 0),
    "diff": (False, 1),
    "growth": (True, 1),
    "diff2": (False, 2),
    "growth2": (True, 2),
}


def statsmodels_loop(histories, start, end, lags, method):
    """One statsmodels AutoReg per region (after ar_select_order for "auto"): what the batch replaces.

    statsmodels cannot start a prediction past the first year after the history, so this predicts
    from there and keeps the years asked for, as the original single-series code did. For a
    differenced method it fits the differenced series (adding it back up costs next to nothing).
    """
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    logarithm, differences = TRANSFORMS[method]
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        for _, values in histories:
            target = np.diff(np.log(values) if logarithm else values, n=differences)
            order = lags
            if lags == rules.LAGS_AUTO:
                chosen = ar_select_order(target, maxlag=10, ic="aic", trend="c").ar_lags
                order = max(chosen) if chosen else 1
            fitted = AutoReg(target, lags=order, trend="c").fit()
            first = min(start - differences, len(target))
            frame = fitted.get_prediction(start=first, end=end - differences)
            results.append(frame.summary_frame(alpha=0.05).iloc[start - differences - first :])
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--runs", type=int, default=30)
    arguments = parser.parse_args()
    histories = list(wpp2019_histories(arguments.file).values())
    first_year = int(histories[0][0][0])
    print(f"{len(histories)} regions with data; forecast 2030–2035 (95% intervals)")
    print(
        f"{'method':<7}{'lags':>5}  {'numpy core':>16}  {'forecast_many':>16}"
        f"  {'statsmodels loop':>18}  speed-up"
    )
    for method, lags in ROWS:
        batch = timed(
            lambda method=method, lags=lags: modeling.forecast_many(
                histories, start=2030, end=2035, lags=lags, method=method
            ),
            arguments.runs,
        )
        loop = timed(
            lambda method=method, lags=lags: statsmodels_loop(
                histories, 2030 - first_year, 2035 - first_year, lags, method
            ),
            3,
        )
        core = "—"
        if method == "levels" and lags != rules.LAGS_AUTO:
            best, median = timed(lambda lags=lags: core_only(histories, lags), arguments.runs)
            core = f"{best:7.2f} / {median:6.2f} ms"
        print(
            f"{method:<7}{lags!s:>5}  {core:>16}  {batch[0]:7.2f} / {batch[1]:6.2f} ms"
            f"  {loop[0]:8.0f} / {loop[1]:6.0f} ms  {loop[1] / batch[1]:7.0f}x"
        )
    print("(best / median of the runs, wall time on this machine)")


def core_only(histories, lags):
    """The stacked levels fit and 2021–2035 prediction, without validation or result objects."""
    stacked = np.stack([values for _, values in histories])
    params, sigma2 = modeling.autoreg.fit_autoreg(stacked, lags)
    steps = 2035 - 2020
    mean = modeling.autoreg.recursion(stacked, params, steps)
    variance = sigma2[:, None] * modeling.autoreg.cumulative_squared_weights(params, steps, 0)
    return mean, variance


if __name__ == "__main__":
    main()
