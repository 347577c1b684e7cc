"""The SKB tests' server: the small SKB day of ``skb_cases`` on a real server,
with an administrator, a results folder and a signing key; the candidates'
signed SKD receipts, their proof on the SKB candidate page (:func:`receipt`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_server import receipts
from exam_server.checkpoints import load_or_create_key, paths_for
from exam_server.clock import Clock
from exam_server.db import create_schema, make_engine
from exam_server.results import publication as pubm
from exam_server.scheduling import create_staff
from exam_server.testing import ThreadServer, staff_token
from tests.assessment import skb_cases as cases
from tests.conftest import TEST_SCRYPT_N, make_settings

ADMIN_PASSWORD = "admin-password-skb"


def start_server(root: Path, clock: Clock | None = None, **settings: Any) -> ThreadServer:
    """The SKB day of ``skb_cases`` on a real server whose files go in ``root``
    (also what ``python -m tests.assessment.screenshots`` photographs);
    ``clock`` and ``settings`` (e.g. ``trusted_proxies``) as the server's."""
    url = f"sqlite:///{root / 'skb.db'}"
    engine = make_engine(url)
    create_schema(engine)
    cases.populate(engine)
    cases.populate_field_test(engine)
    create_staff(engine, "admin", "Admin", "admin", ADMIN_PASSWORD, TEST_SCRYPT_N)
    engine.dispose()
    key = root / "results.key"
    key.write_bytes(pubm.private_key_pem(pubm.generate_key()))
    config = make_settings(
        url, results_dir=str(root / "results"), results_key_path=str(key), **settings
    )
    return ThreadServer(config, clock=clock).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    srv = start_server(Path(tmp_path_factory.mktemp("skb")))
    yield srv
    srv.stop()


def admin(server: ThreadServer, path: str, body: dict[str, Any], token: str) -> Any:
    r = httpx.post(server.url + path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 201), r.text
    return r.json()


def schedule(server: ThreadServer) -> str:
    """The administrator's set-up over REST: plan, assessors, panel, slots, assignments."""
    token = staff_token(server.url, "admin", ADMIN_PASSWORD)
    admin(server, "/api/skb/plans", cases.plan(), token)
    for u in cases.ASSESSORS:
        body = {"username": u, "name": u.title(), "password": cases.PASSWORD}
        admin(server, "/api/skb/assessors", body, token)
    panel = {
        "code": "P1",
        "formation": cases.FORMATION,
        "component": "WWN",
        "members": list(cases.ASSESSORS),
        "chair": "asesor1",
    }
    admin(server, "/api/skb/panels", panel, token)
    start = cases.SLOT_START
    window = [start.isoformat(), (start + dt.timedelta(hours=2)).isoformat()]
    slots = admin(
        server,
        "/api/skb/slots",
        {
            "panel": "P1",
            "windows": [window],
            "minutes": 30,
            "gap_minutes": 10,
            "meeting_url": "https://meet.example.org/skb",
            "zone": "WITA",
        },
        token,
    )["slots"]
    for slot, regno in zip(slots, cases.CALLED, strict=False):
        admin(server, "/api/skb/assign", {"slot": slot, "registration_number": regno}, token)
    return token


@pytest.fixture()
def engine(tmp_path: Path) -> Any:
    """The small SKB day of ``skb_cases`` in a SQLite database (no server)."""
    e = make_engine(f"sqlite:///{tmp_path / 'skb.db'}")
    create_schema(e)
    cases.populate(e)
    yield e
    e.dispose()


def receipt_key(server: ThreadServer) -> Ed25519PrivateKey:
    """The server's checkpoint key, which signs its candidates' receipts."""
    st = server.settings
    return load_or_create_key(
        paths_for(st.database_url, st.checkpoint_path, st.checkpoint_key_path)[1]
    )


def receipt(
    server: ThreadServer | None,
    regno: str,
    *,
    key: Ed25519PrivateKey | None = None,
    total: str = "",
) -> str:
    """The text code of ``regno``'s SKD receipt (exam ``skb_cases.EXAM``,
    session S1, their points as ``skb_cases.PEOPLE`` has them), signed by
    ``key`` (default: the server's own: a valid receipt); ``total``: another
    total to sign (a receipt of other content)."""
    people = {p[0]: p[3] for p in cases.PEOPLE}
    twk, tiu, tkp = people.get(regno, (0, 0, 0))
    if key is None:
        assert server is not None
        key = receipt_key(server)
    r = receipts.sign_receipt(
        key,
        registration_number=regno,
        exam=cases.EXAM,
        session="S1",
        scores={"TWK": str(twk), "TIU": str(tiu), "TKP": str(tkp)},
        total=total or str(twk + tiu + tkp),
        chain_head="",
    )
    return receipts.encode(r)


def forged(regno: str, n: int = 0) -> str:
    """A receipt of ``regno`` signed by a key the server never held (total ``n``,
    so that each ``n`` is another code)."""
    return receipt(None, regno, key=Ed25519PrivateKey.generate(), total=str(n))
