"""64 concurrent connections for 30 s on the main pages and the API: no errors.

    python benchmarks/reliability/check_load.py [--seconds 30] [--connections 64]

gunicorn (2 workers, production settings, the full-scale dataset) is loaded by wrk from 127.0.0.1
with the pages and API endpoints in turn. Every response must be 2xx/3xx and wrk must report no
socket errors (refused or reset connections, timeouts of 10 s).
"""

import argparse
import json

from common import (
    Gunicorn,
    check,
    ensure_full_data,
    finish,
    forecast_regions,
    http_post_json,
    prepare_database,
    wrk,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    arguments = parser.parse_args()
    prepare_database()
    ensure_full_data()
    regions = forecast_regions()
    with Gunicorn() as server:
        status, body = http_post_json(
            server.url + "/api/runs/", {"regions": regions.split(","), "from": 2030, "to": 2035}
        )
        check(
            status == 201, f"a forecast run is stored for the run page (POST /api/runs/ {status})"
        )
        run_id = json.loads(body)["id"]
        paths = [
            "/",
            "/regions/",
            "/regions/900/",
            "/runs/",
            f"/runs/{run_id}/",
            "/api/regions/",
            f"/api/forecast/?regions={regions}&from=2030&to=2035",
            f"/api/runs/{run_id}/",
            "/api/datasets/",
        ]
        print(
            f"{arguments.connections} connections for {arguments.seconds} s on {len(paths)} paths "
            f"in turn: {' '.join(paths)}",
            flush=True,
        )
        figures = wrk(
            server.url,
            connections=arguments.connections,
            seconds=arguments.seconds,
            script="paths.lua",
            script_args=paths,
        )
        print(
            f"  {figures['requests']:,} requests, {figures['rps']:.0f} req/s, "
            f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms"
        )
        check(figures["requests"] > 0, "wrk made requests")
        check(figures["non_2xx_3xx"] == 0, f"no non-2xx/3xx responses ({figures['non_2xx_3xx']})")
        check(figures["socket_errors"] == 0, f"no socket errors ({figures['socket_errors']})")
        check(server.process.poll() is None, "gunicorn is still running")
    finish("check_load")


if __name__ == "__main__":
    main()
