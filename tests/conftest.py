"""Shared fixtures: file paths, loaded datasets, a staff user."""

import os
from pathlib import Path

import pytest

from forecasts import services

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"
WPP2019_FILE = SHARED_DATA / "WPP2019_POP_F01_1_TOTAL_POPULATION_BOTH_SEXES.csv"
WPP2022_EXCERPT = SHARED_DATA / "WPP2022_TotalPopulationBySex_excerpt.csv"


def pytest_collection_modifyitems(items):
    """Browser tests are slow tests too, so `pytest -m "not slow"` leaves them out."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config):
    if not SHARED_DATA.is_dir():
        return f"NOTE: {SHARED_DATA} is absent: tests on the real WPP files will be skipped."
    return f"real WPP files: {SHARED_DATA}"


def _shared_file(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is absent (it lives in ../shared/data beside the project)")
    return path


@pytest.fixture
def wpp2019_file():
    """The original app's input file (real data, 289 rows)."""
    return _shared_file(WPP2019_FILE)


@pytest.fixture
def wpp2022_excerpt():
    return _shared_file(WPP2022_EXCERPT)


@pytest.fixture
def small_wide_file():
    return FIXTURES / "wpp2019_small.csv"


@pytest.fixture
def small_long_file():
    return FIXTURES / "wpp2022_small.csv"


@pytest.fixture
def small_dataset(db, small_wide_file):
    """The small WPP2019 fixture imported: WORLD, development groups, Holy See, France."""
    return services.dataset_import(source=str(small_wide_file))


@pytest.fixture
def wpp2019_dataset(db, wpp2019_file):
    """The real WPP2019 file imported."""
    return services.dataset_import(source=str(wpp2019_file))


@pytest.fixture
def one_budget_window(monkeypatch):
    """Every request of a test falls in the same budget window (forecasts.throttling), 30 s
    before its end: a test crossing a minute boundary would otherwise see its budget renewed."""
    from forecasts import throttling

    monkeypatch.setattr(throttling, "_now", lambda: 1_800_000_000.0 - 30)


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password="a-long-test-password", is_staff=True, is_superuser=True
    )


@pytest.fixture(autouse=True)
def no_accuracy_after_import():
    """Imports skip the accuracy backtests (seconds each) unless a test turns them on."""
    from django.test import override_settings

    with override_settings(ACCURACY_AFTER_IMPORT=False):
        yield


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache (CI shares one Redis between runs), no copy of the
    active data in memory and no run budget refusals remembered (the test database, which holds
    the budget's counts on PostgreSQL, is rolled back under them)."""
    from django.core.cache import caches

    from forecasts import active_data, page_cache, throttling

    for cache in caches.all():
        cache.clear()
    active_data.forget()
    page_cache.clear()
    throttling.forget_refusals()
    yield
    active_data.forget()
    page_cache.clear()
    throttling.forget_refusals()


@pytest.fixture(autouse=True)
def upload_dir(tmp_path):
    """Uploads waiting for the worker go to the test's own folder. (override_settings, not the
    ``settings`` fixture: some tests have a parameter of that name.)"""
    from django.test import override_settings

    folder = tmp_path / "uploads"
    with override_settings(WPP_UPLOAD_DIR=folder):
        yield folder


@pytest.fixture
def run_tasks():
    """Run the queued tasks as ``db_worker`` does (its Worker.run_task), inside the test's
    transaction; returns how many ran. (The command's own loop closes connections between tasks,
    which a test's transaction cannot survive; tests/test_tasks.py runs the command itself.)"""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )

    def run() -> int:
        ran = 0
        while (result := DBTaskResult.objects.ready().first()) is not None:
            result.claim(worker.worker_id)
            worker.run_task(result)
            ran += 1
        return ran

    return run


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, headless (Playwright cannot download browsers here)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser test skipped")
    # Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are sync.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def serve_static_by_name(settings) -> None:
    """The live server serves static files through the staticfiles finders, which know them by
    their own names, not by the hashed names of the manifest storage used with DEBUG off."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def refuse_other_hosts(tab, site_url: str) -> None:
    """Let ``tab`` talk to the live server only: other requests are refused and noted in
    ``tab.foreign_requests``; script errors are noted in ``tab.script_errors``."""
    tab.foreign_requests = []
    tab.script_errors = []

    def only_live_server(route):
        if route.request.url.startswith(site_url):
            route.continue_()
        else:
            tab.foreign_requests.append(route.request.url)
            route.abort()

    tab.route("**/*", only_live_server)
    tab.on("pageerror", lambda error: tab.script_errors.append(str(error)))


@pytest.fixture
def page(browser):
    """A fresh browser tab; requests to any host but the test server are refused."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def artifact_path():
    """Where a browser test saves screenshots (not committed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return lambda name: ARTIFACTS / name
