"""PostgreSQL restarted while gunicorn serves: clean failures during the outage, recovery after it.

    python benchmarks/reliability/check_outage.py

gunicorn (2 workers, production settings) serves the site; PostgreSQL is stopped, requests are made
during the outage, then it is started again. During the outage every request must end within the
timeout with a 503 (an HTML page without a traceback, JSON under /api/) or a refused connection, never
a 500 or a hang; a forecast the cache already holds may still be answered (200, valid JSON) since
it needs no database. Afterwards the same gunicorn, not restarted, must answer 200 again: Django's
CONN_HEALTH_CHECKS replace the connections the restart broke.
"""

import json
import time

from common import (
    Gunicorn,
    check,
    ensure_full_data,
    finish,
    forecast_regions,
    http_get,
    pg_ctl,
    prepare_database,
    wait_for_postgresql,
)

PATHS = ["/", "/regions/", "/regions/900/", "/runs/", "/api/regions/"]
REQUEST_TIMEOUT = 10


def request_all(server, rounds):
    """Each path `rounds` times (so both workers see it): [(path, status, seconds, body)]."""
    answers = []
    for _ in range(rounds):
        for path in PATHS:
            started = time.monotonic()
            status, body = http_get(server.url + path, timeout=REQUEST_TIMEOUT)
            answers.append((path, status, time.monotonic() - started, body))
    return answers


def clean_failure(path, status, body):
    if status is None:
        return "timed out" not in body
    if status == 200 and path.startswith("/api/forecast/"):
        return "results" in json.loads(body)
    if status != 503 or "Traceback" in body:
        return False
    if path.startswith("/api/"):
        return json.loads(body)["detail"].startswith("Service temporarily unavailable")
    return "Service temporarily unavailable" in body


def main():
    prepare_database()
    ensure_full_data()
    PATHS.append(f"/api/forecast/?regions={forecast_regions()}&from=2030&to=2035")
    print("PostgreSQL restarted under gunicorn (2 workers)", flush=True)
    with Gunicorn() as server:
        before = request_all(server, rounds=3)
        check(all(status == 200 for _, status, _, _ in before), "all pages answer 200 before")

        pg_ctl("stop")
        try:
            during = request_all(server, rounds=2)
        finally:
            pg_ctl("start")
            check(wait_for_postgresql(), "PostgreSQL is back")
        statuses = sorted({str(status) for _, status, _, _ in during})
        slowest = max(seconds for _, _, seconds, _ in during)
        print(f"  during the outage: statuses {statuses}, slowest answer {slowest:.2f} s")
        for path, status, _, body in during:
            if not clean_failure(path, status, body):
                print(f"    {path}: {status} {body[:300]!r}")
        check(
            all(clean_failure(path, status, body) for path, status, _, body in during),
            "every request during the outage is a clean 503 (JSON under /api/), a refused "
            "connection or a cached forecast, no 500, no traceback",
        )
        check(slowest < REQUEST_TIMEOUT, f"no request hung (all under {REQUEST_TIMEOUT} s)")

        after = request_all(server, rounds=3)
        failed_after = [(path, status) for path, status, _, _ in after if status != 200]
        if failed_after:
            print(f"    not 200 after the restart: {failed_after}")
        check(not failed_after, "all pages answer 200 after the restart, gunicorn not restarted")
        check(server.process.poll() is None, "the same gunicorn master is still running")
    finish("check_outage")


if __name__ == "__main__":
    main()
