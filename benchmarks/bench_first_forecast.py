"""How long a fresh worker's first forecast takes, over HTTP (the default model, two regions).

    DATABASE_URL=postgres://... python benchmarks/bench_first_forecast.py [--repeat 5] [--regions ..]

Each repetition starts gunicorn with one sync worker, as production does (gunicorn.conf.py from
the project's folder, DEBUG off, no Redis: the cache is the worker's own, so nothing an earlier
process computed helps), waits until the worker says it has booted, then times its first request,
GET /api/forecast/ for two regions (a question no earlier request asked), and a second, different
one for comparison. The worker boots with the post_worker_init hook of gunicorn.conf.py
(forecasts.services.warm_up: URLconf, active data, default calibration, UN projections); with
--without-hook it boots without it, as before the hook, so the first request pays for all that.
Target: the first forecast within 50 ms. Runs against DATABASE_URL (the active dataset there).
It also prints the worker's resident memory (VmRSS) after those two requests: the active data,
every region's estimates as arrays, is in each worker (with the full-scale file imported into
DATABASE_URL, that is the memory a worker needs for 720k rows).
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
OTHER_REGIONS = (250, 276, 356, 840, 156, 566, 76)  # France, Germany, India, USA, China ...
READY = {
    True: re.compile(r"Worker \d+ warmed up in (\d+) ms"),
    False: re.compile(r"Booting worker with pid"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--without-hook", action="store_true", help="boot as before the hook")
    parser.add_argument(
        "--regions",
        default=",".join(map(str, OTHER_REGIONS)),
        help="codes asked beside 900, one per repetition (default: WPP2019 countries; the "
        "full-scale synthetic file has 1000, 1001, ...)",
    )
    arguments = parser.parse_args()
    hook = not arguments.without_hook
    others = [int(code) for code in arguments.regions.split(",")]
    runs = [_fresh_worker(hook, seed, others) for seed in range(arguments.repeat)]
    first = statistics.median(run["first_ms"] for run in runs)
    second = statistics.median(run["second_ms"] for run in runs)
    boot = [run["boot_ms"] for run in runs if run["boot_ms"] is not None]
    rss = statistics.median(run["rss_mb"] for run in runs)
    print(
        f"fresh gunicorn worker ({'with' if hook else 'without'} the warm-up hook), median of "
        f"{len(runs)}: first forecast {first:.1f} ms, second {second:.1f} ms over HTTP"
        + (f"; the boot's warm-up took {statistics.median(boot):.0f} ms" if boot else "")
        + f"; worker RSS {rss:.0f} MB after them"
    )
    print(
        f"target (a fresh worker's first forecast <= 50 ms): {'met' if first <= 50 else 'MISSED'}"
    )


def _fresh_worker(hook: bool, seed: int, others: list[int]) -> dict:
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "REDIS_URL": "",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-first-forecast-secret-key-0123456789"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "HTTPS": "0",
    }
    config = [] if hook else ["--config", "/dev/null"]
    command = [GUNICORN, "popsite.wsgi", *config, "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--log-level", "info"]
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
        try:
            boot_ms = _wait_until_booted(Path(log.name), hook)
            other = others[seed % len(others)]
            url = f"http://127.0.0.1:{port}/api/forecast/?regions=900,{other}&from=2030"
            first = _timed_get(f"{url}&to={2035 + seed}")
            second = _timed_get(f"{url}&to={2040 + seed}")
            rss_mb = _worker_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {"first_ms": first, "second_ms": second, "boot_ms": boot_ms, "rss_mb": rss_mb}


def _worker_rss_mb(master: int) -> float:
    """The resident memory of the gunicorn master's one worker (its child), in MB."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    kilobytes = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))
    return kilobytes / 1024


def _wait_until_booted(log: Path, hook: bool) -> float | None:
    """The warm-up's duration from the worker's log line (None without the hook, which only
    says it is booting: then wait 5 s more, enough for Django to load, as a worker would)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = READY[hook].search(log.read_text())
        if found:
            if not hook:
                time.sleep(5)
            return float(found.group(1)) if hook else None
        time.sleep(0.05)
    raise SystemExit(f"the worker did not boot:\n{log.read_text()}")


def _timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")
    return (time.perf_counter() - started) * 1000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
