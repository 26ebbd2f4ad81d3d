"""Methods and lags in every front door: the recommended default, "auto", the original app's model,
calibrated intervals, and forecasting every region at once."""

import dataclasses
import io
import json

import pytest
from django.core.management import CommandError, call_command
from pytest_django.asserts import assertContains
from rest_framework.test import APIClient

from forecasts import active_data as active_data_module
from forecasts import modeling, rules, selectors, services
from forecasts.active_data import active_data
from forecasts.modeling import damped
from forecasts.models import ForecastRun, Region
from forecasts.services.calibration import forecast_calibration

pytestmark = pytest.mark.django_db


def regions(*codes):
    return selectors.regions_for_forecast(identifiers=[str(code) for code in codes])


def command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("forecast", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# Services


def test_default_is_the_recommended_method_and_lags(small_dataset):
    run = services.forecast_run_create(regions=regions(900), start=2030, end=2031).run

    assert run.method == rules.DEFAULT_METHOD == "damped"
    assert run.lags == rules.DEFAULT_LAGS
    assert run.regions == [
        {
            "code": 900,
            "name": "WORLD",
            "lags": rules.DEFAULT_LAGS,
            "last_recorded_year": 2020,
            "history_note": "",
        }
    ]


def test_the_default_forecast_has_calibrated_intervals(small_dataset):
    [world] = services.forecast_compute(regions=regions(900), start=2025, end=2026)

    data = active_data()
    table = forecast_calibration(data, method=rules.DEFAULT_METHOD, lags=rules.DEFAULT_LAGS)
    [calibrated] = damped.forecast_many(
        [data.history(900)], start=2025, end=2026, level=0.95, table=table, keys=[900]
    )
    [uncalibrated] = damped.forecast_many(
        [data.history(900)], start=2025, end=2026, level=0.95, table=None, keys=[900]
    )
    assert world.interval == "calibrated" and world.interval_label == "calibrated"
    assert world.points == calibrated.points
    assert world.points[0].value == uncalibrated.points[0].value
    assert world.points[0].lower != uncalibrated.points[0].lower


def test_calibrated_autoreg_methods_stretch_the_models_intervals(small_dataset):
    [world] = services.forecast_compute(regions=regions(900), start=2025, end=2026, method="diff2")

    data = active_data()
    table = forecast_calibration(data, method="diff2", lags=rules.DEFAULT_LAGS)
    years, persons = data.history(900)
    model = modeling.forecast(
        years, persons, start=2025, end=2026, method="diff2", lags=rules.DEFAULT_LAGS
    )
    calibrated = modeling.calibrated(model, table, last_year=2020, factor=table.factor(900))
    assert world.interval == "calibrated"
    assert world.points == calibrated.points
    assert world.points[0].lower != model.points[0].lower


def test_the_original_apps_model_keeps_model_based_intervals(small_dataset):
    [world] = services.forecast_compute(
        regions=regions(900), start=2030, end=2031, method="levels", lags=1
    )

    years, persons = active_data().history(900)
    assert world.interval == "model" and world.interval_label == "model-based"
    assert world.points == modeling.forecast(years, persons, start=2030, end=2031, lags=1).points


def test_calibration_table_is_computed_once_per_dataset_and_model(small_dataset, monkeypatch):
    calls = []
    for module in (modeling, damped):
        real = module.calibrate
        monkeypatch.setattr(
            module, "calibrate", lambda *a, real=real, **k: calls.append(1) or real(*a, **k)
        )

    for _ in range(2):
        services.forecast_compute(regions=regions(900), start=2030, end=2031)
    for _ in range(2):
        services.forecast_compute(regions=regions(900), start=2030, end=2031, method="diff2")
    services.forecast_compute(regions=regions(900), start=2030, end=2031, method="diff2", lags=2)

    # The default (damped) model's table was stored with the dataset at import: none is built.
    assert len(calls) == 2


def test_auto_lags_are_stored_as_asked_and_chosen_per_region(small_dataset):
    run = services.forecast_run_create(
        regions=regions(900, 250), start=2030, end=2031, method="levels", lags="auto"
    ).run

    series = {code: active_data().history(code) for code in (900, 250)}
    assert run.lags is None and run.lags_choice == "auto"
    assert [region["lags"] for region in run.regions] == [
        modeling.select_lags(series[900][1]),
        modeling.select_lags(series[250][1]),
    ]
    assert [result.lags for result in services.forecast_run_results(run)] == [
        region["lags"] for region in run.regions
    ]


def test_multi_region_forecast_equals_one_region_at_a_time(small_dataset):
    together = services.forecast_compute(regions=regions(900, 250, 336), start=2030, end=2035)

    for result in together:
        [alone] = services.forecast_compute(regions=regions(result.code), start=2030, end=2035)
        assert alone.points == result.points


def test_every_region_that_cannot_be_fitted_is_named(small_dataset):
    with pytest.raises(rules.ForecastError) as raised:
        services.forecast_compute(
            regions=[*regions(900, 250)], start=2030, end=2031, method="diff2", lags=40
        )
    assert "Lags must be" in str(raised.value)

    short = Region.objects.create(code=9999, name="Tiny Isle", first_year=2019, last_year=2020)
    short.populations.create(variant="Estimates", year=2019, persons=10)
    short.populations.create(variant="Estimates", year=2020, persons=11)
    active_data_module.forget()  # rows written by hand, not by an import
    with pytest.raises(rules.ForecastError) as raised:
        services.forecast_compute(regions=[short, *regions(250)], start=2030, end=2031)
    assert str(raised.value).startswith("Tiny Isle: The history has 2 years")
    assert "France" not in str(raised.value)


def test_database_refuses_unknown_methods_and_lags_out_of_range(small_dataset):
    from django.db import IntegrityError, transaction

    run = services.forecast_run_create(regions=regions(900), start=2030, end=2031).run
    for field, value in (("method", "magic"), ("lags", 11), ("interval", "vibes")):
        with pytest.raises(IntegrityError), transaction.atomic():
            ForecastRun.objects.filter(pk=run.pk).update(**{field: value})


def test_rerun_keeps_method_and_auto_lags(small_dataset):
    run = services.forecast_run_create(
        regions=regions(900), start=2030, end=2031, method="growth", lags="auto"
    ).run

    again = services.forecast_run_rerun(run=run).run

    assert (again.method, again.lags) == ("growth", None)


# Form


def test_form_offers_the_models_with_the_original_labelled(client, small_dataset):
    response = client.get("/")

    assertContains(response, '<select name="method"')
    assertContains(response, "the original app&#x27;s model")
    assertContains(response, "(recommended)")
    assert response.context["form"]["method"].initial == "damped"


def test_form_posts_method_and_auto_lags(client, small_dataset):
    response = client.post(
        "/",
        {
            "regions": ["900"],
            "from": "2030",
            "to": "2031",
            "method": "log",
            "lags": "Auto",
            "level": "0.9",
        },
    )

    run = ForecastRun.objects.get()
    assert response.status_code == 302
    assert (run.method, run.lags, run.level) == ("log", None, 0.9)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lags", "two", 'Lags must be a whole number from 1 to 10, or "auto"'),
        ("lags", "11", "Lags must be"),
        ("lags", "", "Enter the number of lags, or auto."),
        ("method", "magic", "Choose one of the models in the list"),
    ],
)
def test_form_names_the_field_with_a_bad_model_setting(
    client, small_dataset, field, value, message
):
    data = {
        "regions": ["900"],
        "from": "2030",
        "to": "2031",
        "method": "diff2",
        "lags": "3",
        "level": "0.95",
    }
    data[field] = value

    response = client.post("/", data)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])


