"""A publication directory on disk (:func:`write_publication`,
:func:`read_publication`), and the inputs a publication embeds
(:func:`inputs_from_files`, whose SKB lines :func:`skb_line_problems` checks)
ranked again (:func:`rebuild_files`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from assessment.components import ComponentError, ComponentScore, share_problems
from exam_server.results.integration import (
    SKB_PRESENT,
    SkbScore,
    integrate,
    optimise,
    skb_range_problem,
)
from exam_server.results.outcomes import CandidateOutcome, Formation
from exam_server.results.publication.documents import (
    MANIFEST,
    POLICY,
    ExamInfo,
    PublicationError,
    formation_docs,
)
from exam_server.results.publication.manifest import build_files
from exam_server.results.ranking import rank_skd
from exam_server.results.rules import PolicyError, RankingPolicy, fmt, parse_date


def write_publication(directory: str | os.PathLike[str], files: Mapping[str, bytes]) -> None:
    """Write ``files`` under ``directory`` (created; existing files are replaced).

    The files a publication already there listed and ``files`` lacks (another
    exam's formations, an older version chain's ``versions/`` tree) are
    removed: they would be unlisted files of the new one."""
    root = Path(directory)
    try:
        old = [f["path"] for f in json.loads((root / MANIFEST).read_bytes())["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        old = []
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    for rel in old:
        # Only inside the directory, whatever an old manifest says.
        if rel not in files and ".." not in Path(rel).parts and not Path(rel).is_absolute():
            (root / rel).unlink(missing_ok=True)


def read_publication(directory: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every regular file under ``directory``, by its '/'-separated relative path."""
    root = Path(directory)
    if not (root / MANIFEST).is_file():
        raise PublicationError(f"{root}: no {MANIFEST}; is this a publication directory?")
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -- rebuilding from a publication ---------------------------------------------------


def _formation_of(doc: Mapping[str, Any]) -> Formation:
    f = doc["formation"]
    return Formation(id=f["id"], openings=f["openings"], name=f["name"], group=f["group"])


Inputs = tuple[RankingPolicy, list[Formation], list[CandidateOutcome], dict[str, SkbScore] | None]


def inputs_from_files(
    files: Mapping[str, bytes], docs: list[tuple[str, dict[str, Any]]] | None = None
) -> Inputs:
    """The inputs a publication embeds: policy, formations, SKD outcomes, SKB scores.

    ``docs``: the formation documents if already parsed (:func:`formation_docs`).
    """
    try:
        policy = RankingPolicy.from_json(files[POLICY].decode("utf-8"))
    except KeyError:
        raise PublicationError(f"no {POLICY}") from None
    except PolicyError as exc:
        raise PublicationError(f"{POLICY}: {exc}") from None
    formations: list[Formation] = []
    outcomes: list[CandidateOutcome] = []
    skb: dict[str, SkbScore] | None = None
    for path, doc in docs if docs is not None else formation_docs(files):
        try:
            if doc["stage"] == "skd":
                formations.append(_formation_of(doc))
                for e in doc["entries"]:
                    outcomes.append(
                        CandidateOutcome(
                            registration_number=e["registration_number"],
                            formation=doc["formation"]["id"],
                            category=e["category"],
                            status=e["status"],
                            scores=e["scores"] or {},
                            responses_hash=e["responses_hash"],
                            name=e["name"],
                            gpa=e["gpa"],
                            birth_date=parse_date(e["birth_date"], "birth_date"),
                            status_note=e["status_note"],
                        )
                    )
            else:
                skb = skb if skb is not None else {}
                for e in doc["entries"]:
                    if e["meaning"] == "appointed_optimised":
                        continue
                    pts = e["skb"]
                    skb[e["registration_number"]] = SkbScore(
                        e["registration_number"],
                        e["skb_status"],
                        None if pts is None else policy.points(pts),
                        e["skb_note"],
                        tuple(
                            ComponentScore.from_dict(c, f"{path}: skb_components")
                            for c in e.get("skb_components", ())
                        ),
                    )
        except (KeyError, TypeError, ValueError) as exc:
            raise PublicationError(f"{path}: malformed entry ({exc!r})") from None
    return policy, formations, outcomes, skb


def _plan_text(plan: Sequence[ComponentScore]) -> str:
    """``CAT (cat) 60% min 50, WWN (interview) 40%``: a line's SKB components as
    a reader names them."""
    return ", ".join(
        f"{c.code}{'' if c.kind is None else f' ({c.kind})'} {fmt(c.weight)}%"
        + ("" if c.minimum is None else f" min {fmt(c.minimum)}")
        for c in plan
    )


