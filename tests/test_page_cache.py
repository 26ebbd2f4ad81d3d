"""Cached pages (forecasts.page_cache) and the calibration stored at import: a refresh or a new
run shows at once, the CSRF token is each visitor's own, signed-in users get their own pages."""

import gc
import re
import runpy

import pytest
from django.test import Client

from forecasts import page_cache, selectors, services
from forecasts.modeling import damped
from forecasts.models import DatasetCalibration

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _store_run(regions=(900,), start=2030, end=2035):
    return services.forecast_run_create(
        regions=selectors.regions_for_forecast(identifiers=[str(code) for code in regions]),
        start=start,
        end=end,
    ).run


@pytest.mark.django_db
def test_cached_home_page_gives_each_visitor_a_working_csrf_token(small_dataset):
    Client().get("/")  # renders and caches the page
    assert page_cache._store.entries
    client = Client(enforce_csrf_checks=True)
    response = client.get("/")  # from the cache
    page = response.content.decode()
    assert page_cache.CSRF_PLACEHOLDER not in page
    token = TOKEN.search(page).group(1)
    assert "csrftoken" in response.cookies
    posted = client.post(
        "/",
        {
            "csrfmiddlewaretoken": token,
            "regions": ["900"],
            "from": 2030,
            "to": 2035,
            "method": "damped",
            "lags": "3",
            "level": "0.95",
        },
    )
    assert posted.status_code == 302
    refused = Client(enforce_csrf_checks=True).post("/", {"regions": ["900"], "from": 2030})
    assert refused.status_code == 403


@pytest.mark.django_db
def test_two_visitors_of_the_cached_page_get_different_tokens(small_dataset):
    first = TOKEN.search(Client().get("/").content.decode()).group(1)
    second = TOKEN.search(Client().get("/").content.decode()).group(1)
    assert first != second


@pytest.mark.django_db
def test_a_new_run_shows_at_once_on_the_cached_pages(small_dataset):
    client = Client()
    for path in ("/", "/runs/", "/regions/900/"):
        client.get(path)
    run = _store_run()
    for path in ("/", "/runs/", "/regions/900/"):
        assert run.get_absolute_url() in client.get(path).content.decode(), path


@pytest.mark.django_db
def test_a_run_of_other_regions_leaves_a_region_page_in_the_cache(small_dataset):
    """The site's form stores runs all the time: a region's page is drawn again only when a run
    that includes the region is stored (page_cache.newest_run_id(region_code=...))."""
    client = Client()
    first = client.get("/regions/900/").content
    keys = set(page_cache._store.entries)

    other = _store_run(regions=(250,))
    again = client.get("/regions/900/").content

    assert again == first
    assert set(page_cache._store.entries) == keys  # the same entry answered
    assert other.get_absolute_url() in client.get("/regions/250/").content.decode()
    mine = _store_run(regions=(250, 900))
    assert mine.get_absolute_url() in client.get("/regions/900/").content.decode()


@pytest.mark.django_db
def test_each_new_run_of_a_region_shows_at_once_on_its_cached_page(small_dataset):
    """Not only the region's first run: its page's key names the region's newest run (it named
    the oldest, as ordering by the run followed ForecastRun's own ordering, so a second run of
    the region stayed off its cached page for up to a minute)."""
    client = Client()
    first = _store_run(regions=(900,), start=2030, end=2035)
    assert first.get_absolute_url() in client.get("/regions/900/").content.decode()
    for end in (2036, 2037):
        run = _store_run(regions=(250, 900), start=2030, end=end)
        assert page_cache.newest_run_id(region_code=900) == run.pk
        assert run.get_absolute_url() in client.get("/regions/900/").content.decode(), end


@pytest.mark.django_db
def test_a_region_pages_tables_are_rendered_once_per_data_generation(
    small_dataset, small_wide_file, tmp_path
):
    """A new run of the region draws its page again, but not its outlook and history tables,
    which only the data changes (forecasts.views.regions.region_tables); a refresh does."""
    tables = "forecasts/includes/region_tables.html"
    client = Client()
    first = client.get("/regions/900/")
    assert tables in [template.name for template in first.templates]
    run = _store_run(regions=(900,))
    again = client.get("/regions/900/")
    assert run.get_absolute_url() in again.content.decode()
    assert tables not in [template.name for template in again.templates]
    table = re.compile(r'<table[^>]*id="history-table".*?</table>', re.S)
    assert table.search(again.content.decode()).group(0) == table.search(
        first.content.decode()
    ).group(0)
    revised = tmp_path / "wpp2019_revised.csv"  # the same file, World's 1950 revised
    revised.write_bytes(small_wide_file.read_bytes().replace(b" 2 536 431,", b" 2 600 000,", 1))
    services.dataset_import(source=str(revised))
    refreshed = client.get("/regions/900/")
    assert tables in [template.name for template in refreshed.templates]
    assert 'value="2600000000"' in table.search(refreshed.content.decode()).group(0)
    assert 'value="2536431000"' in table.search(first.content.decode()).group(0)


