import argparse
import json

from django.core.management.base import BaseCommand, CommandError

from forecasts import exports, modeling, selectors, services
from forecasts.models import Region

METHOD_HELP = ", ".join(
    f"{name} ({'the original app' if name == modeling.ORIGINAL_METHOD else 'recommended'})"
    if name in (modeling.ORIGINAL_METHOD, modeling.RECOMMENDED_METHOD)
    else name
    for name in modeling.METHODS
)


def lags_argument(text: str) -> int | str:
    """--lags: a whole number or "auto" (the range is checked by modeling.check_lags_choice)."""
    if text.strip().lower() == modeling.LAGS_AUTO:
        return modeling.LAGS_AUTO
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'give a whole number from {modeling.LAGS_MIN} to {modeling.LAGS_MAX} or "auto", '
            f"not {text!r}"
        ) from None


def add_model_arguments(parser) -> None:
    """--method and --lags, shared with the backtest command."""
    parser.add_argument(
        "--method",
        default=modeling.RECOMMENDED_METHOD,
        choices=list(modeling.METHODS),
        help=f"The series AutoReg is fitted to: {METHOD_HELP}. Default "
        f"{modeling.RECOMMENDED_METHOD}, the best backtest accuracy on WPP2019; "
        f'"{modeling.ORIGINAL_METHOD}" with --lags 1 is the original app\'s model.',
    )
    parser.add_argument(
        "--lags",
        type=lags_argument,
        default=modeling.RECOMMENDED_LAGS,
        metavar="N|auto",
        help=f"Autoregressive lags, {modeling.LAGS_MIN}–{modeling.LAGS_MAX}, or auto (chosen "
        f"per region by AIC). Default {modeling.RECOMMENDED_LAGS}.",
    )


class Command(BaseCommand):
    help = (
        "Forecast the population of one or more regions (or --all) for a span of years with "
        "AutoReg. Regions by UN code, exact name or ISO3 code. The table shows persons rounded "
        "to the nearest thousand (the original app's output); csv and json carry unrounded "
        "values and the prediction interval. The original app's model: --method levels --lags 1."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--region",
            action="append",
            default=[],
            metavar="CODE_OR_NAME",
            help=f"A region to forecast; repeat for several (at most {modeling.MAX_REGIONS}).",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Forecast every region with data in one batched fit (the limit of "
            f"{modeling.MAX_REGIONS} regions is for interactive requests and does not apply).",
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
        add_model_arguments(parser)
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

    def handle(self, *args, region, all, start, end, method, lags, level, format, save, **options):
        if all and region:
            raise CommandError("Give --region or --all, not both.", returncode=2)
        try:
            modeling.check_span(start, end)
            modeling.check_lags_choice(lags)
            modeling.check_level(level)
            if all:
                regions = list(Region.objects.with_data())
                if not regions:
                    raise modeling.ForecastError("No data is loaded yet: import a WPP file first.")
            else:
                regions = selectors.regions_for_forecast(identifiers=region)
            settings = {"start": start, "end": end, "method": method, "lags": lags, "level": level}
            if save:
                run = services.forecast_run_create(regions=regions, **settings)
                results = services.forecast_run_results(run)
            else:
                results = services.forecast_compute(regions=regions, **settings)
        except (modeling.ForecastError, selectors.RegionLookupError) as error:
            raise CommandError(str(error), returncode=2) from None
        if format == "csv":
            self.stdout.write(exports.results_csv(results), ending="")
        elif format == "json":
            self.stdout.write(
                json.dumps(exports.results_json(results, start=start, end=end, lags=lags), indent=2)
            )
        else:
            self.stdout.write(
                "Population forecast (persons, rounded to the nearest thousand), "
                f"{exports.model_description(method, lags, results)}"
            )
            self.stdout.write(exports.results_text_table(results))
        if save:
            self.stderr.write(self.style.SUCCESS(f"Saved forecast run {run.pk}."))