def skb_line_problems(
    policy: RankingPolicy,
    docs: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    kinds: bool = True,
) -> list[str]:
    """What is wrong with the SKB of the published final lines, each naming the
    file and the candidates (empty: nothing).

    * every SKB score is within the policy's range (:func:`skb_range_problem`,
      the rule the CSV import applies);
    * every line of a formation that carries SKB components carries the same
      ones: the same codes, weights and minimums in the same order (the
      formation's plan), each code once and each minimum within 0–100; and a
      line present at the SKB carries them whenever any line of its
      formation does. A line is scored under its formation's plan, never
      under weights or minimums of its own.

    * where the lines name their components' kinds (publications since the
      kinds were published), the formation's plan obeys the policy's caps:
      kinds it allows, the CAT field test's minimum share and the others'
      maximum (:func:`assessment.components.share_problems`, the rule
      applied when the plan was stored). This holds a formation of a single
      line to the policy too, where there is no other line to compare with.

    Lines that came by optimisation are checked in their own formation.
    kinds: whether every component must name its kind
    (:func:`~.documents.kinds_published` of the manifest); False for
    publications made before the kinds were published, whose plans are then
    held to the caps only where the policy was applied when they were stored."""
    problems: list[str] = []
    for path, doc in docs:
        if doc.get("stage") != "final":
            continue
        plans: dict[tuple[ComponentScore, ...], list[str]] = {}
        bare: list[str] = []  # lines present at the SKB without components
        for e in doc.get("entries") or []:
            if not isinstance(e, Mapping) or e.get("meaning") == "appointed_optimised":
                continue
            regno = str(e.get("registration_number", "?"))
            if e.get("skb") is not None:
                try:
                    bad = skb_range_problem(policy, policy.points(e["skb"], what="skb"))
                except ValueError as exc:
                    bad = str(exc)
                if bad is not None:
                    problems.append(f"{path}: {regno} skb: {bad}")
            try:
                comps = tuple(
                    ComponentScore.from_dict(c, f"{path}: {regno} skb_components")
                    for c in e.get("skb_components") or ()
                )
            except ComponentError as exc:
                problems.append(str(exc))
                continue
            if kinds and (unnamed := [c.code for c in comps if c.kind is None]):
                problems.append(
                    f"{path}: {regno} skb_components: {', '.join(unnamed)} without a kind "
                    "(this publication's schema names every component's kind)"
                )
                continue
            if not comps:
                if e.get("skb_status") == SKB_PRESENT:
                    bare.append(regno)
                continue
            codes = [c.code for c in comps]
            if len(set(codes)) != len(codes):
                problems.append(f"{path}: {regno} skb_components: a component is listed twice")
            problems.extend(
                f"{path}: {regno} skb_components: {c.code} minimum {fmt(c.minimum)} "
                "is outside 0–100"
                for c in comps
                if c.minimum is not None and not 0 <= c.minimum <= 100
            )
            plan = tuple(
                ComponentScore(c.code, c.weight, Decimal(0), c.minimum, c.kind) for c in comps
            )
            plans.setdefault(plan, []).append(regno)
        if len(plans) > 1:
            # The most common plan first; every plan with the candidates scored under it.
            shown = sorted(plans.items(), key=lambda kv: -len(kv[1]))
            problems.append(
                f"{path}: the lines carry different SKB components (a formation has one plan): "
                + "; ".join(f"{_plan_text(p)} for {_names(who)}" for p, who in shown)
            )
        for plan, who in plans.items():
            parts = [(c.code, c.kind, c.weight) for c in plan if c.kind is not None]
            if len(parts) < len(plan):
                continue  # before the kinds were published (or reported above)
            broken = share_problems(parts, policy.skb_rules)
            if broken:
                problems.append(
                    f"{path}: the SKB plan {_plan_text(plan)} of {_names(who)} breaks the "
                    f"policy's SKB caps: " + "; ".join(broken)
                )
        if plans and bare:
            problems.append(
                f"{path}: {_names(bare)} present at the SKB without the formation's components "
                f"({_plan_text(next(iter(plans)))})"
            )
    return problems


def _names(regnos: Sequence[str], most: int = 10) -> str:
    more = f" and {len(regnos) - most} more" if len(regnos) > most else ""
    return ", ".join(regnos[:most]) + more


def rebuild_files(
    exam: ExamInfo,
    policy: RankingPolicy,
    formations: Sequence[Formation],
    outcomes: Sequence[CandidateOutcome],
    skb: Mapping[str, SkbScore] | None,
    *,
    optimised: bool,
    missing_is_absent: bool = False,
) -> dict[str, bytes]:
    """Rank, integrate, optionally optimise, and render the content files."""
    skd = rank_skd(policy, formations, outcomes)
    final = None
    if skb is not None:
        final = integrate(policy, skd, skb, missing_is_absent=missing_is_absent)
        if optimised:
            final = optimise(policy, skd, final)
    return build_files(exam, policy, skd, final)
