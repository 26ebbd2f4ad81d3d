"""Import a WPP file (a path, a URL or an upload) and make it the active dataset.

The reader and the loader (wpp, ingest) bring pandas; they are imported when an import runs, so
that starting a web worker or a command does not pay for pandas.
"""

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import DataError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from forecasts import active_data
from forecasts.models import Dataset, DatasetCalibration

from .backtests import accuracy_refresh
from .calibration import damped_calibration_document

IMPORT_LOCK_ID = 4_242_2019
# PostgreSQL advisory locks (namespace, Dataset id): held by each running import's session, so
# another process can tell a live import from one whose process stopped.
RUNNING_LOCK_NAMESPACE = 4242
MAX_FILE_NAME_BYTES = 255


class DatasetImportError(Exception):
    """An import failed; nothing changed. The message is meant for the person who asked."""

    def __init__(self, message, *, dataset=None):
        super().__init__(message)
        self.dataset = dataset


class ImportBusyError(DatasetImportError):
    """Another import holds the lock."""


def dataset_import(
    *,
    source: str,
    last_estimate_year: int | None = None,
    progress_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Dataset:
    """Import a WPP file (local path or http(s) URL) and make it the active dataset.

    The data is replaced in one transaction: on any error the previous data stays whole, the
    attempt is recorded as a failed Dataset, and DatasetImportError says what was wrong.
    ``progress_start`` receives the file's size in bytes, ``progress`` the bytes read so far.
    """
    from forecasts import wpp

    dataset = _start_import(source)
    started = time.perf_counter()
    try:
        _run_import(dataset, source, last_estimate_year, progress_start, progress, started)
    except (
        wpp.WppFormatError,
        ImportBusyError,
        IntegrityError,
        DataError,
        OperationalError,
    ) as error:
        failure = _import_failure(error)
        dataset.status = Dataset.Status.FAILED
        dataset.error = str(failure)
        dataset.finished_at = timezone.now()
        dataset.duration_seconds = time.perf_counter() - started
        dataset.save()
        failure.dataset = dataset
        raise failure from error
    finally:
        _release_running_lock(dataset)
    _store_calibration(dataset)
    if settings.ACCURACY_AFTER_IMPORT:
        accuracy_refresh()
    return dataset


def _run_import(dataset, source, last_estimate_year, progress_start, progress, started):
    """Fetch, read and load the file into ``dataset``'s import; raises what dataset_import maps."""
    from forecasts import ingest, wpp

    path = _local_file(source)
    dataset.checksum = _sha256(path)
    reader = wpp.read(
        path,
        last_estimate_year=last_estimate_year,
        max_uncompressed_bytes=settings.WPP_MAX_UNCOMPRESSED_BYTES,
    )
    dataset.edition, dataset.file_format = reader.edition, reader.file_format
    dataset.last_estimate_year = reader.last_estimate_year
    if progress_start:
        progress_start(reader.total_bytes)
    with transaction.atomic():
        _take_import_lock()
        _mark_interrupted_imports(exclude=dataset)
        counts = ingest.replace_data(reader, progress=progress)
        Dataset.objects.filter(is_active=True).update(is_active=False)
        _record_success(dataset, counts, seconds=time.perf_counter() - started)
    active_data.forget()


def _store_calibration(dataset: Dataset) -> None:
    """Store the default model's calibration table with the dataset just imported: every process
    loads it with the active data instead of building it on its first forecast (about a second
    on WPP2019)."""
    data = active_data.active_data()
    if data is None or data.dataset.pk != dataset.pk:
        return
    DatasetCalibration.objects.update_or_create(
        dataset=dataset, defaults={"damped": damped_calibration_document(data)}
    )
    # The copy loaded for this lacks the table; the next use loads the data with it.
    active_data.forget()


def _start_import(source) -> Dataset:
    """The import's 'running' row, created with its liveness lock held (PostgreSQL).

    Row and lock come in one transaction, so no other import ever sees the row without the lock
    and mistakes it for one whose process stopped.
    """
    with transaction.atomic():
        dataset = Dataset.objects.create(source=source_without_credentials(str(source))[:1000])
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_lock(%s, %s)", [RUNNING_LOCK_NAMESPACE, dataset.pk]
                )
    return dataset


def source_without_credentials(source: str) -> str:
    """The source as it may be shown and stored: a URL's user and password are dropped."""
    try:
        parts = urlsplit(source)
    except ValueError:  # not a URL a download could use either; the import will say so
        return source
    if not parts.scheme or "@" not in parts.netloc:
        return source
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=host))


def _release_running_lock(dataset: Dataset) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [RUNNING_LOCK_NAMESPACE, dataset.pk]
            )


def _local_file(source) -> Path:
    from forecasts import wpp

    text = str(source)
    if text.startswith(("http://", "https://")):
        return wpp.download(
            text,
            settings.WPP_CACHE_DIR,
            max_bytes=settings.WPP_DOWNLOAD_MAX_BYTES,
            deadline_seconds=settings.WPP_DOWNLOAD_TIMEOUT_SECONDS,
            allow_private=settings.WPP_DOWNLOAD_ALLOW_PRIVATE,
        )
    if "://" in text:
        raise wpp.WppFormatError(
            f"Unsupported source {text!r}: give a file path or an http(s) URL."
        )
    return Path(text)


