"""Hypothesis strategies for hostile candidate frames and REST bodies.

Used by ``tests/scaleout/test_hostile.py`` (bounded, in CI) and
``benchmarks/server_fuzz.py`` (longer campaigns). Needs ``hypothesis``
(the ``test`` extra).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["seq", "number", "option", "flagged", "elapsed", "confirm", "id", "v", "token"]
TYPES = ["answer", "flag", "navigate", "state", "finish", "ping", "hello", "nope", ""]
#: Frames shaped like the protocol's, with any subset of fields of any JSON type.
protocol_frame = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)}, optional={f: json_value for f in FIELDS}
)
#: Anything a terminal could send: protocol-shaped, arbitrary JSON, text, binary.
ws_frame = st.one_of(
    protocol_frame.map(lambda d: json.dumps(d, allow_nan=True)),
    json_value.map(lambda d: json.dumps(d, allow_nan=True)),
    st.text(max_size=200),
    st.binary(max_size=64),
)
BODY_KEYS = [
    "code", "name", "site_code", "room_code", "exam_code", "design", "starts_at", "reason",
    "seconds", "username", "password", "role", "registration_number", "pin", "session_token",
    "terminal_id", "formations", "capacity", "bank", "items",
]  # fmt: skip
#: REST bodies: arbitrary JSON, or objects with the API's own field names.
rest_body = st.one_of(json_value, st.dictionaries(st.sampled_from(BODY_KEYS), json_value))


def draw(strategy: Any, count: int, seed: int = 0) -> list[Any]:
    """``count`` examples of ``strategy`` (hypothesis's own generation, not shrunk)."""
    out: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=seed == 0,
    )
    @given(strategy)
    def collect(x: Any) -> None:
        out.append(x)

    collect()
    return out
