"""The SKB's REST endpoints refuse what they must, with a code and a message,
and never answer a malformed request with a server error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exam_server.testing import ThreadServer, staff_token
from tests.assessment import skb_cases as cases
from tests.assessment.conftest import forged, receipt, schedule


@pytest.fixture(scope="module")
def tokens(server: ThreadServer) -> dict[str, str]:
    out = {"admin": schedule(server)}
    for u in cases.ASSESSORS:
        out[u] = staff_token(server.url, u, cases.PASSWORD)
    return out


def post(server: ThreadServer, path: str, body: Any, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + path, json=body, headers=headers, timeout=30)


def test_roles_are_kept_apart(server: ThreadServer, tokens: dict[str, str]) -> None:
    r = post(server, "/api/skb/plans", cases.plan(), tokens["asesor1"])
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = post(server, "/api/skb/sheets", {}, tokens["admin"])
    assert r.status_code == 403
    r = httpx.get(server.url + "/api/skb/chair?panel=P1",
                  headers={"Authorization": f"Bearer {tokens['asesor2']}"})  # fmt: skip
    assert r.status_code == 403 and r.json()["error"] == "not_chair"
    r = post(server, "/api/skb/candidate", {"registration_number": "R001",
                                            "receipt": forged("R001")}, None)  # fmt: skip
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials"


@pytest.mark.parametrize(
    "body,status,code,message",
    [
        ({"panel": "P1", "registration_number": "R001", "points": {"komunikasi": 3,
          "integritas": 9}}, 422, "bad_sheet", "9 is not one of the rubric's levels"),
        ({"panel": "P1", "registration_number": "R005", "points": {"komunikasi": 3,
          "integritas": 3}}, 422, "not_in_slot", "has no slot with panel P1"),
        ({"panel": "P1", "registration_number": "R001", "points": [3, 3]}, 422, "bad_field",
         "points"),
        ({"panel": "P1", "registration_number": "R001", "points": {}, "extra": 1}, 422,
         "bad_field", "extra"),
        ({"panel": "NOPE", "registration_number": "R001", "points": {}}, 404, "not_found",
         "no panel"),
    ],
)  # fmt: skip
def test_bad_sheets_are_refused(
    server: ThreadServer, tokens: dict[str, str], body: Any, status: int, code: str, message: str
) -> None:
    r = post(server, "/api/skb/sheets", body, tokens["asesor1"])
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and message in r.json()["message"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/api/skb/sheets", "/api/skb/declarations", "/api/skb/adjudications",
                          "/api/skb/candidate", "/api/skb/reschedule"]),
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["panel", "registration_number", "points", "score",
                                           "reason", "conflict", "slot", "birth_date", "receipt",
                                           "x"]),
                          inner, max_size=6),
        max_leaves=12,
    ),
)  # fmt: skip
def test_malformed_requests_get_an_error_never_a_crash(
    server: ThreadServer, tokens: dict[str, str], path: str, body: Any
) -> None:
    r = post(server, path, body, tokens["asesor1"])
    assert 400 <= r.status_code < 500, r.text
    assert isinstance(r.json()["error"], str)


def test_forged_receipts_are_throttled(server: ThreadServer, tokens: dict[str, str]) -> None:
    codes = [
        post(server, "/api/skb/candidate",
             {"registration_number": "R002", "receipt": forged("R002", d)}, None).status_code
        for d in range(1, 9)
    ]  # fmt: skip
    assert codes[0] == 401 and codes[-1] == 429
    r = post(server, "/api/skb/candidate",
             {"registration_number": "R003", "receipt": receipt(server, "R003")}, None)  # fmt: skip
    assert r.status_code == 200 and r.json()["interviews"][0]["zone"] == "WITA"
    assert r.json()["skb"] is None  # nothing announced yet: no breakdown


def test_an_administrator_adjudicates_for_a_recused_chair(
    server: ThreadServer, tokens: dict[str, str]
) -> None:
    """The chair asesor1 declared a conflict with R002: their adjudication is
    refused (403 recused); the chair's page shows R002 as recused, neither its
    sheets nor in the queue; the administrator's page lists R002 awaiting the
    administrator, who sets the score through the same endpoint."""
    r = post(server, "/api/skb/declarations", {"panel": "P1", "registration_number": "R002",
             "conflict": True, "note": "sepupu"}, tokens["asesor1"])  # fmt: skip
    assert r.status_code == 201, r.text
    for u, p in (("asesor2", 1), ("asesor3", 4)):
        r = post(server, "/api/skb/sheets", {"panel": "P1", "registration_number": "R002",
                 "points": {"komunikasi": p, "integritas": p}}, tokens[u])  # fmt: skip
        assert r.status_code == 201, r.text
    body = {"panel": "P1", "registration_number": "R002", "score": 100, "reason": "saya"}
    r = post(server, "/api/skb/adjudications", body, tokens["asesor1"])
    assert r.status_code == 403 and r.json()["error"] == "recused", r.text
    chair = httpx.get(server.url + "/api/skb/chair?panel=P1",
                      headers={"Authorization": f"Bearer {tokens['asesor1']}"}).json()  # fmt: skip
    row = next(c for c in chair["candidates"] if c["registration_number"] == "R002")
    assert (row["state"], row["chair_recused"], row.get("sheets")) == ("recused", True, None)
    assert "R002" not in chair["adjudication"]
    waiting = httpx.get(server.url + "/api/skb/admin",
                        headers={"Authorization": f"Bearer {tokens['admin']}"}).json()  # fmt: skip
    (line,) = [x for p in waiting["panels"] for x in p["adjudication"]]
    assert line["registration_number"] == "R002" and len(line["sheets"]) == 2
    r = post(server, "/api/skb/adjudications", body | {"score": 55, "reason": "chair recused"},
             tokens["admin"])  # fmt: skip
    assert r.status_code == 201, r.text
    me = httpx.get(server.url + "/api/skb/me",
                   headers={"Authorization": f"Bearer {tokens['asesor2']}"}).json()  # fmt: skip
    row = next(x for x in me["panels"][0]["slots"] if x.get("registration_number") == "R002")
    assert (row["state"], row["final"]) == ("final", "55.000")
