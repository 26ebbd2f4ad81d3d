"""The PostgreSQL backend's health check (popsite.postgresql): a connection the server ended is
replaced before a request uses it, and a healthy one costs no round trip."""

import time
from unittest import mock

import pytest
from django.db import connection, connections


@pytest.fixture
def second_connection(db):
    """A connection of its own to the test database, as a web worker holds between requests."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "the socket health check is the PostgreSQL backend's; SQLite reconnects per request"
        )
    other = connections.create_connection("default")
    other.ensure_connection()
    yield other
    other.close()


def _new_request(wrapper):
    """What Django does for each request on a kept connection: check it once, before its first query."""
    wrapper.health_check_done = False
    wrapper.close_if_health_check_failed()


def _backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_healthy_kept_connection_is_reused_without_a_round_trip(second_connection):
    pid = _backend_pid(second_connection)
    with mock.patch.object(
        second_connection, "is_usable", side_effect=AssertionError("SELECT 1 sent")
    ):
        _new_request(second_connection)
    assert _backend_pid(second_connection) == pid


def test_a_connection_the_server_ended_is_replaced_before_the_request_queries(second_connection):
    """As after a PostgreSQL restart: the first query of the next request must not fail."""
    pid = _backend_pid(second_connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone()[0] is True
    deadline = time.monotonic() + 5
    while second_connection._idle_connection_is_open() and time.monotonic() < deadline:
        time.sleep(0.01)  # the server's goodbye reaches the socket
    _new_request(second_connection)
    new_pid = _backend_pid(second_connection)
    assert new_pid != pid


def test_prepared_statements_are_prepared_again_on_a_new_connection(second_connection):
    """A prepared statement lives as long as its server session: after the connection is replaced,
    the next use prepares it again instead of failing with "prepared statement does not exist"."""

    def add_one(number):
        with second_connection.cursor() as cursor:
            second_connection.execute_prepared(
                cursor, "test_add_one", "SELECT %s::int + 1", [number]
            )
            return cursor.fetchone()[0]

    assert add_one(1) == 2
    assert add_one(41) == 42  # EXECUTE only, the statement already prepared
    second_connection.close()
    second_connection.ensure_connection()
    assert add_one(2) == 3


def test_prepared_statements_can_be_turned_off_for_a_transaction_mode_pooler(second_connection):
    """DB_PREPARED_STATEMENTS=0 sends the statement as text: nothing is PREPAREd on the server."""
    second_connection.settings_dict = {
        **second_connection.settings_dict,
        "PREPARED_STATEMENTS": False,
    }
    with second_connection.cursor() as cursor:
        second_connection.execute_prepared(cursor, "test_as_text", "SELECT %s::int * 2", [21])
        assert cursor.fetchone()[0] == 42
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'test_as_text'")
        assert cursor.fetchone()[0] == 0
