import json

from django.core.management.base import BaseCommand, CommandError

from forecasts import presenters, rules, selectors, services


def add_model_arguments(parser) -> None:
    """--method and --lags, shared with the backtest command."""
    parser.add_argument(
        "--method",
        default=rules.DEFAULT_METHOD,
        choices=list(rules.METHODS),
        help=f"The series AutoReg is fitted to. {rules.methods_help()}. Default "
        f'{rules.DEFAULT_METHOD}; "{rules.ORIGINAL_METHOD}" with --lags 1 is the original app\'s model.',
    )
    parser.add_argument(
        "--lags",
        default=rules.DEFAULT_LAGS,
        metavar="N|auto",
        help=f"Autoregressive lags, {rules.LAGS_MIN}–{rules.LAGS_MAX}, or auto (chosen "
        f"per region by AIC). Default {rules.DEFAULT_LAGS}.",
    )


class Command(BaseCommand):
    help = (
        "Forecast the population of one or more regions (or --all) for a span of years with "
        "AutoReg. Regions by UN code, exact name or ISO3 code. The table shows persons rounded "
        "to the nearest thousand (the original app's output); csv and json carry unrounded "
        "values and the prediction interval. The original app's model: --method levels --lags 1."
    )
    # No system checks before each forecast: they load the site's URLs, views, admin and every
    # template tag library (about half of a cold `forecast --all --save`, measured) and check the
    # site, not the models and database this command uses. `manage.py check`, `make
    # check-deploy` and the test suite run them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--region",
            action="append",
            default=[],
            metavar="CODE_OR_NAME",
            help=f"A region to forecast; repeat for several (at most {rules.MAX_REGIONS}).",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Forecast every region with data in one batched fit (the limit of "
            f"{rules.MAX_REGIONS} regions is for interactive requests and does not apply).",
        )
        parser.add_argument(
            "--from",
            dest="start",
            type=int,
            required=True,
            metavar="YEAR",
            help=f"First year ({rules.YEAR_MIN}–{rules.YEAR_MAX}).",
        )
        parser.add_argument(
            "--to",
            dest="end",
            type=int,
            required=True,
            metavar="YEAR",
            help=f"Last year ({rules.YEAR_MIN}–{rules.YEAR_MAX}).",
        )
        add_model_arguments(parser)
        parser.add_argument(
            "--level",
            type=float,
            default=rules.DEFAULT_LEVEL,
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
            rules.check_span(start, end)
            rules.check_level(level)
            lags = rules.parse_lags(lags)
            data = services.required_data()
            if all:
                regions = data.regions_with_data()
            else:
                regions = selectors.regions_for_forecast(data=data, identifiers=region)
            settings = {"start": start, "end": end, "method": method, "lags": lags, "level": level}
            if save:
                stored = services.forecast_run_create(data=data, regions=regions, **settings)
                results = stored.results
            else:
                results = services.forecast_compute(data=data, regions=regions, **settings)
        except (rules.ForecastError, selectors.RegionLookupError) as error:
            raise CommandError(str(error), returncode=2) from None
        if format == "csv":
            self.stdout.write(
                presenters.results_csv(results, dataset=data.dataset.edition), ending=""
            )
        elif format == "json":
            document = presenters.forecast_document(
                results, dataset=data.dataset, codes=[r.code for r in regions], **settings
            )
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self.stdout.write(
                "Population forecast (persons, rounded to the nearest thousand), "
                f"{presenters.model_description(method, lags, results)}"
            )
            self.stdout.write(presenters.results_text_table(results))
        if save:
            self.stderr.write(self.style.SUCCESS(f"Saved forecast run {stored.run.pk}."))
