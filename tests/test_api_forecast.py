"""REST API: GET /api/forecast/ (computed, not stored, cached per dataset and parameters)."""

import io
import json
import math
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from forecasts import modeling, page_cache, presenters, services
from forecasts.api.serializers import PointOutputSerializer
from forecasts.models import ForecastRun, Region, YearlyPopulation

pytestmark = pytest.mark.django_db

ALL_CODES = [900, 901, 902, 384, 336, 250]


@pytest.fixture
def api():
    return APIClient()


def forecast(api, **query):
    return api.get("/api/forecast/", query)


def test_forecast_has_dataset_params_and_results(api, small_dataset):
    response = forecast(api, regions="900,250", **{"from": 2030, "to": 2032})
    assert response.status_code == 200
    data = response.json()
    assert data["dataset"] == {"id": small_dataset.pk, "edition": "WPP2019"}
    assert data["params"] == {
        "regions": [900, 250],
        "from": 2030,
        "to": 2032,
        "method": "damped",
        "lags": 3,
        "level": 0.95,
    }
    assert [result["region"] for result in data["results"]] == [
        {"code": 900, "name": "WORLD"},
        {"code": 250, "name": "France"},
    ]
    assert [point["year"] for point in data["results"][0]["points"]] == [2030, 2031, 2032]


def test_forecast_values_are_the_services_unrounded_numbers(api, small_dataset):
    data = forecast(api, regions="900,901", **{"from": 2019, "to": 2022, "lags": 2}).json()
    expected = services.forecast_compute(
        regions=list(Region.objects.filter(code__in=[900, 901]).order_by("code")),
        start=2019,
        end=2022,
        lags=2,
    )
    for result, wanted in zip(data["results"], expected, strict=True):
        assert result["points"] == [
            {
                "year": point.year,
                "value": point.value,
                "lower": point.lower,
                "upper": point.upper,
                "actual": point.actual,
            }
            for point in wanted.points
        ]
    point = data["results"][0]["points"][0]
    assert isinstance(point["value"], float) and isinstance(point["actual"], float)


def test_forecast_for_world_and_more_developed_equals_the_forecast_command(api, wpp2019_dataset):
    out = io.StringIO()
    call_command(
        "forecast", "--region", "900", "--region", "901", "--from", "2030", "--to", "2035",
        "--method", "levels", "--lags", "1", "--format", "json", stdout=out,
    )  # fmt: skip
    command = json.loads(out.getvalue())
    query = {"from": 2030, "to": 2035, "method": "levels", "lags": 1}
    data = forecast(api, regions="900,901", **query).json()
    assert data["results"] == command["results"]
    assert presenters.persons_rounded(data["results"][0]["points"][0]["value"]) == "8,745,733,000"
    assert presenters.persons_rounded(data["results"][1]["points"][0]["value"]) == "1,304,051,000"


def test_forecast_is_not_stored(api, small_dataset):
    forecast(api, regions="900", **{"from": 2030, "to": 2031})
    assert ForecastRun.objects.count() == 0


def test_forecast_keeps_the_order_asked_and_accepts_names(api, small_dataset):
    data = forecast(api, regions="france,901, WORLD", **{"from": 2030, "to": 2030}).json()
    assert data["params"]["regions"] == [250, 901, 900]
    assert [result["region"]["name"] for result in data["results"]] == [
        "France",
        "More developed regions",
        "WORLD",
    ]


def test_forecast_takes_long_names(api, small_dataset):
    names = ",".join(["More developed regions", "Less developed regions"] * 5)
    response = forecast(api, regions=names, **{"from": 2030, "to": 2030})
    assert response.status_code == 200
    assert response.json()["params"]["regions"] == [901, 902]


def test_forecast_takes_regions_as_a_repeated_parameter_too(api, small_dataset):
    response = api.get("/api/forecast/?regions=900&regions=250&from=2030&to=2030")
    assert response.json()["params"]["regions"] == [900, 250]


