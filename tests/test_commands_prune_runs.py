"""`prune_runs --older-than DAYS`: history retention for forecast runs."""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from forecasts import services
from forecasts.models import Dataset, ForecastPoint, ForecastRun, Region, YearlyPopulation

from .conftest import ROOT


@pytest.fixture
def runs_by_age(small_dataset):
    """Forecast runs created 100, 31, 29 and 0 days ago, keyed by age."""
    france = Region.objects.get(code=250)
    runs = {}
    for age in [100, 31, 29, 0]:
        run = services.forecast_run_create(regions=[france], start=2019, end=2022).run
        ForecastRun.objects.filter(pk=run.pk).update(
            created_at=timezone.now() - timedelta(days=age)
        )
        runs[age] = run
    return runs


def prune(*args):
    out = StringIO()
    call_command("prune_runs", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_prune_deletes_only_runs_older_than_the_given_days(runs_by_age):
    output = prune("--older-than", "30")
    assert "Deleted 2 forecast runs older than 30 days." in output
    kept = set(ForecastRun.objects.values_list("pk", flat=True))
    assert kept == {runs_by_age[29].pk, runs_by_age[0].pk}
    assert set(ForecastPoint.objects.values_list("run_id", flat=True)) == kept


@pytest.mark.django_db
def test_prune_leaves_the_imported_data_alone(runs_by_age):
    values = YearlyPopulation.objects.count()
    prune("--older-than", "1")
    assert ForecastRun.objects.count() == 1
    assert YearlyPopulation.objects.count() == values
    assert Dataset.objects.filter(is_active=True).exists()


@pytest.mark.django_db
def test_prune_dry_run_counts_and_deletes_nothing(runs_by_age):
    output = prune("--older-than", "30", "--dry-run")
    assert "Would delete 2 forecast runs older than 30 days" in output
    assert ForecastRun.objects.count() == 4


@pytest.mark.django_db
def test_prune_with_nothing_old_enough_says_so(runs_by_age):
    assert "Deleted 0 forecast runs older than 365 days." in prune("--older-than", "365")
    assert ForecastRun.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "0 is out of range: give 1 to 36500 days"),
        ("-5", "-5 is out of range"),
        ("ninety", "'ninety' is not a whole number of days."),
        ("99999999999", "out of range"),
    ],
)
def test_prune_refuses_a_bad_number_of_days(runs_by_age, value, message):
    with pytest.raises(CommandError, match=message):
        prune("--older-than", value)
    assert ForecastRun.objects.count() == 4


def test_prune_requires_older_than():
    with pytest.raises(CommandError, match="--older-than"):
        prune()


def test_prune_bad_argument_exits_non_zero_with_a_message():
    result = subprocess.run(
        [sys.executable, "manage.py", "prune_runs", "--older-than", "soon"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY") or "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "'soon' is not a whole number of days." in result.stderr
    assert "Traceback" not in result.stderr


def test_prune_help_explains_the_command():
    result = subprocess.run(
        [sys.executable, "manage.py", "help", "prune_runs"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY") or "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "--older-than DAYS" in result.stdout
    assert "--dry-run" in result.stdout
    assert "Delete stored forecast runs" in result.stdout
