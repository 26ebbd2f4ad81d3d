"""Production security: deploy checks, headers, CSRF, staff-only pages, clean error pages, CSP."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import Client

from forecasts import services
from forecasts.models import Dataset, ForecastRun

from .conftest import serve_static_by_name

ROOT = Path(__file__).resolve().parent.parent
VALID_FORM = {"regions": ["900", "901"], "from": "2030", "to": "2035", "lags": "1", "level": "0.95"}
PRODUCTION_ENV = {
    "SECRET_KEY": "k7#Qz!r9-production-like-secret-key-with-enough-length-and-variety-2d8f",
    "ALLOWED_HOSTS": "forecasts.example.org",
    "DEBUG": "0",
}


def deploy_check(**env):
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SESSION_", "CSRF_"))
        and key not in {"HTTPS", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_deploy_check_passes_with_production_settings_behind_https():
    result = deploy_check(**PRODUCTION_ENV, HTTPS="1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_deploy_check_fails_when_https_settings_are_off():
    result = deploy_check(**PRODUCTION_ENV)

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


@pytest.mark.slow
def test_deploy_check_fails_with_a_short_secret_key():
    result = deploy_check(**{**PRODUCTION_ENV, "SECRET_KEY": "short"}, HTTPS="1")

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_https_switch_turns_on_hsts_secure_cookies_and_redirect():
    code = (
        "import django; from django.conf import settings as s; django.setup(); "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_PROXY_SSL_HEADER)"
    )
    env = {**os.environ, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "popsite.settings"}
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "HTTPS": "1", "SECURE_SSL_REDIRECT": "0", "BEHIND_PROXY": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.stdout.split() == [
        "False",
        "31536000",
        "True",
        "True",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
    ], run.stderr


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/regions/",
        "/regions/900/",
        "/runs/",
        "/api/regions/",
        "/api/forecast/?regions=900&from=2030&to=2031",
    ],
)
def test_security_headers_on_pages_and_api(client, small_dataset, url):
    response = client.get(url)

    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    policy = csp_directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not any("http" in source for sources in policy.values() for source in sources)


def csp_directives(header):
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def test_a_redirect_goes_without_a_policy_and_the_page_it_opens_has_one(client, small_dataset):
    """The form's redirect draws no document, so it carries no policy; the run page does, and
    a bad POST answered with the form again keeps it too."""
    response = client.post("/", {**VALID_FORM, "lags": "3", "level": "0.95", "method": "damped"})

    assert response.status_code == 302
    assert "Content-Security-Policy" not in response
    assert response["X-Frame-Options"] == "DENY"  # the other security headers stay
    page = client.get(response["Location"])
    assert csp_directives(page["Content-Security-Policy"])["script-src"] == ["'self'"]
    refused = client.post("/", {**VALID_FORM, "to": "1900"})
    assert refused.status_code == 400
    assert csp_directives(refused["Content-Security-Policy"])["default-src"] == ["'self'"]


def test_https_redirect_and_hsts_when_switched_on(client, small_dataset, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000

    plain = client.get("/regions/")
    secure = client.get("/regions/", secure=True)

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/regions/"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/forecasts/dataset/",
        "/admin/forecasts/dataset/refresh/",
        "/admin/forecasts/forecastrun/",
        "/admin/forecasts/region/",
        "/admin/auth/user/",
    ],
)
def test_admin_pages_send_anonymous_users_to_the_login_page(client, small_dataset, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_anonymous_refresh_post_imports_nothing(client, small_dataset, small_long_file):
    with open(small_long_file, "rb") as upload:
        response = client.post("/admin/forecasts/dataset/refresh/", {"file": upload})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert Dataset.objects.count() == 1


def test_non_staff_user_cannot_enter_the_admin(client, small_dataset, django_user_model):
    django_user_model.objects.create_user(username="visitor", password="a-long-test-password")
    client.login(username="visitor", password="a-long-test-password")

    assert client.get("/admin/forecasts/dataset/refresh/").status_code == 302


def test_api_refuses_to_delete_or_change_runs(client, small_dataset):
    run = services.forecast_run_create(regions=_regions(), start=2030, end=2031).run

    assert client.delete(f"/api/runs/{run.pk}/").status_code in (403, 405)
    assert client.put(f"/api/runs/{run.pk}/", {}, content_type="application/json").status_code in (
        403,
        405,
    )
    assert ForecastRun.objects.filter(pk=run.pk).exists()


def _regions():
    from forecasts import selectors

    return selectors.regions_for_forecast(identifiers=["900"])


def test_forecast_form_post_without_csrf_token_is_refused(small_dataset):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/", VALID_FORM)

    assert response.status_code == 403
    assert not ForecastRun.objects.exists()


def test_forecast_form_post_with_the_pages_csrf_token_is_accepted(small_dataset):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/")
    form = page.context["form"]
    defaults = {form[name].html_name: form[name].value() for name in form.fields}
    data = {key: value for key, value in {**defaults, **VALID_FORM}.items() if value is not None}

    # The token as a browser reads it: from the page (the cached page's context holds a placeholder).
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = client.post("/", {**data, "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert ForecastRun.objects.count() == 1


def test_every_post_form_on_the_site_carries_a_csrf_token(client, small_dataset):
    for url in ("/", "/runs/", "/regions/", "/regions/900/"):
        html = client.get(url).content.decode()
        post_forms = html.count('method="post"')
        assert html.count('name="csrfmiddlewaretoken"') >= post_forms, url


def test_admin_login_without_csrf_token_is_refused(small_dataset, staff_user):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/admin/login/", {"username": "operator", "password": "a-long-test-password"}
    )

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_admin_refresh_without_csrf_token_is_refused(small_dataset, staff_user, small_long_file):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    with open(small_long_file, "rb") as upload:
        response = client.post("/admin/forecasts/dataset/refresh/", {"file": upload})

    assert response.status_code == 403
    assert Dataset.objects.count() == 1


def test_404_page_with_debug_off_shows_no_traceback(client, small_dataset, settings):
    settings.DEBUG = False

    response = client.get("/regions/999999/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert "Traceback" not in body
    assert "urlpatterns" not in body


def test_500_page_with_debug_off_shows_no_traceback(small_dataset, settings, monkeypatch):
    settings.DEBUG = False

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("forecasts.views.forecast.active_data", broken)
    client = Client(raise_request_exception=False)

    response = client.get("/")

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "Traceback" not in body
    assert "secret internal detail" not in body


def test_database_outage_is_a_503_page_not_a_traceback(small_dataset, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr("forecasts.views.forecast.active_data", unreachable)
    client = Client(raise_request_exception=False)

    response = client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    body = response.content.decode()
    assert "Service temporarily unavailable" in body
    assert "Connection refused" not in body
    assert "Traceback" not in body


def test_database_outage_is_a_json_503_on_the_api(small_dataset, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("forecasts.services.forecasts.forecast_compute", unreachable)
    client = Client(raise_request_exception=False)

    response = client.get("/api/forecast/?regions=900&from=2030&to=2031")

    assert response.status_code == 503
    assert response.json()["detail"].startswith("Service temporarily unavailable")


# --- In a real browser: the pages satisfy the Content-Security-Policy ----------------------------

CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture
def csp_site(live_server, transactional_db, small_wide_file, settings, django_user_model):
    serve_static_by_name(settings)
    dataset = services.dataset_import(source=str(small_wide_file))
    assert dataset.status == Dataset.Status.SUCCEEDED
    return live_server


@pytest.mark.browser
def test_pages_load_with_the_csp_header_and_no_violation(page, csp_site):
    from forecasts import selectors

    run = services.forecast_run_create(
        regions=selectors.regions_for_forecast(identifiers=["900", "250"]), start=2021, end=2030
    ).run
    console_violations, foreign = [], []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and console_violations.append(message.text)
        ),
    )
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(csp_site.url)
            else (foreign.append(route.request.url), route.abort())
        ),
    )
    page.add_init_script(CSP_LISTENER)
    pages = {
        "/": "#id_regions-ts-control",
        f"/runs/{run.pk}/": "#population-chart[data-ready='true']",
        "/regions/900/": "#population-chart[data-ready='true']",
        "/runs/": "#id_region-ts-control, main",
        "/api/docs/": ".swagger-ui .info",
        "/admin/login/": "#login-form",
        "/regions/": "main",
    }
    for path, ready in pages.items():
        response = page.goto(csp_site.url + path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_selector(ready, state="attached")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], path
    assert console_violations == []
    assert foreign == []


@pytest.mark.browser
def test_admin_pages_of_a_logged_in_operator_have_no_csp_violation(page, csp_site, staff_user):
    console_violations = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and console_violations.append(message.text)
        ),
    )
    page.add_init_script(CSP_LISTENER)
    page.goto(csp_site.url + "/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_url(csp_site.url + "/admin/")
    for path in (
        "/admin/",
        "/admin/forecasts/dataset/",
        "/admin/forecasts/dataset/refresh/",
        "/admin/forecasts/region/",
        "/admin/forecasts/region/900/change/",
        "/admin/forecasts/forecastrun/",
    ):
        response = page.goto(csp_site.url + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], path
    assert console_violations == []


@pytest.mark.django_db
def test_trace_is_refused_everywhere(client):
    for path in ("/", "/api/regions/", "/admin/login/"):
        assert client.generic("TRACE", path).status_code == 405


@pytest.mark.django_db
def test_a_login_with_a_refused_next_lands_on_the_admin(client, staff_user):
    response = client.post(
        "/admin/login/?next=https://evil.example/",
        {
            "username": "operator",
            "password": "a-long-test-password",
            "next": "https://evil.example/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.django_db
def test_an_unreadable_has_data_filter_is_a_400_naming_it(client, small_dataset):
    response = client.get("/api/regions/", {"has_data": "maybe"})
    assert response.status_code == 400 and "has_data" in response.json()
    assert client.get("/api/regions/", {"has_data": "true"}).status_code == 200
