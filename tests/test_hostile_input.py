"""Hostile input at every front door: a 4xx or a clear command error, never a 500, data unchanged.

Each table row is one attack: the form on the home page, query strings of the pages and the API,
JSON bodies of POST /api/runs/, management command arguments, and data files given to the import
service. After each, the database holds exactly what it held before (a snapshot of counts and of
the active dataset), except for the failed Dataset row an import records on purpose.
"""

import gzip
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from forecasts import services, throttling
from forecasts.models import Dataset, ForecastPoint, ForecastRun, Region, YearlyPopulation

VALID_FORM = {"regions": ["900", "901"], "from": "2030", "to": "2035", "lags": "1", "level": "0.95"}
VALID_BODY = {"regions": ["900", "901"], "from": 2030, "to": 2035}
TEN_THOUSAND_CODES = [str(code) for code in range(1, 10_001)]
SQL = "900'; DROP TABLE forecasts_region; --"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'
UNICODE = "Ꮚ꙰Ꮚ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ﷽ ‮evil"
HUGE = "9" * 40
OVERSIZED = "9" * (3 * 1024 * 1024)  # over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)


def snapshot():
    active = Dataset.objects.filter(is_active=True).values_list("pk", "checksum").first()
    return {
        "active": active,
        "succeeded": Dataset.objects.filter(status=Dataset.Status.SUCCEEDED).count(),
        "regions": Region.objects.count(),
        "values": YearlyPopulation.objects.count(),
        "persons": sum(YearlyPopulation.objects.values_list("persons", flat=True)),
        "runs": ForecastRun.objects.count(),
        "points": ForecastPoint.objects.count(),
    }


@pytest.fixture
def hostile_client():
    """A client that returns a 500 as a response instead of raising, so that a 500 fails clearly."""
    return Client(raise_request_exception=False)


def messages_of(errors: dict, field: str) -> str:
    """The messages an API error body gives for ``field`` (a list, or a dict by list index)."""
    return json.dumps(errors[field], ensure_ascii=False)


def assert_clean_4xx(response, expected):
    body = response.content.decode(errors="replace")
    assert response.status_code in expected, (response.status_code, body[:500])
    assert "Traceback" not in body
    assert HTML not in body, "HTML from the request came back unescaped"


# --- Form fields: POST / -------------------------------------------------------------------------

FORM_CASES = {
    "from is text": {"from": "abc"},
    "from is huge": {"from": HUGE},
    "from is negative": {"from": "-2030"},
    "to is a float": {"to": "2035.5"},
    "lags is huge": {"lags": HUGE},
    "lags is negative": {"lags": "-1"},
    "lags is nan": {"lags": "nan"},
    "level is nan": {"level": "nan"},
    "level is infinity": {"level": "inf"},
    "level is 1e308": {"level": "1e308"},
    "region is SQL": {"regions": [SQL]},
    "region is HTML": {"regions": [HTML]},
    "region is unicode": {"regions": [UNICODE]},
    "region has a NUL byte": {"regions": ["900\x00"]},
    "region code is huge": {"regions": [HUGE]},
    "region code is negative": {"regions": ["-900"]},
    "10,000 region codes": {"regions": TEN_THOUSAND_CODES},
    "no fields at all": None,
}


def valid_form(client):
    """The home page's form with its own defaults (so fields added later are filled in) + VALID_FORM."""
    form = client.get("/").context["form"]
    defaults = {form[name].html_name: form[name].value() for name in form.fields}
    return {key: value for key, value in {**defaults, **VALID_FORM}.items() if value is not None}


def test_the_valid_form_the_cases_start_from_stores_a_run(client, small_dataset):
    response = client.post("/", valid_form(client))

    assert response.status_code == 302
    assert ForecastRun.objects.count() == 1


@pytest.mark.parametrize("changes", FORM_CASES.values(), ids=FORM_CASES.keys())
def test_hostile_form_post_is_a_400(hostile_client, small_dataset, changes):
    before = snapshot()
    data = {} if changes is None else {**valid_form(hostile_client), **changes}

    response = hostile_client.post("/", data)

    assert_clean_4xx(response, {400})
    assert snapshot() == before


BODY_CASES = {
    "oversized form body": ("application/x-www-form-urlencoded", f"regions=900&from={OVERSIZED}"),
    "JSON sent to the form": ("application/json", json.dumps(VALID_BODY)),
    "binary body": ("application/octet-stream", b"\x00\xff\xfe" * 1000),
    "broken multipart": ("multipart/form-data; boundary=xyz", b"--xyz\r\nbroken"),
}


