"""Backtests: the service's figures, the backtest command, the accuracy page and API, run pages."""

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from pytest_django.asserts import assertContains
from rest_framework.test import APIClient

from forecasts import modeling, rules, selectors, services
from forecasts.models import BacktestResult, BacktestRun, Region

pytestmark = pytest.mark.django_db


def backtest(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("backtest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_backtest_figures_equal_a_direct_computation_on_france(small_dataset):
    france = Region.objects.get(code=250)
    run = services.backtest_run_create(regions=[france], holdout=10, method="levels", lags=1)

    years, persons = selectors.region_series(region=france)
    direct = modeling.forecast(years[:-10], persons[:-10], start=2011, end=2020, lags=1)
    predicted = np.array([point.value for point in direct.points])
    actual = np.array(persons[-10:], dtype=float)
    errors = np.abs(predicted - actual) / actual * 100
    inside = [
        point.lower <= value <= point.upper
        for point, value in zip(direct.points, actual, strict=True)
    ]
    result = run.results.get()
    assert result.region_code == 250 and result.region_name == "France"
    assert result.mape == pytest.approx(errors.mean(), rel=1e-12)
    assert result.errors_by_horizon == pytest.approx(errors.tolist(), rel=1e-12)
    assert result.coverage == pytest.approx(sum(inside) / 10)
    assert run.median_mape == pytest.approx(errors.mean(), rel=1e-12)
    assert run.interval == "model" and run.method == "levels" and run.lags == 1


def test_backtest_of_every_region_stores_one_result_per_region(small_dataset):
    run = services.backtest_run_create(holdout=10)

    with_data = Region.objects.with_data().count()
    assert run.region_count == with_data == run.results.count()
    assert run.method == rules.DEFAULT_METHOD and run.lags == rules.DEFAULT_LAGS
    assert run.dataset == small_dataset and run.holdout == 10
    mapes = sorted(result.mape for result in run.results.all())
    assert run.median_mape == pytest.approx(float(np.median(mapes)))
    assert len(run.median_errors_by_horizon) == 10


def test_backtest_with_auto_lags_stores_no_number_and_the_lags_fitted(small_dataset):
    run = services.backtest_run_create(
        regions=[Region.objects.get(code=900)], method="levels", lags="auto"
    )

    assert run.lags is None and run.lags_choice == "auto"
    assert rules.LAGS_MIN <= run.results.get().lags <= rules.LAGS_MAX


def test_backtest_lists_regions_that_cannot_be_backtested(small_dataset):
    france = Region.objects.get(code=250)
    run = services.backtest_run_create(regions=[france], holdout=50, method="diff2", lags=10)

    assert run.region_count == 0 and run.median_mape is None
    assert run.failures[0]["name"] == "France"
    assert "After holding out 50 years" in run.failures[0]["error"]


def test_backtest_command_prints_regions_by_error_and_a_summary(small_dataset):
    out, err = backtest("--all", "--method", "levels", "--lags", "1")

    lines = out.splitlines()
    assert lines[0].split() == ["Region", "MAPE", "Coverage", "h=1", "h=5", "h=10"]
    run = BacktestRun.objects.get()
    table = lines[1 : 1 + run.region_count]
    mapes = [float(line.split()[-5].rstrip("%")) for line in table]
    assert mapes == sorted(mapes)
    assert f"median MAPE {run.median_mape:.2f}%" in out
    assert f"interval coverage {run.coverage:.1%}" in out
    assert f"Saved backtest run {run.pk}" in err


def test_backtest_command_takes_regions_holdout_and_auto_lags(small_dataset):
    out, _ = backtest("--region", "France", "--region", "900", "--holdout", "5", "--lags", "auto")

    run = BacktestRun.objects.get()
    assert run.holdout == 5 and run.lags is None
    assert {result.region_code for result in run.results.all()} == {250, 900}
    assert "h=10" not in out and "lags=auto" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--holdout", "0"], "The holdout must be a whole number of years from 1 to 50"),
        (["--lags", "11"], "Lags must be"),
        (["--region", "Atlantis"], "Unknown region(s): 'Atlantis'"),
        (["--region", "900", "--all"], "Give --region or --all, not both."),
        (["--site", "--holdout", "10"], "--site backtests the site's own models and horizons"),
        (["--site", "--method", "levels"], "give it without --region, --holdout, --method"),
        (["--if-outdated"], "--if-outdated goes with --site."),
    ],
)
def test_backtest_command_refuses_bad_arguments_with_a_message(small_dataset, args, message):
    with pytest.raises(CommandError) as raised:
        backtest(*args)
    assert message in str(raised.value)
    assert not BacktestRun.objects.exists()


def test_backtest_command_without_data_says_so(db):
    with pytest.raises(CommandError) as raised:
        backtest()
    assert "No data is loaded yet" in str(raised.value)


def test_accuracy_page_without_a_backtest_tells_the_command(client, small_dataset):
    response = client.get("/accuracy/")

    assert response.status_code == 200
    assertContains(response, "manage.py backtest --all")


