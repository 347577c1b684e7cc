"""Assigning eligible candidates to exam sessions within capacity.

A candidate sits at the test location they chose; a candidate with the
``extra_time`` accommodation sits only in a session that gives it
(``extended``), and the others only in sessions that do not, so an extended
session's clock is the same for everyone in it. Within a location the
sessions fill in the order given (earliest first), candidates in the order
given (by registration number: the assignment is reproducible).

:func:`assign` is vectorised over candidates: each (location, extended)
group is a run of the sorted candidates; a candidate's rank in its run is
looked up in the running capacity of its group's sessions
(``numpy.searchsorted``), with no Python loop over candidates.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

UNPLACED = -1


def assign(
    cand_location: npt.ArrayLike,
    cand_extended: npt.ArrayLike,
    slot_location: npt.ArrayLike,
    slot_extended: npt.ArrayLike,
    slot_capacity: npt.ArrayLike,
) -> npt.NDArray[np.int64]:
    """The slot of each candidate, or ``UNPLACED`` (-1) where their group is full.

    cand_location: (n_candidates,) int location ids; cand_extended:
    (n_candidates,) bool; slot_location, slot_extended, slot_capacity:
    (n_slots,) int, bool, int seats (>= 0). Returns (n_candidates,) slot
    indices into the slot arrays."""
    cl = np.asarray(cand_location, dtype=np.int64)
    ce = np.asarray(cand_extended, dtype=bool)
    sl = np.asarray(slot_location, dtype=np.int64)
    se = np.asarray(slot_extended, dtype=bool)
    cap = np.asarray(slot_capacity, dtype=np.int64)
    if cl.shape != ce.shape or not (sl.shape == se.shape == cap.shape):
        raise ValueError("candidate arrays and slot arrays must each have one shape")
    if np.any(cap < 0) or np.any(cl < 0) or np.any(sl < 0):
        raise ValueError("locations and capacities must not be negative")
    out = np.full(cl.shape, UNPLACED, dtype=np.int64)
    if cl.size == 0 or sl.size == 0:
        return out
    cg = cl * 2 + ce  # group key
    sg = sl * 2 + se
    # Candidates: stable sort by group; rank inside the group.
    corder = np.argsort(cg, kind="stable")
    cgs = cg[corder]
    first = np.searchsorted(cgs, cgs, side="left")
    rank = np.arange(cgs.size) - first
    # Slots: stable sort by group; running capacity inside the group.
    sorder = np.argsort(sg, kind="stable")
    sgs = sg[sorder]
    caps = cap[sorder]
    run = np.cumsum(caps)
    start_run = run - caps
    group_base = start_run[np.searchsorted(sgs, sgs, side="left")]
    within = run - group_base  # seats up to and including each slot, per group
    # Look up (group, rank) in (group, seats-so-far): a key that orders by group first.
    big = int(run[-1]) + int(cl.size) + 1
    slot_key = sgs * big + within
    cand_key = cgs * big + rank
    pos = np.searchsorted(slot_key, cand_key, side="right")
    ok = (pos < sgs.size) & (sgs[np.minimum(pos, sgs.size - 1)] == cgs)
    placed = np.where(ok, sorder[np.minimum(pos, sgs.size - 1)], UNPLACED)
    out[corder] = placed
    return out
