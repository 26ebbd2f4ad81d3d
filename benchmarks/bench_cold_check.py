"""Time `manage.py check` as a cold process: Python and Django start-up, settings, apps, URLconf.

    SECRET_KEY=x .venv/bin/python benchmarks/bench_cold_check.py [--runs 9] [--python PATH]

Each run is a new process, after one run that is not counted (the files in the page cache, as on a
server that has started before). The project's bytecode is compiled first (``compileall``, as a
deployment's build step does): where PYTHONDONTWRITEBYTECODE is set, as on the machines these
figures come from and in many container images, Python never writes it, and every start compiles
the project's own modules again (0.12-0.17 s of each `check` measured there). Prints the wall and
CPU seconds of the runs (min, median, max) against the target (0.6 s), and the heaviest imports of
one more run (``python -X importtime``), so a regression names its cause.

``--python`` times another interpreter, such as the virtualenv of a deployment, which has only
requirements.txt: the development requirements add packages that Django REST framework imports
whenever they are installed (requests, with schemathesis), which a server does not have. The
database is SQLite in a temporary folder unless DATABASE_URL is set (check opens no connection).
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.6
HEAVY = ("numpy", "pandas", "scipy", "statsmodels")
PACKAGES = ("forecasts", "popsite")  # the project's code: its bytecode is compiled before timing


def run_once(command, env) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``command``, the CPU of the process and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


# `manage.py check` in one process that then lists what it imported: -X importtime also lists
# modules it only looked for (DRF tries `requests`, absent from a server's install).
CHECK_THEN_LIST = """
import sys
sys.argv = ["manage.py", "check"]
try:
    with open("manage.py") as source:  # not runpy: it imports modules `check` does not
        exec(compile(source.read(), "manage.py", "exec"), {"__name__": "__main__"})
finally:
    sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)) + "\\n")
"""


def imports_of_one_run(python, env, count=8) -> tuple[list[tuple[float, str]], set[str]]:
    """The ``count`` top-level imports with the largest cumulative time (ms, name) of one run of
    `check`, and the names of every module it imported."""
    result = subprocess.run(
        [python, "-X", "importtime", "-c", CHECK_THEN_LIST],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    top, names = [], set()
    for line in result.stderr.splitlines():
        if line.startswith("MODULES "):
            names = set(line.split()[1:])
        elif line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):  # top level
                top.append((int(cumulative) / 1000, name.strip()))
    return sorted(top, reverse=True)[:count], names


def spread(values) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--python", default=sys.executable, help="the interpreter to time")
    arguments = parser.parse_args()
    # By the interpreter timed (its version names the bytecode files), as `make run` does.
    subprocess.run([arguments.python, "-m", "compileall", "-q", *PACKAGES], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-cold-check")}
        env.setdefault("DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3")
        command = [arguments.python, "manage.py", "check"]
        run_once(command, env)  # not counted: fills the page cache
        runs = [run_once(command, env) for _ in range(arguments.runs)]
        top, names = imports_of_one_run(arguments.python, env)
    walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
    median = statistics.median(walls)
    verdict = "met" if median <= TARGET_SECONDS else "MISSED"
    print(f"manage.py check, cold, {arguments.runs} runs of {arguments.python}")
    dont_write = "set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "not set"
    print(f"  the project's bytecode compiled first (PYTHONDONTWRITEBYTECODE {dont_write})")
    print(f"  wall s min / median / max  {spread(walls)}  (target {TARGET_SECONDS} s: {verdict})")
    print(f"  CPU s  min / median / max  {spread(cpus)}")
    requests = "imported (DRF imports it when installed)" if "requests" in names else "not imported"
    print(f"  {len(names)} modules imported; requests {requests}")
    heavy = sorted(name for name in names if name.split(".")[0] in HEAVY)
    print(f"  numpy, pandas, scipy, statsmodels: {', '.join(heavy) if heavy else 'none imported'}")
    print("  heaviest top-level imports (cumulative ms, one run):")
    for milliseconds, name in top:
        print(f"    {milliseconds:7.1f}  {name}")


if __name__ == "__main__":
    main()
