"""Accuracy and interval honesty of the default forecast against the old models and statsforecast.

    .venv/bin/python benchmarks/bench_accuracy.py [--file PATH] [--runs 30] [--selection]
                                                  [--windows 1988:10,2003:12,...]
                                                                               (make bench-accuracy)

Every WPP2019 region with data is fitted on 1950..origin and forecast origin+1..origin+h, with
95% intervals, for the three windows the targets are set on (2010 h=10, 2000 h=20, 1990 h=30) and
three robustness rows (1995 h=25, 2005 h=15, 1985 h=10). Each method sees only data up to the
origin, its calibration included:

- default: damped, table from damped.calibrate(histories cut at the origin, last_year=origin);
- levels/1: the original app's model with its model-based intervals;
- diff2/3: the previous default, calibrated as `backtest --holdout h` does (modeling.calibrate on
  the cut histories, origins modeling.calibration_origins(origin, h));
- AutoARIMA, AutoETS, AutoARIMA on log population (statsforecast), read from the cache that
  benchmarks/bench_peers.py writes in its own venv (see PEERS_HOWTO).

Columns: median and mean across regions of the MAPE over the held-out years (%); coverage of the
95% intervals over all region-years; interval score (IS, the Gneiting-Raftery score at alpha=0.05
as % of the actual: ((upper - lower) + 40 (lower - actual)[actual < lower]
+ 40 (actual - upper)[actual > upper]) / actual * 100, mean over the region's years, median across
regions); regions with a value or bound <= 0 (or none); explosive fits (largest companion root
modulus >= 1 in the space the model is fitted in; "-" where not measured); seconds of fit, predict
and intervals for all regions (calibration separately). Then a "targets" line per window and the
timing of the default's batch forecast of every region (target < 20 ms).
With --selection it also prints SELECTION_WINDOWS: origins 1975-1995 whose held-out years end by
2005, the windows the default's settings are chosen on (the report windows above only report).
Their peers come from `bench_peers.py --selection`; a window without them shows the project only.
With --windows origin:h,... it also prints those windows (any origin, e.g. between WPP's five-year
steps), with the peers that `bench_peers.py --windows` cached for them.
No database: the file is read with forecasts.wpp.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402
from wpp2019 import (  # noqa: E402
    DEFAULT_FILE,
    parse_windows,
    peers_cache,
    windows_outside,
    wpp2019_histories,
)

from forecasts import modeling, rules  # noqa: E402
from forecasts.modeling import autoreg, damped, longrange, longrange_table  # noqa: E402

MAIN_WINDOWS = ((2010, 10), (2000, 20), (1990, 30))
ROBUSTNESS_WINDOWS = ((1995, 25), (2005, 15), (1985, 10))
SELECTION_WINDOWS = (
    (1975, 10),
    (1985, 10),
    (1990, 10),
    (1995, 10),
    (1975, 20),
    (1980, 20),
    (1985, 20),
    (1975, 30),
)
LEVEL = 0.95
PENALTY = 2 / (1 - LEVEL)  # 40: the interval score's charge per person outside the interval
PEERS = ("AutoARIMA", "AutoETS", "AutoARIMA-log")
COVERAGE_TARGET = (0.90, 0.97)
BATCH_TARGET_MS = 20.0
PEERS_HOWTO = (
    "python -m venv .venv-bench && .venv-bench/bin/pip install -r requirements-bench.txt && "
    ".venv-bench/bin/python benchmarks/bench_peers.py"
)


@dataclass(frozen=True)
class Row:
    """One method's figures in one window (see the module docstring for each column)."""

    name: str
    median_mape: float
    mean_mape: float
    coverage: float
    interval_score: float
    negatives: int
    explosive: int | None
    seconds: float
    calibration_seconds: float | None = None
    note: str = ""


def cut(histories, last_year):
    """Every history up to and including ``last_year``."""
    return {
        code: (years[years <= last_year], values[years <= last_year])
        for code, (years, values) in histories.items()
    }


def held_out(histories, origin, horizon):
    """(regions, horizon) recorded persons of origin+1 .. origin+horizon."""
    return np.stack(
        [
            values[(years > origin) & (years <= origin + horizon)]
            for years, values in histories.values()
        ]
    )