@pytest.mark.parametrize("content_type, body", BODY_CASES.values(), ids=BODY_CASES.keys())
def test_hostile_form_body_is_a_400(hostile_client, small_dataset, content_type, body):
    before = snapshot()

    response = hostile_client.post("/", body, content_type=content_type)

    assert_clean_4xx(response, {400})
    assert snapshot() == before


# --- Query strings -------------------------------------------------------------------------------

QUERY_CASES = {
    "api forecast: from is text": (
        "/api/forecast/",
        {"regions": "900", "from": "x", "to": "2035"},
        {400},
    ),
    "api forecast: to is huge": (
        "/api/forecast/",
        {"regions": "900", "from": "2030", "to": HUGE},
        {400},
    ),
    "api forecast: negative region": (
        "/api/forecast/",
        {"regions": "-1", "from": "2030", "to": "2035"},
        {404},
    ),
    "api forecast: 10,000 regions": (
        "/api/forecast/",
        {"regions": ",".join(TEN_THOUSAND_CODES), "from": "2030", "to": "2035"},
        {414},
    ),
    "api forecast: SQL region": (
        "/api/forecast/",
        {"regions": SQL, "from": "2030", "to": "2035"},
        {404},
    ),
    "api forecast: HTML region": (
        "/api/forecast/",
        {"regions": HTML, "from": "2030", "to": "2035"},
        {404},
    ),
    "api forecast: unicode region": (
        "/api/forecast/",
        {"regions": UNICODE, "from": "2030", "to": "2035"},
        {404},
    ),
    "api forecast: NUL region": (
        "/api/forecast/",
        {"regions": "900\x00", "from": "2030", "to": "2035"},
        {400},
    ),
    "api forecast: level nan": (
        "/api/forecast/",
        {"regions": "900", "from": "2030", "to": "2035", "level": "nan"},
        {400},
    ),
    "api forecast: lags negative": (
        "/api/forecast/",
        {"regions": "900", "from": "2030", "to": "2035", "lags": "-5"},
        {400},
    ),
    "api regions: search is SQL": ("/api/regions/", {"search": SQL}, {200}),
    "api regions: search has NUL": ("/api/regions/", {"search": "Fr\x00"}, {400}),
    "api regions: search is 10,000 chars": ("/api/regions/", {"search": "x" * 10_000}, {414}),
    "api regions: parent is huge": ("/api/regions/", {"parent": HUGE}, {400}),
    "api regions: page is negative": ("/api/regions/", {"page": "-1"}, {400}),
    "api regions: page is huge": ("/api/regions/", {"page": HUGE}, {404}),
    "runs page: region is SQL": ("/runs/", {"region": SQL}, {400}),
    "runs page: region is huge": ("/runs/", {"region": HUGE}, {200, 400}),
    "runs page: region has NUL": ("/runs/", {"region": "9\x00"}, {400}),
    "regions page: q is HTML": ("/regions/", {"q": HTML}, {200}),
    "regions page: q has NUL": ("/regions/", {"q": "Fr\x00ance"}, {400}),
    "regions page: q is 10,000 chars": ("/regions/", {"q": "é" * 10_000}, {400}),
    "regions page: q is LIKE wildcards": ("/regions/", {"q": "%_%\\"}, {200}),
    "world page: from is text": ("/world/", {"from": "abc"}, {400}),
    "world page: from is huge": ("/world/", {"from": HUGE}, {400}),
    "world page: to is huge": ("/world/", {"to": HUGE}, {400}),
    "world page: from after to": ("/world/", {"from": "2050", "to": "2030"}, {400}),
    "world page: from before 1950": ("/world/", {"from": "1900"}, {400}),
    "world page: to after 2100": ("/world/", {"to": "2101"}, {400}),
    "world page: from has NUL": ("/world/", {"from": "20\x0030"}, {400}),
    "world page: unknown view": ("/world/", {"view": "pie"}, {400}),
    "world page: view is HTML": ("/world/", {"view": HTML}, {400}),
    "world page: unknown sort": ("/world/", {"sort": "population; DROP"}, {400}),
    "world page: unknown direction": ("/world/", {"dir": "sideways"}, {400}),
    "world page: kind is NUL": ("/world/", {"kind": "\x00"}, {400}),
    "world page: region is huge": ("/world/", {"region": HUGE}, {400}),
    "world CSV: from is text": ("/world.csv", {"from": "abc"}, {400}),
}


