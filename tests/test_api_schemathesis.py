"""The API keeps its published contract: Schemathesis with every check against the live app.

Generated requests, valid and invalid, get no server error, only documented statuses, content types
and bodies; valid ones are accepted, invalid ones rejected; and the stateful phase follows the
schema's link from a created run (POST /api/runs/) to reading it back (GET /api/runs/{id}/).

Runs Schemathesis' engine (what `st run --checks all` runs: examples, coverage, fuzzing and stateful
phases) from Python against pytest-django's live server. Its pytest plugin (`from_fixture`) does not
work with pytest 9 (it reads a node attribute pytest removed). The seed is fixed and the requests
bounded per operation and phase (SCHEMATHESIS_MAX_EXAMPLES) so CI is repeatable and takes about a
minute; benchmarks/check_api_contract.py is the larger, randomized run against gunicorn. Set
SCHEMATHESIS_SEED to replay a run. tests/schemathesis_hooks.py teaches the generator the one rule
the schema cannot state (`from` not after `to`).
"""

import os
import re
import tomllib
from collections import Counter
from urllib.parse import urlsplit

import pytest
import schemathesis
from django.db import connection
from schemathesis.engine import Status, events
from schemathesis.engine.run import PhaseName

from tests import schemathesis_hooks  # noqa: F401  (registers the hooks)
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "50"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20240711"))

CONFIG = {
    "seed": SEED,
    "cache": {"enabled": False},
    # One request per connection: the live server's threads then end and close their database
    # connections (a kept-alive one would block dropping the PostgreSQL test database).
    "headers": {"Connection": "close"},
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
    # Every check (the default), as `st run --checks all`, configured as in schemathesis.toml.
    "checks": tomllib.loads((ROOT / "schemathesis.toml").read_text())["checks"],
    "phases": {"stateful": {"max-steps": 10}},
}

OPERATIONS = {
    "GET /api/regions/",
    "GET /api/regions/{code}/",
    "GET /api/regions/{code}/series/",
    "GET /api/forecast/",
    "GET /api/runs/",
    "POST /api/runs/",
    "GET /api/runs/{id}/",
    "GET /api/datasets/",
    "GET /api/world/",
}
RUN_PATH = re.compile(r"/api/runs/[0-9]+/")


@pytest.fixture
def api_schema(live_server, transactional_db, small_dataset, settings):
    """The schema the running site serves, with the small dataset loaded.

    The "runs" rate is raised: every generated POST counts, and 429s would hide what comes after.
    PostgreSQL only: on SQLite the live server's threads wait on each other's database locks and
    the run takes several minutes.
    """
    if connection.vendor != "postgresql":
        reason = "the Schemathesis contract run needs PostgreSQL (DATABASE_URL); SQLite is too slow"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    settings.RUNS_RATE = "100000/minute"
    settings.FORECASTS_RATE = "100000000/minute"
    return schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json",
        config=schemathesis.Config.from_dict(CONFIG),
    )


def _failures(recorder):
    return [
        f"{recorder.label}: {check.failure_info.failure.title}\n"
        f"{check.failure_info.failure.message}\n{check.failure_info.code_sample}"
        for checks in recorder.checks.values()
        for check in checks
        if check.status == Status.FAILURE
    ]


def _created_and_read_back(recorder) -> bool:
    """Whether a stateful scenario created a run and then read a run back by the link."""
    answers = [
        (interaction.request.method, urlsplit(interaction.request.uri).path, response.status_code)
        for interaction in recorder.interactions.values()
        if (response := interaction.response) is not None
    ]
    created = ("POST", "/api/runs/", 201) in answers
    read = any(
        method == "GET" and RUN_PATH.fullmatch(path) and status == 200
        for method, path, status in answers
    )
    return created and read


def test_the_api_keeps_its_contract_under_every_check(api_schema):
    failures, errors, requests, phases, read_back = [], [], Counter(), {}, 0
    for event in schemathesis.engine.from_schema(api_schema).execute():
        if isinstance(event, events.PhaseFinished):
            phases[event.phase.name] = event.status
        elif isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            recorder = event.recorder
            requests[recorder.label] += len(recorder.interactions)
            failures.extend(_failures(recorder))
            if getattr(event, "phase", None) == PhaseName.STATEFUL_TESTING:
                read_back += _created_and_read_back(recorder)
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    assert not errors, "\n\n".join(errors)
    assert not failures, "\n\n".join(failures)
    assert set(requests) >= OPERATIONS, requests
    assert all(requests[operation] >= 10 for operation in OPERATIONS), requests
    for phase in [PhaseName.COVERAGE, PhaseName.FUZZING, PhaseName.STATEFUL_TESTING]:
        assert phases.get(phase) == Status.SUCCESS, phases
    assert read_back >= 1, "the stateful phase never read a created run back"