def test_accuracy_page_shows_the_summary_and_regions_by_error(client, small_dataset):
    run = services.backtest_run_create(method="levels", lags=1)

    response = client.get("/accuracy/")

    assertContains(response, f"{run.median_mape:.2f}%")
    names = [row["result"].region_name for row in response.context["results"]]
    ordered = [result.region_name for result in run.results.order_by("mape", "region_code")]
    assert names == ordered
    assertContains(response, "model-based")


def test_accuracy_page_shows_the_latest_backtest_before_the_site_models_have_one(
    client, small_dataset
):
    services.backtest_run_create(method="levels", lags=2)
    latest = services.backtest_run_create(method="diff", lags=2)

    response = client.get("/accuracy/")

    assert response.context["backtest_run"] == latest
    assertContains(response, "diff, lags 2")


def test_a_later_manual_backtest_does_not_replace_the_site_models_accuracy(client, small_dataset):
    site = services.backtest_run_create(method=rules.DEFAULT_METHOD, lags=rules.DEFAULT_LAGS)
    services.backtest_run_create(method="diff", lags=2)

    response = client.get("/accuracy/")

    assert response.context["backtest_run"] == site


def test_accuracy_api_returns_the_latest_backtest(small_dataset):
    run = services.backtest_run_create(method="levels", lags="auto")

    data = APIClient().get("/api/accuracy/").json()

    assert data["id"] == run.pk and data["method"] == "levels" and data["lags"] == "auto"
    assert data["median_mape"] == pytest.approx(run.median_mape)
    assert data["coverage"] == pytest.approx(run.coverage)
    mapes = [region["mape"] for region in data["regions"]]
    assert mapes == sorted(mapes) and len(mapes) == run.region_count
    assert set(data["regions"][0]) == {"region", "lags", "mape", "coverage", "errors_by_horizon"}


def test_accuracy_api_without_a_backtest_is_not_found_with_the_command(small_dataset):
    response = APIClient().get("/api/accuracy/")

    assert response.status_code == 404
    assert "manage.py backtest" in response.json()["detail"]


def test_accuracy_api_without_data_is_a_conflict(db):
    assert APIClient().get("/api/accuracy/").status_code == 409


def test_run_page_shows_each_regions_latest_backtest_error(client, small_dataset):
    regions = selectors.regions_for_forecast(identifiers=["900", "250"])
    services.backtest_run_create(regions=regions[:1], method="levels", lags=1)
    newer = services.backtest_run_create(regions=regions[:1], method="levels", lags=1)
    run = services.forecast_run_create(
        regions=regions, start=2030, end=2031, method="levels", lags=1
    ).run

    response = client.get(run.get_absolute_url())

    world, france = response.context["results"]
    assert world.backtest_mape == BacktestResult.objects.get(run=newer).mape
    assert world.backtest_holdout == newer.holdout
    assert france.backtest_mape is None
    assertContains(response, f"{world.backtest_mape:.2f}% ({newer.holdout} years ahead)")


@pytest.mark.parametrize(
    ("errors", "end", "last_year", "shown"),
    [
        ({10: 1.0, 20: 2.0, 30: 3.0}, 2036, 2020, (2.0, 20)),  # 16 years: 20 is nearest
        ({10: 1.0, 20: 2.0, 30: 3.0}, 2035, 2020, (2.0, 20)),  # 15: a tie, the longer
        ({10: 1.0, 30: 3.0}, 2100, 1996, (3.0, 30)),  # data stopping early reach further
        ({10: 1.0, 20: 2.0}, 2030, None, (1.0, 10)),  # a run stored before the reach was kept
        (None, 2030, 2020, (None, None)),  # no backtest of this method and lags
    ],
)
def test_backtest_error_picks_the_holdout_nearest_the_reach(errors, end, last_year, shown):
    found = services.forecasts.backtest_error(errors, end, last_year)
    assert (found["backtest_mape"], found["backtest_holdout"]) == shown


@pytest.mark.parametrize(
    ("end", "holdout"), [(2025, 10), (2035, 20), (2050, 30), (2100, 30)], ids=str
)
def test_the_backtest_error_shown_is_the_one_nearest_the_forecasts_reach(
    client, small_dataset, end, holdout
):
    """The site backtests 10, 20 and 30 years ahead; beside a forecast the run page and the API
    show the error of the one whose holdout is nearest to how far the forecast reaches past the
    data (to 2035 from 2020: 15 years, the longer of 10 and 20 on a tie), and say which. The
    newest alone was the 30-year one, shown beside a 5-year forecast without its horizon."""
    regions = selectors.regions_for_forecast(identifiers=["900"])
    errors = {
        years: BacktestResult.objects.get(
            run=services.backtest_run_create(regions=regions, holdout=years)
        ).mape
        for years in (10, 20, 30)
    }
    assert len(set(errors.values())) == 3
    run = services.forecast_run_create(regions=regions, start=2021, end=end).run

    [world] = client.get(run.get_absolute_url()).context["results"]
    api = APIClient().get(f"/api/forecast/?regions=900&from=2021&to={end}").json()

    assert (world.backtest_mape, world.backtest_holdout) == (errors[holdout], holdout)
    assert api["results"][0]["backtest_mape"] == pytest.approx(errors[holdout])
    assert api["results"][0]["backtest_holdout"] == holdout