@pytest.mark.parametrize("url, params, expected", QUERY_CASES.values(), ids=QUERY_CASES.keys())
def test_hostile_query_string_is_refused_cleanly(
    hostile_client, small_dataset, url, params, expected
):
    before = snapshot()

    response = hostile_client.get(url, params)

    assert_clean_4xx(response, expected)
    assert snapshot() == before


FORECAST_QUERY = {"regions": "900", "from": "2030", "to": "2035"}
TWENTY_ONE_CODES = [str(code) for code in range(900, 921)]
# The API answers {field: [messages]}; each row: URL, query, status, {field: words its message has}.
API_FIELD_CASES = {
    "api forecast: unknown parameter": (
        "/api/forecast/",
        {**FORECAST_QUERY, "callback": "x"},
        400,
        {"callback": "Unknown parameter"},
    ),
    "api forecast: to after 2100": (
        "/api/forecast/",
        {**FORECAST_QUERY, "to": "2101"},
        400,
        {"to": "2100"},
    ),
    "api forecast: from before 1950": (
        "/api/forecast/",
        {**FORECAST_QUERY, "from": "1949"},
        400,
        {"from": "1950"},
    ),
    "api forecast: from after to": (
        "/api/forecast/",
        {**FORECAST_QUERY, "from": "2040"},
        400,
        {"from": "must not be after"},
    ),
    "api forecast: 21 regions": (
        "/api/forecast/",
        {**FORECAST_QUERY, "regions": ",".join(TWENTY_ONE_CODES)},
        400,
        {"regions": "at most 20"},
    ),
    "api forecast: empty item between commas": (
        "/api/forecast/",
        {**FORECAST_QUERY, "regions": "900,,901"},
        400,
        {"regions": "empty"},
    ),
    "api forecast: unknown method": (
        "/api/forecast/",
        {**FORECAST_QUERY, "method": "prophet"},
        400,
        {"method": "use one of"},
    ),
    "api forecast: method is HTML": (
        "/api/forecast/",
        {**FORECAST_QUERY, "method": HTML},
        400,
        {"method": "use one of"},
    ),
    "api forecast: method has NUL": (
        "/api/forecast/",
        {**FORECAST_QUERY, "method": "levels\x00"},
        400,
        {"method": "use one of"},
    ),
    "api forecast: level 0": (
        "/api/forecast/",
        {**FORECAST_QUERY, "level": "0"},
        400,
        {"level": "between 0 and 1"},
    ),
    "api forecast: level 1": (
        "/api/forecast/",
        {**FORECAST_QUERY, "level": "1"},
        400,
        {"level": "at most 0.9999"},
    ),
    "api forecast: level -0.5": (
        "/api/forecast/",
        {**FORECAST_QUERY, "level": "-0.5"},
        400,
        {"level": "between 0 and 1"},
    ),
    "api forecast: level 1e-400 (rounds to 0)": (
        "/api/forecast/",
        {**FORECAST_QUERY, "level": "1e-400"},
        400,
        {"level": "between 0 and 1"},
    ),
    "api forecast: lags auto with NUL": (
        "/api/forecast/",
        {**FORECAST_QUERY, "lags": "auto\x00"},
        400,
        {"lags": "whole number"},
    ),
    "api forecast: to repeated, the last is checked": (
        "/api/forecast/",
        {**FORECAST_QUERY, "to": ["2035", "2101"]},
        400,
        {"to": "2100"},
    ),
    "api world: from is text": ("/api/world/", {"from": "abc"}, 400, {"from": "integer"}),
    "api world: from is huge": (
        "/api/world/",
        {"from": HUGE},
        400,
        {"from": "between 1950 and 2100"},
    ),
    "api world: from has NUL": ("/api/world/", {"from": "20\x0030"}, 400, {"from": "integer"}),
    "api world: from before 1950": ("/api/world/", {"from": "1949"}, 400, {"from": "1950"}),
    "api world: to after 2100": ("/api/world/", {"to": "2101"}, 400, {"to": "2100"}),
    "api world: from after to": (
        "/api/world/",
        {"from": "2050", "to": "2030"},
        400,
        {"from": "must not be after"},
    ),
    "api world: the page's view and sort are unknown here": (
        "/api/world/",
        {"view": "change", "sort": "name"},
        400,
        {"view": "Unknown parameter", "sort": "Unknown parameter"},
    ),
    "api world: kind is NUL": ("/api/world/", {"kind": "\x00"}, 400, {"kind": "Null characters"}),
    "api world: unknown kind": ("/api/world/", {"kind": "Atlantis"}, 404, {"kind": "not a kind"}),
    "api world: region is huge": ("/api/world/", {"region": HUGE}, 400, {"region": "less than"}),
    "api series: variant is NUL": (
        "/api/regions/900/series/",
        {"variant": "\x00"},
        400,
        {"variant": "Null characters"},
    ),
    "api series: unknown variant": (
        "/api/regions/900/series/",
        {"variant": "Atlantis"},
        404,
        {"variant": "no variant"},
    ),
    "api regions: has_data is yes": (
        "/api/regions/",
        {"has_data": "yes"},
        400,
        {"has_data": "true"},
    ),
    "api runs: region is huge": ("/api/runs/", {"region": HUGE}, 400, {"region": "less than"}),
    "api accuracy: a parameter it does not take": (
        "/api/accuracy/",
        {"holdout": "20"},
        400,
        {"holdout": "takes no parameters"},
    ),
    "api datasets: a parameter it does not take": (
        "/api/datasets/",
        {"status": "failed"},
        400,
        {"status": "takes no parameters"},
    ),
    "api region: a parameter it does not take": (
        "/api/regions/900/",
        {"children": "false"},
        400,
        {"children": "takes no parameters"},
    ),
    "api run: a parameter it does not take": (
        "/api/runs/1/",
        {"fields": "id"},
        400,
        {"fields": "takes no parameters"},
    ),
}