@pytest.mark.django_db
def test_a_refresh_replaces_the_cached_pages(small_dataset, small_long_file):
    client = Client()
    run = _store_run()
    pages = ("/", "/runs/", "/regions/900/", "/accuracy/", run.get_absolute_url())
    before = {path: client.get(path).content for path in pages}
    assert b"WPP2019" in before["/"]
    services.dataset_import(source=str(small_long_file))
    after = {path: client.get(path).content for path in pages}
    assert b"WPP2022" in after["/"]
    assert after["/regions/900/"] != before["/regions/900/"]


@pytest.mark.django_db
def test_signed_in_users_pages_are_neither_cached_nor_served_from_the_cache(
    small_dataset, staff_user
):
    client = Client()
    client.force_login(staff_user)
    for path in ("/", "/runs/", "/regions/900/", "/accuracy/"):
        assert client.get(path).status_code == 200
    assert not page_cache._store.entries


@pytest.mark.django_db
def test_a_deleted_run_is_gone_from_its_cached_page(small_dataset):
    run = _store_run()
    url = run.get_absolute_url()
    client = Client()
    assert client.get(url).status_code == 200
    run.delete()
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_the_import_stores_the_default_models_calibration(wpp2019_dataset, monkeypatch):
    assert DatasetCalibration.objects.get(dataset=wpp2019_dataset).damped
    from forecasts import active_data

    active_data.forget()

    def refuse(*args, **kwargs):
        raise AssertionError("the stored calibration table should be used")

    monkeypatch.setattr(damped, "calibrate", refuse)
    [result] = services.forecast_compute(
        regions=selectors.regions_for_forecast(identifiers=["900"]), start=2030, end=2035
    )
    assert result.interval == "calibrated"


@pytest.mark.django_db
def test_a_stored_calibration_of_another_model_version_is_built_again(wpp2019_dataset, monkeypatch):
    """A table stored before the model's arithmetic changed measured the old model's errors:
    the forecast's intervals come from a table built for the model as it is now."""
    from django.core.cache import cache

    from forecasts import active_data
    from forecasts.modeling import longrange

    stored = DatasetCalibration.objects.get(dataset=wpp2019_dataset)
    assert stored.damped[damped.MODEL_VERSION_KEY] == longrange.MODEL_VERSION
    current = _forecast_900()
    stored.damped = {
        **stored.damped,
        damped.MODEL_VERSION_KEY: longrange.MODEL_VERSION - 1,
        "factors": {"900": 50.0},  # what an old table could say: far wider intervals
    }
    stored.save()
    active_data.forget()
    assert _forecast_900() == current
    # The table built again is stored with the dataset: the next process does not build it.
    stored.refresh_from_db()
    assert damped.is_current(stored.damped)
    cache.clear()
    active_data.forget()
    monkeypatch.setattr(damped, "calibrate", lambda *args, **kwargs: pytest.fail("built again"))
    assert _forecast_900() == current


def _forecast_900():
    [result] = services.forecast_compute(
        regions=selectors.regions_for_forecast(identifiers=["900"]), start=2030, end=2035
    )
    return [(point.lower, point.value, point.upper) for point in result.points]


@pytest.mark.django_db
def test_a_page_one_worker_rendered_is_not_rendered_again_by_another(small_dataset, settings):
    """With Redis (PAGE_CACHE_SHARED) the other workers take the page from the shared cache; the
    test's default cache stands in for Redis, and clearing the local store for another process."""
    settings.PAGE_CACHE_SHARED = True
    first = Client().get("/regions/250/")
    page_cache.clear()  # "another worker": its own memory is empty
    second = Client().get("/regions/250/")

    assert second.status_code == 200
    assert second.context is None  # answered without rendering a template
    assert _without_tokens(second) == _without_tokens(first)
    assert page_cache._store.entries  # and now kept in this worker's memory too


def _without_tokens(response) -> str:
    return TOKEN.sub("", response.content.decode())


