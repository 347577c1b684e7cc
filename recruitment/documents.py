"""Uploaded documents: what a file really is, how big it may be, and where it is kept.

* :func:`sniff` reads the bytes, never the name or the browser's stated type:
  a PDF (``%PDF-`` ... ``%%EOF``), a PNG (signature and an ``IHDR`` chunk) or
  a JPEG (``FFD8FF`` ... ``FFD9``). Anything else, or a file cut short, is
  refused.
* :func:`strip_metadata` drops a photo's metadata blocks (EXIF with its GPS
  position, XMP, IPTC, text chunks) before it is stored; the picture is kept
  as it is.
* :class:`DocumentStore` keeps each file under its SHA-256 (content
  addressing: the same bytes are stored once, and a stored file is checked
  against its name when read) in a directory that is not served by the web
  server; the pages hand documents out only to those allowed to see them.
  A file is written to a temporary name and renamed, so a refused or broken
  upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
MEDIA_TYPES = (PDF, PNG, JPEG)
_SHA = re.compile(r"^[0-9a-f]{64}$")


class DocumentError(ValueError):
    """A refused upload, with the reason in Bahasa Indonesia and English."""

    def __init__(self, text_id: str, text_en: str) -> None:
        super().__init__(f"{text_id} / {text_en}")
        self.text_id = text_id
        self.text_en = text_en


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` from its bytes (PDF, PNG, JPEG), or None."""
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]:
        return PDF
    if (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        and data[12:16] == b"IHDR"
        and data.endswith(b"IEND\xaeB`\x82")
    ):
        return PNG
    if data.startswith(b"\xff\xd8\xff") and data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return JPEG
    return None


def check_upload(data: bytes, allowed: tuple[str, ...], max_bytes: int) -> str:
    """The media type of an acceptable upload; :class:`DocumentError` otherwise."""
    if not data:
        raise DocumentError("berkas kosong", "the file is empty")
    if len(data) > max_bytes:
        kb = max_bytes // 1024
        raise DocumentError(
            f"berkas melebihi batas {kb} KB", f"the file is larger than the {kb} KB limit"
        )
    media = sniff(data)
    if media is None or media not in allowed:
        names = ", ".join(m.split("/")[1].upper() for m in allowed)
        raise DocumentError(
            f"isi berkas bukan {names} yang utuh", f"the file's content is not a whole {names}"
        )
    return media


# JPEG segments that carry metadata about the person or the camera: EXIF and
# XMP (APP1, often a GPS position), vendor blocks APP3-APP13 (APP13: IPTC), and
# comments. APP0 (JFIF), APP2 (ICC colour profile), APP14 (Adobe colour
# transform) and APP15 change how the picture looks and are kept.
_JPEG_DROP = frozenset({0xE1, *range(0xE3, 0xEE), 0xFE})
# PNG chunks of text, EXIF and time stamps.
_PNG_DROP = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})


def strip_metadata(data: bytes, media_type: str) -> bytes:
    """``data`` without the metadata blocks of a photo (see ``_JPEG_DROP`` and
    ``_PNG_DROP``); PDFs unchanged. The picture itself is not re-encoded.
    :class:`DocumentError` for a file whose blocks do not add up."""
    try:
        if media_type == JPEG:
            return _strip_jpeg(data)
        if media_type == PNG:
            return _strip_png(data)
    except (IndexError, ValueError):
        pass
    else:
        return data
    raise DocumentError("susunan berkas gambar rusak", "the image file's structure is broken")


def _strip_jpeg(data: bytes) -> bytes:
    out = bytearray(data[:2])  # SOI
    i = 2
    while True:
        if data[i] != 0xFF:
            raise ValueError("not a marker")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += data[i : i + 2]
            if marker == 0xD9:
                return bytes(out)
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            raise ValueError("segment length")
        if marker == 0xDA:  # start of scan: the picture data to the end, as it is
            return bytes(out + data[i:])
        if marker not in _JPEG_DROP:
            out += data[i : i + 2 + length]
        i += 2 + length


def _strip_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    i = 8
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if len(kind) != 4 or end > len(data):
            raise ValueError("chunk length")
        if kind not in _PNG_DROP:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            return bytes(out)
    raise ValueError("no IEND")


@dataclass(frozen=True)
class Stored:
    sha256: str
    media_type: str
    size: int


class DocumentStore:
    """Files by SHA-256 under ``root`` (``root/ab/abcdef…``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, media_type: str) -> Stored:
        """Store ``data`` (already checked with :func:`check_upload`)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".up-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return Stored(digest, media_type, len(data))

    def get(self, sha256: str) -> bytes:
        """The stored bytes; ValueError if they no longer match their address."""
        data = self.path_of(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"document {sha256[:12]}… is damaged")
        return data
