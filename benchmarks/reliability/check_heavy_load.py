"""A cheap request while 16 connections send the heaviest forecast the rules allow: figures.

    python benchmarks/reliability/check_heavy_load.py [--seconds 20]

Issue 14, item 5: keep cheap pages responsive under heavy load. gunicorn (2 workers, production
settings, the full-scale dataset) answers GET /api/regions/900/ alone (2 connections), then while
a second wrk keeps 16 connections busy with the heaviest forecast the rules allow: 20 regions,
every year from rules.YEAR_MIN to rules.YEAR_MAX, lags=auto (ten fits per region), and a level no
other request uses (benchmarks/wrk/heavy.lua), so that the cache never answers. It prints
requests/s, p50 and p99 of each, the heavy answers by status, and the workers' memory. The
forecast budget (FORECASTS_RATE, forecasts/throttling.py) refuses the heavy client's requests with
429 once it has used its share, so they stop queueing in front of the cheap ones. It checks that
the cheap requests all succeed, that the heavy ones are answered 200 or 429 (no 5xx, no
timeout of 10 s), and that the budget did refuse some; the timings are figures to compare.
"""

import argparse
import contextlib
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from common import (
    ROOT,
    Gunicorn,
    check,
    connect,
    ensure_full_data,
    finish,
    prepare_database,
    rss_mb,
    wrk,
)

sys.path.insert(0, str(ROOT))
from forecasts import rules  # noqa: E402

CHEAP = "/api/regions/900/"
HEAVY_CONNECTIONS = 16
CHEAP_CONNECTIONS = 2


def heaviest_regions() -> str:
    """rules.MAX_REGIONS regions with data, the longest histories first, as comma-separated codes."""
    with contextlib.closing(connect()) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT code FROM forecasts_region WHERE first_year IS NOT NULL "
            "ORDER BY last_year - first_year DESC, code LIMIT %s",
            [rules.MAX_REGIONS],
        )
        return ",".join(str(code) for (code,) in cursor.fetchall())


def cheap_load(server: Gunicorn, seconds: int) -> dict:
    return wrk(
        server.url,
        connections=CHEAP_CONNECTIONS,
        seconds=seconds,
        script="paths.lua",
        script_args=[CHEAP],
        threads=1,
    )


def workers_memory(server: Gunicorn) -> str:
    """The workers' resident memory: every answer computed is also cached (in Redis, or in
    each worker's memory without REDIS_URL)."""
    return " + ".join(f"{rss_mb(pid):.0f}" for pid in server.worker_pids()) + " MB"


def show(what: str, figures: dict) -> None:
    print(
        f"  {what}: {figures['requests']:,} requests, {figures['rps']:.1f} req/s, "
        f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, "
        f"non-2xx/3xx {figures['non_2xx_3xx']}, socket errors {figures['socket_errors']}",
        flush=True,
    )
    check(figures["requests"] > 0, f"{what}: wrk made requests")


def check_cheap(what: str, figures: dict) -> None:
    show(what, figures)
    errors = figures["non_2xx_3xx"] + figures["socket_errors"]
    check(errors == 0, f"{what}: no failed request, no timeout (10 s)")


def check_heavy(what: str, figures: dict) -> None:
    """The heavy answers: computed (200) or refused by the forecast budget (429), nothing else."""
    show(what, figures)
    statuses = {
        int(code): int(count)
        for code, count in re.findall(r"^status (\d+): (\d+)$", figures["output"], re.M)
    }
    print(f"  heavy answers by status: {dict(sorted(statuses.items()))}", flush=True)
    check(set(statuses) <= {200, 429}, f"{what}: every answer 200 or 429 (no 5xx)")
    check(figures["socket_errors"] == 0, f"{what}: no socket error, no timeout (10 s)")
    check(statuses.get(429, 0) > 0, f"{what}: the forecast budget refused the flood")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    arguments = parser.parse_args()
    prepare_database()
    ensure_full_data()
    heavy_args = [heaviest_regions(), str(rules.YEAR_MIN), str(rules.YEAR_MAX), "diff", "auto"]
    print(
        f"heavy: GET /api/forecast/?regions={heavy_args[0]}&from={heavy_args[1]}&to="
        f"{heavy_args[2]}&method=diff&lags=auto&level=<unique>, {HEAVY_CONNECTIONS} connections; "
        f"cheap: GET {CHEAP}, {CHEAP_CONNECTIONS} connections",
        flush=True,
    )
    with Gunicorn() as server:
        check_cheap(f"{CHEAP} alone", cheap_load(server, arguments.seconds))
        before = workers_memory(server)
        with ThreadPoolExecutor(2) as pool:
            heavy = pool.submit(
                wrk,
                server.url,
                connections=HEAVY_CONNECTIONS,
                seconds=arguments.seconds + 2,
                script="heavy.lua",
                script_args=heavy_args,
                threads=2,
            )
            time.sleep(1)  # the cheap requests start, and end, inside the heavy load
            cheap = pool.submit(cheap_load, server, arguments.seconds)
            check_heavy("heaviest forecast, 16 connections", heavy.result())
            check_cheap(f"{CHEAP} meanwhile", cheap.result())
        print(f"  gunicorn workers' memory: {before} before, {workers_memory(server)} after")
        check(server.process.poll() is None, "gunicorn is still running")
    finish("check_heavy_load")


if __name__ == "__main__":
    main()
