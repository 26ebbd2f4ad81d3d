import argparse

from django.core.management.base import BaseCommand

from forecasts import rules, services

MAX_DAYS = rules.PRUNE_MAX_DAYS


def days(text: str) -> int:
    """A whole number of days from 1 to MAX_DAYS, for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days.") from None
    if not 1 <= value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"{value} is out of range: give 1 to {MAX_DAYS} days (100 years)."
        )
    return value


class Command(BaseCommand):
    help = (
        "Delete stored forecast runs (with their results) created more than DAYS days ago, to keep "
        "the run history to a chosen period. Imported data is not touched. "
        "Example: prune_runs --older-than 90 --dry-run"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            dest="older_than_days",
            type=days,
            required=True,
            metavar="DAYS",
            help=f"Delete runs created more than DAYS days ago (1 to {MAX_DAYS}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the runs that would be deleted; delete nothing.",
        )

    def handle(self, *args, older_than_days, dry_run, **options):
        count = services.forecast_runs_prune(older_than_days=older_than_days, dry_run=dry_run)
        runs = "run" if count == 1 else "runs"
        if dry_run:
            self.stdout.write(
                f"Would delete {count} forecast {runs} older than {older_than_days} days "
                "(dry run: nothing was deleted)."
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Deleted {count} forecast {runs} older than {older_than_days} days."
                )
            )
