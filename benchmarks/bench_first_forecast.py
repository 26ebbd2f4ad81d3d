"""How long a fresh process's first forecast takes (the default model, two regions).

    DATABASE_URL=postgres://... python benchmarks/bench_first_forecast.py [--repeat 5]

Each repetition starts a new Python process that imports popsite.wsgi as a gunicorn worker
does, then times, in that process,
loading the active data and the first forecast_compute call (which needs the default model's
calibration table: stored with the dataset at import, else built on first use, about a second
on WPP2019). Target: the first forecast, data load included, within 50 ms. Runs against
DATABASE_URL (the active dataset there); without REDIS_URL the cache is the process's own, so
nothing computed by an earlier process helps.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, os, time
import popsite.wsgi  # what a gunicorn worker imports when it boots
from forecasts import active_data
from forecasts.services import forecasts
started = time.perf_counter()
data = active_data.active_data()
loaded = time.perf_counter()
regions = [data.regions[900], data.regions_with_data()[-1]]
forecasts.forecast_compute(data=data, regions=regions, start=2030, end=2035)
done = time.perf_counter()
stored = bool(data.calibration)
print(json.dumps({"load_ms": (loaded - started) * 1000, "forecast_ms": (done - loaded) * 1000,
                  "stored_calibration": stored}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench"), "REDIS_URL": ""}
    runs = []
    for _ in range(arguments.repeat):
        output = subprocess.run(
            [sys.executable, "-c", CHILD],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    load = statistics.median(run["load_ms"] for run in runs)
    forecast = statistics.median(run["forecast_ms"] for run in runs)
    print(
        f"fresh process, median of {len(runs)}: loading the active data {load:.1f} ms, "
        f"first forecast {forecast:.1f} ms, together {load + forecast:.1f} ms "
        f"(calibration stored with the dataset: {runs[0]['stored_calibration']})"
    )
    print(
        f"target (first forecast with the data load <= 50 ms): "
        f"{'met' if load + forecast <= 50 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
