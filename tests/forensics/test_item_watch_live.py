"""A leaked item is flagged by the item watch, retired by an admin, and the
next candidate's selection no longer uses it (a real server, adaptive exam).

The exam's first adaptive item is the same for everyone (maximum information
at the prior, no exposure control). Forty earlier sittings are stored in
which that item's key was known (answered right at a third of the usual
time); the watch flags it, the admin retires it over the API, the next
session opens (its attempts are assembled then) and its candidates start on
another item and never see it.
"""

from __future__ import annotations

import httpx
import numpy as np
from sqlalchemy import insert, select

from cat_engine import engine as cat
from exam_server.attempts.storage import read_state
from exam_server.db import make_engine
from exam_server.demo import seed_exam
from exam_server.forensics.models import ItemTime, WithdrawnItem
from exam_server.models import AuditEvent
from exam_server.scheduling import issue_pin
from exam_server.testing import (
    ThreadServer,
    candidate_login,
    small_bank,
    small_design,
    staff_token,
)
from forensics.data import SessionItems
from forensics.simulate import SimulatedSession, simulate_session
from tests.conftest import (
    ADMIN_PASSWORD,
    PROCTOR_PASSWORD,
    TEST_SCRYPT_N,
    TEST_SECRET,
    make_settings,
)
from tests.forensics.stored import store_sittings

HISTORY = 40


def leaked_history(items: SessionItems, leaked: int) -> SimulatedSession:
    sim = simulate_session(items, HISTORY, seed=5, rows=5, cols=8)
    key = int(np.argmax(items.option_category[leaked] == 1))
    sim.data.options[:, leaked] = key
    sim.data.previous[:, leaked] = -1
    sim.data.seconds[:, leaked] *= 1.0 / 3.0
    return sim


def test_the_watch_retires_a_leaked_item_and_the_next_candidate_never_gets_it(
    tmp_path: object,
) -> None:
    url = f"sqlite:///{tmp_path}/watch.db"
    engine = make_engine(url)
    bank, public = small_bank()
    design = small_design("adaptive")
    seed = seed_exam(
        engine,
        TEST_SECRET,
        design=design,
        bank=bank,
        items=public,
        n_candidates=HISTORY + 2,
        scrypt_n=TEST_SCRYPT_N,
        admin_password=ADMIN_PASSWORD,
        proctor_password=PROCTOR_PASSWORD,
        open_session=False,
    )
    first = int(cat.start(design, bank, seed=1).current or 0)
    leaked_id = bank.item_ids[first]
    rng = np.random.default_rng(2)
    alpha, beta = rng.uniform(1.5, 2.5, bank.n_items), rng.normal(np.log(50), 0.3, bank.n_items)
    items = SessionItems.from_bank(bank, alpha=alpha, beta=beta)
    store_sittings(engine, seed, leaked_history(items, first))
    with engine.begin() as conn:  # calibrated before the leak
        conn.execute(
            insert(ItemTime.__table__),  # type: ignore[attr-defined]
            [
                {"item_id": iid, "alpha": a, "beta": b, "n": 500, "fitted_at": 0.0}
                for iid, a, b in zip(bank.item_ids, alpha, beta, strict=True)
            ],
        )

    server = ThreadServer(make_settings(url)).start()
    try:
        admin = {"Authorization": "Bearer " + staff_token(server.url, "admin", ADMIN_PASSWORD)}

        def first_item(k: int, token: str) -> tuple[int, list[int]]:
            reg = seed.candidates[HISTORY + k]["registration_number"]
            pin = issue_pin(engine, TEST_SECRET, seed.session_id, reg, "proctor:test")
            r = candidate_login(server.url, reg, pin, token, f"T-live-{k}")
            assert r.status_code == 200, r.text
            with engine.connect() as conn:
                state = read_state(conn, int(r.json()["attempt_id"]), bank)
            return int(state.current or -1), cat.presented(state)

        r = httpx.post(server.url + "/api/admin/forensics/items/watch", headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["flagged"] == [leaked_id]
        queue = httpx.get(server.url + "/api/admin/forensics/items", headers=admin).json()
        assert queue["items"][0]["item_id"] == leaked_id
        assert queue["items"][0]["status"] == "flagged"
        # Observed against predicted: right far more often, and faster.
        top = queue["items"][0]
        assert top["p_right"] == 1.0 and top["p_expected"] < 0.9
        assert top["time_z"] < -1.5

        # A decision needs a reason.
        r = httpx.post(
            server.url + "/api/admin/forensics/items/review",
            headers=admin,
            json={"item_id": leaked_id, "status": "retired", "reason": ""},
        )
        assert r.status_code == 422
        r = httpx.post(
            server.url + "/api/admin/forensics/items/review",
            headers=admin,
            json={"item_id": leaked_id, "status": "retired", "reason": "key seen for sale online"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["withdrawn_from_exams"] == [seed.exam_id]

        # The session opens after the decision: its attempts are assembled
        # now, and none starts on the retired item or will be given it.
        r = httpx.post(f"{server.url}/api/sessions/{seed.session_id}/open", headers=admin)
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        for k in range(2):
            current, shown = first_item(k, token)
            assert current != first and first not in shown

        # Audited, and kept for every worker that reads the usage back.
        with engine.connect() as conn:
            kinds = [
                (k, reason)
                for k, reason in conn.execute(
                    select(AuditEvent.kind, AuditEvent.reason).order_by(AuditEvent.id)  # type: ignore[arg-type]
                )
            ]
            withdrawn = conn.execute(select(WithdrawnItem.item_index)).scalars().all()  # type: ignore[call-overload]
        assert ("item_flagged", "CUSUM crossed the threshold") in kinds
        assert ("item_retired", "key seen for sale online") in kinds
        assert withdrawn == [first]
        # A retired item cannot be cleared or retired again.
        r = httpx.post(
            server.url + "/api/admin/forensics/items/review",
            headers=admin,
            json={"item_id": leaked_id, "status": "cleared", "reason": "changed my mind"},
        )
        assert r.status_code == 409
    finally:
        server.stop()
        engine.dispose()
