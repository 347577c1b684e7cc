"""Simulated sittings written into a seeded exam database, as the server stores them.

Each simulated candidate becomes a finished attempt of one seeded candidate,
with one ``answer`` response row per answer (two where the simulee changed an
answer: the earlier option first), the seconds on the server's clock
(``server_elapsed``; a changed answer's time split between its two rows), the
rows hash-chained as the server chains them, and a terminal ``T-<seat>``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from cat_engine.design import TestDesign
from cat_engine.synthetic import skd_synthetic_bank
from exam_server import audit
from exam_server.db import make_engine
from exam_server.demo import SeedSummary, seed_exam
from exam_server.models import Attempt, Candidate, Response
from exam_server.snapshot import PublicItemContent
from forensics.simulate import SimulatedSession
from tests.conftest import ADMIN_PASSWORD, PROCTOR_PASSWORD, TEST_SCRYPT_N, TEST_SECRET

ATTEMPT = Attempt.__table__  # type: ignore[attr-defined]
RESPONSE = Response.__table__  # type: ignore[attr-defined]
CANDIDATE = Candidate.__table__  # type: ignore[attr-defined]


def terminal_of(sim: SimulatedSession, i: int) -> str:
    return f"T-{int(sim.data.row[i])}-{int(sim.data.col[i])}"


def store_sittings(
    engine: Engine,
    seed: SeedSummary,
    sim: SimulatedSession,
    *,
    start: float = 1_700_000_000.0,
    first_candidate: int = 0,
) -> list[int]:
    """Write ``sim``'s candidates as finished attempts of ``seed``'s candidates
    (from ``first_candidate`` on, in order). Returns the attempt ids."""
    data = sim.data
    ids: list[int] = []
    with engine.begin() as conn:
        cand_ids = {r.registration_number: int(r.id) for r in conn.execute(CANDIDATE.select())}
        for i in range(data.n_candidates):
            reg = seed.candidates[first_candidate + i]["registration_number"]
            aid = conn.execute(
                insert(ATTEMPT).values(
                    session_id=seed.session_id,
                    candidate_id=cand_ids[reg],
                    status="finished",
                    seed=i,
                    terminal_id=terminal_of(sim, i),
                    started_at=start,
                    finished_at=start + 6000.0,
                    finish_reason="submitted",
                    last_seen_at=start + 6000.0,
                )
            ).inserted_primary_key[0]
            prev_hash, seq, at = "", 0, start
            rows = []
            for j in range(data.items.n_items):
                if data.options[i, j] < 0:
                    continue
                secs = float(data.seconds[i, j])
                answers = [int(data.options[i, j])]
                if data.previous[i, j] >= 0:
                    answers.insert(0, int(data.previous[i, j]))
                for option in answers:
                    seq += 1
                    part = secs / len(answers)
                    at += part
                    row = {
                        "attempt_id": int(aid),
                        "seq": seq,
                        "kind": "answer",
                        "number": j + 1,
                        "item_id": data.items.item_ids[j],
                        "option": option,
                        "flagged": False,
                        "elapsed": part,
                        "at": round(at, 6),
                        "server_elapsed": part,
                        "chosen": None,
                    }
                    h = audit.response_hash(prev_hash, row)
                    rows.append({**row, "prev_hash": prev_hash, "hash": h})
                    prev_hash = h
            if rows:
                conn.execute(insert(RESPONSE), rows)
            conn.execute(
                ATTEMPT.update()
                .where(ATTEMPT.c.id == aid)
                .values(last_seq=seq, response_head=prev_hash)
            )
            ids.append(int(aid))
    return ids


def write_seats_csv(path: Path, room_code: str, sim: SimulatedSession) -> Path:
    lines = ["room,terminal_id,row,col"]
    for i in range(sim.data.n_candidates):
        lines.append(
            f"{room_code},{terminal_of(sim, i)},{int(sim.data.row[i])},{int(sim.data.col[i])}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def skd_exam(url: str, n_candidates: int) -> SeedSummary:
    """A seeded exam whose one linear form is a whole 110-item SKD bank."""
    bank = skd_synthetic_bank(per_area_scale=1, seed=0)
    items = [
        PublicItemContent(
            iid, bank.subtest_codes[int(bank.subtest[k])], f"Soal {iid}", tuple("ABCDE")
        )
        for k, iid in enumerate(bank.item_ids)
    ]
    design = TestDesign.from_dict(
        {
            "name": "SKD one form",
            "mode": "linear",
            "time_limit_seconds": 6000.0,
            "sections": [
                {"code": c, "n_items": k, "stopping": ["fixed_length"]}
                for c, k in (("TWK", 30), ("TIU", 35), ("TKP", 45))
            ],
            "exposure": {"method": "none"},
            "assembly": {"score_tolerance": 0.5, "information_tolerance": 2.0},
        }
    )
    engine = make_engine(url)
    try:
        return seed_exam(
            engine,
            TEST_SECRET,
            design=design,
            bank=bank,
            items=items,
            n_candidates=n_candidates,
            scrypt_n=TEST_SCRYPT_N,
            admin_password=ADMIN_PASSWORD,
            proctor_password=PROCTOR_PASSWORD,
        )
    finally:
        engine.dispose()
