"""What the pages, the staff API and ``seleksi after`` share: the
diagnostic report of one candidate, the training-needs table of the new hires,
its CSV, and publishing accepted appeals as a new publication version.
Blocking (database, files): call from a worker thread.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from after_test.diagnostics import AreaLine, candidate_lines, report_scale
from after_test.policy import Programme, TrainingRules
from after_test.training import NeedsTable, training_needs
from exam_server.after_test import store
from exam_server.results import publication as pub
from exam_server.results.versions import Correction, next_version, version_number


@dataclass(frozen=True)
class Diagnostic:
    registration_number: str
    name: str
    lines: list[AreaLine]


class LeftOutAtSite(LookupError):
    """The candidate sat at an exam site whose synced copies do not count yet."""

    def __init__(self, why: store.LeftOut) -> None:
        super().__init__(why.reason)
        self.why = why


def diagnostic(engine: Engine, exam_code: str, registration_number: str) -> Diagnostic | None:
    """The report of one candidate, or None when they have no finished attempt.
    Raises :class:`LeftOutAtSite` (saying why) when they sat at an exam site
    whose synced copies are not complete and verified yet."""
    popn = store.population(engine, exam_code)
    if registration_number in popn.left_out:
        raise LeftOutAtSite(popn.left_out[registration_number])
    row = popn.row_of(registration_number)
    if row is None:
        return None
    return Diagnostic(registration_number, popn.names[row], candidate_lines(popn.diagnostics, row))


# -- training needs ---------------------------------------------------------------------


def new_hires(files: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
    """Registration number → published entry of everyone who passed the final
    (P/L: appointed, incl. by optimisation); where only the SKD stage is
    published, those inside its cut."""
    docs = pub.formation_docs(files)
    final = [d for _, d in docs if d["stage"] == "final"]
    if final:
        return {
            e["registration_number"]: e
            for d in final
            for e in d["entries"]
            if e["meaning"] in ("appointed", "appointed_optimised")
        }
    return {
        e["registration_number"]: e
        for _, d in docs
        if d["stage"] == "skd"
        for e in d["entries"]
        if e["meaning"] == "in_cut"
    }


def _components(entry: Mapping[str, Any]) -> dict[str, float]:
    """SKB component scores (0–100) of a published final entry, where the
    publication carries the breakdown (issue 19's ``skb_components``)."""
    out = {}
    for c in entry.get("skb_components") or []:
        try:
            out[f"SKB:{c['code']}"] = float(c["score"])
        except (KeyError, TypeError, ValueError):
            continue
    return out


@dataclass(frozen=True)
class Training:
    table: NeedsTable | None
    programmes: list[tuple[str, list[tuple[Programme, float]]]]


def training(
    engine: Engine, exam_code: str, files: Mapping[str, bytes], rules: TrainingRules
) -> Training:
    """The training-needs table of the exam's new hires (see :mod:`after_test.training`)."""
    hires = new_hires(files)
    popn = store.population(engine, exam_code)
    rows = [i for i, r in enumerate(popn.registration_numbers) if r in hires]
    if not rows:
        return Training(None, [])
    areas: list[str] = [a for d in popn.diagnostics for a in d.areas]
    area_scores = np.concatenate(
        [report_scale(d.subscores.theta[rows]) for d in popn.diagnostics], axis=1
    )
    comps = [_components(hires[popn.registration_numbers[i]]) for i in rows]
    comp_codes = sorted({c for d in comps for c in d})
    comp_scores = np.array([[d.get(c, np.nan) for c in comp_codes] for d in comps]).reshape(
        len(rows), len(comp_codes)
    )
    # The policy names SKB components by their code; the table shows "SKB:code".
    table = training_needs(
        [popn.group[i] for i in rows],
        np.concatenate([area_scores, comp_scores], axis=1),
        [*areas, *comp_codes],
        _with_component_standards(rules, comp_codes),
    )
    progs = [(g, table.programmes(rules, k)) for k, g in enumerate(table.groups)]
    return Training(table, progs)


def _with_component_standards(rules: TrainingRules, codes: list[str]) -> TrainingRules:
    extra = {c: rules.standard[c[4:]] for c in codes if c[4:] in rules.standard}
    if not extra:
        return rules
    return rules.model_copy(update={"standard": {**rules.standard, **extra}})


def training_csv(tr: Training) -> str:
    """One row per group and area: group, area, n, mean, standard, need; then
    the suggested programmes per group."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["group", "area", "n", "mean", "standard", "need", "programmes"])
    if tr.table is None:
        return out.getvalue()
    t = tr.table
    progs = dict(tr.programmes)
    for g, group in enumerate(t.groups):
        names = "; ".join(p.code for p, _ in progs.get(group, []))
        for k, area in enumerate(t.areas):
            mean = t.mean[g, k]
            w.writerow(
                [
                    group,
                    area,
                    int(t.n[g]),
                    "" if math.isnan(mean) else f"{mean:.1f}",
                    f"{t.standard[k]:.1f}",
                    "" if math.isnan(t.need[g, k]) else f"{t.need[g, k]:.1f}",
                    names,
                ]
            )
    return out.getvalue()


# -- publishing accepted appeals ------------------------------------------------------------


def publish_corrections(
    engine: Engine,
    exam_code: str,
    directory: str | Path,
    key: Ed25519PrivateKey,
    published_at: str,
    actor: str = "cli",
) -> pub.Publication | None:
    """Sign the accepted appeals not yet published as the next version of the
    publication in ``directory`` (written there, the previous version kept
    inside it), and mark them (an ``appeal_corrections_published`` audit event
    by ``actor``); None when there is nothing to publish.

    Each accepted appeal must be exactly as its ``appeal_decided`` audit event
    recorded it (:func:`store.undecided_corrections`): a row written or
    changed past the decision is refused by name, and nothing is signed."""
    rows = store.unpublished_corrections(engine, exam_code)
    if not rows:
        return None
    problems = store.undecided_corrections(engine, rows)
    if problems:
        raise pub.PublicationError(
            "not signed: " + "; ".join(problems) + " (see seleksi audit verify)"
        )
    files = pub.read_publication(directory)
    manifest = json.loads(files[pub.MANIFEST])
    if manifest["exam"]["id"] != exam_code:
        raise pub.PublicationError(
            f"{directory} is the publication of {manifest['exam']['id']}, not {exam_code}"
        )
    corrections = [
        Correction(
            r["registration_number"],
            str(r["field"]),
            r["correction_from"],
            str(r["correction_to"]),
            f"SANGGAH-{r['id']}",
            str(r["answer"] or ""),
        )
        for r in rows
    ]
    reason = "; ".join(f"sanggah {r['id']} diterima / appeal {r['id']} accepted" for r in rows)
    new = next_version(files, corrections, reason, key, published_at)
    pub.write_publication(directory, new.files)  # drops the old versions/ tree
    store.mark_published(
        engine,
        [int(r["id"]) for r in rows],
        version_number(new.manifest),
        [(c.registration_number, c.field, c.new) for c in corrections],
        actor=actor,
        exam_code=exam_code,
        manifest_sha256=hashlib.sha256(new.files[pub.MANIFEST]).hexdigest(),
    )
    return new