def test_forecast_years_inside_the_history_carry_the_recorded_value(api, small_dataset):
    query = {"from": 1950, "to": 1951, "method": "levels", "lags": 1}
    points = forecast(api, regions="900", **query).json()["results"][0]["points"]
    assert points[0]["value"] is None and points[0]["lower"] is None
    assert points[0]["actual"] == 2536431000.0
    assert points[1]["value"] is not None and points[1]["actual"] == 2584034000.0


def test_forecast_interval_widens_with_the_level(api, small_dataset):
    def width(level):
        point = forecast(api, regions="900", level=level, **{"from": 2030, "to": 2030}).json()
        point = point["results"][0]["points"][0]
        return point["upper"] - point["lower"]

    assert width(0.5) < width(0.95) < width(0.999)


def test_forecast_level_next_to_one_is_refused(api, small_dataset):
    # The largest float below 1 would give an interval with infinite ends.
    response = forecast(
        api, regions="900", level="0.9999999999999999", **{"from": 2030, "to": 2030}
    )
    assert response.status_code == 400
    assert "at most 0.9999" in str(response.json()["level"])


def test_infinite_interval_ends_are_written_as_null():
    point = modeling.Point(year=2030, value=1e9, lower=-math.inf, upper=math.inf, actual=None)
    assert PointOutputSerializer(point).data == {
        "year": 2030,
        "value": 1e9,
        "lower": None,
        "upper": None,
        "actual": None,
    }


BAD_QUERIES = [
    ({"from": 2030, "to": 2035}, "regions", "required"),
    ({"regions": "", "from": 2030, "to": 2035}, "regions", "at least one region"),
    ({"regions": ",,", "from": 2030, "to": 2035}, "regions", "at least one region"),
    ({"regions": "900,,901", "from": 2030, "to": 2035}, "regions", "An item between commas"),
    ({"regions": "900,", "from": 2030, "to": 2035}, "regions", "An item between commas"),
    ({"regions": ",".join(["900"] * 21), "from": 2030, "to": 2035}, "regions", "at most 20"),
    ({"regions": "900", "to": 2035}, "from", "required"),
    ({"regions": "900", "from": 2030}, "to", "required"),
    ({"regions": "900", "from": 2040, "to": 2030}, "from", "must not be after"),
    ({"regions": "900", "from": 1900, "to": 2030}, "from", "between 1950 and 2100"),
    ({"regions": "900", "from": 2030, "to": 2101}, "to", "between 1950 and 2100"),
    ({"regions": "900", "from": "20x0", "to": 2030}, "from", "valid integer"),
    ({"regions": "900", "from": 2030, "to": "2030.5"}, "to", "valid integer"),
    ({"regions": "900", "from": 2030, "to": 2031, "lags": 0}, "lags", "from 1 to 10"),
    ({"regions": "900", "from": 2030, "to": 2031, "lags": 11}, "lags", "from 1 to 10"),
    ({"regions": "900", "from": 2030, "to": 2031, "lags": "1.5"}, "lags", 'or "auto"'),
    ({"regions": "900", "from": 2030, "to": 2031, "lags": "two"}, "lags", 'or "auto"'),
    ({"regions": "900", "from": 2030, "to": 2031, "level": 0}, "level", "between 0 and 1"),
    ({"regions": "900", "from": 2030, "to": 2031, "level": 1}, "level", "between 0 and 1"),
    ({"regions": "900", "from": 2030, "to": 2031, "level": -0.5}, "level", "between 0 and 1"),
    ({"regions": "900", "from": 2030, "to": 2031, "level": "95%"}, "level", "valid number"),
    ({"regions": "900", "from": 2030, "to": 2031, "level": "nan"}, "level", "valid number"),
    ({"regions": "900", "from": 2030, "to": 2031, "level": "1e400"}, "level", "valid number"),
]


@pytest.mark.parametrize(("query", "field", "words"), BAD_QUERIES)
def test_forecast_rejects_bad_input_naming_the_field(api, small_dataset, query, field, words):
    response = api.get("/api/forecast/", query)
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words in " ".join(errors[field])