@pytest.mark.parametrize(
    "url, params, status, fields", API_FIELD_CASES.values(), ids=API_FIELD_CASES.keys()
)
def test_hostile_api_query_is_refused_naming_the_parameter(
    hostile_client, small_dataset, url, params, status, fields
):
    before = snapshot()

    response = hostile_client.get(url, params)

    assert_clean_4xx(response, {status})
    errors = response.json()
    for field, words in fields.items():
        assert words in messages_of(errors, field), errors
    assert snapshot() == before


def test_ten_thousand_repeated_query_parameters_are_refused(hostile_client, small_dataset):
    query = "&".join(f"regions={code}" for code in TEN_THOUSAND_CODES)

    response = hostile_client.get(f"/?{query}")

    assert_clean_4xx(response, {400})


# --- Path parts and HTTP methods ---------------------------------------------------------------

PATH_CASES = {
    "region page: code is huge": f"/regions/{HUGE}/",
    "region page: code is negative": "/regions/-1/",
    "api region: code is text": "/api/regions/france/",
    "api region series: code is huge": f"/api/regions/{HUGE}/series/",
    "run page: id is huge": f"/runs/{HUGE}/",
    "run CSV: id is huge": f"/runs/{HUGE}.csv",
    "run embed: id is huge": f"/runs/{HUGE}/embed/",
    "run embed: id 0": "/runs/0/embed/",
    "run embed: id is text": "/runs/first/embed/",
    "api run: id is text": "/api/runs/latest/",
    "api run: id is huge": f"/api/runs/{HUGE}/",
}


@pytest.mark.parametrize("path", PATH_CASES.values(), ids=PATH_CASES.keys())
def test_hostile_path_is_a_404(hostile_client, small_dataset, path):
    before = snapshot()

    response = hostile_client.get(path)

    assert_clean_4xx(response, {404})
    if path.startswith("/api/"):
        assert response.json()["detail"]
    assert snapshot() == before


# Anonymous writes the API has no operation for, TRACE (popsite.middleware.RefuseTraceMiddleware),
# and methods a page does not serve: only the home page takes a POST (its form).
METHOD_CASES = {
    "PUT the run list": ("PUT", "/api/runs/"),
    "PATCH a run": ("PATCH", "/api/runs/1/"),
    "DELETE a run": ("DELETE", "/api/runs/1/"),
    "DELETE a region": ("DELETE", "/api/regions/900/"),
    "PUT a forecast": ("PUT", "/api/forecast/"),
    "TRACE the home page": ("TRACE", "/"),
    "TRACE the API": ("TRACE", "/api/runs/"),
    "POST the history page": ("POST", "/runs/"),
    "POST a run page": ("POST", "/runs/1/"),
    "POST a region page": ("POST", "/regions/900/"),
    "POST the accuracy page": ("POST", "/accuracy/"),
    "POST the world page": ("POST", "/world/"),
    "POST the world CSV": ("POST", "/world.csv"),
    "PUT the home page": ("PUT", "/"),
    "PROPFIND the home page": ("PROPFIND", "/"),
}


