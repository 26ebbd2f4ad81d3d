"""Forecasts of the statsforecast peers for bench_accuracy.py, cached as JSON.

    python -m venv .venv-bench && .venv-bench/bin/pip install -r requirements-bench.txt
    .venv-bench/bin/python benchmarks/bench_peers.py [--file PATH] [--selection | --windows 1995:10,...]

Runs AutoARIMA, AutoETS and AutoARIMA on log population (statsforecast, non-seasonal, 95%
intervals) on every WPP2019 region with data, for each window bench_accuracy.py judges: fit on
1950..origin, forecast origin+1..origin+h. Writes .cache/bench/peers-<checksum of the file>.json:
per window and model the seconds of the fit and, per region code, [value, lower, upper] lists.
`--windows origin:h,...` runs other windows and adds them to the cache beside the ones already
there; `--selection` does so for SELECTION_WINDOWS, the earlier windows (held-out years <= 2005)
on which the default's settings are chosen (`bench_accuracy.py --selection` prints them).
Why a separate venv and a cache: statsforecast (numba, scipy, an older pandas) is no dependency of
the project, and AutoARIMA takes ~40 s a window; the accuracy benchmark then reads the figures.
No Django and no model code: the file is read with forecasts.wpp (numpy, pandas, forecasts.rules).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NIXTLA_ID_AS_COL", "1")

import statsforecast  # noqa: E402
from statsforecast import StatsForecast  # noqa: E402
from statsforecast.models import AutoARIMA, AutoETS  # noqa: E402
from wpp2019 import (  # noqa: E402
    DEFAULT_FILE,
    checksum,
    parse_windows,
    peers_cache,
    windows_outside,
    wpp2019_histories,
)

# (origin, horizon): the three windows and the robustness rows of bench_accuracy.py.
WINDOWS = [(2010, 10), (2000, 20), (1990, 30), (1995, 25), (2005, 15), (1985, 10)]
# The selection windows of bench_accuracy.py --selection not already in WINDOWS (1985 h=10 is).
SELECTION_WINDOWS = [
    (1975, 10),
    (1990, 10),
    (1995, 10),
    (1975, 20),
    (1980, 20),
    (1985, 20),
    (1975, 30),
]
LEVEL = 95
MODELS = {
    "AutoARIMA": (lambda: AutoARIMA(season_length=1), False),
    "AutoETS": (lambda: AutoETS(season_length=1), False),
    "AutoARIMA-log": (lambda: AutoARIMA(season_length=1), True),
}


def frame(histories, origin, log):
    """statsforecast's long frame (unique_id, ds, y) of every history up to ``origin``."""
    parts = []
    for code, (years, values) in histories.items():
        keep = years <= origin
        y = np.log(values[keep]) if log else values[keep]
        parts.append(pd.DataFrame({"unique_id": str(code), "ds": years[keep].astype(int), "y": y}))
    return pd.concat(parts, ignore_index=True)


def warm_up(histories):
    """Compile numba's code once, so the seconds recorded are fitting, not compiling."""
    one = dict([next(iter(histories.items()))])
    models = [AutoARIMA(season_length=1), AutoETS(season_length=1)]
    StatsForecast(models=models, freq=1, n_jobs=1).forecast(
        df=frame(one, 1960, False), h=2, level=[LEVEL]
    )


def run_window(histories, model, log, origin, horizon):
    """(seconds, {region code: [values, lowers, uppers]}) of one model in one window."""
    data = frame(histories, origin, log)
    started = time.perf_counter()
    result = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(
        df=data, h=horizon, level=[LEVEL]
    )
    seconds = time.perf_counter() - started
    column = str(model)
    forecasts = {}
    for code, rows in result.groupby("unique_id"):
        rows = rows.sort_values("ds")
        triple = np.array(
            [rows[column], rows[f"{column}-lo-{LEVEL}"], rows[f"{column}-hi-{LEVEL}"]], dtype=float
        )
        if log:
            triple = np.exp(triple)
        forecasts[str(code)] = triple.tolist()
    return seconds, forecasts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--windows", type=parse_windows, default=None)
    parser.add_argument("--selection", action="store_true")
    arguments = parser.parse_args()
    if arguments.selection:
        arguments.windows = SELECTION_WINDOWS
    histories = wpp2019_histories(arguments.file)
    outside = windows_outside(arguments.windows or (), histories)
    if outside:
        parser.error(f"--windows {','.join(outside)}: the held-out years end after the data")
    warm_up(histories)
    target = peers_cache(arguments.file)
    document = {
        "statsforecast": statsforecast.__version__,
        "file": arguments.file.name,
        "checksum": checksum(arguments.file),
        "level": LEVEL,
        "windows": {},
    }
    if arguments.windows and target.is_file():
        document["windows"] = json.loads(target.read_text())["windows"]
    for origin, horizon in arguments.windows or WINDOWS:
        for name, (make, log) in MODELS.items():
            seconds, forecasts = run_window(histories, make(), log, origin, horizon)
            document["windows"][f"{name}|{origin}|{horizon}"] = {
                "seconds": seconds,
                "forecasts": forecasts,
            }
            print(f"{name:<14} fit 1950..{origin} h={horizon:<3} {seconds:6.1f} s", flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document))
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
