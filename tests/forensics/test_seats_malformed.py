"""A malformed seating CSV (``seleksi forensics seats``) is refused with a
:class:`~exam_server.forensics.seats.SeatError` naming the line, never another
exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exam_server.forensics.seats import SeatError, parse_seats

ROOMS = {"R1": [1], "S/R1": [1], "R2": [2, 3]}
SETTINGS = settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
cells = st.sampled_from(
    ["room", "terminal_id", "row", "col", "R1", "R2", "S/R1", "T1", "1", "-1", "9" * 5000, "١",
     "1_0", "1.5", "nan", "", " ", "\x00", '"a\nb"', "x" * 100, '"', '"x""y"', "\ufeffroom"]
)  # fmt: skip


def _accepted_or_named(text: str) -> None:
    try:
        parse_seats(text, ROOMS)
    except SeatError as exc:
        assert str(exc).startswith(("line ", "not a readable CSV")), str(exc)


@SETTINGS
@given(
    rows=st.lists(st.lists(cells, max_size=6), max_size=5),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    header=st.booleans(),
)
def test_malformed_seat_csv_is_a_seat_error(
    rows: list[list[str]], newline: str, header: bool
) -> None:
    lines = [",".join(r) for r in rows]
    if header:
        lines.insert(0, "room,terminal_id,row,col")
    _accepted_or_named(newline.join(lines))


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_is_accepted_or_a_seat_error(text: str) -> None:
    _accepted_or_named(text)
