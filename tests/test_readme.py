"""Every ```sh block of README.md works as written, in a fresh clone of the repository.

The clone reuses this project's virtualenv through a ``.venv`` symlink (nothing is installed) and
starts with no .env, no database and no network settings: what a newcomer has after
``git clone``. Blocks run in the README's order, so ``make run`` writes .env and imports the
embedded data before the commands that need them. Skipped, with the reason printed: commands that
download from the internet and ``make test`` (this suite itself). Servers (``make run``) are
started, checked to serve / with 200 and to start the task worker, then stopped; the curl
examples run while one serves.
"""

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
README_PORT = 8000
NEEDS_INTERNET = {
    "make data-official": "downloads the official WPP2024 file from population.un.org",
    "--official": "downloads the official WPP2024 file from population.un.org",
}
SUITE = "make test"
SERVER_START_SECONDS = 240


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    """A block's commands: comment lines dropped, backslash continuations joined."""
    result, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line + "\n"
        if not line.rstrip().endswith("\\"):
            result.append(current.strip())
            current = ""
    return result


def skip_reason(command: str) -> str | None:
    for marker, reason in NEEDS_INTERNET.items():
        if marker in command:
            return f"needs the internet: {reason}"
    if re.match(rf"{SUITE}(\s|$)", command):
        return "runs the whole test suite, which contains this test (CI runs it: .ci/run)"
    return None


def is_server(command: str) -> bool:
    return re.search(r"(^|\s)make run(\s|$)", command) is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone of this repository's committed state, with the shared virtualenv."""
    folder = tmp_path_factory.mktemp("readme")
    project = folder / "popforecasts"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(project)], check=True, timeout=120)
    # the virtualenv running these tests (the project's .venv under `make test`)
    (project / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    # The clone's files are newer than the virtualenv's "installed" stamp; say they are not, so
    # make does not reinstall (nothing is downloaded: the requirements are those installed).
    for name in ["requirements.txt", "requirements-dev.txt"]:
        os.utime(project / name, (0, 0))
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (folder / "shared").symlink_to(shared, target_is_directory=True)
    return project


@pytest.fixture(scope="module")
def environment():
    """What a newcomer's shell has: none of this project's settings, no pytest marker."""
    dropped = {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ENV_FILE"}
    dropped |= {key for key in os.environ if key.startswith(("DJANGO_", "WPP_"))}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    port = README_PORT if port_is_free(README_PORT) else free_port()
    if port != README_PORT:
        print(f"NOTE: port {README_PORT} is in use here; the README's commands use {port}")
    env["PORT"] = str(port)
    return env


def localize(command: str, env) -> str:
    return command.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{env['PORT']}")


class Server:
    """``make run`` (or a variant) in its own process group, until stop()."""

    def __init__(self, command, cwd, env, log: Path):
        self.log = log
        self.output = log.open("wb")
        self.process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{env['PORT']}/"

    def wait_until_serving(self) -> float:
        started = time.monotonic()
        while time.monotonic() - started < SERVER_START_SECONDS:
            if self.process.poll() is not None:
                pytest.fail(f"the server stopped:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    assert response.status == 200
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"not serving {self.url} after {SERVER_START_SECONDS} s")

    def wait_for_worker(self):
        for _ in range(60):
            if "Starting worker" in self.log.read_text():
                return
            time.sleep(0.5)
        pytest.fail(f"the task worker did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self):
        """Ctrl-C, as a developer stops it: both processes end."""
        if self.process.poll() is not None:
            self.output.close()
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            pytest.fail("make run did not stop on Ctrl-C")
        self.output.close()
        leftovers = subprocess.run(
            ["pgrep", "-s", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        assert not leftovers, f"processes left after Ctrl-C: {leftovers}"


def run_interactive(command, cwd, env, answers: list[tuple[str, str]]):
    """Run a command in a terminal, answering each prompt that contains the given text."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, in the pseudo-terminal
        os.chdir(cwd)
        os.execvpe("bash", ["bash", "-c", command], env)
    output, pending = b"", list(answers)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if pending and pending[0][0].encode() in output.rsplit(b"\n", 1)[-1]:
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_every_readme_command_works_as_written(clone, environment, tmp_path):
    blocks = sh_blocks((clone / "README.md").read_text())
    assert len(blocks) >= 5
    server = None
    ran, skipped = [], []
    try:
        for block in blocks:
            for command in commands(block):
                reason = skip_reason(command)
                if reason:
                    skipped.append((command, reason))
                    print(f"SKIPPED {command!r}: {reason}")
                    continue
                if is_server(command):
                    if server:
                        server.stop()
                    server = Server(command, clone, environment, tmp_path / f"server{len(ran)}.log")
                    seconds = server.wait_until_serving()
                    server.wait_for_worker()
                    print(f"{command!r}: serving / with 200 after {seconds:.1f} s, worker running")
                elif "createsuperuser" in command:
                    code, output = run_interactive(
                        command,
                        clone,
                        environment,
                        [
                            ("Username", "operator"),
                            ("Email", "operator@example.org"),
                            ("Password:", "a-long-readme-password"),
                            ("Password (again)", "a-long-readme-password"),
                        ],
                    )
                    assert code == 0, output
                    assert "Superuser created successfully." in output
                else:
                    if "curl" in command:
                        assert server is not None, f"{command!r} needs a server started earlier"
                    result = subprocess.run(
                        ["bash", "-euo", "pipefail", "-c", localize(command, environment)],
                        cwd=clone,
                        env=environment,
                        capture_output=True,
                        text=True,
                        timeout=600,
                    )
                    assert result.returncode == 0, (
                        f"{command!r} failed ({result.returncode}):\n"
                        f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
                    )
                    if command.startswith("curl"):
                        assert result.stdout.strip(), f"{command!r} printed nothing"
                ran.append(command)
    finally:
        if server:
            server.stop()
    print(f"ran {len(ran)} commands, skipped {len(skipped)}")
    assert (clone / ".env").is_file()
    assert any(is_server(command) for command in ran)
    assert any("createsuperuser" in command for command in ran)
    assert {reason.split(":")[0] for _, reason in skipped} <= {
        "needs the internet",
        "runs the whole test suite, which contains this test (CI runs it",
    }


def test_make_run_on_a_fresh_clone_serves_forecasts_offline(clone, environment, tmp_path):
    """The headline promise, measured: no .env, no database, no network settings."""
    fresh = tmp_path / "fresh"
    shutil.copytree(clone, fresh, symlinks=True, ignore=shutil.ignore_patterns(".env", "db.*"))
    env = {**environment, "PORT": str(free_port())}
    started = time.monotonic()
    server = Server("make run", fresh, env, tmp_path / "fresh.log")
    try:
        server.wait_until_serving()
        print(f"make run on a fresh clone: serving after {time.monotonic() - started:.1f} s")
        server.wait_for_worker()
        with urllib.request.urlopen(
            f"{server.url}api/forecast/?regions=900&from=2030&to=2031", timeout=30
        ) as response:
            assert response.status == 200
            assert b'"edition":"WPP2019"' in response.read().replace(b" ", b"")
    finally:
        server.stop()
    assert "DEBUG=1" in (fresh / ".env").read_text()
