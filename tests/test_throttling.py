"""Budgets of work per client that headers cannot escape: one for storing runs, from the site and
the API, one for the forecasts GET /api/forecast/ computes."""

from unittest import mock

import pytest
from django.test import Client
from rest_framework.test import APIClient

from forecasts import rules, throttling
from forecasts.models import ForecastRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_budget_window")]

BODY = {"regions": ["900"], "from": 2030, "to": 2031}


def _api_post(client, **headers):
    return client.post("/api/runs/", BODY, format="json", **headers)


def test_a_different_x_forwarded_for_per_request_does_not_escape_the_budget(
    small_dataset, settings
):
    settings.RUNS_RATE = "3/minute"
    client = APIClient()
    answers = [
        _api_post(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{number}").status_code
        for number in range(6)
    ]
    assert answers == [201, 201, 201, 429, 429, 429]


def test_behind_a_proxy_the_forwarded_address_names_the_client(small_dataset, settings):
    settings.RUNS_RATE = "1/minute"
    settings.BEHIND_PROXY = 1
    client = APIClient()
    assert _api_post(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 201
    assert _api_post(client, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 201
    assert _api_post(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429


def test_the_site_form_and_the_api_draw_on_the_same_budget(small_dataset, settings, client):
    settings.RUNS_RATE = "2/minute"
    form = {"regions": ["900"], "from": "2030", "to": "2031", "lags": "3", "level": "0.95"}

    assert client.post("/", form).status_code == 302
    assert _api_post(APIClient()).status_code == 201
    # The same form again opens the stored run (nothing is stored, nothing charged) ...
    assert client.post("/", form).status_code == 302
    # ... a new one is over the budget.
    refused = client.post("/", {**form, "to": "2032"})

    assert refused.status_code == 429
    assert "Too many forecasts" in refused.content.decode()
    assert ForecastRun.objects.count() == 2


def test_opening_a_stored_run_again_from_the_form_uses_none_of_the_budget(
    small_dataset, settings, client
):
    """Only a run stored now is charged (on PostgreSQL the statement that looks for an
    identical run charges the budget only when it finds none): within the budget too."""
    settings.RUNS_RATE = "2/minute"
    form = {"regions": ["900"], "from": "2030", "to": "2031", "lags": "3", "level": "0.95"}

    first = client.post("/", form)
    assert [client.post("/", form)["Location"] for _ in range(3)] == [first["Location"]] * 3
    assert client.post("/", {**form, "to": "2032"}).status_code == 302  # the second unit
    assert client.post("/", {**form, "to": "2033"}).status_code == 429
    assert ForecastRun.objects.count() == 2


def test_a_refused_forecast_uses_none_of_the_budget(small_dataset, settings, client):
    """A run the model cannot give (a population at or below zero) is not stored, not charged."""
    settings.RUNS_RATE = "1/minute"
    form = {"regions": ["900"], "from": "2030", "to": "2031", "lags": "3", "level": "0.95"}

    def refusing(**kwargs):
        raise rules.ForecastError("World: the forecast reaches zero or less in 2030.")

    with mock.patch("forecasts.services.runs.forecast_compute", side_effect=refusing):
        assert client.post("/", form).status_code == 400
    assert client.post("/", form).status_code == 302
    assert ForecastRun.objects.count() == 1


def test_heavy_runs_cost_more_of_the_budget(small_dataset, settings):
    settings.RUNS_RATE = "20/minute"
    heavy = {"regions": ["900", "901", "902", "250"], "from": 1960, "to": 2100}
    client = APIClient()

    assert throttling.run_cost(regions=4, years=141) == 3
    assert throttling.run_cost(regions=20, years=151) == 16
    assert throttling.run_cost(regions=1, years=1) == 1
    answers = [client.post("/api/runs/", heavy, format="json").status_code for _ in range(8)]
    assert answers.count(201) == 6  # 6 x 3 units = 18 of 20; the 7th would pass the limit


def _forecast(client, level, regions="900,901,250", start=1950, end=2100):
    query = {"regions": regions, "from": start, "to": end, "level": level}
    return client.get("/api/forecast/", query)


def test_forecasts_computed_on_request_draw_on_their_own_budget(small_dataset, settings):
    """A client sending heavy forecasts with a new level each time (the cache never helps) is
    refused once its budget is spent; repeating a question the cache holds costs nothing."""
    settings.FORECASTS_RATE = "10/minute"  # 3 regions x 151 years = 453 points: 3 units each
    client = APIClient()

    answers = [_forecast(client, f"0.9{number}").status_code for number in range(1, 6)]
    cached = _forecast(client, "0.91")
    refused = _forecast(client, "0.96")

    assert answers == [200, 200, 200, 429, 429]
    assert cached.status_code == 200  # answered from the cache: not charged, not refused
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "throttled" in refused.json()["detail"].lower()
    # Another client, and storing runs, have budgets of their own.
    other = APIClient(REMOTE_ADDR="198.51.100.7")
    assert _forecast(other, "0.97").status_code == 200
    assert _api_post(client).status_code == 201


def test_the_budget_is_counted_where_every_worker_sees_it(settings):
    from django.core.cache import caches

    assert settings.CACHES["shared"]["BACKEND"] in {
        "django.core.cache.backends.filebased.FileBasedCache",
        "popsite.cache.ResilientRedisCache",
    }
    caches["shared"].set("probe", 1)
    assert caches["shared"].get("probe") == 1


def test_a_redis_outage_is_a_cache_miss_not_an_error(settings):
    from popsite.cache import ResilientRedisCache

    unreachable = ResilientRedisCache(
        "redis://127.0.0.1:9/0", {"OPTIONS": {"socket_connect_timeout": 0.2}}
    )
    assert unreachable.get("anything", "default") == "default"
    unreachable.set("key", "value")
    assert unreachable.add("key", "value") is False
    assert unreachable.get_many(["a", "b"]) == {}
    unreachable.delete("key")


def _machine_redis_url() -> str:
    """REDIS_URL, else the machine's Redis (database 15); the test is skipped, saying why,
    when no Redis answers there."""
    import os

    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis answers at {url}: the Redis budget counter needs one")
    return url


def _machine_redis():
    from popsite.cache import ResilientRedisCache

    return ResilientRedisCache(_machine_redis_url(), {"KEY_PREFIX": "test-count-up"})


def test_redis_counts_a_budget_in_one_atomic_step():
    """count_up adds and sets the expiry of a new count in one round trip; concurrent workers
    never lose a unit; the count reads back as Django's cache stores integers."""
    import threading
    import uuid

    store = _machine_redis()
    key = f"budget-{uuid.uuid4().hex}"
    assert store.count_up(key, 3, 60) == 3
    assert store.count_up(key, 2, 60) == 5
    assert store.count_up(key, -2, 60) == 3
    assert store.get(key) == 3
    raw = store._cache.get_client(write=True)
    assert 0 < raw.ttl(store.make_and_validate_key(key)) <= 60

    def charge():
        for _ in range(50):
            store.count_up(key, 1, 60)

    workers = [threading.Thread(target=charge) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert store.get(key) == 3 + 8 * 50
    store.delete(key)


def test_an_unreachable_redis_lets_the_budget_fail_open():
    from popsite.cache import ResilientRedisCache

    unreachable = ResilientRedisCache(
        "redis://127.0.0.1:9/0", {"OPTIONS": {"socket_connect_timeout": 0.2}}
    )
    assert unreachable.count_up("budget", 5, 60) == 0


def _run_budget_used(address: str, *, regions=1, years=2) -> int | None:
    """The units ``address`` has used of its run budget in this window, read where the budget is
    counted: on PostgreSQL in models.RunBudgetUse, elsewhere in the shared cache."""
    from django.core.cache import caches
    from django.db import connection
    from django.test import RequestFactory

    from forecasts.models import RunBudgetUse

    request = RequestFactory().post("/", REMOTE_ADDR=address)
    request.user = mock.Mock(is_authenticated=False)
    budget = throttling.run_budget(request, regions=regions, years=years)
    if connection.vendor == "postgresql":
        use = RunBudgetUse.objects.filter(window_start=budget.window_start, client=budget.client)
        return use.values_list("used", flat=True).first()
    return caches["shared"].get(budget.cache_key)


def test_the_run_budget_refuses_and_does_not_charge_a_refusal(small_dataset, settings):
    """Within the budget, past it (429), and a refusal costs nothing; counted where the database
    says (PostgreSQL: in the statement that stores the run; else the shared cache, Redis in CI)."""
    settings.RUNS_RATE = "2/minute"
    client = APIClient(REMOTE_ADDR="10.9.8.7")
    assert [_api_post(client).status_code for _ in range(3)] == [201, 201, 429]
    assert _run_budget_used("10.9.8.7") == 2
    assert _run_budget_used("10.9.8.8") is None


def test_the_run_budget_keeps_no_address_and_forgets_past_windows(
    small_dataset, settings, monkeypatch
):
    """The budget's counts name a client by a keyed hash, never by its address; a window's
    counts go once a later window's first run is charged (on PostgreSQL; the cache's entries
    expire with their window)."""
    from django.db import connection

    from forecasts.models import RunBudgetUse

    if connection.vendor != "postgresql":
        pytest.skip("on SQLite the run budget is counted in the cache, whose entries expire")
    settings.RUNS_RATE = "5/minute"
    assert _api_post(APIClient(REMOTE_ADDR="10.9.8.7")).status_code == 201
    assert _api_post(APIClient(REMOTE_ADDR="10.9.8.6")).status_code == 201
    clients = set(RunBudgetUse.objects.values_list("client", flat=True))
    assert len(clients) == 2 and not any("10.9.8" in client for client in clients)

    later = throttling._now() + 60
    monkeypatch.setattr(throttling, "_now", lambda: later)
    assert (
        _api_post(
            APIClient(REMOTE_ADDR="10.9.8.5"),
        ).status_code
        == 201
    )
    assert list(RunBudgetUse.objects.values_list("window_start", "used")) == [
        (int(later // 60) * 60, 1)
    ]


def test_a_client_past_its_run_budget_gets_no_more_forecasts_computed(
    small_dataset, settings, client
):
    """The store charges a run after its forecast is computed; once a client is refused, each
    worker refuses its runs that cost as much or more for the rest of the window without
    computing them (the form still opens a run stored with the same settings)."""
    settings.RUNS_RATE = "2/minute"
    form = {"regions": ["900"], "from": "2030", "to": "2031", "lags": "3", "level": "0.95"}
    stored = client.post("/", form)
    assert client.post("/", {**form, "to": "2032"}).status_code == 302
    assert client.post("/", {**form, "to": "2033"}).status_code == 429

    with mock.patch("forecasts.services.runs.forecast_compute") as compute:
        again = client.post("/", {**form, "to": "2034"})
        api = _api_post(
            APIClient(),
        )
        same = client.post("/", form)
    assert compute.call_count == 0
    assert again.status_code == 429 and "Too many forecasts stored" in again.content.decode()
    assert api.status_code == 429 and int(api["Retry-After"]) > 0
    assert same.status_code == 302 and same["Location"] == stored["Location"]
    assert ForecastRun.objects.count() == 2


def test_the_site_and_api_answer_while_redis_is_down(small_dataset, settings, client):
    settings.CACHES = {
        name: {
            "BACKEND": "popsite.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
        for name in ("default", "shared")
    }
    assert client.get("/regions/900/").status_code == 200
    answer = APIClient().get("/api/forecast/", {"regions": "900", "from": 2030, "to": 2031})
    assert answer.status_code == 200
    assert _api_post(APIClient()).status_code == 201


def test_world_rankings_the_cache_does_not_hold_draw_on_the_forecast_budget(
    small_dataset, settings, client
):
    """Each new pair of years forecasts every region: a client varying them is refused once its
    forecast budget is spent, on the page, its CSV and the API alike; a pair already computed
    is free."""
    settings.FORECASTS_RATE = "3/minute"  # 5 regions x 11 years = 55 points: 1 unit a ranking
    api = APIClient()

    answers = [
        client.get("/world/", {"from": 2030, "to": 2040}).status_code,
        client.get("/world.csv", {"from": 2031, "to": 2041}).status_code,
        api.get("/api/world/", {"from": 2032, "to": 2042}).status_code,
        api.get("/api/world/", {"from": 2033, "to": 2043}).status_code,
        client.get("/world/", {"from": 2034, "to": 2044}).status_code,
        client.get("/world.csv", {"from": 2035, "to": 2045}).status_code,
    ]
    cached = client.get("/world/", {"from": 2030, "to": 2040})
    refused = client.get("/world/", {"from": 2036, "to": 2046})

    assert answers == [200, 200, 200, 429, 429, 429]
    assert cached.status_code == 200
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many forecasts" in refused.content.decode()
    assert refused["Content-Type"].startswith("text/html")  # the site's own page, not bare text
    csv_refused = client.get("/world.csv", {"from": 2037, "to": 2047})
    assert csv_refused.status_code == 429 and "Too many forecasts" in csv_refused.content.decode()


def test_a_refused_client_gets_its_budget_again_in_the_next_window(
    small_dataset, settings, monkeypatch
):
    """What a worker remembers of a refusal lasts until its window ends: in the next window the
    client's runs are computed and stored again, from the site and the API."""
    settings.RUNS_RATE = "1/minute"
    api, site = APIClient(REMOTE_ADDR="10.9.8.4"), Client(REMOTE_ADDR="10.9.8.4")
    form = {"regions": ["900"], "from": "2040", "to": "2041", "lags": "3", "level": "0.95"}
    assert [_api_post(api).status_code for _ in range(3)] == [201, 429, 429]
    assert site.post("/", form).status_code == 429

    later = throttling._now() + 60
    monkeypatch.setattr(throttling, "_now", lambda: later)
    assert site.post("/", form).status_code == 302
    assert _api_post(api).status_code == 429
    assert ForecastRun.objects.count() == 2
