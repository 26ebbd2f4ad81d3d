"""Schemathesis against the live schema: generated requests, valid and invalid, never get a server
error or an answer that breaks the documented schema.

Runs Schemathesis' engine (what `st run` runs: examples, coverage, fuzzing and stateful phases)
from Python against pytest-django's live server. Its pytest plugin (`from_fixture`) does not work
with pytest 9 (it reads a node attribute pytest removed). The number of generated requests is
bounded per operation and phase (SCHEMATHESIS_MAX_EXAMPLES) so CI stays short; raise it locally for
a deeper search, and set SCHEMATHESIS_SEED to replay a run.
"""

import os
from collections import Counter

import pytest
import schemathesis
from schemathesis.engine import Status, events

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20240711"))

CONFIG = {
    "seed": SEED,
    "cache": {"enabled": False},
    # One request per connection: the live server's threads then end and close their database
    # connections (a kept-alive one would block dropping the PostgreSQL test database).
    "headers": {"Connection": "close"},
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
    },
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
}


@pytest.fixture
def api_schema(live_server, transactional_db, small_dataset, settings):
    """The schema the running site serves, with the small dataset loaded.

    The "runs" rate is raised: every generated POST counts, and 429s would hide what comes after.
    """
    settings.RUNS_RATE = "100000/minute"
    return schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json",
        config=schemathesis.Config.from_dict(CONFIG),
    )


def test_generated_requests_get_no_server_error_and_documented_answers(api_schema):
    failures, errors, requests = [], [], Counter()
    for event in schemathesis.engine.from_schema(api_schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            requests[recorder.label] += len(recorder.interactions)
            failures.extend(
                f"{recorder.label}: {check.failure_info.failure.title}\n"
                f"{check.failure_info.failure.message}\n{check.failure_info.code_sample}"
                for checks in recorder.checks.values()
                for check in checks
                if check.status == Status.FAILURE
            )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    assert not errors, "\n\n".join(errors)
    assert not failures, "\n\n".join(failures)
    assert set(requests) >= OPERATIONS, requests
    assert all(requests[operation] >= 10 for operation in OPERATIONS), requests
