"""The scoring keys travel sealed, and each session's box opens with its own
key only: a centre with two exams at site TILOK-01 (SESI-1 and SESI-2 sit
exam A, SESI-3 exam B), each bank with option points no other number in the
files has, the package installed at a real site server.

Before any release neither the package file nor the site's database files
hold a key (the distinctive points, the bank's arrays) or a stem, and every
reader of the bank refuses by name. Releasing SESI-1 (its sealed sheet typed
on the site's API) opens exam A for SESI-1 only: SESI-2 and SESI-3 still do
not open, SESI-1's key and sheet open neither of their boxes, and exam B's
items and keys are still nowhere in the site's files. SESI-1 then runs at
the site and every score is the one the centre's bank gives the same
answers; the site's own audit verify scores them again. (SESI-2 sits exam
A, whose content SESI-1's release opened — the same items: sessions that
must not learn each other's items sit different exams, docs/sites.md.)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import numpy as np
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cat_engine.bank import BankArrays
from exam_server import scheduling as sch
from exam_server.audit.verify import verify
from exam_server.db import create_schema, make_engine
from exam_server.demo import seed_exam
from exam_server.exams import ExamData
from exam_server.forensics import service as forensics
from exam_server.models import Exam
from exam_server.sites import keys, package
from exam_server.sites.package import PackageError
from exam_server.snapshot import PublicItemContent, SealedBankError, bank_from_json
from exam_server.testing import (
    Terminal,
    ThreadServer,
    candidate_login,
    small_bank,
    small_design,
    staff_token,
)
from tests.conftest import TEST_SCRYPT_N, TEST_SECRET
from tests.sites.helpers import installed_site, rows, scalar, server_settings

#: Points no other number in a package or a site database spells: exam A's
#: key (TWK, TIU) and its TKP options, exam B's. Python writes each float as
#: typed (the shortest repr), so each is a byte string to search for.
A_KEY, A_TKP = 4.937251, (1.111937, 2.222937, 3.333937, 4.444937, 5.555937)
B_KEY, B_TKP = 4.846253, (1.131751, 2.231751, 3.331751, 4.431751, 5.531751)
A_SECRETS = [repr(v).encode() for v in (A_KEY, *A_TKP)]
B_SECRETS = [repr(v).encode() for v in (B_KEY, *B_TKP)] + [b"RAHASIA-B"]
#: The bank's arrays by name: none may be in the clear before a release.
BANK_FIELDS = [b"option_points", b"option_category", b"item_ids"]


def _marked(
    key: float, tkp: tuple[float, ...], id_prefix: str = "", text_prefix: str = ""
) -> tuple[BankArrays, list[PublicItemContent]]:
    """The small bank with ``key`` points for a right answer and ``tkp`` for
    a TKP option worth 1–5; item ids and texts prefixed as given."""
    bank, items = small_bank()
    pts = bank.option_points.copy()
    for i in range(bank.n_items):
        for j in range(int(bank.n_options[i])):
            p = float(bank.option_points[i, j])
            if bank.subtest_codes[int(bank.subtest[i])] == "TKP":
                pts[i, j] = tkp[int(p) - 1]
            elif p > 0:
                pts[i, j] = key
    texts = [
        PublicItemContent(
            id_prefix + it.item_id,
            it.subtest,
            text_prefix + it.stem,
            tuple(text_prefix + o for o in it.options),
        )
        for it in items
    ]
    ids = tuple(id_prefix + x for x in bank.item_ids)
    return replace(bank, item_ids=ids, option_points=pts), texts


@dataclass
class World:
    centre: Engine
    banks: dict[str, BankArrays]
    data: bytes
    session_keys: dict[str, bytes]
    site: Engine
    server: ThreadServer
    tmp: Path
    ids: dict[str, int]


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("sealed")
    centre = make_engine(f"sqlite:///{tmp / 'centre.db'}")
    create_schema(centre)
    bank_a, items_a = _marked(A_KEY, A_TKP)
    bank_b, items_b = _marked(B_KEY, B_TKP, "B-", "RAHASIA-B ")
    design = small_design()
    seed = seed_exam(
        centre,
        TEST_SECRET,
        design=design,
        bank=bank_a,
        items=items_a,
        n_candidates=2,
        scrypt_n=TEST_SCRYPT_N,
        admin_password="admin-password",
        proctor_password="proctor-password",
        open_session=False,
    )
    sch.create_exam(centre, "SKD-B", "SKD lain", design, bank_b, items_b, None)
    now = time.time()
    sch.create_session(centre, "SESI-2", seed.exam_code, "TILOK-01", "R2", now + 7200)
    sch.create_session(centre, "SESI-3", "SKD-B", "TILOK-01", "R2", now + 14400)
    formation = scalar(centre, "SELECT code FROM exam_formation ORDER BY id LIMIT 1")
    sch.import_candidates_csv(
        centre,
        "registration_number,name,category,formation_code,session_code\n"
        f"3001,Dua,general,{formation},SESI-2\n3002,Tiga,general,{formation},SESI-3\n",
    )
    key = Ed25519PrivateKey.generate()
    data, session_keys = package.build(centre, "TILOK-01", key)
    url, site = installed_site(tmp, data, key.public_key())
    server = ThreadServer(server_settings(tmp, "site", url, role="site")).start()
    ids = dict(rows(site, "SELECT code, id FROM exam_session"))
    yield World(centre, {"A": bank_a, "B": bank_b}, data, session_keys, site, server, tmp, ids)
    server.stop()


def _site_files(w: World) -> bytes:
    """Every byte the site's database holds on disk (the file and its WAL)."""
    return b"".join(p.read_bytes() for p in sorted(w.tmp.glob("site.db*")) if p.suffix != ".pem")


