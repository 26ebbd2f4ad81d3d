"""HTTP throughput of gunicorn (2 workers) with the full-scale dataset; prints a table.

    python benchmarks/bench_http.py [--seconds 15] [--connections 16]

Production settings (DEBUG off) on PostgreSQL (RELIABILITY_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/popforecasts_reliability) with the Redis cache (REDIS_URL, default
redis://127.0.0.1:6379/14). The full-scale file (generate_wpp_full.py) is imported when the database
holds no full-scale data. wrk loads each endpoint from 127.0.0.1 in turn; POST /api/runs/ runs with
the runs throttle raised (RUNS_RATE) so that it measures the work, not the limit.
Targets for GET /api/forecast/: at least 1,000 requests/s, p99 at most 50 ms, no errors.
Worker memory is the resident set size of each worker after the load.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "reliability"))

from common import (  # noqa: E402
    Gunicorn,
    ensure_full_data,
    forecast_regions,
    http_get,
    http_post_json,
    prepare_database,
    rss_mb,
    wrk,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    prepare_database()
    ensure_full_data()
    regions = forecast_regions()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    extra_env = {"REDIS_URL": redis_url, "RUNS_RATE": "1000000/minute"}
    with Gunicorn(workers=2, extra_env=extra_env) as server:
        status, body = http_post_json(
            server.url + "/api/runs/", {"regions": regions.split(","), "from": 2030, "to": 2035}
        )
        if status != 201:
            raise SystemExit(f"POST /api/runs/ answered {status}: {body[:300]}")
        run_id = json.loads(body)["id"]
        forecast = f"/api/forecast/?regions={regions}&from=2030&to=2035"
        cases = [
            (f"GET {forecast}", forecast, None),
            ("GET / (home)", "/", None),
            (f"GET /runs/{run_id}/ (run page)", f"/runs/{run_id}/", None),
            ("POST /api/runs/ (stores a run)", "/api/runs/", "post_run.lua"),
        ]
        for _, path, script in cases:  # warm-up: imports, connections, caches in both workers
            for _ in range(20 if script is None else 0):
                http_get(server.url + path)
        print(
            f"gunicorn 2 sync workers, DEBUG off, PostgreSQL + Redis cache; wrk -t{arguments.threads} "
            f"-c{arguments.connections} -d{arguments.seconds}s from 127.0.0.1; regions {regions}",
            flush=True,
        )
        rows = []
        for name, path, script in cases:
            figures = wrk(
                server.url + path,
                connections=arguments.connections,
                seconds=arguments.seconds,
                script=script,
                threads=arguments.threads,
            )
            rows.append((name, figures))
            print(f"  {name}: {figures['rps']:.0f} req/s, p99 {figures['p99']:.1f} ms", flush=True)
        memory = [rss_mb(pid) for pid in server.worker_pids()]
    header = (
        f"{'endpoint':<70} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'sock err':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for name, figures in rows:
        print(
            f"{name:<70} {figures['rps']:>8.0f} {figures['p50']:>8.1f} {figures['p99']:>8.1f} "
            f"{figures['non_2xx_3xx']:>8} {figures['socket_errors']:>8}"
        )
    print()
    print("worker RSS after the load: " + ", ".join(f"{mb:.0f} MB" for mb in memory))
    forecast_figures = rows[0][1]
    met = (
        forecast_figures["rps"] >= 1000
        and forecast_figures["p99"] <= 50
        and forecast_figures["non_2xx_3xx"] == 0
        and forecast_figures["socket_errors"] == 0
    )
    print(
        f"GET /api/forecast/ targets (>= 1,000 req/s, p99 <= 50 ms, no errors): {'met' if met else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
