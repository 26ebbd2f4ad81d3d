"""Import a full-scale WPP long file into the configured database; print seconds and peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/popforecasts python benchmarks/bench_import.py

Generates the file with generate_wpp_full.py first when it is missing. The import runs in a child
process (`manage.py import_wpp`), whose peak resident memory is read from the kernel's accounting.
Targets: at most 15 s and 400 MB.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = Path("/tmp/WPP2024_TotalPopulationBySex.csv.gz")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--runs", type=int, default=2)
    arguments = parser.parse_args()
    if not arguments.file.exists():
        subprocess.run(
            [sys.executable, ROOT / "benchmarks" / "generate_wpp_full.py", arguments.file],
            check=True,
        )
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    print(f"database: {os.environ.get('DATABASE_URL', 'sqlite (default)')}")
    print(f"file: {arguments.file} ({arguments.file.stat().st_size / 1e6:.1f} MB gzipped)")
    for run in range(1, arguments.runs + 1):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "manage.py", "import_wpp", str(arguments.file), "-v0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if result.returncode:
            print(result.stdout, result.stderr)
            sys.exit(result.returncode)
        summary = result.stdout.strip().splitlines()[-1]
        print(
            f"run {run}: wall {seconds:.2f} s (process start included), peak RSS {peak_mb:.0f} MB"
        )
        print(f"  {summary}")


if __name__ == "__main__":
    main()