@pytest.mark.parametrize("method, path", METHOD_CASES.values(), ids=METHOD_CASES.keys())
def test_hostile_method_is_a_405(hostile_client, small_dataset, method, path):
    services.forecast_run_create(
        regions=list(Region.objects.filter(code=900)), start=2030, end=2031
    )
    before = snapshot()

    response = hostile_client.generic(method, path, json.dumps(VALID_BODY), "application/json")

    assert_clean_4xx(response, {405})
    assert "GET" in response["Allow"] and method not in response["Allow"]
    if path.startswith("/api/"):
        assert method in response.json()["detail"]
    assert snapshot() == before


# --- Headers --------------------------------------------------------------------------------------

HEADER_CASES = {
    "Host not allowed, a page": ("/", {"HTTP_HOST": "evil.example"}, 400),
    "Host not allowed, the API": ("/api/regions/", {"HTTP_HOST": "evil.example"}, 400),
    "Host of 5,000 characters": ("/api/regions/", {"HTTP_HOST": "a" * 5000}, 400),
    "Accept asks for XML": ("/api/regions/", {"HTTP_ACCEPT": "application/xml"}, 406),
}


@pytest.mark.parametrize("path, headers, status", HEADER_CASES.values(), ids=HEADER_CASES.keys())
def test_hostile_header_is_refused(hostile_client, small_dataset, path, headers, status):
    before = snapshot()

    response = hostile_client.get(path, **headers)

    assert_clean_4xx(response, {status})
    if path.startswith("/api/"):
        assert response.json()["detail"]
    assert snapshot() == before


# Headers a client may send but must not be able to use: a normal answer, as if they were absent.
IGNORED_HEADER_CASES = {
    "X-Forwarded-For is garbage": {"HTTP_X_FORWARDED_FOR": "not-an-address, ' OR 1=1 --, \x00"},
    "X-Forwarded-For picks an address": {"HTTP_X_FORWARDED_FOR": "10.0.0.1"},
    "a 100 KB session cookie": {"HTTP_COOKIE": "sessionid=" + "x" * 100_000},
}


@pytest.mark.parametrize("headers", IGNORED_HEADER_CASES.values(), ids=IGNORED_HEADER_CASES.keys())
def test_hostile_header_is_ignored(hostile_client, small_dataset, headers):
    """Without BEHIND_PROXY, X-Forwarded-For does not choose whose run budget is charged; a session
    cookie that names no session leaves the client anonymous."""
    response = hostile_client.get("/api/regions/", **headers)

    assert response.status_code == 200
    assert throttling.client_ident(response.wsgi_request) == "127.0.0.1"


CSRF_CASES = {
    "the forecast form": ("/", VALID_FORM, "application/x-www-form-urlencoded", False),
    "the admin login": (
        "/admin/login/",
        {"username": "operator", "password": "a-long-test-password"},
        "application/x-www-form-urlencoded",
        False,
    ),
    "POST /api/runs/ with a session": ("/api/runs/", VALID_BODY, "application/json", True),
}


@pytest.mark.parametrize(
    "path, data, content_type, signed_in", CSRF_CASES.values(), ids=CSRF_CASES.keys()
)
def test_post_without_csrf_token_is_a_403(
    small_dataset, staff_user, path, data, content_type, signed_in
):
    """A browser's session must not be usable by another site: every POST that a session
    authenticates (or that signs one in) needs the CSRF token."""
    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if signed_in:
        browser.force_login(staff_user)
    before = snapshot()

    if content_type == "application/json":
        response = browser.post(path, json.dumps(data), content_type=content_type)
    else:
        response = browser.post(path, data)

    assert_clean_4xx(response, {403})
    assert snapshot() == before


# --- Admin changelists ---------------------------------------------------------------------------


@pytest.fixture
def hostile_admin_client(admin_client):
    """A signed-in superuser whose 500s come back as responses, as hostile_client's do."""
    admin_client.raise_request_exception = False
    return admin_client


ADMIN_FILTER_CASES = {
    "runs by method": "/admin/forecasts/forecastrun/?method=%00",
    "runs by dataset": "/admin/forecasts/forecastrun/?dataset__id__exact=%00",
    "yearly populations by variant": "/admin/forecasts/yearlypopulation/?variant=%00",
    "yearly populations by decade": "/admin/forecasts/yearlypopulation/?decade=19%0050",
    "regions by kind": "/admin/forecasts/region/?kind=%00",
    "datasets by status": "/admin/forecasts/dataset/?status=%00",
    "jobs by status": "/admin/forecasts/job/?status=%00",
}


@pytest.mark.parametrize("url", ADMIN_FILTER_CASES.values(), ids=ADMIN_FILTER_CASES.keys())
def test_admin_filter_with_nul_is_a_400(hostile_admin_client, small_dataset, url):
    before = snapshot()

    response = hostile_admin_client.get(url)

    assert_clean_4xx(response, {400})
    assert snapshot() == before


