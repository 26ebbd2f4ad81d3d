from django.core.management.base import BaseCommand, CommandError

from forecasts import presenters, rules, selectors, services
from forecasts.management.commands.forecast import add_model_arguments


class Command(BaseCommand):
    help = (
        "Backtest forecasts: hold out the last years of each region's history, fit on the rest, "
        "forecast them and compare with the record. Prints the regions by error (MAPE, interval "
        "coverage, error at horizons 1, 5 and 10) and a summary, and stores the results for the "
        "accuracy page and the API. Without --region, every region with data is backtested."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--region",
            action="append",
            default=[],
            metavar="CODE_OR_NAME",
            help=f"A region to backtest; repeat for several (at most {rules.MAX_REGIONS}).",
        )
        parser.add_argument(
            "--all", action="store_true", help="Every region with data (the default)."
        )
        parser.add_argument(
            "--holdout",
            type=int,
            default=rules.DEFAULT_HOLDOUT,
            metavar="YEARS",
            help=f"Years held out and forecast ({rules.HOLDOUT_MIN}–"
            f"{rules.HOLDOUT_MAX}, default {rules.DEFAULT_HOLDOUT}).",
        )
        add_model_arguments(parser)

    def handle(self, *args, region, all, holdout, method, lags, **options):
        if all and region:
            raise CommandError("Give --region or --all, not both.", returncode=2)
        try:
            rules.check_holdout(holdout)
            lags = rules.parse_lags(lags)
            data = services.required_data()
            regions = (
                selectors.regions_for_forecast(data=data, identifiers=region) if region else None
            )
            run = services.backtest_run_create(
                regions=regions, holdout=holdout, method=method, lags=lags
            )
        except (rules.ForecastError, selectors.RegionLookupError) as error:
            raise CommandError(str(error), returncode=2) from None
        results = selectors.backtest_results(backtest_run=run)
        self.stdout.write(self._table(results, holdout))
        for failure in run.failures:
            self.stderr.write(f"Not backtested: {failure['name']}: {failure['error']}")
        median = "—" if run.median_mape is None else f"{run.median_mape:.2f}%"
        coverage = "—" if run.coverage is None else f"{run.coverage:.1%}"
        self.stdout.write(
            f"\n{run.region_count} regions, method={method}, lags={lags}, last {holdout} years "
            f"held out: median MAPE {median}, {run.get_interval_display()} "
            f"{run.level:.0%} interval coverage {coverage}."
        )
        self.stderr.write(
            self.style.SUCCESS(f"Saved backtest run {run.pk} in {run.duration_ms:.0f} ms.")
        )

    def _table(self, results, holdout) -> str:
        horizons = [step for step in (1, 5, 10) if step <= holdout]
        header = ["Region", "MAPE", "Coverage", *(f"h={step}" for step in horizons)]
        rows = [
            [
                f"{result.region_name} ({result.region_code})",
                f"{result.mape:.2f}%",
                f"{result.coverage:.0%}",
                *(f"{result.errors_by_horizon[step - 1]:.2f}%" for step in horizons),
            ]
            for result in results
        ]
        return presenters.text_table(header, rows)