NOT_IN_DATA_REGIONS = [
    ("12345", "Unknown region(s): '12345'"),
    ("Atlantis", "'Atlantis'"),
    ("99999999999999999999", "Unknown"),
    ("²", "digits 0-9"),
    ("1803", "No population data"),
]


@pytest.mark.parametrize(("regions", "words"), NOT_IN_DATA_REGIONS)
def test_forecast_of_regions_the_data_lacks_is_not_found(api, small_dataset, regions, words):
    """A well-formed request naming regions the data does not have: 404, the message by field."""
    response = api.get("/api/forecast/", {"regions": regions, "from": 2030, "to": 2035})
    assert response.status_code == 404
    assert words in response.json()["regions"][0]
    assert response.json()["detail"] == response.json()["regions"][0]


def test_forecast_reports_every_bad_field_at_once(api, small_dataset):
    response = forecast(api, regions="Atlantis", lags=0, **{"from": 1800, "to": 2030})
    assert set(response.json()) == {"regions", "from", "lags"}


def test_forecast_lags_too_many_for_the_history_is_a_bad_request(api, small_dataset):
    Region.objects.filter(code=250).update(first_year=2015)
    YearlyPopulation.objects.filter(region_id=250, year__lt=2015).delete()
    response = forecast(api, regions="250", method="levels", lags=10, **{"from": 2030, "to": 2030})
    assert response.status_code == 400
    assert response.json()["regions"][0].startswith("France: ")


def test_forecast_without_data_is_a_conflict(api, db):
    response = forecast(api, regions="900", **{"from": 2030, "to": 2031})
    assert response.status_code == 409
    assert "No data is loaded" in response.json()["detail"]


def test_identical_forecast_is_answered_from_the_cache(api, small_dataset):
    query = {"regions": "900,901", "from": 2030, "to": 2035}
    with mock.patch.object(
        services.forecasts, "forecast_compute", wraps=services.forecast_compute
    ) as compute:
        first = api.get("/api/forecast/", query).json()
        second = api.get("/api/forecast/", query).json()
    assert compute.call_count == 1
    assert first == second


def test_forecast_cache_is_keyed_by_the_parameters(api, small_dataset):
    with mock.patch.object(
        services.forecasts, "forecast_compute", wraps=services.forecast_compute
    ) as compute:
        forward = forecast(api, regions="900,901", **{"from": 2030, "to": 2031}).json()
        backward = forecast(api, regions="901,900", **{"from": 2030, "to": 2031}).json()
        forecast(api, regions="900,901", lags=2, **{"from": 2030, "to": 2031})
        forecast(api, regions="900,901", level=0.8, **{"from": 2030, "to": 2031})
        forecast(api, regions="900,901", **{"from": 2030, "to": 2032})
    assert compute.call_count == 5
    assert forward["results"] == backward["results"][::-1]


def test_forecast_cache_is_keyed_by_the_dataset(api, small_dataset, small_wide_file):
    query = {"regions": "900", "from": 2030, "to": 2031}
    first = api.get("/api/forecast/", query).json()
    refreshed = services.dataset_import(source=str(small_wide_file))
    with mock.patch.object(
        services.forecasts, "forecast_compute", wraps=services.forecast_compute
    ) as compute:
        second = api.get("/api/forecast/", query).json()
    assert compute.call_count == 1
    assert second["dataset"]["id"] == refreshed.pk != first["dataset"]["id"]
    assert second["results"] == first["results"]


def test_forecast_of_every_region_with_data(api, small_dataset):
    response = forecast(api, regions=",".join(map(str, ALL_CODES)), **{"from": 2021, "to": 2025})
    assert response.status_code == 200
    assert [result["region"]["code"] for result in response.json()["results"]] == ALL_CODES


def test_repeated_forecast_is_answered_without_a_database_query(
    api, small_dataset, django_assert_num_queries
):
    params = {"regions": "900", "from": 2030, "to": 2031}
    first = forecast(api, **params)
    with django_assert_num_queries(0):
        second = forecast(api, **params)
    assert second.json() == first.json()


