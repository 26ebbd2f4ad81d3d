"""REST API: regions, a region's series, and datasets."""

import pytest
from rest_framework.pagination import PageNumberPagination
from rest_framework.test import APIClient

from forecasts import services
from forecasts.models import Region, YearlyPopulation

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def codes(response):
    return [region["code"] for region in response.json()["results"]]


def test_region_list_items_carry_the_documented_fields(api, small_dataset):
    response = api.get("/api/regions/")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 7 and data["next"] is None
    world = data["results"][0]
    assert world == {
        "code": 900,
        "name": "WORLD",
        "kind": "World",
        "parent": None,
        "iso3": "",
        "has_data": True,
        "first_year": 1950,
        "last_year": 2020,
    }
    heading = next(region for region in data["results"] if region["code"] == 1803)
    assert heading["parent"] == 900
    assert heading["has_data"] is False and heading["first_year"] is None


def test_region_list_is_paginated(api, small_dataset, monkeypatch):
    # PageNumberPagination reads PAGE_SIZE once, at import.
    monkeypatch.setattr(PageNumberPagination, "page_size", 3)
    first = api.get("/api/regions/").json()
    second = api.get(first["next"]).json()
    assert len(first["results"]) == 3 and first["count"] == 7
    assert set(codes_of(first)).isdisjoint(codes_of(second))


def codes_of(page):
    return [region["code"] for region in page["results"]]


def test_region_search_matches_part_of_the_name_case_insensitively(api, small_dataset):
    assert codes(api.get("/api/regions/", {"search": "developed"})) == [901, 902]
    assert codes(api.get("/api/regions/", {"search": "côte"})) == [384]


def test_region_search_matches_an_exact_code(api, small_dataset):
    assert codes(api.get("/api/regions/", {"search": "250"})) == [250]


def test_region_search_matches_an_iso3_code(api, small_long_file):
    services.dataset_import(source=str(small_long_file))
    Region.objects.filter(code=1508).update(iso3="SSA")  # the fixture has no ISO3 column
    assert codes(api.get("/api/regions/", {"search": "ssa"})) == [1508]


@pytest.mark.parametrize("text", ["99999999999999999999", "²", "١٢٣"])
def test_region_search_for_digits_that_are_no_code_finds_nothing(api, small_dataset, text):
    response = api.get("/api/regions/", {"search": text})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_region_list_filters_by_kind_and_parent(api, small_dataset):
    assert codes(api.get("/api/regions/", {"kind": "development group"})) == [901, 902]
    assert codes(api.get("/api/regions/", {"parent": 1803})) == [901, 902]


def test_region_list_filters_by_having_data(api, small_dataset):
    assert codes(api.get("/api/regions/", {"has_data": "false"})) == [1803]
    assert 1803 not in codes(api.get("/api/regions/", {"has_data": "true"}))


@pytest.mark.parametrize("parent", ["abc", "1.5", "-1", "99999999999999999999"])
def test_region_list_rejects_a_parent_that_is_no_code(api, small_dataset, parent):
    response = api.get("/api/regions/", {"parent": parent})
    assert response.status_code == 400
    assert list(response.json()) == ["parent"]


def test_region_list_page_past_the_end_is_not_found(api, small_dataset):
    response = api.get("/api/regions/", {"page": 99})
    assert response.status_code == 404
    assert "detail" in response.json()


def test_region_detail_has_parent_and_children(api, small_dataset):
    response = api.get("/api/regions/1803/")
    assert response.status_code == 200
    region = response.json()
    assert region["name"] == "UN development groups"
    assert region["parent"] == {"code": 900, "name": "WORLD", "kind": "World", "has_data": True}
    assert [child["code"] for child in region["children"]] == [901, 902]


def test_region_detail_of_the_world_has_no_parent(api, small_dataset):
    region = api.get("/api/regions/900/").json()
    assert region["parent"] is None
    assert [child["code"] for child in region["children"]] == [1803, 384, 336, 250]


