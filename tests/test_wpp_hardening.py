"""Hostile review: downloads cut off or endless, gzip bombs, NUL bytes, long names, and imports
marked interrupted while still running. Every failed import changes no data and ends "failed"."""

import contextlib
import gzip
import hashlib
import importlib
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from django.db import connection, connections

from forecasts import services, wpp
from forecasts.models import Dataset, Region, YearlyPopulation

from .conftest import ROOT

wpp_download = importlib.import_module("forecasts.wpp.download")


@pytest.fixture(autouse=True)
def local_downloads(settings, tmp_path):
    """The test servers listen on 127.0.0.1, which downloads refuse unless allowed."""
    settings.WPP_DOWNLOAD_ALLOW_PRIVATE = True
    settings.WPP_CACHE_DIR = tmp_path / "cache"


def snapshot():
    """Counts of regions and values, and a checksum of every value."""
    digest = hashlib.sha256()
    for row in YearlyPopulation.objects.order_by("region_id", "variant", "year").values_list(
        "region_id", "variant", "year", "persons"
    ):
        digest.update(repr(row).encode())
    return Region.objects.count(), YearlyPopulation.objects.count(), digest.hexdigest()


def assert_failed_and_unchanged(raised, before, *, match):
    """The import failed with ``match`` in its message, is recorded so, and the data is as it was."""
    assert match in str(raised.value), str(raised.value)
    assert snapshot() == before
    failed = raised.value.dataset
    failed.refresh_from_db()
    assert failed.status == Dataset.Status.FAILED
    assert match in failed.error
    assert not Dataset.objects.filter(status=Dataset.Status.RUNNING).exists()


def cache_files(settings):
    return [path for path in settings.WPP_CACHE_DIR.rglob("*") if path.is_file()]


def _read_request_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        block = conn.recv(65536)
        if not block:
            break
        data += block


@contextlib.contextmanager
def raw_server(respond):
    """A TCP server on 127.0.0.1: reads each request's head, then ``respond(conn)`` writes
    whatever it likes (garbage, a cut-off body, a drip). Yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(10)
                with contextlib.suppress(OSError):
                    _read_request_head(conn)
                    respond(conn, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(10)
        listener.close()


def head(status="200 OK", **headers):
    lines = [f"HTTP/1.1 {status}"] + [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join([*lines, "Connection: close", "", ""])).encode()


def cut_at_line_break(data: bytes) -> bytes:
    return data[: data.index(b"\n", len(data) // 2) + 1]


# 1. A download cut off halfway is not imported


@pytest.mark.django_db
def test_download_cut_off_at_a_line_break_fails_and_changes_nothing(
    small_dataset, wpp2022_excerpt, settings
):
    data = wpp2022_excerpt.read_bytes()

    def respond(conn, stop):
        conn.sendall(head(Content_Length=len(data)) + cut_at_line_break(data))

    before = snapshot()
    with raw_server(respond) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2022_x.csv")
    assert_failed_and_unchanged(raised, before, match="was cut off: received")
    assert not cache_files(settings)


@pytest.mark.django_db
def test_cut_off_chunked_download_fails_and_changes_nothing(
    small_dataset, wpp2022_excerpt, settings
):
    data = cut_at_line_break(wpp2022_excerpt.read_bytes())

    def respond(conn, stop):
        conn.sendall(head(Transfer_Encoding="chunked") + b"%x\r\n" % (len(data) * 2) + data)

    before = snapshot()
    with raw_server(respond) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2022_x.csv")
    assert_failed_and_unchanged(raised, before, match="IncompleteRead")
    assert not cache_files(settings)


@pytest.mark.django_db
def test_complete_download_of_a_truncated_gzip_fails(small_dataset, small_long_file):
    data = gzip.compress(small_long_file.read_bytes())
    data = data[: len(data) // 2]

    def respond(conn, stop):
        conn.sendall(head(Content_Length=len(data)) + data)

    before = snapshot()
    with raw_server(respond) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2024_x.csv.gz")
    assert_failed_and_unchanged(raised, before, match="gzip data is damaged or truncated")


# 2. Gzip bombs and endless lines: bounded memory


def test_gzip_bomb_is_refused_while_it_is_unzipped(tmp_path, small_long_file):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(small_long_file.read_bytes() * 20))
    with pytest.raises(wpp.WppFormatError, match="expands to more than 100,000 bytes"):
        wpp.read(path, max_uncompressed_bytes=100_000)


@pytest.mark.django_db
def test_import_refuses_a_file_past_the_uncompressed_limit(
    small_dataset, wpp2022_excerpt, tmp_path, settings
):
    path = tmp_path / "WPP2022_x.csv.gz"
    path.write_bytes(gzip.compress(wpp2022_excerpt.read_bytes()))
    settings.WPP_MAX_UNCOMPRESSED_BYTES = 500_000
    before = snapshot()
    with pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=str(path))
    assert_failed_and_unchanged(raised, before, match="the limit is WPP_MAX_UNCOMPRESSED_BYTES")


def test_a_line_far_longer_than_a_wpp_row_is_refused_with_its_number(tmp_path, small_long_file):
    lines = small_long_file.read_text().splitlines(keepends=True)
    path = tmp_path / "long.csv"
    path.write_text("".join(lines[:3]) + "x" * 100_000 + "\n" + "".join(lines[3:]))
    with pytest.raises(wpp.WppFormatError, match="line 4: The line is longer than"):
        list(wpp.read(path).chunks())


PEAK_SCRIPT = textwrap.dedent(
    """
    import gzip, resource, sys
    from forecasts import wpp
    row = b",1,,,,,A,Medium,1950,5\\n,1,,,,,A,Low,2022,1\\n"
    path = sys.argv[1]
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b"SortOrder,LocID,Notes,ISO3_code,LocTypeName,ParentID,Location,Variant,Time,PopTotal\\n")
        out.write(row + b"\\xff")
        block = b"9" * (1 << 20)
        for _ in range(400):
            out.write(block)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        list(wpp.read(path).chunks())
    except wpp.WppFormatError as error:
        print(error)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """
)


def test_an_invalid_byte_before_an_endless_line_is_found_in_bounded_memory(tmp_path):
    """A 400 MB line after an invalid byte: the error names line 4, memory stays small."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(tmp_path / "endless.csv.gz")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    message, grown_mb = result.stdout.strip().splitlines()
    assert message.startswith("line 4: ")
    assert int(grown_mb) < 100, result.stdout


