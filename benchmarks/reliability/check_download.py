"""A download cut off half-way: the import fails clearly, and the data and the cache are untouched.

    python benchmarks/reliability/check_download.py

A small HTTP server (a thread here) serves the WPP2022 excerpt of ../shared/data. Twice it sends
the file's whole Content-Length, then half the file, and closes the connection: the CSV cut at a
line break (what arrives is a valid, shorter CSV: only the byte count shows it is cut off), and
the file gzipped, cut in half. Each time `manage.py import_wpp URL` must exit non-zero with a
message saying the download was cut off, the active data must be exactly as before (counts and an
md5 of every value), and WPP_CACHE_DIR must hold no `.part` file nor any copy of the cut file.
Then the whole file, served properly, imports. Downloads refuse loopback addresses unless
WPP_DOWNLOAD_ALLOW_PRIVATE=1, which is set for these imports only.
"""

import gzip
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import (
    ROOT,
    SMALL_FILE,
    check,
    data_snapshot,
    finish,
    manage,
    prepare_database,
)

EXCERPT = ROOT.parent / "shared" / "data" / "WPP2022_TotalPopulationBySex_excerpt.csv"


def cut_at(name: str, body: bytes) -> int:
    """Where a cut-off reply stops: the line break after the middle of a CSV, else the middle."""
    if name.endswith(".csv"):
        return body.index(b"\n", len(body) // 2) + 1
    return len(body) // 2


class WppFiles(BaseHTTPRequestHandler):
    """GET /full/NAME sends a file whole; GET /cut/NAME announces its whole length, sends the part
    before cut_at, and closes the connection."""

    files: dict[str, bytes] = {}

    def do_GET(self):
        mode, _, name = self.path.strip("/").partition("/")
        body = self.files.get(name)
        if body is None or mode not in ("full", "cut"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if mode == "full" else body[: cut_at(name, body)])
        self.close_connection = True

    def log_message(self, *args):
        pass


def import_url(url: str, cache_dir: Path):
    env = {"WPP_DOWNLOAD_ALLOW_PRIVATE": "1", "WPP_CACHE_DIR": str(cache_dir)}
    return manage("import_wpp", url, "-v0", check_exit=False, env=env)


def check_cut_download(url: str, cache_dir: Path) -> None:
    before = data_snapshot()
    result = import_url(url, cache_dir)
    message = (result.stderr.strip().splitlines() or ["(nothing)"])[-1]
    print(f"  {url.rsplit('/', 2)[-1]} cut off: exit code {result.returncode}: {message}")
    check(result.returncode != 0, "import_wpp exits non-zero")
    check(
        "was cut off" in message and "Traceback" not in result.stderr,
        "its message says the download was cut off, without a traceback",
    )
    check(data_snapshot() == before, "the active data is exactly as before (counts and md5)")
    left = [str(path.relative_to(cache_dir)) for path in cache_dir.rglob("*") if path.is_file()]
    check(not left, f"WPP_CACHE_DIR holds no .part file and no copy of the cut file {left or ''}")


def main():
    if not EXCERPT.is_file():
        raise SystemExit(f"{EXCERPT} is absent (it lives in ../shared/data beside the project)")
    prepare_database()
    if not data_snapshot()["active"]:
        manage("import_wpp", str(SMALL_FILE), "-v0")
    text = EXCERPT.read_bytes()
    WppFiles.files = {EXCERPT.name: text, EXCERPT.name + ".gz": gzip.compress(text)}
    server = ThreadingHTTPServer(("127.0.0.1", 0), WppFiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"serving {EXCERPT.name} ({len(text):,} bytes) and its .gz at {base}", flush=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            cache_dir = Path(folder)
            for name in WppFiles.files:
                check_cut_download(f"{base}/cut/{name}", cache_dir)
            before = data_snapshot()
            result = import_url(f"{base}/full/{EXCERPT.name}", cache_dir)
            imported = (result.stdout.strip().splitlines() or ["(nothing)"])[-1]
            print(f"  whole file: exit code {result.returncode}: {imported}")
            check(result.returncode == 0, "the whole file, served properly, imports")
            after = data_snapshot()
            check(
                after["active"] != before["active"] and after["values"] > 0,
                f"it is the active data now ({after['regions']} regions, {after['values']:,} values)",
            )
    finally:
        server.shutdown()
    finish("check_download")


if __name__ == "__main__":
    main()
