"""The publication as the pages see it: loaded, verified and indexed once,
and again whenever its manifest changes.

:class:`PublicationSource` reads a publication directory on demand (from a
worker thread: loading verifies the whole publication); :func:`load_view`
turns its files into a :class:`View`; :func:`_source` finds the source a
request reads, fixed at :func:`~exam_server.results.pages.routes` or named on
the app's state.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.requests import Request

from exam_server.results import publication as pubm
from exam_server.results.rules import RankingPolicy


@dataclass
class View:
    """A loaded, verified publication with an index by registration number."""

    files: dict[str, bytes]
    manifest: dict[str, Any]
    policy: RankingPolicy
    report: pubm.VerifyReport
    docs: dict[str, dict[str, Any]]  # "skd/F1" → formation document
    proofs: pubm.ProofIndex
    by_regno: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)


class PublicationSource:
    """Loads a publication directory once, and again when its manifest changes."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._stamp: tuple[int, int] | None = None
        self._view: View | None = None
        self._lock = threading.Lock()

    def view(self) -> View | None:
        """The current view; blocking (reads and verifies), so call it from a worker thread."""
        manifest = self.directory / pubm.MANIFEST
        try:
            st = manifest.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:  # one load at a time; the others wait and reuse it
            if self._view is None or stamp != self._stamp:
                self._view = load_view(pubm.read_publication(self.directory))
                self._stamp = stamp
            return self._view


def load_view(files: dict[str, bytes]) -> View:
    report = pubm.verify_publication(files)
    manifest = json.loads(files[pubm.MANIFEST])
    policy = RankingPolicy.from_json(files[pubm.POLICY].decode("utf-8"))
    docs: dict[str, dict[str, Any]] = {}
    by_regno: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for stage in pubm.STAGES:
        for path in sorted(p for p in files if p.startswith(f"{stage}/") and p.endswith(".json")):
            doc = json.loads(files[path], parse_float=Decimal)
            key = f"{stage}/{doc['formation']['id']}"
            docs[key] = doc
            for e in doc["entries"]:
                by_regno.setdefault(e["registration_number"], []).append((key, e))
    return View(files, manifest, policy, report, docs, pubm.ProofIndex.build(files), by_regno)


def _source(request: Request, fixed: PublicationSource | None) -> PublicationSource | None:
    if fixed is not None:
        return fixed
    directory = getattr(request.app.state, "results_publication_dir", None)
    if not directory:
        return None
    # One loaded publication per directory, kept on the app's state.
    cache: dict[str, PublicationSource] | None = getattr(request.app.state, "results_sources", None)
    if cache is None:
        cache = {}
        request.app.state.results_sources = cache
    if str(directory) not in cache:
        cache[str(directory)] = PublicationSource(directory)
    return cache[str(directory)]