ADMIN_SEARCH_CASES = {
    "regions": "/admin/forecasts/region/",
    "yearly populations": "/admin/forecasts/yearlypopulation/",
    "datasets": "/admin/forecasts/dataset/",
}


@pytest.mark.parametrize("url", ADMIN_SEARCH_CASES.values(), ids=ADMIN_SEARCH_CASES.keys())
def test_admin_search_with_nul_is_refused_with_a_message(hostile_admin_client, small_dataset, url):
    """Django's admin validates the search box: a NUL (which PostgreSQL cannot take) shows an error
    and lists the rows unsearched."""
    response = hostile_admin_client.get(url, {"q": "Fr\x00ance"})

    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    assert response.context["cl"].query == ""


# --- JSON bodies: POST /api/runs/ -----------------------------------------------------------------

JSON_CASES = {
    "malformed JSON": ("application/json", '{"regions": "900",', {400}),
    "a list, not an object": ("application/json", "[1, 2, 3]", {400}),
    "a bare string": ("application/json", '"900"', {400}),
    "null": ("application/json", "null", {400}),
    "empty body": ("application/json", "", {400}),
    "regions is a comma-separated string": (
        "application/json",
        json.dumps({**VALID_BODY, "regions": "900,901"}),
        {400},
    ),
    "a region is a number too large": (
        "application/json",
        json.dumps({**VALID_BODY, "regions": [2**80]}),
        {404},
    ),
    "regions is an object": (
        "application/json",
        json.dumps({**VALID_BODY, "regions": {"a": 1}}),
        {400},
    ),
    "from is a boolean": ("application/json", json.dumps({**VALID_BODY, "from": True}), {400}),
    "from is 1e308": ("application/json", '{"regions": ["900"], "from": 1e308, "to": 2035}', {400}),
    "to is 2**70": ("application/json", json.dumps({**VALID_BODY, "to": 2**70}), {400}),
    "lags is NaN": (
        "application/json",
        '{"regions": ["900"], "from": 2030, "to": 2035, "lags": NaN}',
        {400},
    ),
    "level is Infinity": (
        "application/json",
        '{"regions": ["900"], "from": 2030, "to": 2035, "level": Infinity}',
        {400},
    ),
    "regions is SQL": ("application/json", json.dumps({**VALID_BODY, "regions": [SQL]}), {404}),
    "regions is HTML": ("application/json", json.dumps({**VALID_BODY, "regions": [HTML]}), {404}),
    "regions is unicode": (
        "application/json",
        json.dumps({**VALID_BODY, "regions": [UNICODE]}),
        {404},
    ),
    "10,000 regions": (
        "application/json",
        json.dumps({**VALID_BODY, "regions": TEN_THOUSAND_CODES}),
        {400},
    ),
    "deeply nested": ("application/json", "[" * 100_000 + "]" * 100_000, {400}),
    "oversized body": (
        "application/json",
        json.dumps({**VALID_BODY, "pad": OVERSIZED}),
        {400, 413},
    ),
    "invalid UTF-8": ("application/json", b'{"regions": "\xff\xfe"}', {400}),
    "text/plain": ("text/plain", json.dumps(VALID_BODY), {415}),
    "XML": ("application/xml", "<run><regions>900</regions></run>", {415}),
}


def test_the_valid_body_the_cases_start_from_stores_a_run(client, small_dataset):
    response = client.post("/api/runs/", VALID_BODY, content_type="application/json")

    assert response.status_code == 201
    assert ForecastRun.objects.count() == 1


@pytest.mark.parametrize("content_type, body, expected", JSON_CASES.values(), ids=JSON_CASES.keys())
def test_hostile_json_body_is_refused_cleanly(
    hostile_client, small_dataset, content_type, body, expected
):
    before = snapshot()

    response = hostile_client.post("/api/runs/", body, content_type=content_type)

    assert_clean_4xx(response, expected)
    assert snapshot() == before


TWENTY_ONE_REGIONS = {**VALID_BODY, "regions": TWENTY_ONE_CODES}
BODY_FIELD_CASES = {
    "to after 2100": (json.dumps({**VALID_BODY, "to": 2101}), {"to": "2100"}),
    "21 regions": (json.dumps(TWENTY_ONE_REGIONS), {"regions": "at most 20"}),
    "from after to": (json.dumps({**VALID_BODY, "from": 2040}), {"from": "must not be after"}),
    "level 1e999 (infinity)": (
        '{"regions": ["900"], "from": 2030, "to": 2035, "level": 1e999}',
        {"level": "valid number"},
    ),
    "a region of spaces only": (
        json.dumps({**VALID_BODY, "regions": ["900", "   "]}),
        {"regions": "not only spaces"},
    ),
    "duplicate key: the last value is checked": (
        '{"regions": ["900"], "from": 2030, "to": 2035, "to": 2101}',
        {"to": "2100"},
    ),
}


