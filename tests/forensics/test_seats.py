"""The seating CSV: any text is either seats or a clear error naming the line."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server.forensics.seats import SeatError, parse_seats

ROOMS = {"R1": [1], "S1/R1": [1], "R2": [2, 3], "A/R2": [2], "B/R2": [3]}


def test_a_layout_is_read() -> None:
    text = "room,terminal_id,row,col\nR1,T-1,0,0\nA/R2,T-1,0,1\nR1,T-2,0,1\n"
    seats = parse_seats(text, ROOMS)
    assert [(s.room_id, s.terminal_id, s.row, s.col) for s in seats] == [
        (1, "T-1", 0, 0),
        (2, "T-1", 0, 1),
        (1, "T-2", 0, 1),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("room,terminal,row,col\n", "line 1: the header lacks terminal_id"),
        ("room,terminal_id,row,col\nR1,T-1,0\n", "line 2: missing col"),
        ("room,terminal_id,row,col\nR9,T-1,0,0\n", "line 2: no room 'R9'"),
        ("room,terminal_id,row,col\nR2,T-1,0,0\n", "more than one room (write site/room)"),
        (
            "room,terminal_id,row,col\nR1,T-1,0,0\nR1,T-1,1,1\n",
            "line 3: terminal T-1 appears twice",
        ),
        ("room,terminal_id,row,col\nR1,T-1,-1,0\n", "line 2: row and col must be between"),
    ],
)
def test_bad_rows_name_their_line(text: str, message: str) -> None:
    with pytest.raises(SeatError, match=re.escape(message)):
        parse_seats(text, ROOMS)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["R1", "R2", "A/R2", "T-1", "0", "3", "-2", "x", "", "\x00", '"']),
                 max_size=6),
        max_size=6,
    ),
    st.text(max_size=40),
)  # fmt: skip
def test_any_text_is_seats_or_a_seat_error(cells: list[list[str]], noise: str) -> None:
    text = "room,terminal_id,row,col\n" + "\n".join(",".join(r) for r in cells) + noise
    try:
        seats = parse_seats(text, ROOMS)
    except SeatError as exc:
        assert str(exc)
    else:
        assert all(s.room_id in (1, 2, 3) and s.row >= 0 and s.col >= 0 for s in seats)
