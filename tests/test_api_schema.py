"""The OpenAPI schema is valid and complete; the Swagger UI is served from this site alone."""

import re
from urllib.parse import urlsplit

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from .conftest import serve_static_by_name

ENDPOINTS = {
    "/api/regions/": {"get"},
    "/api/regions/{code}/": {"get"},
    "/api/regions/{code}/series/": {"get"},
    "/api/forecast/": {"get"},
    "/api/runs/": {"get", "post"},
    "/api/runs/{id}/": {"get"},
    "/api/datasets/": {"get"},
    "/api/accuracy/": {"get"},
    "/api/world/": {"get"},
}


@pytest.fixture
def schema(db):
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def plain_static_files(settings):
    """Static URLs without the manifest `collectstatic` writes (these tests do not need it)."""
    serve_static_by_name(settings)


def test_schema_is_valid_openapi(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_schema_lists_every_endpoint_and_method(schema):
    listed = {
        path: {method for method in operations if method != "parameters"}
        for path, operations in schema["paths"].items()
    }
    assert listed == ENDPOINTS


def test_schema_documents_the_forecast_query_parameters(schema):
    parameters = {
        parameter["name"]: parameter
        for parameter in schema["paths"]["/api/forecast/"]["get"]["parameters"]
    }
    assert set(parameters) == {"regions", "from", "to", "method", "lags", "level"}
    assert parameters["regions"]["required"] and parameters["from"]["required"]
    assert parameters["from"]["schema"] == {"type": "integer", "minimum": 1950, "maximum": 2100}
    lags_number, lags_auto = parameters["lags"]["schema"]["oneOf"]
    assert lags_number["maximum"] == 10 and lags_auto["enum"] == ["auto"]
    assert parameters["method"]["schema"]["default"] == "damped"
    assert "the original app's model" in parameters["method"]["description"]
    assert parameters["level"]["schema"]["default"] == 0.95


def test_schema_documents_the_error_answers(schema):
    create = schema["paths"]["/api/runs/"]["post"]["responses"]
    assert {"201", "400", "409", "415", "429"} <= set(create)
    assert "Retry-After" in create["429"]["headers"]
    assert "Location" in create["201"]["headers"]
    assert {"400", "409"} <= set(schema["paths"]["/api/forecast/"]["get"]["responses"])
    assert "404" in schema["paths"]["/api/runs/{id}/"]["get"]["responses"]


def test_schema_describes_forecast_values_as_nullable_numbers(schema):
    point = schema["components"]["schemas"]["PointOutput"]["properties"]
    for name in ["value", "lower", "upper", "actual"]:
        assert point[name]["type"] == "number" and point[name]["nullable"] is True


def test_schema_is_also_served_as_yaml(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_docs_page_loads_its_assets_from_this_site_only(db, client, plain_static_files):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in url for url in references)
    assert any("swagger-ui.css" in url for url in references)
    for url in references:
        assert not urlsplit(url).netloc and not url.startswith("//"), url
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


@pytest.mark.browser
def test_docs_render_the_operations_with_no_network(
    page, live_server, small_dataset, plain_static_files, artifact_path
):
    """Swagger UI draws every operation while requests to any other host are refused."""
    own = urlsplit(live_server.url).netloc
    elsewhere = []

    def only_this_site(route):
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    page.screenshot(path=artifact_path("api-docs.png"), full_page=True)
    assert {path.replace("\u200b", "") for path in paths} == set(ENDPOINTS)
    assert elsewhere == []
