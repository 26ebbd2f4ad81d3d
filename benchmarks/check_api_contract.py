"""The API keeps its published contract: Schemathesis, every check, against gunicorn.

    python benchmarks/check_api_contract.py [--max-examples 200] [--seed N] [--workers 1]

A larger, randomized run than the CI test (tests/test_api_schemathesis.py): production settings
(DEBUG off) on PostgreSQL (API_CONTRACT_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/popforecasts_api, created and migrated when missing) with the
WPP2019 estimates imported when no data is loaded. gunicorn serves on a free port of 127.0.0.1 with
the runs throttle raised (RUNS_RATE), since every generated POST counts and 429s would hide what
comes after. `schemathesis run --checks all`, with tests/schemathesis_hooks.py (the one rule the
schema cannot state: `from` not after `to`), then runs every phase (examples, coverage, fuzzing and
the stateful phase, which follows the schema's links from a created run to reading it back), and
its summary is printed. The exit code is Schemathesis': 0 when no check failed.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault(
    "RELIABILITY_DATABASE_URL",
    os.environ.get(
        "API_CONTRACT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/popforecasts_api"
    ),
)
sys.path.insert(0, str(Path(__file__).resolve().parent / "reliability"))

from common import ROOT, Gunicorn, data_snapshot, manage, prepare_database  # noqa: E402

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=200)
    parser.add_argument("--seed", type=int, help="replay a run (default: a new random seed)")
    # One worker: with several threads, Hypothesis' ast.parse can hit CPython 3.11's "AST
    # constructor recursion depth mismatch" SystemError (python/cpython#106905), a Schemathesis
    # error that says nothing about the API.
    parser.add_argument("--workers", default="1", help="Schemathesis workers (1-64 or auto)")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    arguments = parser.parse_args()
    prepare_database()
    if not data_snapshot()["active"]:
        print("importing the embedded WPP2019 estimates", flush=True)
        manage("import_wpp", "-v0")
    command = [
        SCHEMATHESIS,
        "run",
        "--checks",
        "all",
        "--max-examples",
        str(arguments.max_examples),
        "--workers",
        arguments.workers,
        "--generation-database",
        "none",
        "--no-color",
        # One request per connection, as the CI test does: gunicorn's sync workers close it anyway.
        "--header",
        "Connection: close",
    ]
    if arguments.seed is not None:
        command += ["--seed", str(arguments.seed)]
    extra_env = {"RUNS_RATE": "1000000/minute", "FORECASTS_RATE": "100000000/minute"}
    with Gunicorn(workers=arguments.gunicorn_workers, extra_env=extra_env) as server:
        command.append(f"{server.url}/api/schema/?format=json")
        # The rule between `from` and `to` that no schema keyword states (see the module).
        hooks_env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks"}
        print(
            f"gunicorn {arguments.gunicorn_workers} sync workers, DEBUG off, PostgreSQL with "
            f"WPP2019; {' '.join(command[1:])}",
            flush=True,
        )
        result = subprocess.run(command, cwd=ROOT, env=hooks_env)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
