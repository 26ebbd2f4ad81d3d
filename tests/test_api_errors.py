"""Every error under /api/ is JSON, and each status an operation can give is in the schema."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from forecasts import rules

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.mark.parametrize(
    "path", ["/api/regions/-1/", "/api/regions/-54906/series/", "/api/runs/null,null/", "/api/x/"]
)
def test_an_api_url_that_matches_no_route_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_site_url_that_matches_no_route_is_still_the_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/api/datasets/?page=null", "/api/regions/?page=0", "/api/runs/?page=0"]
)
def test_a_malformed_page_is_a_400_naming_it(api, small_dataset, path):
    response = api.get(path)
    assert response.status_code == 400
    assert response.json() == {"page": ["The page must be a whole number from 1."]}


def test_a_page_past_the_end_is_a_json_404(api, small_dataset):
    response = api.get("/api/regions/", {"page": 2})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_an_unsupported_method_is_a_json_405(api):
    response = api.delete("/api/regions/")
    assert response.status_code == 405
    assert "detail" in response.json()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_body_too_large_is_a_json_413(api, small_dataset):
    body = {"regions": ["900"] * 20, "from": 2030, "to": 2031}
    response = api.post("/api/runs/", body, format="json")
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}


def test_a_url_too_long_is_a_json_414(api):
    response = api.get("/api/regions/", {"search": "x" * rules.API_URL_MAX_BYTES})
    assert response.status_code == 414
    assert "too long" in response.json()["detail"]


def test_an_unexpected_error_is_a_json_500(api, small_dataset, monkeypatch):
    from forecasts import selectors

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "forecast_runs", broken)
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/runs/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "Server error" in response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        {"has_data": "yes"},
        {"has_data": ""},
        {"parent": ""},
        {"parent": "-1"},
        {"parent": str(rules.REGION_CODE_MAX + 1)},
        {"search": "a\x00b"},
        {"search": ""},
        {"kind": ""},
    ],
)
def test_region_list_refuses_what_the_schema_does_not_allow(api, small_dataset, query):
    response = api.get("/api/regions/", query)
    assert response.status_code == 400
    assert set(response.json()) == set(query)


def test_every_error_status_is_documented_with_a_json_body(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"414", "500", "503"} <= statuses, (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    name = "ValidationError" if status == "400" else "Error"
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": f"#/components/schemas/{name}"
                    }, (method, path, status)
    create = schema["paths"]["/api/runs/"]["post"]["responses"]
    assert {"400", "404", "409", "413", "415", "429"} <= set(create)
    for path in ["/api/regions/", "/api/runs/", "/api/datasets/"]:
        assert {"400", "404"} <= set(schema["paths"][path]["get"]["responses"])


def test_schema_states_the_rules_bounds(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    forecast = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/forecast/"]["get"]["parameters"]
    }
    assert forecast["level"]["maximum"] == rules.LEVEL_MAX
    assert forecast["level"]["minimum"] == rules.LEVEL_MIN_EXCLUSIVE
    assert forecast["level"]["exclusiveMinimum"] is True
    assert forecast["regions"]["maxLength"] == rules.REGIONS_QUERY_MAX_LENGTH
    body = schema["components"]["schemas"]["RunCreateInputRequest"]
    assert body["properties"]["regions"]["maxItems"] == rules.MAX_REGIONS
    assert body["properties"]["regions"]["minItems"] == 1
    assert "regions" in body["required"]


def test_created_run_links_to_reading_it_back(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    created = schema["paths"]["/api/runs/"]["post"]["responses"]["201"]
    link = created["links"]["GetRun"]
    detail = schema["paths"]["/api/runs/{id}/"]["get"]
    assert link["operationId"] == detail["operationId"]
    assert link["parameters"] == {"id": "$response.body#/id"}


@pytest.mark.parametrize(
    "regions",
    [",".join(["900"] * (rules.MAX_REGIONS + 1)), "900,,901", " ", "9" * 301],
)
def test_forecast_regions_the_schema_pattern_refuses_are_refused(api, small_dataset, regions):
    import re

    from forecasts.api.serializers import REGIONS_QUERY_PATTERN

    fits = len(regions) <= rules.REGIONS_QUERY_MAX_LENGTH and re.search(
        REGIONS_QUERY_PATTERN, regions
    )
    assert not fits
    response = api.get("/api/forecast/", {"regions": regions, "from": 2030, "to": 2031})
    assert response.status_code == 400
    assert "regions" in response.json()


def test_the_schema_patterns_spaces_are_the_ones_the_server_strips():
    import re

    from forecasts.api.serializers import SPACES

    spaces = re.compile(f"[{SPACES}]")
    for code in range(0x110000):
        assert bool(spaces.match(chr(code))) == chr(code).isspace(), hex(code)


@pytest.mark.parametrize("regions", ["900,\x1d,901", "900,\u3000", ["900", "\x1d\t"]])
def test_an_item_of_spaces_only_is_refused_in_both_forms(api, small_dataset, regions):
    if isinstance(regions, list):
        body = {"regions": regions, "from": 2030, "to": 2031}
        response = api.post("/api/runs/", body, format="json")
    else:
        response = api.get("/api/forecast/", {"regions": regions, "from": 2030, "to": 2031})
    assert response.status_code == 400
    assert "regions" in response.json()


def test_trace_under_the_api_is_a_json_405(api):
    response = api.generic("TRACE", "/api/regions/")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert "TRACE" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/api/forecast/?regions=900&from=2030&to=2031", "/api/regions/?", "/api/runs/?"],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(client, small_dataset, path):
    response = client.get(path + "&junk=1")
    assert response.status_code == 400
    assert "Unknown parameter" in response.json()["junk"][0]


@pytest.mark.django_db
def test_a_body_with_an_extra_field_is_accepted_as_json_or_as_a_form(client, small_dataset):
    """The schema allows extra body fields; the API ignores them, whatever the content type."""
    body = {"regions": ["900"], "from": 2030, "to": 2031, "note": "mine"}
    assert client.post("/api/runs/", body, content_type="application/json").status_code == 201
    form = "regions=900&from=2030&to=2032&note=mine"
    answer = client.post("/api/runs/", form, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 201
