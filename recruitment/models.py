"""The tables of recruitment (issue 18); revision in ``exam_server/migrations/versions``."""

from __future__ import annotations
