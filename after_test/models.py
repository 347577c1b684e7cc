"""The tables of after the test (issue 20); revision in ``exam_server/migrations/versions``."""

from __future__ import annotations
