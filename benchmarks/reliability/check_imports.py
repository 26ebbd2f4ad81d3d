"""Imports survive SIGKILL and races on PostgreSQL.

    python benchmarks/reliability/check_imports.py

(a) An import of the full-scale file killed with SIGKILL half-way through the load: the previous
    data is intact (same counts and checksum) and the next import succeeds.
(b) Two imports of the full-scale file started together: one is refused (ImportBusyError: "Another
    import is running") or waits; afterwards one dataset is active and the data is exactly the
    file's, with no duplicates and nothing left from the data before.
"""

import contextlib
import re
import signal
import subprocess
import threading
import time

from common import (
    ENV,
    PYTHON,
    ROOT,
    SMALL_FILE,
    check,
    connect,
    data_snapshot,
    ensure_full_file,
    finish,
    manage,
    prepare_database,
)

KILL_AT_PERCENT = 50
KILL_AFTER_SECONDS = 30  # in case no progress is printed, kill anyway


def start_import(path):
    return subprocess.Popen(
        [PYTHON, "manage.py", "import_wpp", str(path)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def follow_progress(process, state):
    """Read tqdm's progress bar (carriage-return separated) and keep the latest percentage."""
    buffer = ""
    while True:
        chunk = process.stderr.read(1)
        if not chunk:
            return
        buffer += chunk
        if chunk in "\r\n":
            match = re.search(r"(\d+)%", buffer)
            if match:
                state["percent"] = int(match.group(1))
            buffer = ""


def import_backends():
    with contextlib.closing(connect()) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = "
            "'client backend'"
        )
        return cursor.fetchall()


def datasets_by_status():
    with contextlib.closing(connect()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM forecasts_dataset GROUP BY status")
        return dict(cursor.fetchall())


def check_killed_import(full_file):
    print("(a) import killed with SIGKILL half-way through the full-scale file", flush=True)
    manage("import_wpp", str(SMALL_FILE), "-v0")
    before = data_snapshot()
    print(f"  previous data: {before['values']:,} values, checksum {before['checksum']}")

    process = start_import(full_file)
    state = {"percent": 0}
    reader = threading.Thread(target=follow_progress, args=(process, state), daemon=True)
    reader.start()
    started = time.monotonic()
    while process.poll() is None and state["percent"] < KILL_AT_PERCENT:
        if time.monotonic() - started > KILL_AFTER_SECONDS:
            break
        time.sleep(0.05)
    backends = import_backends()
    still_running = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    print(
        f"  killed after {time.monotonic() - started:.1f} s at {state['percent']}% of the file; "
        f"import's database session then: {backends}"
    )
    check(still_running, "the import was still running when it was killed")
    check(0 < state["percent"] < 100, "the load had started and not finished")

    time.sleep(1)  # PostgreSQL notices the closed connection and rolls its transaction back
    after = data_snapshot()
    check(after == before, "previous data intact after the kill (active dataset, counts, checksum)")
    statuses = datasets_by_status()
    print(
        f"  dataset rows by status: {statuses} (the killed import's row is 'running' until the next)"
    )

    result = manage("import_wpp", str(full_file), "-v0", check_exit=False)
    check(result.returncode == 0, "the next import succeeds")
    check(
        "running" not in datasets_by_status(),
        "the next import marked the killed import's dataset row as interrupted",
    )
    full = data_snapshot()
    check(
        full["values"] == full["distinct_values"] == full["active"][0][2]
        and len(full["active"]) == 1,
        f"the full file is active: {full['values']:,} values, no duplicates, one active dataset",
    )
    return full


def check_concurrent_imports(full_file, full_snapshot):
    print("(b) two imports of the full-scale file started together", flush=True)
    manage("import_wpp", str(SMALL_FILE), "-v0")
    first, second = start_import(full_file), start_import(full_file)
    outputs = [process.communicate() for process in (first, second)]
    codes = [first.returncode, second.returncode]
    refused = ["Another import is running" in (stdout + stderr) for stdout, stderr in outputs]
    print(f"  exit codes {codes}; refused as busy: {refused}")
    one_refused = sorted(codes) == [0, 1] and refused[codes.index(1)]
    both_succeeded = codes == [0, 0]
    check(
        one_refused or both_succeeded,
        "one import succeeded and the other was refused as busy (or waited and succeeded)",
    )
    after = data_snapshot()
    check(len(after["active"]) == 1, "exactly one dataset is active")
    check(after["values"] == after["distinct_values"], "no duplicate (region, variant, year) rows")
    check(
        after["checksum"] == full_snapshot["checksum"]
        and after["values"] == full_snapshot["values"],
        "the data is exactly the full file's (no mixture with the data before, no partial load)",
    )


def main():
    prepare_database()
    full_file = ensure_full_file()
    full_snapshot = check_killed_import(full_file)
    check_concurrent_imports(full_file, full_snapshot)
    finish("check_imports")


if __name__ == "__main__":
    main()