@pytest.mark.parametrize("body, fields", BODY_FIELD_CASES.values(), ids=BODY_FIELD_CASES.keys())
def test_hostile_json_body_is_a_400_naming_the_field(hostile_client, small_dataset, body, fields):
    before = snapshot()

    response = hostile_client.post("/api/runs/", body, content_type="application/json")

    assert_clean_4xx(response, {400})
    errors = response.json()
    for field, words in fields.items():
        assert words in messages_of(errors, field), errors
    assert snapshot() == before


def test_unknown_body_fields_are_ignored_neither_stored_nor_echoed(client, small_dataset):
    """A body's extra fields are allowed by the schema (serializers.InputSerializer) and ignored:
    they cannot set the run's id or anything else, and nothing of them comes back."""
    body = {**VALID_BODY, "id": 999_999, "dataset": 0, "duration_ms": -1, "note": HTML}

    response = client.post("/api/runs/", body, content_type="application/json")

    assert response.status_code == 201
    run = ForecastRun.objects.get()
    assert run.pk != 999_999 and response.json()["id"] == run.pk
    assert (run.region_codes, run.start_year, run.end_year) == ([900, 901], 2030, 2035)
    assert run.dataset == small_dataset and run.duration_ms >= 0
    assert "note" not in response.json() and HTML not in response.content.decode()


def test_html_in_a_world_csv_parameter_comes_back_as_inert_plain_text(
    hostile_client, small_dataset
):
    """The CSV's error names the value it refuses; as text/plain with nosniff, no browser runs it."""
    response = hostile_client.get("/world.csv", {"sort": HTML})

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.decode().startswith("sort: ")


# --- Command arguments ---------------------------------------------------------------------------

SPAN = ("--from", "2030", "--to", "2035")
WORLD_2030_2035 = ("--region", "900", *SPAN)
SMALL_LONG = "fixtures/wpp2022_small.csv"
COMMAND_CASES = {
    "forecast: from is text": ("forecast", "--region", "900", "--from", "abc", "--to", "2035"),
    "forecast: to is huge": ("forecast", "--region", "900", "--from", "2030", "--to", HUGE),
    "forecast: from is negative": (
        "forecast",
        "--region",
        "900",
        "--from",
        "-2030",
        "--to",
        "2035",
    ),
    "forecast: SQL region": ("forecast", "--region", SQL, *SPAN),
    "forecast: unicode region": ("forecast", "--region", UNICODE, *SPAN),
    "forecast: 10,000 regions": ("forecast", "--region", ",".join(TEN_THOUSAND_CODES), *SPAN),
    "forecast: lags negative": ("forecast", *WORLD_2030_2035, "--lags", "-3"),
    "forecast: level nan": ("forecast", *WORLD_2030_2035, "--level", "nan"),
    "import_wpp: missing file": ("import_wpp", "/nonexistent/wpp.csv"),
    "import_wpp: a directory": ("import_wpp", "/tmp"),
    "import_wpp: last estimate year is text": (
        "import_wpp",
        SMALL_LONG,
        "--last-estimate-year",
        "abc",
    ),
    "import_wpp: last estimate year is huge": (
        "import_wpp",
        SMALL_LONG,
        "--last-estimate-year",
        HUGE,
    ),
    "import_wpp: unsupported URL scheme": ("import_wpp", "ftp://example.org/wpp.csv"),
    "prune_runs: older than negative": ("prune_runs", "--older-than", "-5"),
    "prune_runs: older than text": ("prune_runs", "--older-than", "abc"),
    "prune_runs: older than huge": ("prune_runs", "--older-than", HUGE),
}


@pytest.mark.parametrize("arguments", COMMAND_CASES.values(), ids=COMMAND_CASES.keys())
def test_hostile_command_arguments_are_a_command_error(small_dataset, arguments, capsys):
    services.forecast_run_create(
        regions=list(Region.objects.filter(code=900)), start=2030, end=2031
    )
    before = snapshot()

    with pytest.raises(CommandError) as error:
        call_command(*arguments)

    message = str(error.value)
    assert message.strip()
    assert "Traceback" not in message
    assert snapshot() == before


# --- Data files given to the import service ------------------------------------------------------