def _open(w: World, code: str) -> httpx.Response:
    admin = staff_token(w.server.url, "admin", "admin-password")
    return httpx.post(
        f"{w.server.url}/api/sessions/{w.ids[code]}/open",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )


def _release(w: World, code: str, sheet: str) -> httpx.Response:
    admin = staff_token(w.server.url, "admin", "admin-password")
    return httpx.post(
        w.server.url + "/api/site/keys",
        json={"session_code": code, "sealed_key": sheet},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )


async def test_before_release_nothing_holds_a_key_and_the_bank_is_refused(w: World) -> None:
    assert set(w.session_keys) == {"SESI-1", "SESI-2", "SESI-3"}
    for found in (w.data, _site_files(w)):
        for secret in A_SECRETS + B_SECRETS + BANK_FIELDS + [b"Butir TWK-0000", b"Pilihan A"]:
            assert secret not in found, secret
    # Every reader of an exam's bank refuses it by name, none crashes.
    for code, bank_json in rows(w.site, "SELECT code, bank_json FROM exam_exam"):
        assert package.bank_is_sealed(bank_json)
        with pytest.raises(SealedBankError, match=f"exam {code}'s scoring .* is sealed"):
            bank_from_json(bank_json)
        with Session(w.site) as s:
            exam = s.get(Exam, int(scalar(w.site, f"SELECT id FROM exam_exam WHERE code='{code}'")))
            assert exam is not None
            with pytest.raises(ValueError, match="is sealed at this site"):
                ExamData.from_row(exam)
    for code in ("SESI-1", "SESI-2", "SESI-3"):
        r = _open(w, code)
        assert r.status_code == 409 and "still sealed" in r.json()["message"], r.text
    # The live board of a sealed session says so (and the page tries again).
    async with websockets.connect(
        f"ws://127.0.0.1:{w.server.settings.port}/ws/board/{w.ids['SESI-1']}"
    ) as ws:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert frame["type"] == "error" and frame["code"] == "items_sealed"
    # An item cannot be flagged or retired here while an exam that may hold it
    # is sealed: whether the id names an item at all cannot be told yet.
    with pytest.raises(forensics.ReviewError, match="is sealed at this site"):
        forensics.flag(w.site, "TWK-0000", "admin:admin", "uji", time.time())
    with pytest.raises(forensics.ReviewError):
        forensics.decide(w.site, "TWK-0000", "retired", "admin:admin", "uji", time.time())


