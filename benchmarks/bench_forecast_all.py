"""Time `manage.py forecast --all --from 2030 --to 2035 --save` on the database in DATABASE_URL.

    DATABASE_URL=postgres://... SECRET_KEY=x .venv/bin/python benchmarks/bench_forecast_all.py [--runs 5]

Needs a dataset imported there (manage.py import_wpp <WPP2019 file>). Prints, best and median of
the runs: the compute alone (modeling.forecast_many over every region's Estimates, already read),
the service without storing (reading Estimates, fit, calibrated intervals), the command in this
process with --save, and the command as a new process (Python and Django start-up included).
Targets: under 20 ms compute, under 2 s for the whole command with storing.
The runs it saves are deleted afterwards.
"""

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popsite.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from timing import timed  # noqa: E402

from forecasts import modeling, rules, selectors, services  # noqa: E402
from forecasts.active_data import active_data  # noqa: E402
from forecasts.models import ForecastRun  # noqa: E402

ARGUMENTS = ["--all", "--from", "2030", "--to", "2035", "--save"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    dataset = selectors.dataset_active()
    if dataset is None:
        sys.exit("No dataset is loaded: run manage.py import_wpp first.")
    data = active_data()
    regions = data.regions_with_data()
    histories = [data.history(region.code) for region in regions]
    print(
        f"{dataset.edition}: {len(regions)} regions with data on {connection.vendor}; "
        f"forecast 2030–2035, method={rules.DEFAULT_METHOD} "
        f"lags={rules.DEFAULT_LAGS}"
    )
    before = set(ForecastRun.objects.values_list("pk", flat=True))
    rows = [
        (
            "compute (forecast_many, all regions)",
            timed(
                lambda: modeling.forecast_many(
                    histories,
                    start=2030,
                    end=2035,
                    method=rules.DEFAULT_METHOD,
                    lags=rules.DEFAULT_LAGS,
                ),
                arguments.runs * 10,
            ),
        ),
        (
            "service, no storing (read + fit + calibrated)",
            timed(lambda: services.forecast_compute(regions=regions, start=2030, end=2035), 5),
        ),
        (
            "command --all --save, in process",
            timed(
                lambda: call_command(
                    "forecast", *ARGUMENTS, stdout=io.StringIO(), stderr=io.StringIO()
                ),
                arguments.runs,
            ),
        ),
        (
            "command --all --save, new process",
            timed(
                lambda: subprocess.run(
                    [sys.executable, str(ROOT / "manage.py"), "forecast", *ARGUMENTS],
                    check=True,
                    capture_output=True,
                ),
                arguments.runs,
            ),
        ),
    ]
    for label, (best, median) in rows:
        print(f"  {label:<48}{best:9.1f} ms best {median:9.1f} ms median")
    saved = ForecastRun.objects.exclude(pk__in=before)
    points = saved.first().points.count() if saved.exists() else 0
    print(f"  ({points} points stored per run; {saved.count()} benchmark runs deleted)")
    saved.delete()


if __name__ == "__main__":
    main()
