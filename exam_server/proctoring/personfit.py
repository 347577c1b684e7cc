"""The lz* person-fit statistic, re-exported for the live checks.

The numerics live in :mod:`forensics.personfit` (issue 21: the same
statistic ranks candidates after a session), so the live alert and the
after-the-fact report can never disagree.
"""

from forensics.personfit import EPS, THETA_BOUND, lz_star, lz_star_one, map_theta

__all__ = ["EPS", "THETA_BOUND", "lz_star", "lz_star_one", "map_theta"]
