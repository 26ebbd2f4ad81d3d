"""Backtest accuracy of the forecasting methods on WPP2019, and the coverage of their intervals.

    .venv/bin/python benchmarks/bench_accuracy.py [--file PATH]

1. The issue's baseline: fit 1950–2010, forecast 2011–2020. Median MAPE across regions of the
   original model (levels, lags=1), of extending the last year's growth rate, and the coverage of
   the original model's 95% intervals.
2. Every method and lag order: median 10-year MAPE across regions from origins 1985, 1990, 1995
   and 2000 (validation: every forecast year is 2010 or earlier) and from 2010 (test: 2011–2020).
   The recommended default is the one with the lowest mean validation median; the test column
   shows how it then did on years it was not chosen on.
3. Coverage of nominal 95% intervals before and after calibration, for the original and the
   recommended model, on three splits: the table is built only from histories that end before
   the ten years it is judged on (rolling origins from 30 to 10 years before that, as
   modeling.calibration_origins gives).
No database: the file is read with forecasts.wpp.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_batch_forecast import DEFAULT_FILE, wpp2019_histories  # noqa: E402

from forecasts import modeling, rules  # noqa: E402

VALIDATION_ORIGINS = (1985, 1990, 1995, 2000)
TEST_ORIGIN = 2010
HOLDOUT = 10
LAG_CHOICES = (1, 2, 3, 4, 5, rules.LAGS_AUTO)
COVERAGE_SPLITS = (1990, 2000, 2010)


def cut(histories, last_year):
    """Every history up to and including ``last_year``."""
    return {
        code: (years[years <= last_year], values[years <= last_year])
        for code, (years, values) in histories.items()
    }


def median_mape(histories, origin, *, method, lags):
    """Median MAPE of forecasts of origin+1 .. origin+HOLDOUT fitted on years up to ``origin``."""
    summary = modeling.backtest_many(
        cut(histories, origin + HOLDOUT), holdout=HOLDOUT, lags=lags, method=method
    )
    return summary.median_mape


def growth_extension_mape(histories, origin):
    """Median MAPE of carrying the last year's growth rate forward (the issue's simple baseline)."""
    errors = []
    for years, values in histories.values():
        known = values[years <= origin]
        actual = values[(years > origin) & (years <= origin + HOLDOUT)]
        growth = known[-1] / known[-2]
        predicted = known[-1] * growth ** np.arange(1, len(actual) + 1)
        errors.append(float(np.mean(np.abs(predicted - actual) / actual)) * 100)
    return statistics.median(errors)


def print_baseline(histories):
    original = modeling.backtest_many(histories, holdout=HOLDOUT, lags=1, method="levels")
    print("Baseline: fit 1950–2010, forecast 2011–2020")
    print(f"  levels, lags=1 (original app)   median MAPE {original.median_mape:.3f}%")
    print(
        f"  last year's growth rate          median MAPE {growth_extension_mape(histories, 2010):.3f}%"
    )
    print(f"  levels, lags=1 95% intervals     coverage {original.coverage:.1%}")
    print(f"  regions backtested               {original.regions}")


def print_methods(histories):
    columns = [*VALIDATION_ORIGINS, TEST_ORIGIN]
    print("\nMedian 10-year MAPE (%) by method and lags; origin = last year fitted")
    header = "".join(f"{origin:>8}" for origin in columns)
    print(f"  {'method':<8}{'lags':>5}{header}{'valid.':>9}{'test':>8}")
    rows = []
    for method in rules.METHODS:
        for lags in LAG_CHOICES:
            figures = [
                median_mape(histories, origin, method=method, lags=lags) for origin in columns
            ]
            validation = statistics.mean(figures[: len(VALIDATION_ORIGINS)])
            rows.append((validation, method, lags, figures[-1]))
            cells = "".join(f"{figure:8.3f}" for figure in figures)
            print(f"  {method:<8}{lags!s:>5}{cells}{validation:9.3f}{figures[-1]:8.3f}")
    naive = [growth_extension_mape(histories, origin) for origin in columns]
    cells = "".join(f"{figure:8.3f}" for figure in naive)
    print(f"  {'last growth rate':<13}{cells}{statistics.mean(naive[:-1]):9.3f}{naive[-1]:8.3f}")
    validation, method, lags, test = min(rows, key=lambda row: row[0])
    print(
        f"Best on validation: method={method} lags={lags} (mean validation {validation:.3f}%, "
        f"test 2011–2020 {test:.3f}%; target <= 0.6%)"
    )
    chosen = (rules.DEFAULT_METHOD, rules.DEFAULT_LAGS)
    agreement = "matches" if chosen == (method, lags) else "DOES NOT match"
    print(f"rules.DEFAULT_METHOD/LAGS = {chosen} {agreement} the best on validation")


def print_coverage(histories):
    print("\nCoverage of nominal 95% intervals, before and after calibration")
    print("  (table from origins T-30 .. T-10 of histories cut at T, calibration_origins(T);")
    print("   judged on T+1 .. T+10, which the table never saw)")
    print(
        f"  {'method':<8}{'lags':>5}{'judged on':>12}{'before':>9}{'after':>9}{'median half-width':>19}"
    )
    models = [("levels", 1), (rules.DEFAULT_METHOD, rules.DEFAULT_LAGS)]
    for method, lags in models:
        for split in COVERAGE_SPLITS:
            started = time.perf_counter()
            table = modeling.calibrate(
                cut(histories, split),
                origins=modeling.calibration_origins(split, HOLDOUT),
                horizon=HOLDOUT,
                lags=lags,
                method=method,
            )
            seconds = time.perf_counter() - started
            judged = cut(histories, split + HOLDOUT)
            before = modeling.backtest_many(judged, holdout=HOLDOUT, lags=lags, method=method)
            after = modeling.backtest_many(
                judged, holdout=HOLDOUT, lags=lags, method=method, calibration=table
            )
            print(
                f"  {method:<8}{lags!s:>5}{f'{split + 1}–{split + HOLDOUT}':>12}"
                f"{before.coverage:9.1%}{after.coverage:9.1%}"
                f"{median_half_width(before):9.2%} → {median_half_width(after):.2%}"
                f"   (calibration {seconds * 1000:.0f} ms)"
            )


def median_half_width(summary):
    """Median half-width of the intervals relative to the forecast, over all regions and years."""
    widths = [
        (point.upper - point.lower) / 2 / point.value
        for result in summary.results.values()
        if isinstance(result, modeling.BacktestResult)
        for point in result.points
    ]
    return statistics.median(widths)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    arguments = parser.parse_args()
    histories = wpp2019_histories(arguments.file)
    print_baseline(histories)
    print_methods(histories)
    print_coverage(histories)


if __name__ == "__main__":
    main()
