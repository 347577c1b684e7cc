"""The tables of the SKB assessment (issue 19); revision in ``exam_server/migrations/versions``."""

from __future__ import annotations
