"""Settings come from the environment and a local .env file (the environment wins); production
refuses to start without a secret key; DEBUG is off unless something turns it on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def django_check(**env):
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    clean["ENV_FILE"] = ""  # a developer's .env must not decide these tests
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_off_without_secret_key_stops_with_a_clear_message():
    result = django_check()
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_on_runs_without_secret_key():
    assert django_check(DEBUG="1").returncode == 0


def django_python(script: str, **env) -> subprocess.CompletedProcess:
    """``python -c script`` with the project's settings, DEBUG on, no DATABASE_URL or .env."""
    clean = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "popsite.settings",
            "DEBUG": "1",
            "ENV_FILE": "",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def engine_with(**env):
    return django_python(
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'])",
        **env,
    ).stdout.strip()


def test_database_url_selects_postgresql():
    """Django's PostgreSQL backend, through popsite.postgresql (its socket health check)."""
    assert engine_with(DATABASE_URL="postgres://postgres@127.0.0.1:5432/popforecasts") == (
        "popsite.postgresql popforecasts"
    )


def test_without_database_url_the_default_is_an_sqlite_file_in_the_project():
    assert engine_with() == f"django.db.backends.sqlite3 {ROOT / 'db.sqlite3'}"


def setting(name, **env):
    """A setting's value in a new process, with only ``env`` set (no .env unless ENV_FILE)."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "PYTEST_VERSION"}
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; from django.conf import settings; django.setup(); "
            f"print(settings.{name})",
        ],
        cwd=ROOT,
        env={"ENV_FILE": "", **clean, "DJANGO_SETTINGS_MODULE": "popsite.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_turned_on():
    assert setting("DEBUG", SECRET_KEY="k") == "False"
    assert setting("DEBUG", SECRET_KEY="k", DEBUG="1") == "True"


def test_the_written_env_file_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    subprocess.run(
        [sys.executable, ROOT / "scripts" / "write_local_env.py", env_file], check=True, timeout=60
    )
    text = env_file.read_text()
    assert "DEBUG=1" in text
    key = next(line for line in text.splitlines() if line.startswith("SECRET_KEY="))[11:]
    assert len(key) >= 50
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert setting("SECRET_KEY", ENV_FILE=str(env_file)) == key
    assert setting("DEBUG", ENV_FILE=str(env_file)) == "True"
    assert setting("DEBUG", ENV_FILE=str(env_file), DEBUG="0") == "False"
    assert setting("SECRET_KEY", ENV_FILE=str(env_file), SECRET_KEY="from-env") == "from-env"
    # written once: a second run keeps the key (and the sessions signed with it)
    subprocess.run(
        [sys.executable, ROOT / "scripts" / "write_local_env.py", env_file], check=True, timeout=60
    )
    assert env_file.read_text() == text


def test_the_env_file_is_ignored_by_git():
    result = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, capture_output=True, timeout=60
    )
    assert result.returncode == 0


def _loaded_by_check(modules: set[str]) -> set[str]:
    """Which of ``modules`` a new process running `manage.py check` has imported."""
    script = (
        "import sys, django; from django.core.management import call_command; django.setup(); "
        "call_command('check'); "
        f"print('loaded:' + ','.join(n for n in sys.modules if n in {sorted(modules)!r}))"
    )
    result = django_python(script)
    assert result.returncode == 0, result.stderr
    return set(filter(None, result.stdout.splitlines()[-1].removeprefix("loaded:").split(",")))


def test_the_checks_load_no_numerical_library():
    """`manage.py check` (and a web worker until it forecasts) imports the site without numpy,
    pandas, scipy or statsmodels: the models load them on first use (forecasts.modeling)."""
    assert _loaded_by_check({"numpy", "pandas", "scipy", "statsmodels"}) == set()


def test_the_checks_leave_the_schema_generator_and_the_test_client_unloaded():
    """drf-spectacular's generator (and, through DRF's test client, django.test) loads only when
    a schema is generated: the views' documentation is attached then (forecasts.api.schema)."""
    unloaded = {
        "drf_spectacular.openapi",
        "drf_spectacular.generators",
        "rest_framework.test",
        "django.test",
    }
    assert _loaded_by_check(unloaded) == set()


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("100/s", "100/second"),
        ("30/min", "30/minute"),
        ("2/hours", "2/hour"),
        (" 7 / Day ", "7/day"),
    ],
)
def test_budget_rates_accept_the_usual_spellings_of_their_period(given, read):
    result = django_python(
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.RUNS_RATE, settings.FORECASTS_RATE)",
        RUNS_RATE=given,
        FORECASTS_RATE=given,
    )
    assert result.stdout.split() == [read, read]


@pytest.mark.parametrize("given", ["1000000/fortnight", "abc", "30", "0/minute", "2.5/minute"])
def test_a_budget_rate_that_is_not_a_rate_stops_start_up_with_a_message_naming_it(given):
    """A mistyped rate used to pass start-up and answer every stored run with a 500."""
    result = django_check(DEBUG="1", RUNS_RATE=given)
    assert result.returncode != 0
    assert "RUNS_RATE must be a rate such as 30/minute" in result.stderr
    assert repr(given) in result.stderr


def test_prepared_statements_are_on_unless_db_prepared_statements_is_0():
    url = "postgres://postgres@127.0.0.1:5432/popforecasts"
    assert (
        setting("DATABASES['default']['PREPARED_STATEMENTS']", DATABASE_URL=url, DEBUG="1")
        == "True"
    )
    assert (
        setting(
            "DATABASES['default']['PREPARED_STATEMENTS']",
            DATABASE_URL=url,
            DB_PREPARED_STATEMENTS="0",
            DEBUG="1",
        )
        == "False"
    )