def _sha256(path: Path) -> str:
    from forecasts import wpp

    if not path.is_file():
        raise wpp.WppFormatError(f"No such file: {path}")
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _take_import_lock():
    """One import at a time. PostgreSQL: an advisory lock; SQLite: its single writer lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [IMPORT_LOCK_ID])
            if not cursor.fetchone()[0]:
                raise ImportBusyError(_BUSY_MESSAGE)


_BUSY_MESSAGE = "Another import is running; nothing was changed. Try again when it has finished."


def _mark_interrupted_imports(*, exclude: Dataset):
    """Mark failed the other 'running' imports whose process stopped.

    On PostgreSQL a live import holds its liveness lock (it may still be downloading or reading,
    before it waits for the import lock), so a row is marked only when its lock is free. SQLite
    serves one process in development: any other running row there was killed.
    """
    running = Dataset.objects.filter(status=Dataset.Status.RUNNING).exclude(pk=exclude.pk)
    if connection.vendor == "postgresql":
        stopped = [pk for pk in running.values_list("pk", flat=True) if _nobody_holds(pk)]
        running = running.filter(pk__in=stopped)
    running.update(
        status=Dataset.Status.FAILED,
        error="Interrupted before it finished (the process stopped); nothing was changed.",
    )


def _nobody_holds(dataset_pk: int) -> bool:
    """Whether no session holds the import's liveness lock (taken here, then released at once)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUNNING_LOCK_NAMESPACE, dataset_pk])
        free = cursor.fetchone()[0]
        if free:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [RUNNING_LOCK_NAMESPACE, dataset_pk]
            )
    return free


def _record_success(dataset, counts, *, seconds):
    """Record a finished import: its counts (ingest.LoadCounts), time, and that it is active."""
    dataset.region_count = counts.regions
    dataset.value_count = counts.values
    dataset.first_year, dataset.last_year = counts.first_year, counts.last_year
    dataset.variants = counts.variants
    dataset.status = Dataset.Status.SUCCEEDED
    dataset.is_active = True
    dataset.finished_at = timezone.now()
    dataset.duration_seconds = seconds
    dataset.save()


def _import_failure(error) -> DatasetImportError:
    """The DatasetImportError to show for what went wrong during an import."""
    from forecasts import wpp

    if isinstance(error, ImportBusyError):
        return error
    if isinstance(error, wpp.WppFormatError):
        return DatasetImportError(str(error))
    if isinstance(error, OperationalError) and "locked" in str(error):
        return ImportBusyError(_BUSY_MESSAGE)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return DatasetImportError(f"The data breaks a database rule; nothing was changed ({detail}).")


def upload_store(upload) -> Path:
    """Keep an uploaded WPP file (a Django UploadedFile) where the worker will import it from.

    Django deletes its own temporary file when the request ends, but the import runs later in the
    worker: the file is placed, under its own name (the edition is read from it: WPP2024_...),
    in a new folder of settings.WPP_UPLOAD_DIR. dataset_import_upload removes the folder.
    """
    root = Path(settings.WPP_UPLOAD_DIR)
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="wpp-upload-", dir=root))
    path = folder / _upload_file_name(upload.name)
    try:
        _place_upload(upload, path)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path


def dataset_import_upload(
    *,
    path: Path | str,
    last_estimate_year: int | None = None,
    progress_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Dataset:
    """Import an upload kept by upload_store, as dataset_import imports a path, then remove it.

    The Dataset's source records "upload: <name>" (the server's folder means nothing to the
    operator), for a failed attempt too. The folder goes whether the import succeeds or fails: a
    failed file is not retried, the operator uploads a corrected one. Raises DatasetImportError
    as dataset_import does.
    """
    path = Path(path)
    label = f"upload: {path.name}"[:1000]
    try:
        try:
            dataset = dataset_import(
                source=str(path),
                last_estimate_year=last_estimate_year,
                progress_start=progress_start,
                progress=progress,
            )
        except DatasetImportError as error:
            if error.dataset is not None:
                _label_source(error.dataset, label)
            raise
    finally:
        if path.parent.parent == Path(settings.WPP_UPLOAD_DIR):
            shutil.rmtree(path.parent, ignore_errors=True)
    _label_source(dataset, label)
    return dataset


def _upload_file_name(name: str) -> str:
    """The upload's own file name, reduced to characters that are safe in a path, in 255 bytes."""
    safe = "".join(char if char.isalnum() or char in "._-" else "_" for char in Path(name).name)
    return _within_bytes(safe.lstrip(".") or "upload.csv", MAX_FILE_NAME_BYTES)


def _within_bytes(name: str, limit: int) -> str:
    """File systems cap a name in bytes, not characters (150 "é" are 300): cut the stem and keep
    the extension, which says whether the file is gzipped."""
    if len(name.encode()) <= limit:
        return name
    ending = next((end for end in (".csv.gz", ".csv", ".gz") if name.lower().endswith(end)), "")
    suffix = name[len(name) - len(ending) :]
    stem = name[: len(name) - len(suffix)].encode()[: limit - len(suffix.encode())]
    return stem.decode(errors="ignore") + suffix


def _place_upload(upload, path: Path) -> None:
    """Put the upload at ``path``: a hard link to Django's temporary file if it has one, else a copy."""
    temporary_file_path = getattr(upload, "temporary_file_path", None)
    if temporary_file_path is not None:
        try:
            path.hardlink_to(temporary_file_path())
            return
        except OSError:
            pass  # another filesystem, or links not allowed: copy instead
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def _label_source(dataset: Dataset, label: str) -> None:
    dataset.source = label
    dataset.save(update_fields=["source"])
