"""Shared fixtures: file paths, loaded datasets, a staff user."""

from pathlib import Path

import pytest

from forecasts import services

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"
WPP2019_FILE = SHARED_DATA / "WPP2019_POP_F01_1_TOTAL_POPULATION_BOTH_SEXES.csv"
WPP2022_EXCERPT = SHARED_DATA / "WPP2022_TotalPopulationBySex_excerpt.csv"


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
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password="a-long-test-password", is_staff=True, is_superuser=True
    )


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache (CI shares one Redis between runs)."""
    from django.core.cache import cache

    cache.clear()
    yield