@pytest.mark.django_db
def test_a_booting_worker_loads_what_its_first_forecast_needs(
    small_dataset, django_assert_num_queries, monkeypatch
):
    """gunicorn's post_worker_init (gunicorn.conf.py) loads the active data, the default
    model's table and what is shown beside it, and fits every region and runs its path to 2100:
    the first default forecast reads nothing more, fits nothing and runs no recursion; a region
    page renders no table."""
    from pathlib import Path

    from forecasts import active_data
    from forecasts.modeling import longrange

    active_data.forget()  # a fresh process
    hooks = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
    try:
        hooks["post_worker_init"](worker=None)
        assert gc.get_freeze_count() > 10_000  # no collection walks what it loaded
    finally:
        gc.unfreeze()
    loaded = active_data._loaded
    data = active_data.active_data()
    assert data is loaded is not None
    for name in ("fit", "predict"):
        monkeypatch.setattr(
            longrange, name, lambda *args, name=name: pytest.fail(f"{name} at request time")
        )
    with django_assert_num_queries(0):
        [result] = services.forecast_compute(
            data=data, regions=[data.regions[900]], start=2030, end=2035
        )
    assert result.interval == "calibrated" and len(result.points) == 6
    page = Client().get("/regions/250/")  # its tables were rendered while the worker booted
    assert "forecasts/includes/region_tables.html" not in [t.name for t in page.templates]
    assert 'id="history-table"' in page.content.decode()


@pytest.mark.django_db
def test_a_frozen_worker_frees_the_data_a_refresh_replaced(small_dataset, small_long_file):
    """A worker freezes what it loaded (gunicorn.conf.py); a frozen object in a reference cycle
    is never freed, so a reload unfreezes first: the old copy goes, the new one is frozen."""
    import weakref

    from forecasts import active_data

    old = active_data.active_data()
    old.memo["cycle"] = old  # garbage only the collector can free
    gone = weakref.ref(old)
    del old
    try:
        active_data.freeze_loaded()
        services.dataset_import(source=str(small_long_file))
        assert active_data.active_data().dataset.edition == "WPP2022"
        assert gone() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_worker_boots_even_when_the_data_cannot_be_loaded(monkeypatch, caplog):
    from django.db import OperationalError

    from forecasts.services import warm_up

    def database_down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(warm_up, "active_data", database_down)
    assert warm_up.warm_up() is False
    assert "first request will load the data" in caplog.text


@pytest.mark.django_db
def test_a_cached_run_page_asks_the_database_only_whether_the_run_exists(small_dataset):
    """The run's regions and dataset are read only to draw the page, not on every visit."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run = _store_run()
    client = Client()
    first = client.get(run.get_absolute_url())
    with CaptureQueriesContext(connection) as queries:
        second = client.get(run.get_absolute_url())
    [query] = [q["sql"] for q in queries]
    assert "forecasts_dataset" not in query and '"regions"' not in query, query
    assert _without_tokens(second) == _without_tokens(first)
    url = run.get_absolute_url()
    run.delete()
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_another_process_import_is_seen_within_the_generation_check(small_dataset, monkeypatch):
    """A process asks the cache for the data generation at most once per
    GENERATION_CHECK_SECONDS (not on every request); a new generation another process put there
    is seen once that time has passed, and the importing process's own forget() is seen at once."""
    from django.core.cache import cache

    from forecasts import active_data

    clock = [1000.0]
    monkeypatch.setattr(active_data.time, "monotonic", lambda: clock[0])
    before = active_data.dataset_generation()
    cache.set(active_data.GENERATION_KEY, "another-import", 60)  # as another process's import
    assert active_data.dataset_generation() == before
    clock[0] += active_data.GENERATION_CHECK_SECONDS
    assert active_data.dataset_generation() == "another-import"
    active_data.forget()
    assert active_data.dataset_generation() == before  # read again from the database


@pytest.mark.django_db
def test_a_generation_naming_a_dataset_this_database_lacks_is_read_again(small_dataset):
    """Another site or the test suite sharing the cache can leave a generation there that names
    a dataset this database does not have: the pages answer from the database's own data."""
    from django.core.cache import cache

    from forecasts import active_data

    active_data.forget()
    cache.set(active_data.GENERATION_KEY, f"{small_dataset.pk + 1000}-0123456789abcdef-0", 60)
    response = Client().get("/api/forecast/?regions=900&from=2030&to=2031")
    assert response.status_code == 200
    assert response.json()["dataset"]["id"] == small_dataset.pk
