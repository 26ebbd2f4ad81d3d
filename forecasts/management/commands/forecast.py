import json

from django.core.management.base import BaseCommand, CommandError

from forecasts import exports, modeling, selectors, services


class Command(BaseCommand):
    help = (
        "Forecast the population of one or more regions for a span of years with AutoReg. "
        "Regions by UN code, exact name or ISO3 code. The table shows persons rounded to the "
        "nearest thousand (the original app's output); csv and json carry unrounded values and "
        "the prediction interval."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--region",
            action="append",
            default=[],
            metavar="CODE_OR_NAME",
            help="A region to forecast; repeat for several (at most 20).",
        )
        parser.add_argument(
            "--from",
            dest="start",
            type=int,
            required=True,
            metavar="YEAR",
            help=f"First year ({modeling.YEAR_MIN}–{modeling.YEAR_MAX}).",
        )
        parser.add_argument(
            "--to",
            dest="end",
            type=int,
            required=True,
            metavar="YEAR",
            help=f"Last year ({modeling.YEAR_MIN}–{modeling.YEAR_MAX}).",
        )
        parser.add_argument(
            "--lags",
            type=int,
            default=modeling.DEFAULT_LAGS,
            help=f"Autoregressive lags, {modeling.LAGS_MIN}–{modeling.LAGS_MAX} (default 1, the original app's model).",
        )
        parser.add_argument(
            "--level",
            type=float,
            default=modeling.DEFAULT_LEVEL,
            help="Prediction interval level between 0 and 1 (default 0.95).",
        )
        parser.add_argument(
            "--format",
            choices=["table", "csv", "json"],
            default="table",
            help="table: the original app's rounded table (default); csv, json: unrounded values with interval bounds.",
        )
        parser.add_argument(
            "--save", action="store_true", help="Store the run in the history and print its id."
        )

    def handle(self, *args, region, start, end, lags, level, format, save, **options):
        try:
            modeling.check_span(start, end)
            modeling.check_lags(lags)
            modeling.check_level(level)
            regions = selectors.regions_for_forecast(identifiers=region)
            if save:
                run = services.forecast_run_create(
                    regions=regions, start=start, end=end, lags=lags, level=level
                )
                results = services.forecast_run_results(run)
            else:
                results = services.forecast_compute(
                    regions=regions, start=start, end=end, lags=lags, level=level
                )
        except (modeling.ForecastError, selectors.RegionLookupError) as error:
            raise CommandError(str(error), returncode=2) from None
        if format == "csv":
            self.stdout.write(exports.results_csv(results), ending="")
        elif format == "json":
            self.stdout.write(
                json.dumps(exports.results_json(results, start=start, end=end), indent=2)
            )
        else:
            self.stdout.write(
                f"Population forecast (persons, rounded to the nearest thousand), lags={lags}"
            )
            self.stdout.write(exports.results_text_table(results))
        if save:
            self.stderr.write(self.style.SUCCESS(f"Saved forecast run {run.pk}."))
