"""Hostile input against a real server: fuzzed WebSocket frames and REST
bodies never crash it or give a 5xx; every endpoint refuses the roles it is
not for; tokens bound to another terminal, replayed elsewhere, tampered or
of the wrong kind are refused.

The campaigns are bounded (``max_examples``) so the file stays a few seconds
in CI; ``benchmarks/server_fuzz.py`` runs the same strategies longer and
records the counts in ``docs/reliability.md``.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from websockets.asyncio.client import connect

from exam_server.admin import ENDPOINTS
from exam_server.auth import STAFF_SALT
from exam_server.loadtest.fuzz import draw, rest_body, ws_frame
from exam_server.testing import Terminal
from tests.conftest import ServerHandle
from tests.exam_server.test_admin_api import new_session_in_r2

pytestmark = pytest.mark.timeout(120)


def _fuzz_frames(count: int) -> list[str | bytes]:
    return draw(ws_frame, count)


async def test_fuzzed_candidate_frames_get_an_answer_and_never_crash(
    live_server: ServerHandle,
) -> None:
    h = live_server
    reg = h.seed.candidates[0]["registration_number"]
    t = await Terminal.open(h.ws_url, h.login(reg, "T-F"), "T-F")
    assert t.state["type"] == "state"
    frames = _fuzz_frames(120)
    replies = 0
    for f in frames:
        await t.ws.send(f)
        # Every frame gets a reply (an error with a known code, or a normal frame).
        msg = await t.next(timeout=10)
        replies += 1
        assert msg["type"] in ("error", "ack", "item", "state", "pong", "final"), msg
        if msg["type"] == "error":
            assert re.fullmatch(r"[a-z_]+", msg["code"]), msg
            assert msg["code"] != "internal", (f, msg)
        if msg["type"] == "final":
            break  # a fuzzed {"type":"finish","confirm":true} ended the attempt
    assert replies >= min(50, len(frames))
    pong = await t.request({"type": "ping", "id": 1})
    assert pong["type"] in ("pong", "error")
    await t.close()
    assert httpx.get(h.url + "/healthz").status_code == 200


async def test_fuzzed_frames_before_hello_are_refused(live_server: ServerHandle) -> None:
    async with connect(live_server.ws_url) as ws:
        for f in _fuzz_frames(60):
            await ws.send(f)
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if reply["type"] == "pong":
                continue
            assert reply["type"] == "error" and reply["code"] != "internal", reply
            if reply["code"] in ("bad_token", "expired_token", "wrong_terminal"):
                return  # closed after a refused hello, as specified


def _concrete(path: str, h: ServerHandle) -> str:
    return re.sub(r"\{[a-z_]+:int\}", str(h.seed.session_id), path).replace("{action}", "note")


def test_every_endpoint_refuses_the_wrong_roles(live_server: ServerHandle) -> None:
    """Built from the declared endpoint list: an endpoint for admin refuses a
    proctor, a candidate token and no token; one for proctors refuses the rest."""
    h = live_server
    reg = h.seed.candidates[1]["registration_number"]
    cand = h.login(reg, "T-R")
    bearer = {
        "none": {},
        "candidate": {"Authorization": f"Bearer {cand}"},
        "proctor": h.headers("proctor"),
        "admin": h.headers("admin"),
    }
    checked = 0
    with httpx.Client(base_url=h.url, timeout=30) as c:
        for ep in ENDPOINTS:
            if not ep.roles:
                continue
            path = _concrete(ep.path, h)
            for who, hdr in bearer.items():
                if who in ep.roles:
                    continue
                r = c.request(ep.method, path, headers=hdr, json={})
                want = 401 if who in ("none", "candidate") else 403
                assert r.status_code == want, (ep.method, ep.path, who, r.status_code, r.text)
                checked += 1
    assert checked >= 20


async def test_staff_channels_refuse_candidate_tokens(live_server: ServerHandle) -> None:
    h = live_server
    cand = h.login(h.seed.candidates[2]["registration_number"], "T-C")
    async with connect(h.ws_url.replace("/ws/candidate", f"/ws/proctor/{h.seed.session_id}")) as ws:
        await ws.send(json.dumps({"type": "auth", "token": cand}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert reply["type"] == "error"
    # ... and a staff token is no candidate token.
    async with connect(h.ws_url) as ws:
        await ws.send(
            json.dumps({"type": "hello", "token": h.staff("admin"), "terminal_id": "T-C"})
        )
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert reply["type"] == "error" and reply["code"] == "bad_token"


async def test_tokens_other_terminal_replayed_tampered(live_server: ServerHandle) -> None:
    h = live_server
    reg = h.seed.candidates[3]["registration_number"]
    token = h.login(reg, "T-1")
    # Bound to another terminal: refused.
    other = await Terminal.open(h.ws_url, token, "T-2")
    assert other.state["type"] == "error" and other.state["code"] == "wrong_terminal"
    # Tampered (one character of the signature changed): refused.
    bad = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    t = await Terminal.open(h.ws_url, bad, "T-1")
    assert t.state["type"] == "error" and t.state["code"] == "bad_token"
    # Claims of one candidate grafted onto another's signature: refused.
    reg2 = h.seed.candidates[4]["registration_number"]
    token2 = h.login(reg2, "T-9")
    graft = token.split(".")[0] + "." + ".".join(token2.split(".")[1:])
    t = await Terminal.open(h.ws_url, graft, "T-1")
    assert t.state["type"] == "error" and t.state["code"] == "bad_token"
    # Replayed: the genuine token used again on the same terminal id takes the
    # attempt over (the first socket is told "replaced"), never a second attempt.
    first = await Terminal.open(h.ws_url, token, "T-1")
    assert first.state["type"] == "state"
    second = await Terminal.open(h.ws_url, token, "T-1")
    assert second.state["attempt_id"] == first.state["attempt_id"]
    msg = await first.recv()
    assert msg["type"] == "error" and msg["code"] == "replaced"
    # A login from another terminal while the first is bound: refused.
    r = httpx.post(
        h.url + "/api/candidate/login",
        json={
            "registration_number": reg,
            "pin": h.seed.pins()[reg],
            "session_token": h.seed.session_token,
            "terminal_id": "T-3",
        },
    )
    assert r.status_code == 409
    await second.close()


def test_proctor_tokens_cannot_widen_their_rooms(live_server: ServerHandle) -> None:
    """A proctor acts only on their rooms; rewriting the rooms signed into the
    staff token, or signing one with another key, is refused as a bad token."""
    h = live_server
    sid, room = new_session_in_r2(h, "SESI-H")
    path = f"{h.url}/api/proctor/sessions/{sid}/attempts"
    token = h.staff("proctor")
    assert httpx.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    # The payload re-encoded with the other room added, signature kept.
    assert not token.startswith(".")  # short payloads are not compressed
    payload, rest = token.split(".", 1)
    claims = json.loads(base64_decode(payload))
    claims["rm"] = [*claims["rm"], room]
    widened = base64_encode(json.dumps(claims, separators=(",", ":"))).decode() + "." + rest
    r = httpx.get(path, headers={"Authorization": f"Bearer {widened}"})
    assert r.status_code == 401 and r.json()["error"] == "bad_token"
    # Signed with a guessed key.
    forged = URLSafeTimedSerializer("not-the-server-key", salt=STAFF_SALT).dumps(claims)
    r = httpx.get(path, headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"] == "bad_token"


def test_fuzzed_rest_bodies_never_give_5xx(live_server: ServerHandle) -> None:
    h = live_server
    posts = [ep for ep in ENDPOINTS if ep.method == "POST"]
    hdr = h.headers("admin")
    prh = h.headers("proctor")
    statuses: dict[int, int] = {}

    with httpx.Client(base_url=h.url, timeout=30) as c:

        @settings(max_examples=50, deadline=None, database=None)
        @given(st.sampled_from(posts), rest_body, st.booleans())
        def one(ep: Any, body: Any, as_proctor: bool) -> None:
            path = _concrete(ep.path, h)
            if "{action}" in ep.path:
                path = path.replace("note", "pause")
            content = json.dumps(body, allow_nan=True)
            r = c.post(
                path,
                content=content,
                headers={**(prh if as_proctor else hdr), "content-type": "application/json"},
            )
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, (ep.path, content[:200], r.status_code, r.text[:200])

        one()
    assert sum(statuses.values()) >= 40
