"""Property tests: random and malformed frames never crash the protocol."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exam_server import protocol as p
from exam_server.testing import Terminal
from tests.conftest import ServerHandle

TYPES = ["hello", "answer", "flag", "navigate", "state", "finish", "ping", "grade", ""]
FIELDS = [
    "seq",
    "number",
    "option",
    "flagged",
    "elapsed",
    "confirm",
    "token",
    "terminal_id",
    "id",
    "v",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
near_valid = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={f: json_values | st.integers(-3, 15) for f in FIELDS},
).map(lambda d: json.dumps(d, allow_nan=True))
frames = st.one_of(
    near_valid,
    json_values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.text(max_size=200),
    st.binary(max_size=100),
    st.integers(4000, 6000).map(lambda n: '{"type":"ping","id":"' + "x" * n + '"}'),
)


@given(frames)
@settings(max_examples=400, deadline=None)
def test_parse_client_only_ever_raises_protocol_errors(frame: str | bytes) -> None:
    try:
        msg = p.parse_client(frame)
    except p.ProtocolError as err:
        assert err.code in p.ERROR_CODES
        out = p.error_frame(err)
        assert json.loads(p.encode(out))["code"] == err.code
    else:
        assert isinstance(
            msg, p.Hello | p.Answer | p.Flag | p.Navigate | p.StateRequest | p.Finish | p.Ping
        )


def check_reply(msg: dict[str, Any]) -> None:
    assert msg["v"] == 1
    assert msg["type"] in {"error", "ack", "item", "state", "final", "pong", "time", "notice"}
    if msg["type"] == "error":
        assert msg["code"] in p.ERROR_CODES
    if msg["type"] in ("item", "state"):
        assert "points" not in json.dumps(msg)


def test_random_frames_over_a_real_socket(server_factory: Any) -> None:
    h: ServerHandle = server_factory(
        n_candidates=30, messages_per_second=10_000, message_burst=10_000
    )
    regs = [c["registration_number"] for c in h.seed.candidates]
    tokens = {r: h.login(r, f"T-{r}") for r in regs}
    counter = iter(range(10**9))

    @given(st.lists(frames, min_size=1, max_size=25), st.sampled_from(regs))
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def run(batch: list[str | bytes], reg: str) -> None:
        async def go() -> None:
            t = await Terminal.open(h.ws_url, tokens[reg], f"T-{reg}")
            assert t.state["type"] == "state"
            replies = 0
            for f in batch:
                await t.send(f) if isinstance(f, str) else await t.ws.send(f)
            marker = f"end-{next(counter)}"
            await t.send({"type": "ping", "id": marker})
            while True:
                msg = await t.recv()
                check_reply(msg)
                if msg["type"] == "pong" and msg.get("id") == marker:
                    break
                if msg["type"] not in ("time", "notice"):
                    replies += 1
            # Every frame got an answer: none was silently dropped.
            assert replies >= len(batch)
            await t.close()

        asyncio.run(go())

    run()
    assert httpx.get(h.url + "/healthz").status_code == 200
