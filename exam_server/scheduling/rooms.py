"""Sites and their rooms, where sessions sit."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from exam_server.db import writer
from exam_server.models import Room, Site
from exam_server.scheduling.common import SetupError, _code, _one


def create_site(engine: Engine, code: str, name: str) -> int:
    with Session(writer(engine)) as s:
        if _one(s, Site, code=_code(code, "code")) is not None:
            raise SetupError(f"site {code} exists", [{"field": "code", "message": "exists"}], 409)
        site = Site(code=code, name=name)
        s.add(site)
        s.commit()
        assert site.id is not None
        return site.id


def create_room(engine: Engine, site_code: str, code: str, name: str, capacity: int = 0) -> int:
    with Session(writer(engine)) as s:
        site = _one(s, Site, code=site_code)
        if site is None:
            raise SetupError(f"no site {site_code}", [{"field": "site_code", "message": "unknown"}])
        if _one(s, Room, site_id=site.id, code=_code(code, "code")) is not None:
            raise SetupError(f"room {code} exists", [{"field": "code", "message": "exists"}], 409)
        room = Room(site_id=site.id, code=code, name=name, capacity=capacity)
        s.add(room)
        s.commit()
        assert room.id is not None
        return room.id