def score(name, value, lower, upper, actual, **figures) -> Row:
    """The accuracy columns of a (regions, years) forecast against the record.

    A missing value (NaN) counts as an infinite error and as a region without a positive forecast.
    """
    with np.errstate(invalid="ignore"):
        errors = np.where(np.isfinite(value), np.abs(value - actual) / actual * 100, np.inf)
        mape = errors.mean(axis=1)
        inside = (lower <= actual) & (actual <= upper)
        below = PENALTY * (lower - actual) * (actual < lower)
        above = PENALTY * (actual - upper) * (actual > upper)
        interval_score = ((upper - lower) + below + above) / actual * 100
        positive = (value > 0) & (lower > 0) & (upper > 0)
    return Row(
        name=name,
        median_mape=float(np.median(mape)),
        mean_mape=float(np.mean(mape)),
        coverage=float(np.mean(inside)),
        interval_score=float(np.median(np.nan_to_num(interval_score, nan=np.inf).mean(axis=1))),
        negatives=int(np.sum(~np.all(positive, axis=1))),
        **figures,
    )


def as_arrays(forecasts):
    """(value, lower, upper) arrays of equally long Forecasts (NaN where a point has none)."""
    for outcome in forecasts:
        if isinstance(outcome, rules.ForecastError):
            raise outcome
    triples = np.array(
        [[(p.value, p.lower, p.upper) for p in outcome.points] for outcome in forecasts],
        dtype=float,
    )
    return triples[..., 0], triples[..., 1], triples[..., 2]


def padded(histories) -> np.ndarray:
    """Histories ending in the same year as one matrix, NaN before a late start."""
    first = min(int(years[0]) for years, _ in histories.values())
    last = max(int(years[-1]) for years, _ in histories.values())
    matrix = np.full((len(histories), last - first + 1), np.nan)
    for row, (years, values) in enumerate(histories.values()):
        matrix[row, years - first] = values
    return matrix


def default_row(histories, origin, horizon) -> Row:
    """The damped default, its table built from the histories cut at the origin only."""
    past = cut(histories, origin)
    started = time.perf_counter()
    table = damped.table_from_json(damped.calibrate(past, last_year=origin))
    calibration_seconds = time.perf_counter() - started
    started = time.perf_counter()
    forecasts = damped.forecast_many(
        list(past.values()),
        start=origin + 1,
        end=origin + horizon,
        level=LEVEL,
        table=table,
        keys=list(past),
    )
    seconds = time.perf_counter() - started
    explosive = int(np.sum(longrange.fit(padded(past)).max_root >= 1))
    return score(
        "default (damped)",
        *as_arrays(forecasts),
        held_out(histories, origin, horizon),
        explosive=explosive,
        seconds=seconds,
        calibration_seconds=calibration_seconds,
    )


def autoreg_explosive(histories, method, lags) -> int:
    """Fits whose AR polynomial, in the space the method fits, has a root on or in the unit circle."""
    spec = rules.METHODS[method]
    matrix = padded(histories)
    working = np.log(matrix) if spec.log else matrix
    params, _ = autoreg.fit_autoreg(np.diff(working, n=spec.differences, axis=1), lags)
    return int(np.sum(longrange.companion_roots(params[:, 1:]).max(axis=1) >= 1))


def autoreg_row(histories, origin, horizon, method, lags, *, calibrated) -> Row:
    """An AutoReg method; with ``calibrated``, its table is built as `backtest --holdout` does."""
    past = cut(histories, origin)
    table, calibration_seconds, note = None, None, ""
    if calibrated:
        started = time.perf_counter()
        try:
            table = modeling.calibrate(
                past,
                origins=modeling.calibration_origins(origin, horizon),
                horizon=horizon,
                lags=lags,
                method=method,
            )
        except rules.ForecastError as error:
            note = f"uncalibrated: {error}"
        calibration_seconds = time.perf_counter() - started
    started = time.perf_counter()
    forecasts = modeling.forecast_many(
        list(past.values()),
        start=origin + 1,
        end=origin + horizon,
        lags=lags,
        level=LEVEL,
        method=method,
        calibration=table,
        keys=list(past),
    )
    seconds = time.perf_counter() - started
    return score(
        f"{method}/{lags}" + (" (cal.)" if table is not None else ""),
        *as_arrays(forecasts),
        held_out(histories, origin, horizon),
        explosive=autoreg_explosive(past, method, lags),
        seconds=seconds,
        calibration_seconds=calibration_seconds,
        note=note,
    )


