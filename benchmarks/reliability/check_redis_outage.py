"""Redis killed under load and started again: no errors while it is down, used again after.

    python benchmarks/reliability/check_redis_outage.py [--seconds 30] [--connections 16]

The site's cache is a private redis-server started here on a free port, without persistence (the
machine's own Redis is never touched). gunicorn (2 workers, production settings, the full-scale
dataset, REDIS_URL pointing at the private Redis) is loaded by wrk with pages and API endpoints in
turn; a third of the way in, the private Redis is killed (SIGKILL). popsite.cache answers every
cache operation as a miss while Redis cannot be reached, so every response must stay 2xx/3xx with
no socket errors: during that run, and during a second run with Redis down throughout; every page
must answer 200 while it is down. Redis is then started again, empty, on the same port: the same
gunicorn, not restarted, must write to it again (its keys appear).
"""

import argparse
import subprocess
import threading
import time
from pathlib import Path

from common import (
    Gunicorn,
    check,
    ensure_full_data,
    finish,
    forecast_regions,
    free_port,
    http_get,
    prepare_database,
    stop_process,
    wrk,
)

# What popsite.cache logs for each cache operation it answers without Redis.
UNREACHABLE = "Cache unreachable"


class PrivateRedis:
    """redis-server on its own port, keeping nothing on disk, so it can be killed and restarted."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while self.cli("ping") != "PONG":
            if time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not start on port {self.port}")
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def cli(self, *args) -> str:
        command = ["redis-cli", "-p", str(self.port), *args]
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()

    def key_count(self) -> int:
        answer = self.cli("dbsize")
        return int(answer) if answer.isdigit() else 0


def load(server: Gunicorn, what: str, seconds: int, paths, connections: int) -> dict:
    """wrk over ``paths`` in turn; prints its figures and checks it met no error."""
    figures = wrk(
        server.url,
        connections=connections,
        seconds=max(seconds, 5),
        script="paths.lua",
        script_args=paths,
    )
    print(
        f"  {what}: {figures['requests']:,} requests, {figures['rps']:.0f} req/s, "
        f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, "
        f"non-2xx/3xx {figures['non_2xx_3xx']}, socket errors {figures['socket_errors']}",
        flush=True,
    )
    check(figures["requests"] > 0, f"{what}: wrk made requests")
    errors = figures["non_2xx_3xx"] + figures["socket_errors"]
    check(errors == 0, f"{what}: no non-2xx/3xx responses, no socket errors (10 s timeout)")
    return figures


def keys_after_requests(redis: PrivateRedis, server: Gunicorn, paths, seconds=15) -> int:
    """Request the pages until the site has written to Redis (or `seconds` pass); its key count."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in paths:
            http_get(server.url + path)
        if redis.key_count():
            break
    return redis.key_count()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    arguments = parser.parse_args()
    prepare_database()
    ensure_full_data()
    regions = forecast_regions()
    paths = [
        "/",
        "/regions/",
        "/regions/900/",
        "/runs/",
        "/accuracy/",
        "/api/regions/",
        "/api/regions/900/series/",
        f"/api/forecast/?regions={regions}&from=2030&to=2035",
        f"/api/forecast/?regions={regions}&from=2030&to=2100&lags=auto",
        "/api/world/?from=2020&to=2050",
        "/api/datasets/",
    ]
    redis = PrivateRedis()
    redis.start()
    print(f"private Redis on port {redis.port}; {arguments.connections} connections", flush=True)
    try:
        with Gunicorn(extra_env={"REDIS_URL": redis.url}) as server:
            before = keys_after_requests(redis, server, paths)
            check(before > 0, f"the site caches in the private Redis ({before} keys)")
            third = arguments.seconds // 3
            load(server, "Redis up", third, paths, arguments.connections)

            killer = threading.Timer(third, redis.kill)
            killer.start()
            print(f"wrk for {arguments.seconds} s; Redis killed (SIGKILL) after {third} s")
            load(server, "Redis killed mid-run", arguments.seconds, paths, arguments.connections)
            killer.join()

            statuses = {path: http_get(server.url + path)[0] for path in paths}
            failed = {path: status for path, status in statuses.items() if status != 200}
            check(not failed, f"every page answers 200 while Redis is down {failed or ''}")
            load(server, "Redis down throughout", third, paths, arguments.connections)
            misses = Path(f"/tmp/gunicorn-{server.port}.log").read_text().count(UNREACHABLE)
            check(misses > 0, f"the site logged the outage ({misses:,} cache operations missed)")

            redis.start()
            after = keys_after_requests(redis, server, paths)
            check(after > 0, f"Redis started again: the site writes to it again ({after} keys)")
            check(server.process.poll() is None, "the same gunicorn master is still running")
    finally:
        stop_process(redis.process)
    finish("check_redis_outage")


if __name__ == "__main__":
    main()