def test_new_import_is_not_answered_from_the_old_cache(api, small_dataset, small_long_file):
    before = forecast(api, regions="900", **{"from": 2030, "to": 2031})
    assert before.status_code == 200
    services.dataset_import(source=str(small_long_file))
    after = forecast(api, regions="900", **{"from": 2030, "to": 2031})
    assert after.status_code == 404


def test_a_repeated_forecast_is_answered_from_the_workers_memory_byte_for_byte(api, small_dataset):
    """The second identical question is neither validated nor looked up again: the first
    answer's bytes are kept (page_cache.cached_answer), per data generation and query string."""
    path = "/api/forecast/?regions=900,901&from=2030&to=2035"
    with mock.patch.object(
        services, "forecast_document", wraps=services.forecast_document
    ) as document:
        first = api.get(path)
        second = api.get(path)
        indented = api.get(path, HTTP_ACCEPT="application/json; indent=2")
    assert document.call_count == 2  # the first, and the indented variant: its own bytes
    assert second.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    assert second["Vary"] == first["Vary"]
    assert indented.content != first.content and indented.json() == first.json()


def test_a_bad_forecast_query_is_never_kept(api, small_dataset):
    assert api.get("/api/forecast/?regions=900&from=2030&to=2101").status_code == 400
    assert api.get("/api/forecast/?regions=900&from=2035&to=2030").status_code == 400
    assert not page_cache._answers.entries
    assert api.get("/api/forecast/?regions=900&from=2030&to=2031").status_code == 200
    assert len(page_cache._answers.entries) == 1


def test_only_forecasts_worth_a_round_trip_are_shared_through_the_cache(api, small_dataset):
    """Small default forecasts are cheaper to compute than to fetch: each worker keeps its own
    answers; large ones (and AutoReg methods, auto lags) go to the shared cache for every worker."""
    from django.core.cache import cache

    from forecasts.active_data import active_data

    def shared(codes, start, end, method="damped", lags=3):
        digest = presenters.settings_digest(
            codes=codes, start=start, end=end, method=method, lags=lags, level=0.95
        )
        return cache.get(f"forecast:{active_data().generation}:{digest}") is not None

    small = {"regions": "900,250", "from": 2030, "to": 2040}
    large = {"regions": "900,250", "from": 1960, "to": 2100}  # 282 region-years
    auto = {**small, "lags": "auto"}
    for query in (small, large, auto):
        assert api.get("/api/forecast/", query).status_code == 200
    assert not shared([900, 250], 2030, 2040)
    assert shared([900, 250], 1960, 2100)
    assert shared([900, 250], 2030, 2040, lags="auto")


def test_a_model_running_below_zero_is_refused_naming_the_region_and_year(api, wpp2019_dataset):
    """The original app's model takes Montserrat below zero in 2077: no negative population is
    shown, by the API, the site's form or the command; the years before it are still answered."""
    query = {"from": 2070, "to": 2080, "method": "levels", "lags": 1}
    refused = forecast(api, regions="500", **query)
    assert refused.status_code == 400
    message = json.dumps(refused.json())
    assert "Montserrat" in message and "reaches zero or less in 2077" in message

    before = forecast(api, regions="500", **{**query, "to": 2076})
    assert before.status_code == 200
    points = before.json()["results"][0]["points"]
    assert all(0 < p["lower"] <= p["value"] <= p["upper"] for p in points)

    form = {
        "regions": "500",
        "from": 2070,
        "to": 2080,
        "method": "levels",
        "lags": 1,
        "level": 0.95,
    }
    page = Client().post("/", form)
    assert page.status_code == 400
    assert "reaches zero or less in 2077" in page.content.decode()
    assert ForecastRun.objects.count() == 0

    with pytest.raises(CommandError, match="reaches zero or less in 2077"):
        call_command(
            "forecast", "--region", "500", "--from", "2070", "--to", "2080",
            "--method", "levels", "--lags", "1", stdout=io.StringIO(),
        )  # fmt: skip