def test_run_page_ignores_backtests_of_another_model(client, small_dataset):
    regions = selectors.regions_for_forecast(identifiers=["900"])
    services.backtest_run_create(regions=regions, method="levels", lags=2)
    run = services.forecast_run_create(
        regions=regions, start=2030, end=2031, method="levels", lags=1
    ).run

    response = client.get(run.get_absolute_url())

    assert response.context["results"][0].backtest_mape is None


def test_backtest_leaves_the_forecasts_calibration_table_in_the_cache(small_dataset, monkeypatch):
    services.backtest_run_create(regions=[Region.objects.get(code=900)], lags="auto")
    monkeypatch.setattr(modeling, "calibrate", lambda *args, **kwargs: pytest.fail("recomputed"))

    [world] = services.forecast_compute(
        regions=[Region.objects.get(code=900)], start=2030, end=2031, lags="auto"
    )

    assert world.interval == "calibrated"


def test_an_import_backtests_both_site_models_at_10_20_and_30_years(settings, wpp2019_file, client):
    settings.ACCURACY_AFTER_IMPORT = True
    services.dataset_import(source=str(wpp2019_file))

    runs = BacktestRun.objects.all()
    assert {(run.method, run.lags_choice, run.holdout) for run in runs} == {
        (method, lags, holdout)
        for method, lags in rules.SITE_MODELS
        for holdout in rules.ACCURACY_HOLDOUTS
    }
    for run in runs:
        assert run.region_count == 285
        assert run.median_mape > 0 and run.mean_mape >= run.median_mape * 0.5
        assert 0 <= run.coverage <= 1 and run.interval_score > 0
    page = client.get("/accuracy/")
    rows = page.context["summary"]
    assert [(row["run"].method, row["run"].holdout) for row in rows][:3] == [
        (rules.DEFAULT_METHOD, 10),
        (rules.DEFAULT_METHOD, 20),
        (rules.DEFAULT_METHOD, 30),
    ]
    api = client.get("/api/accuracy/").json()
    assert [row["holdout"] for row in api["horizons"]] == [10, 20, 30, 10, 20, 30]
    assert api["method"] == rules.DEFAULT_METHOD and api["holdout"] == 10


def test_a_backtest_names_the_version_of_the_model_it_measured(small_dataset):
    damped = services.backtest_run_create(method=rules.DAMPED_METHOD, lags=rules.DEFAULT_LAGS)
    levels = services.backtest_run_create(method="levels", lags=1)

    assert damped.model_version == modeling.longrange.MODEL_VERSION
    assert levels.model_version == modeling.versions.AUTOREG_VERSION
    assert damped.is_current and levels.is_current


def _measured_with_an_earlier_model(run):
    """As if ``run`` had been stored before an upgrade that changed the model."""
    BacktestRun.objects.filter(pk=run.pk).update(model_version=run.model_version - 1)


def test_figures_of_an_earlier_model_version_are_not_shown_as_the_sites_accuracy(
    client, small_dataset
):
    site = services.backtest_run_create(
        method=rules.DEFAULT_METHOD, lags=rules.DEFAULT_LAGS, holdout=10
    )
    _measured_with_an_earlier_model(site)

    page = client.get("/accuracy/")
    api = APIClient().get("/api/accuracy/").json()

    assert page.context["summary"] == [] and "horizons-table" not in page.content.decode()
    assertContains(page, "measured with an earlier version of the model")
    assertContains(page, "backtest --site --if-outdated")
    assertContains(page, "(an earlier version of this model)")
    assert api["horizons"] == [] and api["current"] is False
    assert api["model_version"] == modeling.longrange.MODEL_VERSION - 1


def test_backtest_site_computes_again_only_the_figures_of_an_earlier_model(small_dataset):
    backtest("--site")
    site = selectors.accuracy_summary(dataset=small_dataset)
    assert {(run.method, run.holdout) for run in site} == {
        (method, holdout) for method, _ in rules.SITE_MODELS for holdout in (10, 20, 30)
    }
    outdated = site[1]
    _measured_with_an_earlier_model(outdated)
    before = set(BacktestRun.objects.values_list("pk", flat=True))

    out, _ = backtest("--site", "--if-outdated")

    added = BacktestRun.objects.exclude(pk__in=before)
    assert [(run.method, run.holdout) for run in added] == [(outdated.method, outdated.holdout)]
    assert f"{outdated.holdout} years ahead" in out and added.get().is_current
    assert len(selectors.accuracy_summary(dataset=small_dataset)) == len(site)
    assert "up to date" in backtest("--site", "--if-outdated")[0]


def test_backtest_site_if_outdated_without_data_is_not_an_error(db):
    out, _ = backtest("--site", "--if-outdated")

    assert "No data is loaded" in out and not BacktestRun.objects.exists()
