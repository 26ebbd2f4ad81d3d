"""REST API: create forecast runs (open, throttled), their history and one run with its results."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from forecasts import services
from forecasts.models import ForecastPoint, ForecastRun, Region

pytestmark = pytest.mark.django_db

WORLD_AND_FRANCE = {"regions": ["900", "France"], "from": 2030, "to": 2032}


@pytest.fixture
def api():
    return APIClient()


def create(api, body, **kwargs):
    kwargs.setdefault("format", "json")
    return api.post("/api/runs/", body, **kwargs)


def stored_run(*codes, start=2030, end=2031):
    regions = [Region.objects.get(code=code) for code in codes]
    return services.forecast_run_create(regions=regions, start=start, end=end).run


def test_create_run_answers_201_with_the_stored_run_and_its_location(api, small_dataset):
    response = create(api, WORLD_AND_FRANCE)
    assert response.status_code == 201
    run = ForecastRun.objects.get()
    assert response["Location"] == f"http://testserver/api/runs/{run.pk}/"
    data = response.json()
    assert data["id"] == run.pk and data["url"] == response["Location"]
    assert data["dataset"] == {"id": small_dataset.pk, "edition": "WPP2019"}
    assert data["params"] == {
        "regions": [900, 250],
        "from": 2030,
        "to": 2032,
        "method": "damped",
        "lags": 3,
        "level": 0.95,
        "interval": "calibrated",
    }
    assert data["regions"] == [{"code": 900, "name": "WORLD"}, {"code": 250, "name": "France"}]
    assert [result["region"]["code"] for result in data["results"]] == [900, 250]
    assert [point["year"] for point in data["results"][1]["points"]] == [2030, 2031, 2032]


def test_created_run_results_are_the_computed_forecast(api, small_dataset):
    data = create(api, {**WORLD_AND_FRANCE, "lags": 2, "level": 0.8}).json()
    computed = api.get(
        "/api/forecast/", {"regions": "900,250", "from": 2030, "to": 2032, "lags": 2, "level": 0.8}
    ).json()
    assert data["results"] == computed["results"]
    assert data["params"]["lags"] == 2 and data["params"]["level"] == 0.8


def test_create_run_takes_codes_as_json_numbers(api, small_dataset):
    response = create(api, {"regions": [901, 900], "from": 2030, "to": 2030})
    assert response.status_code == 201
    assert response.json()["params"]["regions"] == [901, 900]


def test_create_run_takes_a_form_too(api, small_dataset):
    form = urlencode({"regions": ["900", "250"], "from": 2030, "to": 2031}, doseq=True)
    response = api.post("/api/runs/", form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201
    assert response.json()["params"]["regions"] == [900, 250]


def test_create_run_is_open_to_anonymous_users(api, small_dataset):
    assert not api.get("/api/runs/").wsgi_request.user.is_authenticated
    assert create(api, WORLD_AND_FRANCE).status_code == 201


BAD_BODIES = [
    ({"from": 2030, "to": 2031}, "regions", "required"),
    ({"regions": "900", "from": 2030, "to": 2031}, "regions", "Expected a list"),
    ({"regions": [], "from": 2030, "to": 2031}, "regions", "at least one region"),
    ({"regions": [""], "from": 2030, "to": 2031}, "regions", "may not be blank"),
    ({"regions": [True], "from": 2030, "to": 2031}, "regions", "valid string"),
    ({"regions": [{"code": 900}], "from": 2030, "to": 2031}, "regions", "valid string"),
    ({"regions": ["900", " "], "from": 2030, "to": 2031}, "regions", "not only spaces"),
    ({"regions": ["900"] * 21, "from": 2030, "to": 2031}, "regions", "at most 20"),
    ({"regions": ["900"], "to": 2031}, "from", "required"),
    ({"regions": ["900"], "from": 2040, "to": 2031}, "from", "must not be after"),
    ({"regions": ["900"], "from": 1949, "to": 2031}, "from", "between 1950 and 2100"),
    ({"regions": ["900"], "from": 2030, "to": 2101}, "to", "between 1950 and 2100"),
    ({"regions": ["900"], "from": "next year", "to": 2031}, "from", "valid integer"),
    ({"regions": ["900"], "from": 2030, "to": 2031.5}, "to", "valid integer"),
    ({"regions": ["900"], "from": 2030, "to": 2031, "lags": 0}, "lags", "from 1 to 10"),
    ({"regions": ["900"], "from": 2030, "to": 2031, "lags": 11}, "lags", "from 1 to 10"),
    ({"regions": ["900"], "from": 2030, "to": 2031, "lags": 1.5}, "lags", 'or "auto"'),
    ({"regions": ["900"], "from": 2030, "to": 2031, "level": 0}, "level", "between 0 and 1"),
    ({"regions": ["900"], "from": 2030, "to": 2031, "level": 95}, "level", "between 0 and 1"),
    ({"regions": ["900"], "from": 2030, "to": 2031, "level": "high"}, "level", "valid number"),
]


@pytest.mark.parametrize(("body", "field", "words"), BAD_BODIES)
def test_create_run_rejects_bad_input_naming_the_field(api, small_dataset, body, field, words):
    response = create(api, body)
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words in str(errors[field])
    assert ForecastRun.objects.count() == 0


@pytest.mark.parametrize(
    ("regions", "words"),
    [
        (["900", "Atlantis"], "'Atlantis'"),
        ([99999999999999999999], "Unknown"),
        (["1803"], "No population data"),
    ],
)
def test_create_run_of_regions_the_data_lacks_is_not_found(api, small_dataset, regions, words):
    response = create(api, {"regions": regions, "from": 2030, "to": 2031})
    assert response.status_code == 404
    assert words in response.json()["regions"][0] and words in response.json()["detail"]
    assert ForecastRun.objects.count() == 0


def test_create_run_from_a_form_takes_repeated_regions(api, small_dataset):
    response = api.post(
        "/api/runs/",
        "regions=900&regions=250&from=2030&to=2031",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["params"]["regions"] == [900, 250]


def test_create_run_rejects_a_body_that_is_not_json(api, small_dataset):
    response = api.post("/api/runs/", '{"regions": [900', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_create_run_rejects_a_json_list_body(api, small_dataset):
    response = create(api, [WORLD_AND_FRANCE])
    assert response.status_code == 400
    assert "Expected a dictionary" in response.json()["non_field_errors"][0]


def test_create_run_rejects_an_unsupported_content_type(api, small_dataset):
    response = api.post("/api/runs/", "regions=900", content_type="text/plain")
    assert response.status_code == 415
    assert 'Unsupported media type "text/plain"' in response.json()["detail"]


def test_create_run_without_data_is_a_conflict(api, db):
    response = create(api, WORLD_AND_FRANCE)
    assert response.status_code == 409
    assert "No data is loaded" in response.json()["detail"]
    assert ForecastRun.objects.count() == 0


def test_creating_runs_is_throttled_with_retry_after(
    api, small_dataset, settings, one_budget_window
):
    """Stored runs are charged (forecasts.throttling); a refused bad request costs nothing."""
    settings.RUNS_RATE = "2/minute"
    assert create(api, WORLD_AND_FRANCE).status_code == 201
    assert create(api, {"regions": []}).status_code == 400
    assert create(api, WORLD_AND_FRANCE).status_code == 201
    response = create(api, WORLD_AND_FRANCE)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 61
    assert "throttled" in response.json()["detail"]
    assert ForecastRun.objects.count() == 2


def test_throttling_runs_leaves_reads_alone(api, small_dataset, settings, one_budget_window):
    settings.RUNS_RATE = "1/minute"
    assert create(api, WORLD_AND_FRANCE).status_code == 201
    for _ in range(3):
        assert api.get("/api/runs/").status_code == 200
    assert create(api, WORLD_AND_FRANCE).status_code == 429


def test_run_history_is_newest_first(api, small_dataset):
    older, newer = stored_run(900), stored_run(250)
    response = api.get("/api/runs/")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert [run["id"] for run in data["results"]] == [newer.pk, older.pk]
    item = data["results"][0]
    assert item["url"] == f"http://testserver/api/runs/{newer.pk}/"
    assert item["regions"] == [{"code": 250, "name": "France"}]
    assert item["params"] == {
        "regions": [250],
        "from": 2030,
        "to": 2031,
        "method": "damped",
        "lags": 3,
        "level": 0.95,
        "interval": "calibrated",
    }
    assert item["created_at"] and item["duration_ms"] >= 0
    assert "results" not in item


def test_run_history_filters_by_region(api, small_dataset):
    world, france, both = stored_run(900), stored_run(250), stored_run(250, 900)
    response = api.get("/api/runs/", {"region": 900})
    assert [run["id"] for run in response.json()["results"]] == [both.pk, world.pk]
    assert api.get("/api/runs/", {"region": 384}).json()["results"] == []
    assert france.pk in [run["id"] for run in api.get("/api/runs/").json()["results"]]


@pytest.mark.parametrize("region", ["France", "1.5", "-1", "99999999999999999999"])
def test_run_history_rejects_a_region_that_is_no_code(api, small_dataset, region):
    response = api.get("/api/runs/", {"region": region})
    assert response.status_code == 400
    assert list(response.json()) == ["region"]


def test_run_detail_has_the_stored_results(api, small_dataset):
    run = stored_run(900, 250, start=2019, end=2021)
    response = api.get(reverse("api:run_detail", args=[run.pk]))
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == run.pk and data["params"]["from"] == 2019
    expected = services.forecast_run_results(run)
    assert [result["region"]["code"] for result in data["results"]] == [900, 250]
    assert data["results"][0]["points"][2]["value"] == expected[0].points[2].value
    assert data["results"][0]["points"][0]["actual"] == expected[0].points[0].actual


def test_run_detail_stays_true_after_a_data_refresh(api, small_dataset, small_wide_file):
    run = stored_run(900)
    before = api.get(f"/api/runs/{run.pk}/").json()
    services.dataset_import(source=str(small_wide_file))
    assert api.get(f"/api/runs/{run.pk}/").json() == before


@pytest.mark.parametrize("run_id", ["12345", "99999999999999999999"])
def test_run_detail_of_an_unknown_id_is_not_found(api, small_dataset, run_id):
    response = api.get(f"/api/runs/{run_id}/")
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_runs_cannot_be_changed_or_deleted(api, small_dataset, staff_user, method):
    run = stored_run(900)
    api.force_authenticate(staff_user)
    response = getattr(api, method)(f"/api/runs/{run.pk}/", WORLD_AND_FRANCE, format="json")
    assert response.status_code == 405
    assert ForecastRun.objects.filter(pk=run.pk).exists()


def test_creating_a_run_makes_at_most_three_queries(small_dataset):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    body = {"regions": ["900", "250"], "from": 2030, "to": 2035}
    APIClient().post("/api/runs/", body, format="json")  # loads the active data once
    with CaptureQueriesContext(connection) as queries:
        response = APIClient().post("/api/runs/", body, format="json")

    statements = [
        q["sql"] for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert response.status_code == 201
    assert len(statements) <= 3, statements


def test_storing_a_run_is_one_statement_that_does_not_wait_for_the_disk_on_postgresql(
    small_dataset,
):
    """A run is recomputable, so its COMMIT need not wait for fsync (half the time of a POST):
    the one statement that stores the run and its points turns synchronous_commit off for its
    own transaction only (set_config(..., true), as SET LOCAL). It is prepared once per
    connection: later runs send only EXECUTE, nothing for PostgreSQL to parse and plan again."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting; SQLite has nothing to turn off")
    body = {"regions": ["900", "250"], "from": 2030, "to": 2031}
    APIClient().post("/api/runs/", body, format="json")  # loads the active data once
    with CaptureQueriesContext(connection) as queries:
        response = APIClient().post("/api/runs/", {**body, "to": 2032}, format="json")
    writes = [
        q["sql"] for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert response.status_code == 201
    assert len(writes) == 1, writes
    assert writes[0].startswith("EXECUTE popforecasts_run_store_charged ("), writes[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements "
            "WHERE name = 'popforecasts_run_store_charged'"
        )
        assert "set_config('synchronous_commit', 'off', true)" in cursor.fetchone()[0]
    assert ForecastPoint.objects.filter(run_id=response.json()["id"]).count() == 2 * 3

    def synchronous_commit():
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    before = synchronous_commit()
    with transaction.atomic():
        stored = stored_run(900, start=2040, end=2041)
        assert synchronous_commit() == "off"
    assert synchronous_commit() == before
    assert ForecastPoint.objects.filter(run_id=stored.pk).count() == 2
