"""HTTP throughput of this project side by side with the original app, as ratios; prints a table.

    python benchmarks/bench_http.py [--original-venv /tmp/orig-venv] [--seconds 8] [--connections 8]

Both apps run under gunicorn with 2 workers on this machine, one after the other in the same
run, and each workload is measured with wrk against each; on a shared machine absolute figures
move from run to run (and within one), so every figure is also given as a ratio to the original
app's varied forecast (its POST /test with random regions and years), measured before the first
workload and again after each: a workload's ratio is to the mean of the two figures around it.

- The original app: /work/shared/bench/original_app.py (--original-app) in its own virtualenv
  (--original-venv or ORIGINAL_VENV), which must not be the project's. Create it with
      python3 -m venv /tmp/orig-venv && /tmp/orig-venv/bin/pip install flask gunicorn pandas statsmodels
- This project: gunicorn with 2 sync workers, DEBUG off, PostgreSQL (BENCH_DATABASE_URL, default
  postgres://postgres@127.0.0.1:5432/popforecasts_bench, dropped and created afresh with WPP2019
  imported unless --keep-database finds it ready) and the Redis cache (REDIS_URL, default
  redis://127.0.0.1:6379/14); storing runs and computing forecasts with the budgets raised
  (RUNS_RATE, FORECASTS_RATE) so
  that it measures the work, not the limit.
- Varied workloads (benchmarks/wrk/varied.lua) draw 1-3 regions of WPP2019 (codes for the
  project, names for the original) and the years at random for every request, seeded (--seed;
  by default a new seed each run, printed: the benchmark database is made afresh each run with
  the same data generation, so a seed reused across runs, or across the two passes of one run,
  would find its questions already answered in Redis; the 64-connection pass draws with seed + 1).
- Last, every workload again with --wide-connections (64) connections: it must answer without
  errors.
"""

import argparse
import contextlib
import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent / "reliability"))

import common  # noqa: E402

ROOT = common.ROOT
ORIGINAL_APP = ROOT.parent / "shared" / "bench" / "original_app.py"
WPP2019_CSV = ROOT.parent / "shared" / "data" / "WPP2019_POP_F01_1_TOTAL_POPULATION_BOTH_SEXES.csv"
WPP2019_GZ = ROOT / "fixtures" / "WPP2019_POP_F01_1_TOTAL_POPULATION_BOTH_SEXES.csv.gz"
BASELINE = "original POST /test (varied)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original-venv", default=os.environ.get("ORIGINAL_VENV", ""))
    parser.add_argument("--original-app", type=Path, default=ORIGINAL_APP)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--wide-connections", type=int, default=64)
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock")
    parser.add_argument("--keep-database", action="store_true", help="reuse a ready database")
    parser.add_argument("--only", default="", help="comma-separated workload name fragments")
    arguments = parser.parse_args()
    original_gunicorn = _original_gunicorn(arguments.original_venv)
    database_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/popforecasts_bench"
    )
    common.DATABASE_URL = database_url
    common.ENV["DATABASE_URL"] = database_url
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    _prepare_database(database_url, keep=arguments.keep_database)
    csv_path = _wpp2019_csv()
    regions_file = _regions_file(csv_path)
    options = arguments
    extra_env = {
        "REDIS_URL": redis_url,
        "RUNS_RATE": "1000000/minute",
        "FORECASTS_RATE": "100000000/minute",
    }
    with (
        _Original(original_gunicorn, arguments.original_app, csv_path) as original,
        common.Gunicorn(workers=2, extra_env=extra_env) as project,
    ):
        run_ids = _store_runs(project.url, regions_file, count=50)
        token, cookie = _csrf(project.url)
        same = "/api/forecast/?regions=900,903&from=2030&to=2035"
        seed = arguments.seed if arguments.seed is not None else int(time.time()) % 1_000_000
        print(f"varied workloads: seed {seed} (the 64-connection pass: {seed + 1})", flush=True)
        varied = [str(regions_file), str(seed)]
        workloads = [
            (BASELINE, original.url, "varied.lua", ["original", *varied]),
            ("original GET /", original.url + "/", None, []),
            ("GET /api/forecast/ (varied)", project.url, "varied.lua", ["api", *varied]),
            ("GET /api/forecast/ (same query: cached)", project.url + same, None, []),
            (
                "POST / form, stores a run (varied)",
                project.url,
                "varied.lua",
                ["form", *varied, f"{token} {cookie}"],
            ),
            ("POST /api/runs/ (varied)", project.url, "varied.lua", ["api_runs", *varied]),
            ("GET / (home)", project.url + "/", None, []),
            ("GET /regions/<random code>/", project.url, "varied.lua", ["region", *varied]),
            (
                "GET /runs/<random id>/",
                project.url,
                "varied.lua",
                ["run", *varied, ",".join(map(str, run_ids))],
            ),
            ("GET /runs/", project.url + "/runs/", None, []),
            ("GET /accuracy/", project.url + "/accuracy/", None, []),
        ]
        if options.only:
            fragments = options.only.split(",")
            workloads = [
                w for w in workloads if w[0] == BASELINE or any(f in w[0] for f in fragments)
            ]
        _warm_up(project.url, original.url, same)
        print(
            f"both apps: gunicorn 2 workers on 127.0.0.1; this project: sync workers, DEBUG off, "
            f"PostgreSQL + Redis; wrk -t{options.threads} -c{options.connections} "
            f"-d{options.seconds}s; load average {_load()}",
            flush=True,
        )
        # The original's varied forecast is measured before the first workload and after each,
        # and each ratio is to the mean of the two figures around its workload: the load of a
        # shared machine moves within a run (by a third between two neighbours at times).
        base_url, base_script, base_args = workloads[0][1:]
        rows = {BASELINE: _wrk(base_url, options, options.connections, base_script, base_args)}
        baselines = {BASELINE: _around(rows[BASELINE], rows[BASELINE])}
        _print_row(BASELINE, rows[BASELINE], baselines[BASELINE])
        before = rows[BASELINE]
        for name, url, script, script_args in workloads[1:]:
            rows[name] = _wrk(url, options, options.connections, script, script_args)
            after = _wrk(base_url, options, options.connections, base_script, base_args)
            baselines[name] = _around(before, after)
            _print_row(name, rows[name], baselines[name])
            before = after
        print(f"\n{options.wide_connections} connections (errors must be 0):", flush=True)
        wide = {}
        for name, url, script, script_args in workloads:
            again = [str(seed + 1) if arg == str(seed) else arg for arg in script_args]
            wide[name] = _wrk(url, options, options.wide_connections, script, again)
            _print_row(name, wide[name], wide.get(BASELINE))
    _print_table(rows, baselines, wide, options)


