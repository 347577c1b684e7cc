"""The stored form of an engine state: its JSON, zstd-compressed.

A snapshot of a 110-item SKD form is about 6.3 kB of JSON and 1.4 kB
compressed (zstd level 1: 8 µs to write, 4 µs to read on the benchmark
machine; the stdlib's zlib needs 65 µs for the same size). Snapshots are
written every ``Settings.snapshot_every`` answers, so the size is what the
database log and a site's sync carry (docs/benchmarks.md, issue 17). The
JSON inside is exactly ``TestState.to_json``; the one place a state is
turned into stored bytes and back.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
import zstandard

from cat_engine.state import TestState

#: zstd level: 1 is the fastest of the ratio-bearing levels; higher levels
#: gained under 1 % on engine states (1,399 vs 1,392 bytes at level 3).
LEVEL = 1

# zstandard's compressor and decompressor objects are not thread-safe: the
# event loop, the writer thread and worker threads each get their own.
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    c = getattr(_local, "c", None)
    if c is None:
        c = _local.c = zstandard.ZstdCompressor(level=LEVEL)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "d", None)
    if d is None:
        d = _local.d = zstandard.ZstdDecompressor()
    return d


def _orjson_dumps(obj: dict[str, Any]) -> str:
    return orjson.dumps(obj).decode()


def state_json(state: TestState) -> str:
    """The engine state's JSON: orjson writes the (shortest round-trip) floats
    the stdlib would, several times faster; the design's JSON is cached."""
    return state.to_json(_orjson_dumps)


def pack_json(text: str | bytes) -> bytes:
    """Stored bytes of a state given as its JSON text."""
    raw = text.encode() if isinstance(text, str) else text
    return _compressor().compress(raw)


def pack(state: TestState) -> bytes:
    """The stored bytes of ``state`` (``exam_attempt_snapshot.state``)."""
    return pack_json(state_json(state))


def unpack_json(blob: bytes) -> str:
    """The JSON text of stored state bytes. Raises ValueError on bytes that are
    not a stored state (zstd's own error, with what was read)."""
    try:
        return _decompressor().decompress(bytes(blob)).decode()
    except zstandard.ZstdError as exc:
        raise ValueError(f"not a stored engine state ({len(blob)} bytes): {exc}") from None


def unpack_dict(blob: bytes) -> dict[str, Any]:
    """The state's JSON object (for readers that need only a field of it)."""
    out = orjson.loads(unpack_json(blob))
    if not isinstance(out, dict):
        raise ValueError("a stored engine state is not a JSON object")
    return out


def unpack(blob: bytes) -> TestState:
    """The engine state stored as ``blob``."""
    return TestState.from_dict(unpack_dict(blob))
