from django.core.management.base import BaseCommand, CommandError

from forecasts import presenters, rules, selectors, services
from forecasts.management.commands.forecast import add_model_arguments


class Command(BaseCommand):
    help = (
        "Backtest forecasts: hold out the last years of each region's history, fit on the rest, "
        "forecast them and compare with the record. Prints the regions by error (MAPE, interval "
        "coverage, error at horizons 1, 5 and 10) and a summary, and stores the results for the "
        "accuracy page and the API. Without --region, every region with data is backtested. "
        "--site computes the figures the accuracy page reports (the default and the original "
        "app's model at 10, 20 and 30 years, as every import does); --if-outdated only those "
        "missing or measured with an earlier version of the model (run it after an upgrade)."
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
            "--site",
            action="store_true",
            help="The accuracy page's figures: the site's models at "
            + ", ".join(str(years) for years in rules.ACCURACY_HOLDOUTS)
            + " years, every region.",
        )
        parser.add_argument(
            "--if-outdated",
            action="store_true",
            help="With --site: only the figures that are missing or that measured an earlier "
            "version of the model (nothing to do is not an error, nor is having no data).",
        )
        parser.add_argument(
            "--holdout",
            type=int,
            default=None,
            metavar="YEARS",
            help=f"Years held out and forecast ({rules.HOLDOUT_MIN}–"
            f"{rules.HOLDOUT_MAX}, default {rules.DEFAULT_HOLDOUT}).",
        )
        add_model_arguments(parser)
        # None: not given (--site takes none of them); handle() applies the defaults.
        parser.set_defaults(method=None, lags=None)

    def handle(self, *args, region, all, holdout, method, lags, site, if_outdated, **options):
        if all and region:
            raise CommandError("Give --region or --all, not both.", returncode=2)
        if site:
            if region or holdout is not None or method is not None or lags is not None:
                raise CommandError(
                    "--site backtests the site's own models and horizons: give it without "
                    "--region, --holdout, --method and --lags.",
                    returncode=2,
                )
            return self._site(if_outdated)
        if if_outdated:
            raise CommandError("--if-outdated goes with --site.", returncode=2)
        holdout = rules.DEFAULT_HOLDOUT if holdout is None else holdout
        method = method or rules.DEFAULT_METHOD
        lags = rules.DEFAULT_LAGS if lags is None else lags
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

    def _site(self, if_outdated: bool) -> None:
        """The accuracy page's figures (services.accuracy_refresh), one line per backtest."""
        if if_outdated and selectors.dataset_active() is None:
            self.stdout.write("No data is loaded; nothing to backtest.")
            return
        try:
            runs = services.accuracy_refresh(only_outdated=if_outdated)
        except rules.ForecastError as error:
            raise CommandError(str(error), returncode=2) from None
        if not runs:
            self.stdout.write("The accuracy figures are up to date; nothing to backtest.")
        for run in runs:
            self.stdout.write(
                f"{run.method}, lags {run.lags_choice}, {run.holdout} years ahead "
                f"(model version {run.model_version}): median MAPE {_figure(run.median_mape)}%, "
                f"mean MAPE {_figure(run.mean_mape)}%, coverage {_figure(run.coverage, 100, 1)}%, "
                f"interval score {_figure(run.interval_score, 1, 1)} ({run.region_count} regions)."
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


def _figure(value: float | None, scale: float = 1, digits: int = 2) -> str:
    return "—" if value is None else f"{value * scale:.{digits}f}"
