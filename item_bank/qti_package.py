"""A QTI content package opened as untrusted input: a zip read in memory within limits.

Limits on its size, its number of files, each file's size and the
compression ratio (zip bombs); member names that leave the package
(``../``, absolute paths) refuse it (:class:`PackageError`). Paths inside
the package are resolved by :func:`_resolve`.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from urllib.parse import unquote, urlsplit

# Limits for one package. A real bank of a few thousand items with pictures
# is tens of megabytes; anything beyond these is refused, not read.
MAX_PACKAGE_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
# Text and images compress by 2–10×; a ratio beyond this on a member of some
# size is a zip bomb (42.zip: ~10^6×).
MAX_RATIO = 200
RATIO_CHECKED_FROM = 1024 * 1024

MANIFEST = "imsmanifest.xml"


class PackageError(ValueError):
    """The package as a whole is refused (message says why); nothing is read from it."""


def _safe_member_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in name.split("/")


class _Package:
    """A zip opened with the limits above; members are read whole, each at most once."""

    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_PACKAGE_BYTES:
            raise PackageError(f"the package is larger than {MAX_PACKAGE_BYTES // 2**20} MB")
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
            NotImplementedError,
            zlib.error,
        ) as exc:
            raise PackageError(f"not a readable zip file ({exc})") from exc
        if len(infos) > MAX_MEMBERS:
            raise PackageError(f"{len(infos)} files; a package may hold {MAX_MEMBERS}")
        total = 0
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not _safe_member_name(info.filename):
                raise PackageError(
                    f"member {info.filename[:120]!r} points outside the package (absolute path "
                    "or '..'); the package is refused"
                )
            if info.flag_bits & 0x1:
                raise PackageError(f"member {info.filename!r} is encrypted")
            if info.file_size > MAX_MEMBER_BYTES:
                raise PackageError(
                    f"member {info.filename!r} unpacks to {info.file_size} bytes; at most "
                    f"{MAX_MEMBER_BYTES // 2**20} MB per file"
                )
            if info.file_size > RATIO_CHECKED_FROM and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                ratio = info.file_size // max(info.compress_size, 1)
                raise PackageError(
                    f"member {info.filename!r} is compressed {ratio}× (a zip bomb?); "
                    f"at most {MAX_RATIO}×"
                )
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise PackageError(
                    f"the package unpacks to more than {MAX_TOTAL_BYTES // 2**20} MB"
                )
            if not info.is_dir():
                self.members[info.filename] = info
        self._unpacked = 0

    def read(self, name: str) -> bytes:
        """A member's bytes, read no further than its limit (the header may lie)."""
        info = self.members[name]
        chunks: list[bytes] = []
        size = 0
        try:
            with self.zip.open(info) as stream:
                while True:
                    chunk = stream.read(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    self._unpacked += len(chunk)
                    if size > MAX_MEMBER_BYTES or self._unpacked > MAX_TOTAL_BYTES:
                        raise PackageError(
                            f"member {name!r} unpacks to more than its header says (a zip bomb?)"
                        )
                    chunks.append(chunk)
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            ValueError,
            NotImplementedError,
            zlib.error,
        ) as exc:
            # zlib.error: a damaged deflate stream (found by the property test);
            # NotImplementedError: a compression method zipfile does not know.
            if isinstance(exc, PackageError):
                raise
            raise PackageError(f"member {name!r} cannot be unpacked ({exc})") from exc
        return b"".join(chunks)


def _resolve(base_file: str, href: str) -> str | None:
    """A package path for ``href`` relative to ``base_file``; None if it leaves the package."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith("/"):
        return None
    path = unquote(parts.path)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), path))
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        return None
    return joined