# 9. Malformed replies and bad URLs: a failed import, never a 500 or a "running" row


def huge_header(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")


def many_headers(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"\r\n")


def garbage(conn, stop):
    conn.sendall(b"this is not HTTP at all\r\n\r\n")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("respond", "match"),
    [(garbage, "BadStatusLine"), (huge_header, "LineTooLong"), (many_headers, "100 headers")],
    ids=["not-http", "header-over-64k", "over-100-headers"],
)
def test_malformed_reply_fails_cleanly(small_dataset, settings, respond, match):
    before = snapshot()
    with raw_server(respond) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2022_x.csv")
    assert_failed_and_unchanged(raised, before, match=match)
    assert not cache_files(settings)


@pytest.mark.django_db
def test_url_ending_in_a_fragment_of_dot_dot_still_downloads(small_long_file, settings):
    data = small_long_file.read_bytes()

    def respond(conn, stop):
        conn.sendall(head(Content_Length=len(data)) + data)

    with raw_server(respond) as base:
        dataset = services.dataset_import(source=f"{base}/WPP2022_x.csv#/..")
    assert dataset.status == Dataset.Status.SUCCEEDED
    assert [path.name for path in cache_files(settings)] == ["WPP2022_x.csv"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://[::1/x.csv", "http://127.0.0.1:99999/x.csv", "http:///x"])
def test_invalid_url_fails_cleanly(small_dataset, url):
    before = snapshot()
    with pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=url)
    assert_failed_and_unchanged(raised, before, match="")


# 10. NUL characters and over-long upload names


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new", "column"),
    [(",Medium,", ",Med\x00ium,", "Variant"), (",WB region", ",WB re\x00gion", "Location")],
)
def test_nul_in_a_text_cell_is_refused_with_line_and_column(
    small_dataset, small_long_file, tmp_path, old, new, column
):
    path = tmp_path / "nul.csv"
    path.write_text(small_long_file.read_text().replace(old, new, 1))
    before = snapshot()
    with pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=str(path))
    assert_failed_and_unchanged(raised, before, match=f"line 2, column '{column}': a NUL")


def test_upload_file_name_fits_in_255_bytes_and_keeps_its_extension():
    for name in ["é" * 150 + ".csv.gz", "é" * 150 + ".csv", "x" * 300, "WPP2024_ok.csv"]:
        safe = services.datasets._upload_file_name(name)
        assert len(safe.encode()) <= 255
        assert safe.endswith(name[-7:] if name.endswith(".gz") else name[-4:])
    assert services.datasets._upload_file_name("WPP2024_ok.csv") == "WPP2024_ok.csv"


@pytest.mark.django_db
def test_upload_with_a_300_byte_name_imports(client, staff_user, run_tasks, small_long_file):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(staff_user)
    upload = SimpleUploadedFile("é" * 150 + ".csv", small_long_file.read_bytes())
    response = client.post("/admin/forecasts/dataset/refresh/", {"file": upload})
    assert response.status_code == 302
    assert run_tasks() == 1
    assert Dataset.objects.get(is_active=True).value_count == 618


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/forecasts/forecastrun/?method=%00",
        "/admin/forecasts/yearlypopulation/?variant=%00",
        "/admin/forecasts/region/?kind=%00",
    ],
)
def test_admin_filter_with_a_nul_is_a_400(client, staff_user, small_dataset, url):
    client.force_login(staff_user)
    assert client.get(url).status_code == 400


# 11. Downloads: size cap, deadline, internal addresses, redirects