@pytest.mark.parametrize("code", ["12345", "99999999999999999999"])
def test_region_detail_of_an_unknown_code_is_not_found(api, small_dataset, code):
    response = api.get(f"/api/regions/{code}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_series_gives_the_estimates_in_persons(api, small_dataset):
    response = api.get("/api/regions/900/series/", {"from": 2018, "to": 2020})
    assert response.status_code == 200
    data = response.json()
    assert data["region"] == {"code": 900, "name": "WORLD"}
    assert data["variant"] == "Estimates" and data["unit"] == "persons"
    stored = YearlyPopulation.objects.filter(region_id=900, year__gte=2018).order_by("year")
    assert data["points"] == [{"year": row.year, "population": row.persons} for row in stored]
    assert data["points"][-1] == {"year": 2020, "population": 7794799000}


def test_series_without_years_spans_the_whole_history(api, small_dataset):
    points = api.get("/api/regions/250/series/").json()["points"]
    assert (points[0]["year"], points[-1]["year"], len(points)) == (1950, 2020, 71)


def test_series_of_a_projection_variant(api, small_long_file):
    services.dataset_import(source=str(small_long_file))
    response = api.get("/api/regions/1508/series/", {"variant": "Low", "from": 2030, "to": 2031})
    assert response.status_code == 200
    assert [point["year"] for point in response.json()["points"]] == [2030, 2031]


def test_series_of_an_unknown_variant_lists_the_available_ones(api, small_long_file):
    services.dataset_import(source=str(small_long_file))
    response = api.get("/api/regions/1508/series/", {"variant": "Constant"})
    assert response.status_code == 404
    message = response.json()["variant"][0]
    assert "'Constant'" in message and "Estimates, High, Low, Medium" in message


def test_series_of_a_heading_says_it_has_no_data(api, small_dataset):
    response = api.get("/api/regions/1803/series/")
    assert response.status_code == 404
    assert "no population data" in response.json()["variant"][0]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"from": 2020, "to": 2000}, "from", "must not be after"),
        ({"from": 1900}, "from", "between 1950 and 2100"),
        ({"to": 2400}, "to", "between 1950 and 2100"),
        ({"from": "abc"}, "from", "valid integer"),
        ({"to": "2e3"}, "to", "valid integer"),
    ],
)
def test_series_rejects_bad_input_naming_the_field(api, small_dataset, query, field, words):
    response = api.get("/api/regions/900/series/", query)
    assert response.status_code == 400
    assert words in response.json()[field][0]


def test_series_refuses_empty_parameters_as_the_schema_does(api, small_dataset):
    """An empty value is not an absent parameter: the schema says integer, and minLength 1."""
    response = api.get("/api/regions/900/series/", {"variant": "", "from": "", "to": ""})
    assert response.status_code == 400
    assert set(response.json()) == {"variant", "from", "to"}
    assert api.get("/api/regions/900/series/").json()["variant"] == "Estimates"


def test_series_of_an_unknown_region_is_not_found(api, small_dataset):
    assert api.get("/api/regions/12345/series/").status_code == 404


def test_datasets_list_imports_with_counts_times_and_status(api, small_dataset, tmp_path):
    bad_file = tmp_path / "bad.csv"
    bad_file.write_text("not,a,wpp,file\n1,2,3,4\n")
    with pytest.raises(services.DatasetImportError):
        services.dataset_import(source=str(bad_file))
    response = api.get("/api/datasets/")
    assert response.status_code == 200
    failed, succeeded = response.json()["results"]  # anonymous: no error text (staff only)
    assert succeeded["id"] == small_dataset.pk
    assert succeeded["edition"] == "WPP2019" and succeeded["status"] == "succeeded"
    assert succeeded["is_active"] is True
    assert succeeded["region_count"] == 7
    assert succeeded["value_count"] == small_dataset.value_count > 0
    assert succeeded["variants"] == ["Estimates"]
    assert succeeded["started_at"] and succeeded["finished_at"]
    assert succeeded["duration_seconds"] >= 0
    assert failed["status"] == "failed" and "error" not in failed
    assert failed["is_active"] is False


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_regions_and_datasets_cannot_be_written(api, small_dataset, method):
    for url in ["/api/regions/", "/api/regions/900/", "/api/datasets/"]:
        response = getattr(api, method)(url, {}, format="json")
        assert response.status_code == 405, url


def test_anonymous_users_see_no_import_errors_or_sources(db, client, admin_client, tmp_path):
    from forecasts import services
    from forecasts.models import Dataset

    with pytest.raises(services.DatasetImportError):
        services.dataset_import(source="http://user:secret@10.0.0.1:9/WPP2024_x.csv")
    [public] = client.get("/api/datasets/").json()["results"]
    assert "error" not in public and "source" not in public
    [staff] = admin_client.get("/api/datasets/").json()["results"]
    assert staff["error"] and "secret" not in staff["source"]
    assert "secret" not in Dataset.objects.get().source