def _original_gunicorn(venv: str) -> Path:
    gunicorn = Path(venv) / "bin" / "gunicorn" if venv else None
    if gunicorn is None or not gunicorn.exists():
        raise SystemExit(
            "The original app needs its own virtualenv (not the project's): create it with\n"
            "  python3 -m venv /tmp/orig-venv && "
            "/tmp/orig-venv/bin/pip install flask gunicorn pandas statsmodels\n"
            "and pass --original-venv /tmp/orig-venv (or set ORIGINAL_VENV)."
        )
    return gunicorn


def _prepare_database(database_url: str, *, keep: bool) -> None:
    """A fresh database with WPP2019 imported (and its accuracy backtests, as after any import)."""
    server, name = database_url.rsplit("/", 1)
    if keep and _has_wpp2019(database_url):
        common.manage("migrate", "--noinput", "-v0")
        common.manage("collectstatic", "--noinput", "-v0")
        return
    with contextlib.closing(psycopg2.connect(server + "/postgres")) as admin:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    common.prepare_database()
    print("importing WPP2019 into a fresh database", flush=True)
    common.manage("import_wpp", str(WPP2019_GZ), "-v0")


def _has_wpp2019(database_url: str) -> bool:
    try:
        with (
            contextlib.closing(psycopg2.connect(database_url)) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT edition FROM forecasts_dataset WHERE is_active")
            row = cursor.fetchone()
    except psycopg2.Error:
        return False
    return bool(row and row[0] == "WPP2019")


def _wpp2019_csv() -> Path:
    """The plain CSV the original app reads (the shared copy, else the project's, unzipped)."""
    if WPP2019_CSV.exists():
        return WPP2019_CSV
    target = Path("/tmp") / WPP2019_GZ.name.removesuffix(".gz")
    if not target.exists():
        with gzip.open(WPP2019_GZ, "rb") as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
    return target


def _regions_file(csv_path: Path) -> Path:
    """code<TAB>name of every WPP2019 row with data (the original app drops rows with "...")."""
    with open(csv_path, encoding="latin-1", newline="") as handle:
        rows = list(csv.DictReader(handle))
    years = [column for column in rows[0] if column.isdigit()]
    target = Path("/tmp/bench-http-regions.tsv")
    target.write_text(
        "".join(
            f"{row['Country code']}\t{row['Region, subregion, country or area']}\n"
            for row in rows
            if not any(row[year].strip() == "..." for year in years)
        )
    )
    return target


class _Original:
    """The original app under gunicorn -w 2, from its own virtualenv."""

    def __init__(self, gunicorn: Path, app: Path, csv_path: Path):
        self.port = common.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            str(gunicorn),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{self.port}",
            "original_app:app",
        ]
        self.cwd = app.parent
        self.env = {"PATH": os.environ.get("PATH", ""), "WPP_CSV": str(csv_path)}
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(f"/tmp/original-{self.port}.log", "w"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if common.http_get(self.url + "/", timeout=5)[0] == 200:
                return self
            time.sleep(0.3)
        self.__exit__()
        raise SystemExit(f"the original app did not answer; see /tmp/original-{self.port}.log")

    def __exit__(self, *exc):
        common.stop_process(self.process)


def _store_runs(url: str, regions_file: Path, *, count: int) -> list[int]:
    """Store ``count`` runs of varied regions, for the run pages to be drawn from."""
    codes = [line.split("\t")[0] for line in regions_file.read_text().splitlines()]
    ids = []
    for i in range(count):
        body = {"regions": codes[i * 5 % len(codes) :][:2], "from": 2025 + i % 10, "to": 2040}
        status, text = common.http_post_json(url + "/api/runs/", body)
        if status != 201:
            raise SystemExit(f"POST /api/runs/ answered {status}: {text[:300]}")
        ids.append(json.loads(text)["id"])
    return ids


def _csrf(url: str) -> tuple[str, str]:
    """The home page's form token and the csrftoken cookie, for the form POST workload."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(url + "/", timeout=10) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    cookie = next(item.value for item in jar if item.name == "csrftoken")
    return token, cookie


def _warm_up(project: str, original: str, same: str) -> None:
    """Imports, connections and per-process caches in every worker, before any figure."""
    for _ in range(20):
        for path in ("/", same, "/runs/", "/accuracy/", "/regions/900/"):
            common.http_get(project + path)
        common.http_get(original + "/")


def _wrk(url, options, connections, script, script_args) -> dict:
    return common.wrk(
        url,
        connections=connections,
        seconds=options.seconds,
        script=script,
        script_args=script_args,
        threads=options.threads,
    )


def _around(before: dict, after: dict) -> dict:
    """The original's figure for a workload measured between ``before`` and ``after``."""
    return {"rps": (before["rps"] + after["rps"]) / 2, "before": before, "after": after}


def _ratio(figures: dict, baseline: dict | None) -> str:
    if not baseline or not baseline["rps"]:
        return ""
    return f"{figures['rps'] / baseline['rps']:.1f}x"


def _errors(figures: dict) -> int:
    return figures["non_2xx_3xx"] + figures["socket_errors"]


def _print_row(name: str, figures: dict, baseline: dict | None) -> None:
    print(
        f"  {name}: {figures['rps']:.0f} req/s, p50 {figures['p50']:.1f} ms, "
        f"p99 {figures['p99']:.1f} ms, errors {_errors(figures)} {_ratio(figures, baseline)}",
        flush=True,
    )


def _before_after(baseline: dict) -> str:
    return f"{baseline['before']['rps']:.0f} / {baseline['after']['rps']:.0f}"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# Targets of issue 13: the least ratio to the original's varied forecast, and the largest p99.
TARGETS = {
    "GET /api/forecast/ (varied)": (2, 30),
    "POST / form, stores a run (varied)": (2, 30),
    "GET /api/forecast/ (same query: cached)": (3, None),
    "POST /api/runs/ (varied)": (1, None),
    "GET / (home)": (2, None),
    "GET /regions/<random code>/": (2, None),
    "GET /runs/<random id>/": (2, None),
    "GET /runs/": (2, None),
    "GET /accuracy/": (2, None),
}


def _print_table(rows: dict, baselines: dict, wide: dict, options) -> None:
    print()
    print(f"load average at the end: {_load()}")
    print(
        "| workload | original varied forecast req/s (before / after) | this project req/s | p50 ms | p99 ms | errors | ratio | "
        f"errors at -c{options.wide_connections} | target |"
    )
    print("|" + " --- |" * 9)
    for name, figures in rows.items():
        original = name.startswith("original")
        baseline = baselines[name]
        target = ""
        if name in TARGETS:
            least, p99 = TARGETS[name]
            met = figures["rps"] >= least * baseline["rps"] and (
                p99 is None or figures["p99"] <= p99
            )
            met = met and _errors(figures) == 0 and _errors(wide[name]) == 0
            wanted = f">= {least}x" + (f", p99 <= {p99} ms" if p99 else "")
            target = f"{wanted}: {'met' if met else 'MISSED'}"
        print(
            f"| {name} | {format(figures['rps'], '.0f') if original else _before_after(baseline)} | "
            f"{'' if original else format(figures['rps'], '.0f')} | {figures['p50']:.1f} | "
            f"{figures['p99']:.1f} | {_errors(figures)} | {_ratio(figures, baseline)} | "
            f"{_errors(wide[name])} | {target} |"
        )


if __name__ == "__main__":
    main()
