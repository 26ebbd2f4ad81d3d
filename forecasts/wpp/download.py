"""Download a WPP file over http(s), refusing what could harm the server.

A short read, a file larger than the cap, a download past its deadline, a redirect to another
scheme and (unless allowed) an internal address are all a WppFormatError, and no partial file
is left behind.
"""

import hashlib
import http.client
import ipaddress
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .errors import WppFormatError

DEFAULT_DOWNLOAD_MAX_BYTES = 1 << 30
DEFAULT_DOWNLOAD_TIMEOUT_SECONDS = 600
DOWNLOAD_BLOCK = 1 << 16


def download(
    url: str,
    folder: Path,
    *,
    timeout=60,
    max_bytes=DEFAULT_DOWNLOAD_MAX_BYTES,
    deadline_seconds=DEFAULT_DOWNLOAD_TIMEOUT_SECONDS,
    allow_private=False,
) -> Path:
    """Download ``url`` into ``folder`` and return the file's path.

    Every call downloads afresh (a refresh must see the current file); the copy is kept under a
    folder named for the URL, with the URL's file name so the edition can be read from it.
    The URL comes from an operator's form, so the download is bounded: at most ``max_bytes``,
    within ``deadline_seconds`` overall (``timeout`` is per socket read), only http(s) (redirects
    included), and never to a loopback, private or otherwise internal address unless
    ``allow_private``. A reply cut short fails. Any failure removes the partial file and raises
    WppFormatError saying why, with advice when the network cannot be reached.
    """
    partial = None
    try:
        target = _download_target(url, folder)
        partial = target.with_name(target.name + ".part")
        _check_url(url, allow_private=allow_private)
        opener = urllib.request.build_opener(_CheckedRedirects(allow_private=allow_private))
        with opener.open(url, timeout=timeout) as response, partial.open("wb") as out:
            _copy_response(
                response,
                out,
                url=url,
                max_bytes=max_bytes,
                deadline=time.monotonic() + deadline_seconds,
                deadline_seconds=deadline_seconds,
            )
        partial.replace(target)
        partial = None
    except WppFormatError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise WppFormatError(
            f"Could not download {url} ({_reason(error)}). Without network access, pass a local "
            "WPP file instead: python manage.py import_wpp PATH"
        ) from None
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
    return target


def _download_target(url: str, folder: Path) -> Path:
    """Where ``url`` is kept: its path's file name (never ``..`` or empty) in a folder per URL."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")[-200:] or "wpp.csv"
    target = Path(folder) / hashlib.sha256(url.encode()).hexdigest()[:16] / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _reason(error) -> str:
    """A short reason for a failed download (a hostile server's garbage is cut to 200 characters)."""
    reason = getattr(error, "reason", None) or error
    if isinstance(error, http.client.HTTPException):
        reason = f"{type(error).__name__}: {error}"
    return str(reason)[:200]


def _check_url(url: str, *, allow_private: bool, redirected_from: str | None = None) -> None:
    """Refuse anything but http(s), and hosts that resolve to an internal address.

    An operator's URL must not reach the server's own network (loopback, private ranges, cloud
    metadata at link-local addresses); every address the name resolves to is checked.
    """
    parts = urllib.parse.urlsplit(url)
    via = f" (redirected from {redirected_from})" if redirected_from else ""
    if parts.scheme not in ("http", "https"):
        raise WppFormatError(f"Refusing to download {url}{via}: only http and https are allowed.")
    if not parts.hostname:
        raise WppFormatError(f"Could not download {url}: the address has no host name.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if allow_private:
        return
    for *_, sockaddr in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if _is_internal(address):
            raise WppFormatError(
                f"Refusing to download {url}{via}: {parts.hostname} is an internal address "
                f"({address}: loopback, private, link-local, multicast, reserved or unspecified). "
                "Set WPP_DOWNLOAD_ALLOW_PRIVATE=1 to allow it."
            )


def _is_internal(address) -> bool:
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to http(s) on an allowed host (urllib would follow ftp:// too)."""

    def __init__(self, *, allow_private: bool):
        super().__init__()
        self.allow_private = allow_private

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        _check_url(newurl, allow_private=self.allow_private, redirected_from=req.full_url)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _copy_response(response, out, *, url, max_bytes, deadline, deadline_seconds) -> None:
    """Copy the body in small reads, checking the size cap and the deadline between reads.

    ``read1`` returns whatever arrived, so a server dripping a byte at a time still meets the
    deadline check. A body shorter than its Content-Length was cut off: http.client returns it
    without complaint, so the bytes are counted here.
    """
    expected = _content_length(response)
    if expected is not None and expected > max_bytes:
        raise WppFormatError(_too_large(url, max_bytes))
    received = 0
    while block := response.read1(DOWNLOAD_BLOCK):
        received += len(block)
        if received > max_bytes:
            raise WppFormatError(_too_large(url, max_bytes))
        if time.monotonic() > deadline:
            raise WppFormatError(
                f"The download of {url} took more than {deadline_seconds} seconds; the limit is "
                "WPP_DOWNLOAD_TIMEOUT_SECONDS."
            )
        out.write(block)
    if expected is not None and received != expected:
        raise WppFormatError(
            f"The download of {url} was cut off: received {received:,} of {expected:,} bytes. "
            "Nothing was changed; try again."
        )


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _too_large(url, max_bytes) -> str:
    return (
        f"The download of {url} is larger than {max_bytes:,} bytes; the limit is "
        "WPP_DOWNLOAD_MAX_BYTES."
    )