def endless(conn, stop):
    conn.sendall(head())
    block = b"9" * 65536
    while not stop.is_set():
        conn.sendall(block)


@pytest.mark.django_db
def test_endless_download_stops_at_the_size_cap_and_keeps_nothing(small_dataset, settings):
    settings.WPP_DOWNLOAD_MAX_BYTES = 1_000_000
    before = snapshot()
    with raw_server(endless) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2022_x.csv")
    assert_failed_and_unchanged(raised, before, match="the limit is WPP_DOWNLOAD_MAX_BYTES")
    assert not cache_files(settings)


@pytest.mark.django_db
def test_download_larger_than_the_cap_is_refused_from_its_content_length(small_dataset, settings):
    settings.WPP_DOWNLOAD_MAX_BYTES = 1_000

    def respond(conn, stop):
        conn.sendall(head(Content_Length=10**12) + b"x" * 100)

    with raw_server(respond) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2022_x.csv")
    assert "is larger than 1,000 bytes" in str(raised.value)


@pytest.mark.django_db
def test_dripping_download_meets_the_overall_deadline(small_dataset, settings):
    settings.WPP_DOWNLOAD_TIMEOUT_SECONDS = 1

    def drip(conn, stop):
        conn.sendall(head(Content_Length=1000))
        while not stop.is_set():
            conn.sendall(b"9")
            time.sleep(0.2)

    before = snapshot()
    started = time.monotonic()
    with raw_server(drip) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2022_x.csv")
    assert time.monotonic() - started < 5
    assert_failed_and_unchanged(raised, before, match="WPP_DOWNLOAD_TIMEOUT_SECONDS")
    assert not cache_files(settings)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/WPP2022_x.csv", "http://[::1]:9/x.csv", "http://localhost:9/x.csv"],
)
def test_internal_addresses_are_refused_unless_allowed(small_dataset, settings, url):
    settings.WPP_DOWNLOAD_ALLOW_PRIVATE = False
    before = snapshot()
    with pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=url)
    assert_failed_and_unchanged(raised, before, match="is an internal address")
    assert "WPP_DOWNLOAD_ALLOW_PRIVATE" in str(raised.value)


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "169.254.169.254", "224.0.0.1", "0.0.0.0", "::ffff:127.0.0.1", "fe80::1"],
)
def test_internal_address_kinds(address):
    import ipaddress

    assert wpp_download._is_internal(ipaddress.ip_address(address))
    assert not wpp_download._is_internal(ipaddress.ip_address("93.184.216.34"))


@pytest.mark.django_db
def test_redirect_to_ftp_is_refused(small_dataset):
    def respond(conn, stop):
        conn.sendall(head("302 Found", Location="ftp://127.0.0.1/x.csv", Content_Length=0))

    with raw_server(respond) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2022_x.csv")
    assert "only http and https are allowed" in str(raised.value)


@pytest.mark.django_db
def test_redirect_to_an_internal_host_is_refused(small_dataset, settings, monkeypatch):
    """The first host passes the check (stubbed as public); the redirect target is checked again."""
    settings.WPP_DOWNLOAD_ALLOW_PRIVATE = False

    def respond(conn, stop):
        location = "http://169.254.169.254/latest/meta-data"
        conn.sendall(head("302 Found", Location=location, Content_Length=0))

    real_check = wpp_download._check_url
    first = []

    def check(url, **options):
        if not first:
            first.append(url)
            return None
        return real_check(url, **options)

    monkeypatch.setattr(wpp_download, "_check_url", check)
    with raw_server(respond) as base, pytest.raises(services.DatasetImportError) as raised:
        services.dataset_import(source=f"{base}/WPP2022_x.csv")
    assert "169.254.169.254 is an internal address" in str(raised.value)
    assert "redirected from" in str(raised.value)


# 13. A running import is not marked interrupted by another


@pytest.mark.django_db(transaction=True)
def test_a_live_import_is_not_marked_interrupted_by_one_that_finishes_first(small_wide_file):
    if connection.vendor != "postgresql":
        print("skipped: the liveness locks are PostgreSQL advisory locks; SQLite runs one process")
        pytest.skip("the liveness locks are PostgreSQL's; SQLite keeps marking every other row")
    live = Dataset.objects.create(source="still-downloading.csv")
    killed = Dataset.objects.create(source="killed.csv")
    holding, release = threading.Event(), threading.Event()

    def other_process():
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)",
                [services.datasets.RUNNING_LOCK_NAMESPACE, live.pk],
            )
            holding.set()
            release.wait(30)
        connections.close_all()

    thread = threading.Thread(target=other_process)
    thread.start()
    holding.wait(10)
    try:
        services.dataset_import(source=str(small_wide_file))
    finally:
        release.set()
        thread.join()
    live.refresh_from_db()
    killed.refresh_from_db()
    assert live.status == Dataset.Status.RUNNING
    assert killed.status == Dataset.Status.FAILED and "Interrupted" in killed.error