def peer_row(histories, peers, name, origin, horizon) -> Row | None:
    """A statsforecast model's row from the cache, or None when the cache lacks the window."""
    window = peers["windows"].get(f"{name}|{origin}|{horizon}")
    if window is None:
        return None
    triples = np.array([window["forecasts"][str(code)] for code in histories], dtype=float)
    return score(
        name,
        triples[:, 0],
        triples[:, 1],
        triples[:, 2],
        held_out(histories, origin, horizon),
        explosive=None,
        seconds=window["seconds"],
    )


def load_peers(path):
    """The peers' cached forecasts of this file, or None (and say how to make them)."""
    cache = peers_cache(path)
    if not cache.is_file():
        print(f"No statsforecast peers: {cache.relative_to(ROOT)} is absent. Create it with")
        print(f"  {PEERS_HOWTO}")
        return None
    peers = json.loads(cache.read_text())
    print(
        f"statsforecast {peers['statsforecast']} peers from {cache.relative_to(ROOT)} "
        f"(seconds include one model fit per region, numba warm-up excluded)"
    )
    return peers


HEADER = (
    f"  {'method':<20}{'med MAPE':>9}{'mean MAPE':>10}{'cover':>8}{'IS':>8}"
    f"{'neg':>5}{'expl':>6}{'secs':>9}{'cal s':>7}"
)


def format_row(row: Row) -> str:
    explosive = "-" if row.explosive is None else str(row.explosive)
    calibration = "" if row.calibration_seconds is None else f"{row.calibration_seconds:7.2f}"
    line = (
        f"  {row.name:<20}{row.median_mape:9.2f}{row.mean_mape:10.2f}{row.coverage:8.1%}"
        f"{figure(row.interval_score)}{row.negatives:5d}{explosive:>6}{row.seconds:9.3f}{calibration}"
    )
    return f"{line}  {row.note}" if row.note else line


def figure(value: float) -> str:
    """An IS cell: one decimal, or powers of ten when a blown-up interval makes it huge."""
    return f"{value:8.1f}" if abs(value) < 1e5 else f"{value:8.1e}"


def window_rows(histories, peers, origin, horizon) -> list[Row]:
    rows = [
        default_row(histories, origin, horizon),
        autoreg_row(histories, origin, horizon, "levels", 1, calibrated=False),
        autoreg_row(histories, origin, horizon, "diff2", 3, calibrated=True),
    ]
    for name in PEERS if peers else ():
        row = peer_row(histories, peers, name, origin, horizon)
        if row is not None:
            rows.append(row)
    return rows


def targets_line(origin, horizon, rows: list[Row]) -> str:
    """Met or missed, with the gap, for each target of the default in this window."""
    default, peers = rows[0], [row for row in rows if row.explosive is None]
    parts = []
    for label, column in (
        ("median MAPE", "median_mape"),
        ("mean MAPE", "mean_mape"),
        ("IS", "interval_score"),
    ):
        ours = getattr(default, column)
        if not peers:
            parts.append(f"{label} {ours:.2f} vs best peer: no peers")
            continue
        best = min(peers, key=lambda row, column=column: getattr(row, column))
        gap = ours - getattr(best, column)
        verdict = "met" if gap <= 0 else "MISSED"
        parts.append(
            f"{label} {ours:.2f} vs {getattr(best, column):.2f} ({best.name}) {verdict} ({gap:+.2f})"
        )
    low, high = COVERAGE_TARGET
    coverage = default.coverage
    gap = min(coverage - low, 0) + max(coverage - high, 0)
    parts.append(
        f"coverage {coverage:.1%} in {low:.0%}-{high:.0%} "
        + ("met" if gap == 0 else f"MISSED ({gap * 100:+.1f} pt)")
    )
    parts.append(f"negatives {default.negatives} " + ("met" if not default.negatives else "MISSED"))
    parts.append(f"explosive {default.explosive} " + ("met" if not default.explosive else "MISSED"))
    return f"targets {origin} h={horizon}: " + "; ".join(parts)