def test_run_page_shows_the_model_lags_chosen_and_interval_kind(client, small_dataset):
    run = services.forecast_run_create(
        regions=regions(900), start=2030, end=2031, method="levels", lags="auto"
    ).run

    response = client.get(run.get_absolute_url())

    assertContains(response, f"auto (chosen by AIC: {run.regions[0]['lags']})")
    assertContains(response, "model-based")
    assertContains(response, "lags=auto")  # "Forecast again" keeps the settings
    assertContains(response, "method=levels")


def test_run_page_of_the_default_model_says_calibrated(client, small_dataset):
    run = services.forecast_run_create(regions=regions(900), start=2030, end=2031).run

    assertContains(client.get(run.get_absolute_url()), "95%, calibrated")


# API


def test_api_takes_method_and_auto_lags(small_dataset):
    data = (
        APIClient()
        .get(
            "/api/forecast/",
            {"regions": "900", "from": 2030, "to": 2031, "method": "levels", "lags": "auto"},
        )
        .json()
    )

    assert data["params"]["method"] == "levels" and data["params"]["lags"] == "auto"
    series = active_data().history(900)
    assert data["results"][0]["lags"] == modeling.select_lags(series[1])
    assert data["results"][0]["interval"] == "model-based"


def test_api_defaults_to_the_recommended_model(small_dataset):
    data = APIClient().get("/api/forecast/", {"regions": "900", "from": 2030, "to": 2031}).json()

    assert data["params"]["method"] == "damped" and data["params"]["lags"] == 3
    assert data["results"][0]["interval"] == "calibrated"