def test_releasing_one_session_opens_no_other(w: World) -> None:
    sheet1 = keys.seal("SESI-1", w.session_keys["SESI-1"])
    r = _release(w, "SESI-1", sheet1.lower())
    assert r.status_code == 200 and r.json()["items"] == 36, r.text
    # Exam A's bank is the centre's, byte for byte; exam B's is still sealed.
    banks = dict(rows(w.site, "SELECT code, bank_json FROM exam_exam"))
    assert banks["SKD-DEMO"] == scalar(
        w.centre, "SELECT bank_json FROM exam_exam WHERE code='SKD-DEMO'"
    )
    assert package.bank_is_sealed(banks["SKD-B"])
    # SESI-1's sheet and key open neither other session's box.
    for other in ("SESI-2", "SESI-3"):
        r = _release(w, other, sheet1)
        assert r.status_code == 422 and r.json()["error"] == "sealed_check", r.text
        with pytest.raises(PackageError, match=f"does not open session {other}'s items"):
            keys.release(w.site, other, w.session_keys["SESI-1"], "sealed")
        r = _open(w, other)
        assert r.status_code == 409 and "still sealed" in r.json()["message"], r.text
    assert rows(
        w.site, "SELECT session_id FROM site_sealed_items WHERE released_at IS NOT NULL"
    ) == [(w.ids["SESI-1"],)]
    # Exam B's items and keys are still nowhere in the site's files.
    found = _site_files(w)
    for secret in B_SECRETS:
        assert secret not in found, secret
    assert b"4.937251" in found  # exam A's, opened: the search does find what is there


async def test_scores_after_release_are_the_centres(w: World) -> None:
    r = _open(w, "SESI-1")
    assert r.status_code == 200, r.text
    session_token = r.json()["token"]
    proctor = staff_token(w.server.url, "pengawas", "proctor-password")
    regs = [
        str(x)
        for (x,) in rows(
            w.site,
            f"SELECT registration_number FROM exam_candidate WHERE session_id={w.ids['SESI-1']}",
        )
    ]
    for i, reg in enumerate(regs):
        pin = httpx.post(
            f"{w.server.url}/api/proctor/sessions/{w.ids['SESI-1']}/checkin",
            json={"registration_number": reg},
            headers={"Authorization": f"Bearer {proctor}"},
            timeout=30,
        ).json()["pin"]
        login = candidate_login(w.server.url, reg, pin, session_token, f"T-{i}")
        assert login.status_code == 200, login.text
        t = await Terminal.open(w.server.ws_url, login.json()["token"], f"T-{i}")
        for number in range(1, 11):
            (ack,) = await t.answer(number, (number * (i + 2)) % 5)
            assert ack["type"] == "ack", ack
        assert (await t.request({"type": "finish", "confirm": True}))["type"] == "final"
        await t.close()
    # Each score is what the centre's own bank gives the answers stored.
    bank = w.banks["A"]
    for aid, score_json in rows(w.site, "SELECT id, score_json FROM exam_attempt"):
        want: dict[str, float] = {}
        for item_id, option in rows(
            w.site,
            f"SELECT item_id, option FROM exam_response WHERE attempt_id={aid}"
            " AND kind='answer' ORDER BY seq",
        ):
            i = bank.index_of(item_id)
            code = bank.subtest_codes[int(bank.subtest[i])]
            want[code] = want.get(code, 0.0) + float(
                bank.points_of(np.array([i]), np.array([option]))[0]
            )
        got = {s["code"]: s["points"] for s in json.loads(score_json)["sections"]}
        assert got == pytest.approx(want) and any(v % 1 for v in want.values())
    assert len(regs) == 2
    # The site scores them again from its opened bank: they verify.
    rep = verify(w.site)
    assert rep.problems == [] and rep.scores == 2
    # SESI-3 (exam B) is still sealed after all this.
    assert package.bank_is_sealed(
        str(scalar(w.site, "SELECT bank_json FROM exam_exam WHERE code='SKD-B'"))
    )
