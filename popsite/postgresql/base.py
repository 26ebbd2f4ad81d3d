"""Django's PostgreSQL backend, whose per-request health check reads the socket instead of the
server.

Why: with CONN_HEALTH_CHECKS, Django sends ``SELECT 1`` before the first query of every request on
a reused connection, so that a connection broken by a restart is replaced instead of failing the
request. That is a round trip and a statement for PostgreSQL on every request: under a load of form
POSTs that mostly found runs already stored it was an eighth of the web worker's wall time (py-spy,
2026-11-27); with a new question on every POST, PostgreSQL's CPU per POST fell by about 0.03 ms. A connection the server has ended (a restart,
a terminated backend, an idle timeout) always has something on its socket: the server's FATAL
message, or the end of the stream. A healthy idle connection in autocommit has nothing, since the
site never LISTENs. So the check polls the socket without waiting; anything to read means the
connection is replaced (a false alarm costs one reconnection, never a wrong answer).

What it cannot see: a server gone silently (a cut network cable). Then the request's first query
fails, the middleware answers 503 and Django closes the connection at the end of the request
(its ``is_usable`` still runs ``SELECT 1`` after an error), so the next request reconnects, as
the request would have waited on ``SELECT 1`` anyway.
"""

import itertools
import re
import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        self.prepared_statements = set()  # a server's prepared statements end with its session
        return connection

    def execute_prepared(self, cursor, name: str, sql: str, params) -> None:
        """Run ``sql`` (with %s placeholders) as this session's prepared statement ``name``.

        Why: psycopg2 sends every statement as text for PostgreSQL to parse and plan again; the
        statements the site runs on every stored run (finding an identical run, storing one)
        are the same text each time. Prepared once per connection, storing a run took
        0.46-0.51 ms of PostgreSQL's time instead of 0.60-0.67 (pgbench, 2026-11-27).
        Sent as plain text when the settings turn it off (PREPARED_STATEMENTS, from
        DB_PREPARED_STATEMENTS): behind a pooler in transaction mode, EXECUTE may reach a server
        connection that never saw the PREPARE.
        """
        if not self.settings_dict.get("PREPARED_STATEMENTS", True):
            cursor.execute(sql, params)
            return
        if name not in self.prepared_statements:
            counter = itertools.count(1)
            numbered = re.sub("%s", lambda _: f"${next(counter)}", sql)
            cursor.execute(f"PREPARE {name} AS {numbered}")
            self.prepared_statements.add(name)
        cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)

    def close_if_health_check_failed(self):
        if (
            self.pool  # the pool only hands out healthy connections
            or self.connection is None
            or not self.health_check_enabled
            or self.health_check_done
        ):
            return
        if not self._idle_connection_is_open():
            self.close()
        self.health_check_done = True

    def _idle_connection_is_open(self) -> bool:
        """True when nothing waits on the idle connection's socket: the server has not ended it."""
        if self.connection.closed:
            return False
        poller = select.poll()
        poller.register(self.connection.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