def test_api_run_stores_method_and_lags(small_dataset):
    response = APIClient().post(
        "/api/runs/",
        {"regions": ["900"], "from": 2030, "to": 2031, "method": "growth", "lags": "auto"},
        format="json",
    )

    assert response.status_code == 201
    params = response.json()["params"]
    assert (params["method"], params["lags"], params["interval"]) == (
        "growth",
        "auto",
        "calibrated",
    )


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("lags", "sometimes", 'or "auto"'),
        ("lags", "0", "from 1 to 10"),
        ("lags", "1.5", 'or "auto"'),
        ("method", "magic", "is not a method"),
    ],
)
def test_api_names_the_field_with_a_bad_model_setting(small_dataset, field, value, words):
    query = {"regions": "900", "from": 2030, "to": 2031, field: value}

    response = APIClient().get("/api/forecast/", query)

    assert response.status_code == 400
    assert words in " ".join(response.json()[field])


def test_api_json_body_lags_true_is_refused(small_dataset):
    response = APIClient().post(
        "/api/runs/", {"regions": ["900"], "from": 2030, "to": 2031, "lags": True}, format="json"
    )

    assert response.status_code == 400 and "lags" in response.json()


# Command


def test_command_takes_method_and_auto_lags_and_says_what_it_chose(small_dataset):
    out, _ = command(
        "--region", "900", "--from", "2030", "--to", "2031", "--method", "levels", "--lags", "auto"
    )

    series = active_data().history(900)
    assert f"method=levels, lags=auto (chosen by AIC: {modeling.select_lags(series[1])})" in out


def test_command_names_the_original_apps_model(small_dataset):
    out, _ = command(
        "--region", "900", "--from", "2030", "--to", "2031", "--method", "levels", "--lags", "1"
    )

    assert "method=levels, lags=1 (the original app's model)" in out


def test_command_refuses_bad_lags_with_a_message(small_dataset):
    with pytest.raises(CommandError) as raised:
        command("--region", "900", "--from", "2030", "--to", "2031", "--lags", "often")
    assert 'or "auto"' in str(raised.value)


