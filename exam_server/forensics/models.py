"""The tables of forensics and the item watch (issue 21);
revision in ``exam_server/migrations/versions``."""

from __future__ import annotations