def print_windows(histories, peers, selection=False, others=()):
    verdicts = []
    groups = [("Main windows", MAIN_WINDOWS), ("Robustness", ROBUSTNESS_WINDOWS)]
    if selection:
        groups.append(("Selection windows (held-out years <= 2005)", SELECTION_WINDOWS))
    if others:
        groups.append(("Other windows", others))
    shown = set()
    for label, windows in groups:
        print(f"\n== {label} (95% intervals, {len(histories)} regions) ==")
        for origin, horizon in windows:
            if (origin, horizon) in shown:
                print(f"fit 1950..{origin} h={horizon}: shown above")
                continue
            shown.add((origin, horizon))
            print(f"fit 1950..{origin}, forecast {origin + 1}..{origin + horizon} (h={horizon})")
            print(HEADER)
            rows = window_rows(histories, peers, origin, horizon)
            for row in rows:
                print(format_row(row))
            verdicts.append(targets_line(origin, horizon, rows))
    print("\n== Targets of the default (at or below the best peer; coverage 90-97%; none <= 0) ==")
    for line in verdicts:
        print(line)


def print_batch_timing(histories, runs):
    """The default's batch forecast of every region, table of the full data, as the site runs it:
    the numpy core (fit, predict, intervals) and damped.forecast_many (the core plus one Point
    object per region and year, which is what callers get)."""
    last_year = max(int(years[-1]) for years, _ in histories.values())
    started = time.perf_counter()
    table = damped.table_from_json(damped.calibrate(histories, last_year=last_year))
    calibration_ms = (time.perf_counter() - started) * 1000
    print(f"\n== Batch forecast of all {len(histories)} regions, default, 95% intervals ==")
    print(f"  calibration of the full data (once per dataset, cached): {calibration_ms:.0f} ms")
    matrix, keys = padded(histories), list(histories)
    for start, end in ((2030, 2035), (last_year + 1, 2100)):
        core = timed(lambda end=end: batch_core(matrix, keys, table, end - last_year), runs)
        objects = timed(
            lambda start=start, end=end: damped.forecast_many(
                list(histories.values()), start=start, end=end, level=LEVEL, table=table, keys=keys
            ),
            runs,
        )
        for label, (best, median) in (("numpy core", core), ("forecast_many", objects)):
            verdict = "met" if median < BATCH_TARGET_MS else "MISSED"
            print(
                f"  {start}-{end} {label:<14} best {best:7.2f} ms, median {median:7.2f} ms "
                f"(target < {BATCH_TARGET_MS:.0f} ms: {verdict}; {runs} runs)"
            )


def batch_core(matrix, keys, table, steps):
    """longrange's fit, recursion (rounded tiny series keeping their calibrated share of it) and
    calibrated interval of every region, without Point objects."""
    fit = longrange.fit(matrix)
    mean, scale = longrange.predict(fit, steps)
    mean = longrange.with_share(fit.last_log, mean, [table.share(key) for key in keys])
    horizons = np.arange(1, steps + 1)
    return longrange_table.interval(mean, scale, table, horizons, LEVEL, table.factor_rows(keys))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--selection", action="store_true", help="also the selection windows")
    parser.add_argument(
        "--windows", type=parse_windows, default=(), help="also these, as origin:h,origin:h"
    )
    arguments = parser.parse_args()
    histories = wpp2019_histories(arguments.file)
    outside = windows_outside(arguments.windows, histories)
    if outside:
        parser.error(f"--windows {','.join(outside)}: the held-out years end after the data")
    peers = load_peers(arguments.file)
    print_windows(histories, peers, arguments.selection, arguments.windows)
    print_batch_timing(histories, arguments.runs)


if __name__ == "__main__":
    main()
