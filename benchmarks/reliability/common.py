"""Shared by the reliability checks: a production-like environment, the database, gunicorn, checks.

The checks run against their own PostgreSQL database (RELIABILITY_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/popforecasts_reliability), created and migrated when missing.
Each script prints what it checked and exits non-zero when a check fails.
"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
FULL_FILE = Path(os.environ.get("WPP_FULL_FILE", "/tmp/WPP2024_TotalPopulationBySex.csv.gz"))
SMALL_FILE = ROOT / "fixtures" / "wpp2022_small.csv"
DATABASE_URL = os.environ.get(
    "RELIABILITY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/popforecasts_reliability"
)
PG_CLUSTER = os.environ.get("PG_CLUSTER") or (
    sorted(os.listdir("/etc/postgresql"))[0] if os.path.isdir("/etc/postgresql") else ""
)

ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE_URL,
    "DEBUG": "0",
    "SECRET_KEY": os.environ.get("SECRET_KEY")
    or "reliability-check-secret-key-not-for-production-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "HTTPS": "0",
}
ENV.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

failures: list[str] = []


def check(condition: bool, what: str) -> bool:
    """Print one checked statement as PASS or FAIL, and remember failures for the exit code."""
    print(f"  [{'PASS' if condition else 'FAIL'}] {what}", flush=True)
    if not condition:
        failures.append(what)
    return condition


def finish(name: str) -> None:
    if failures:
        print(f"{name}: {len(failures)} check(s) FAILED", flush=True)
        sys.exit(1)
    print(f"{name}: all checks passed", flush=True)


def manage(*args, check_exit=True, env=None, **kwargs) -> subprocess.CompletedProcess:
    """Run manage.py with ENV (and ``env`` on top of it)."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        **kwargs,
    )
    if check_exit and result.returncode:
        print(result.stdout, result.stderr, file=sys.stderr)
        raise SystemExit(f"manage.py {' '.join(args)} failed with exit code {result.returncode}")
    return result


def connect():
    return psycopg2.connect(DATABASE_URL)


def prepare_database() -> None:
    """Create the database if needed, migrate, collect static files (DEBUG off needs the manifest)."""
    server = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    name = DATABASE_URL.rsplit("/", 1)[1]
    with contextlib.closing(psycopg2.connect(server)) as admin:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    manage("migrate", "--noinput", "-v0")
    manage("collectstatic", "--noinput", "-v0")


def ensure_full_file() -> Path:
    if not FULL_FILE.exists():
        print(f"generating {FULL_FILE} (full-scale WPP long file)", flush=True)
        subprocess.run(
            [PYTHON, str(ROOT / "benchmarks" / "generate_wpp_full.py"), str(FULL_FILE)], check=True
        )
    return FULL_FILE


def data_snapshot() -> dict:
    """Counts and a checksum of the active data: equal snapshots mean the same data."""
    with contextlib.closing(connect()) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, checksum, value_count FROM forecasts_dataset WHERE is_active ORDER BY id"
        )
        active = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM forecasts_region")
        regions = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*), count(DISTINCT (region_code, variant, year)), "
            "md5(string_agg(region_code || ':' || variant || ':' || year || ':' || persons, ',' "
            "ORDER BY region_code, variant, year)) FROM forecasts_yearlypopulation"
        )
        values, distinct_values, checksum = cursor.fetchone()
    return {
        "active": active,
        "regions": regions,
        "values": values,
        "distinct_values": distinct_values,
        "checksum": checksum,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, timeout: float = 10) -> tuple[int | None, str]:
    """(status, body), or (None, reason) when no HTTP response came (refused, reset, timed out)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
        return None, repr(error)


class Gunicorn:
    """gunicorn serving the site with production settings on a free port of 127.0.0.1."""

    def __init__(self, workers=2, extra_env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = {**ENV, **(extra_env or {})}
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [
                GUNICORN,
                "popsite.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "60",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(f"/tmp/gunicorn-{self.port}.log", "w"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, _ = http_get(self.url + "/api/datasets/", timeout=5)
            if status == 200:
                return self
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise SystemExit(
            f"gunicorn did not answer on {self.url}; see /tmp/gunicorn-{self.port}.log"
        )

    def worker_pids(self) -> list[int]:
        result = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in result.stdout.split()]

    def __exit__(self, *exc):
        stop_process(self.process)


def stop_process(process: subprocess.Popen | None) -> None:
    """Stop a server gracefully (SIGTERM, as gunicorn expects), killing it after 20 s."""
    if process and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pg_ctl(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", PG_CLUSTER, "main", action], check=True
    )


def wait_for_postgresql(timeout=60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"])
        if ready.returncode == 0:
            return True
        time.sleep(0.5)
    return False


def ensure_full_data() -> None:
    """Load the full-scale file unless the active dataset is already that file's."""
    snapshot = data_snapshot()
    if not snapshot["active"] or snapshot["values"] < 700_000:
        print(f"importing {ensure_full_file()} (full-scale data)", flush=True)
        manage("import_wpp", str(FULL_FILE), "-v0")


def forecast_regions() -> str:
    """Regions 900,901 as in the issue; the synthetic full-scale file has no 901: its first region."""
    with contextlib.closing(connect()) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT code FROM forecasts_region WHERE code > 900 AND first_year IS NOT NULL "
            "ORDER BY code = 901 DESC, code LIMIT 1"
        )
        return f"900,{cursor.fetchone()[0]}"


def http_post_json(url: str, body: dict, timeout: float = 30) -> tuple[int | None, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


WRK_SCRIPTS = ROOT / "benchmarks" / "wrk"


def wrk(
    url: str, *, connections: int, seconds: int, script=None, script_args=(), threads=4
) -> dict:
    """Run wrk and return its figures: requests/s, latency percentiles (ms), errors."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        command += ["-s", str(WRK_SCRIPTS / script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {**parse_wrk(output), "output": output}


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def parse_wrk(output: str) -> dict:
    percentiles = {
        f"p{int(float(share))}": _milliseconds(value)
        for share, value in re.findall(r"^\s+(50|75|90|99)(?:\.000)?%\s+(\S+)", output, re.M)
    }
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        **percentiles,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "non_2xx_3xx": int(non_2xx.group(1)) if non_2xx else 0,
    }
