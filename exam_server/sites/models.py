"""The tables of sites and the centre (issue 22);
revision in ``exam_server/migrations/versions``."""

from __future__ import annotations