def test_command_all_forecasts_every_region_with_data(small_dataset):
    out, err = command("--all", "--from", "2030", "--to", "2032", "--save", "--format", "json")

    run = ForecastRun.objects.get()
    with_data = list(Region.objects.with_data().values_list("code", flat=True))
    assert sorted(run.region_codes) == sorted(with_data)
    assert run.points.count() == 3 * len(with_data)
    assert len(json.loads(out)["results"]) == len(with_data)


def test_command_all_is_not_limited_to_twenty_regions(small_dataset):
    for code in range(5000, 5000 + rules.MAX_REGIONS):
        region = Region.objects.create(
            code=code, name=f"Isle {code}", first_year=1950, last_year=2020
        )
        region.populations.bulk_create(
            [
                region.populations.model(
                    region=region, variant="Estimates", year=year, persons=1000 + year
                )
                for year in range(1950, 2021)
            ]
        )

    command("--all", "--from", "2030", "--to", "2030", "--save")

    assert len(ForecastRun.objects.get().regions) > rules.MAX_REGIONS


def test_command_all_and_region_together_are_refused(small_dataset):
    with pytest.raises(CommandError, match="not both"):
        command("--all", "--region", "900", "--from", "2030", "--to", "2031")


def test_a_vanishingly_small_level_keeps_the_models_zero_width_interval(small_dataset):
    [world] = services.forecast_compute(
        regions=regions(900), start=2030, end=2030, level=5e-324, method="diff2"
    )

    assert world.interval == "model"
    assert world.points[0].lower == world.points[0].value == world.points[0].upper


def test_region_outlooks_are_fitted_in_one_batch_with_the_same_numbers(small_dataset, monkeypatch):
    """The first region page fits every region's outlook at once; each is what a fit of that
    region alone gives, and later pages fit nothing."""
    from forecasts.active_data import active_data
    from forecasts.services import forecasts as forecasts_module

    data = active_data()
    regions = data.regions_with_data()
    alone = {region.code: forecasts_module._outlook(data, region) for region in regions}
    calls = []
    real = forecasts_module.forecast_compute
    monkeypatch.setattr(
        forecasts_module, "forecast_compute", lambda **kw: calls.append(kw) or real(**kw)
    )

    batched = {region.code: services.region_outlook(data=data, region=region) for region in regions}

    assert len(calls) == 1 and len(calls[0]["regions"]) == len(regions) > 1
    for code, outlook in alone.items():
        assert batched[code].points == outlook.points
        assert (batched[code].lags, batched[code].interval) == (outlook.lags, outlook.interval)


def test_each_region_is_fitted_once_per_data_version(small_dataset, monkeypatch):
    """A fit depends on the history alone: other years and levels reuse it (forecast requests
    spent half their time refitting); new data is fitted anew."""
    from forecasts.modeling import longrange

    calls = []
    original_fit = longrange.fit
    monkeypatch.setattr(longrange, "fit", lambda m: calls.append(len(m)) or original_fit(m))
    world = [Region.objects.get(code=900)]
    services.forecast_compute(regions=world, start=2030, end=2035)
    services.forecast_compute(regions=world, start=2040, end=2050, level=0.8)
    assert calls == [1]
    active_data_module.forget()
    services.forecast_compute(regions=world, start=2030, end=2035)
    assert calls == [1, 1]


def test_a_stored_run_reads_back_exactly_the_numbers_it_was_computed_with(small_dataset):
    data = active_data()
    regions = [data.regions[code] for code in (900, 250, 336)]
    stored = services.forecast_run_create(data=data, regions=regions, start=2015, end=2100)

    again = services.forecast_run_results(ForecastRun.objects.get(pk=stored.run.pk), data=data)

    computed = [(r.code, [dataclasses.astuple(p) for p in r.points]) for r in stored.results]
    read = [(r.code, [dataclasses.astuple(p) for p in r.points]) for r in again]
    assert read == computed  # bit for bit: values, bounds and actuals (None where none)
    assert any(p.actual is None for p in again[0].points)
    assert any(p.actual is not None for p in again[0].points)