def _long_file_text(small_long_file):
    return small_long_file.read_text(encoding="utf-8")


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def truncated_gzip(small_long_file):
    packed = gzip.compress(small_long_file.read_bytes())
    return packed[: len(packed) // 2]


def semicolons(small_long_file):
    return _long_file_text(small_long_file).replace(",", ";").encode()


def tabs(small_long_file):
    return _long_file_text(small_long_file).replace(",", "\t").encode()


def latin1_long(small_long_file):
    text = _long_file_text(small_long_file)
    lines = text.splitlines(keepends=True)
    header, first = lines[0], lines[1]
    columns = header.strip().split(",")
    cells = first.strip().split(",")
    cells[columns.index("Location")] = "Côte d’Ivoire"
    return (header + ",".join(cells) + "\n" + "".join(lines[2:])).encode("cp1252")


def negative_persons(small_long_file):
    return _replace_first_value(small_long_file, "-5")


def huge_persons(small_long_file):
    return _replace_first_value(small_long_file, "1e300")


def text_persons(small_long_file):
    return _replace_first_value(small_long_file, "<script>alert(1)</script>")


def _replace_first_value(small_long_file, value):
    lines = _long_file_text(small_long_file).splitlines(keepends=True)
    columns = lines[0].strip().split(",")
    cells = lines[1].rstrip("\r\n").split(",")
    cells[columns.index("PopTotal")] = value
    return (lines[0] + ",".join(cells) + "\n" + "".join(lines[2:])).encode()


def sql_year(small_long_file):
    lines = _long_file_text(small_long_file).splitlines(keepends=True)
    columns = lines[0].strip().split(",")
    cells = lines[1].rstrip("\r\n").split(",")
    cells[columns.index("Time")] = SQL.replace(",", " ")
    return (lines[0] + ",".join(cells) + "\n" + "".join(lines[2:])).encode()


FILE_CASES = {
    "truncated gzip": ("wpp.csv.gz", truncated_gzip),
    "semicolon delimiter": ("wpp.csv", semicolons),
    "tab delimiter": ("wpp.csv", tabs),
    "Windows-1252 bytes in a UTF-8 long file": ("wpp.csv", latin1_long),
    "negative persons": ("wpp.csv", negative_persons),
    "huge persons": ("wpp.csv", huge_persons),
    "persons is HTML": ("wpp.csv", text_persons),
    "year is SQL": ("wpp.csv", sql_year),
    "empty file": ("wpp.csv", lambda _: b""),
    "binary garbage": ("wpp.csv", lambda _: bytes(range(256)) * 64),
    "an HTML page": ("wpp.csv", lambda _: b"<!doctype html><html><body>Not found</body></html>"),
    "header only": ("wpp.csv", lambda f: _long_file_text(f).splitlines(keepends=True)[0].encode()),
}


@pytest.mark.parametrize("name, make", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_hostile_data_file_is_refused_and_the_data_kept(
    small_dataset, small_long_file, tmp_path, name, make
):
    before = snapshot()
    path = _write(tmp_path, name, make(small_long_file))

    with pytest.raises(services.DatasetImportError) as error:
        services.dataset_import(source=str(path))

    assert str(error.value).strip()
    assert error.value.dataset.status == Dataset.Status.FAILED
    assert snapshot() == before


def test_utf8_file_with_a_bom_imports_with_correct_names(db, small_long_file, tmp_path):
    text = _long_file_text(small_long_file)
    columns = text.splitlines()[0].split(",")
    lines = text.splitlines(keepends=True)
    cells = lines[1].rstrip("\r\n").split(",")
    code = int(cells[columns.index("LocID")])
    renamed = [
        line.replace(cells[columns.index("Location")], "Côte d’Ivoire") for line in lines[1:]
    ]
    path = _write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + (lines[0] + "".join(renamed)).encode())

    dataset = services.dataset_import(source=str(path))

    assert dataset.status == Dataset.Status.SUCCEEDED
    assert Region.objects.get(code=code).name == "Côte d’Ivoire"


def test_latin1_wide_file_imports_with_correct_names(small_dataset):
    assert Region.objects.get(code=384).name == "Côte d'Ivoire"


def test_wide_file_resaved_as_utf8_with_a_bom_imports_the_same_names(db, small_wide_file, tmp_path):
    text = small_wide_file.read_bytes().decode("latin-1")
    path = _write(tmp_path, "utf8-bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))

    services.dataset_import(source=str(path))

    assert Region.objects.get(code=384).name == "Côte d'Ivoire"
    assert Region.objects.get(code=900).name == "WORLD"
