"""Versions of a publication: the chain that accepted appeals of results make.

An accepted appeal (sanggah hasil) corrects clerical data only
(:data:`CORRECTABLE`: a candidate's name, category, or a transcribed SKB
score). The correction is applied to the inputs the previous version embeds,
the published rules are re-applied, and the result is signed as a new,
complete publication whose manifest carries a ``version`` block::

    "version": {
      "number": 2,
      "previous": {"path": "versions/1/", "manifest_sha256": …, "merkle_root": …},
      "reason": "…",
      "corrections": [{"registration_number", "field", "from", "to", "appeal", "reason"}],
      "changes": [{"stage", "formation", "registration_number", "fields": [...]}]
    }

The previous version travels inside the new one, byte for byte, under
``versions/<n-1>/`` (and its own predecessors inside it), every file listed
in the new manifest; so one directory holds the whole chain and
:func:`check_version` — called by
:func:`~exam_server.results.publication.verify_publication` for any manifest
with a ``version`` block, hence by ``seleksi results verify`` and the public
pages — checks, offline:

1. the previous version verifies (recursively, down to version 1);
2. it is the one this version names (SHA-256 of its manifest), of the same
   exam, signed by the same key, numbered one less, with the same
   ``optimised`` flag (a correction never switches optimisation on or off);
3. every correction touches a correctable field and starts from the value the
   previous version published;
4. re-applying the rules to the previous inputs with the corrections (and
   the previous version's ``optimised`` flag) gives exactly this version's
   rankings (nothing else changed), and the declared ``changes`` are exactly
   the entries that differ. A corrected SKB score obeys the range rule of the
   import (:func:`~exam_server.results.integration.skb_range_problem`).

Pure: standard library and ``cryptography`` (through :mod:`.publication`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_server.results import publication as pub
from exam_server.results.integration import SkbScore, integrate, optimise, skb_range_problem
from exam_server.results.outcomes import CandidateOutcome
from exam_server.results.ranking import rank_skd

#: What an accepted appeal may correct: clerical data, never a score the
#: engine computed (those are recomputed from the audit chain). ``skb`` also
#: covers one SKB component's transcribed score, as ``skb:<component code>``
#: (the SKB score is then their weighted sum again, issue 19).
CORRECTABLE = ("name", "category", "skb")
COMPONENT = "skb:"


def correctable(field: str) -> bool:
    """Whether an appeal may correct ``field`` (:data:`CORRECTABLE` or an SKB component)."""
    return field in CORRECTABLE or (field.startswith(COMPONENT) and len(field) > len(COMPONENT))


VERSIONS_DIR = "versions"


@dataclass(frozen=True)
class Correction:
    """One accepted correction. ``old``/``new`` as published (SKB: points as text)."""

    registration_number: str
    field: str
    old: str | None
    new: str
    appeal: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "registration_number": self.registration_number,
            "field": self.field,
            "from": self.old,
            "to": self.new,
            "appeal": self.appeal,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Correction:
        return cls(
            str(d["registration_number"]),
            str(d["field"]),
            None if d["from"] is None else str(d["from"]),
            str(d["to"]),
            str(d["appeal"]),
            str(d["reason"]),
        )


def version_number(manifest: Mapping[str, Any]) -> int:
    """1 for a publication without a ``version`` block."""
    v = manifest.get("version")
    return int(v["number"]) if isinstance(v, Mapping) else 1


def current_value(
    outcomes: Sequence[CandidateOutcome],
    skb: Mapping[str, SkbScore] | None,
    registration_number: str,
    field: str,
) -> str | None:
    """The value of ``field`` the inputs hold for a candidate (``KeyError`` if unknown)."""
    if not correctable(field):
        raise pub.PublicationError(
            f"{field!r} is not correctable by an appeal (only {', '.join(CORRECTABLE)})"
        )
    if field.startswith("skb"):
        if skb is None or registration_number not in skb:
            raise KeyError(registration_number)
        rec = skb[registration_number]
        if field == "skb":
            return None if rec.points is None else str(rec.points)
        for comp in rec.components:
            if comp.code == field[len(COMPONENT) :]:
                return str(comp.score)
        raise KeyError(registration_number)
    for o in outcomes:
        if o.registration_number == registration_number:
            return str(getattr(o, field))
    raise KeyError(registration_number)


def _same(field: str, held: str | None, claimed: str | None) -> bool:
    if field.startswith("skb") and held is not None and claimed is not None:
        try:
            return Decimal(held) == Decimal(claimed)  # 88.5 is 88.500
        except InvalidOperation:
            return False
    return held == claimed


def apply_corrections(
    inputs: pub.Inputs, corrections: Sequence[Correction]
) -> tuple[list[CandidateOutcome], dict[str, SkbScore] | None]:
    """The outcomes and SKB scores with ``corrections`` applied; raises
    :class:`~exam_server.results.publication.PublicationError` naming the
    correction that does not fit (unknown candidate or field, a ``from`` that
    is not the published value, an unknown category, a bad SKB score)."""
    policy, _, outcomes, skb = inputs
    out = list(outcomes)
    new_skb = dict(skb) if skb is not None else None
    for i, c in enumerate(corrections):
        where = f"correction {i + 1} ({c.registration_number}, {c.field})"
        try:
            held = current_value(out, new_skb, c.registration_number, c.field)
        except KeyError:
            raise pub.PublicationError(f"{where}: no such candidate in the publication") from None
        if not _same(c.field, held, c.old):
            raise pub.PublicationError(f"{where}: published value is {held!r}, not {c.old!r}")
        if c.field.startswith("skb"):
            assert new_skb is not None  # current_value found the candidate there
            new_skb[c.registration_number] = _corrected_skb(
                policy, new_skb[c.registration_number], c, where
            )
            continue
        if c.field == "category":
            try:
                policy.category(c.new)
            except (KeyError, ValueError) as exc:
                raise pub.PublicationError(f"{where}: {exc}") from None
        k = next(j for j, o in enumerate(out) if o.registration_number == c.registration_number)
        if c.field == "name":
            out[k] = dataclasses.replace(out[k], name=c.new)
        else:
            out[k] = dataclasses.replace(out[k], category=c.new)
    return out, new_skb


def _corrected_skb(policy: Any, rec: SkbScore, c: Correction, where: str) -> SkbScore:
    """The SKB record with ``c`` applied: the score itself (no components), or
    one component's score and the SKB as their weighted sum again."""
    from assessment.components import ComponentError, skb_total

    try:
        value = Decimal(c.new)
    except InvalidOperation:
        raise pub.PublicationError(f"{where}: bad score {c.new!r}") from None
    if c.field == "skb":
        if rec.components:
            raise pub.PublicationError(
                f"{where}: this SKB is the weighted sum of its components; correct the "
                "component (skb:<code>)"
            )
        try:
            points = policy.points(value)
        except ValueError as exc:
            raise pub.PublicationError(f"{where}: bad SKB score {c.new!r} ({exc})") from None
        if (bad := skb_range_problem(policy, points)) is not None:
            raise pub.PublicationError(f"{where}: the SKB score {bad}")
        return dataclasses.replace(rec, points=points)
    code = c.field[len(COMPONENT) :]
    comps = tuple(
        dataclasses.replace(comp, score=value) if comp.code == code else comp
        for comp in rec.components
    )
    try:
        if not 0 <= value <= 100:
            raise ComponentError("a component's score must be 0–100")
        points = policy.points(skb_total(comps))
    except (ComponentError, ValueError) as exc:
        raise pub.PublicationError(f"{where}: {exc}") from None
    if (bad := skb_range_problem(policy, points)) is not None:
        raise pub.PublicationError(f"{where}: the SKB score {bad}")
    return dataclasses.replace(rec, points=points, components=comps)


def _rebuilt(
    exam: pub.ExamInfo, inputs: pub.Inputs, corrections: Sequence[Correction], optimised: bool
) -> tuple[Any, Any]:
    policy, formations, _, _ = inputs
    outcomes, skb = apply_corrections(inputs, corrections)
    skd = rank_skd(policy, formations, outcomes)
    final = None
    if skb is not None:
        final = integrate(policy, skd, skb)
        if optimised:
            final = optimise(policy, skd, final)
    return skd, final


def _entries(files: Mapping[str, bytes]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (doc["stage"], doc["formation"]["id"], e["registration_number"]): e
        for _, doc in pub.formation_docs(files)
        for e in doc["entries"]
    }


def changed_entries(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """Every entry that differs between two versions, with the fields that differ."""
    a, b = _entries(old), _entries(new)
    out = []
    for key in sorted(set(a) | set(b)):
        ea, eb = a.get(key, {}), b.get(key, {})
        fields = sorted(f for f in set(ea) | set(eb) if ea.get(f) != eb.get(f))
        if fields:
            out.append(
                {
                    "stage": key[0],
                    "formation": key[1],
                    "registration_number": key[2],
                    "fields": fields,
                }
            )
    return out


def _own_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    return {p: b for p, b in files.items() if not p.startswith(f"{VERSIONS_DIR}/")}


def next_version(
    previous: Mapping[str, bytes],
    corrections: Sequence[Correction],
    reason: str,
    private_key: Ed25519PrivateKey,
    published_at: str,
) -> pub.Publication:
    """The publication that follows ``previous`` (all its files) once
    ``corrections`` are accepted, signed with ``private_key`` (the key that
    signed ``previous``), dated ``published_at``."""
    if not corrections:
        raise pub.PublicationError("a new version needs at least one correction")
    if not reason.strip():
        raise pub.PublicationError("a new version needs a reason")
    manifest = json.loads(previous[pub.MANIFEST])
    if manifest["signature"]["public_key_sha256"] != pub.public_key_fingerprint(
        private_key.public_key()
    ):
        raise pub.PublicationError("the new version must be signed by the key of the previous one")
    n = version_number(manifest)
    exam = pub.ExamInfo(manifest["exam"]["id"], manifest["exam"]["title"], published_at)
    listed = {f["path"] for f in manifest["files"]}
    inputs = pub.inputs_from_files({p: previous[p] for p in listed})
    skd, final = _rebuilt(exam, inputs, corrections, bool(manifest["optimised"]))
    content = pub.build_files(exam, inputs[0], skd, final)
    version = {
        "number": n + 1,
        "previous": {
            "path": f"{VERSIONS_DIR}/{n}/",
            "manifest_sha256": pub.sha256_hex(previous[pub.MANIFEST]),
            "merkle_root": manifest["merkle"]["root"],
        },
        "reason": reason.strip(),
        "corrections": [c.to_dict() for c in corrections],
        "changes": changed_entries(previous, content),
    }
    attach = {f"{VERSIONS_DIR}/{n}/{p}": b for p, b in previous.items()}
    return pub.publish(
        exam,
        inputs[0],
        skd,
        private_key,
        final,
        receipt_keys=pub.receipt_keys_of(manifest),
        attach=attach,
        version=version,
    )


def check_version(
    files: Mapping[str, bytes],
    manifest: Mapping[str, Any],
    public_key: Ed25519PublicKey | None,
    rep: pub.VerifyReport,
) -> None:
    """Check the ``version`` block of a verified publication (module doc, 1–4);
    problems and checks go into ``rep``."""
    try:
        v = manifest["version"]
        n = int(v["number"])
        prev_path = str(v["previous"]["path"])
        prev_sha = str(v["previous"]["manifest_sha256"])
        reason = str(v["reason"])
        corrections = [Correction.from_dict(c) for c in v["corrections"]]
        declared = list(v["changes"])
    except (KeyError, TypeError, ValueError) as exc:
        rep.problems.append(f"{pub.MANIFEST}: malformed version block ({exc!r})")
        return
    if n < 2 or prev_path != f"{VERSIONS_DIR}/{n - 1}/":
        rep.problems.append(f"version {n}: the previous version must be at {VERSIONS_DIR}/{n - 1}/")
        return
    previous = {p[len(prev_path) :]: b for p, b in files.items() if p.startswith(prev_path)}
    if pub.MANIFEST not in previous:
        rep.problems.append(f"version {n}: the previous version ({prev_path}) is missing")
        return
    if pub.sha256_hex(previous[pub.MANIFEST]) != prev_sha:
        rep.problems.append(f"version {n}: {prev_path}{pub.MANIFEST} is not the version it names")
        return
    sub = pub.verify_publication(previous, public_key)
    rep.problems.extend(f"version {n - 1}: {p}" for p in sub.problems)
    if sub.problems:
        return
    rep.checks.extend(c for c in sub.checks if c.startswith("version "))  # the older links
    prev_manifest = json.loads(previous[pub.MANIFEST])
    if version_number(prev_manifest) != n - 1:
        rep.problems.append(
            f"version {n}: {prev_path} holds version {version_number(prev_manifest)}"
        )
    if prev_manifest["exam"]["id"] != manifest["exam"]["id"]:
        rep.problems.append(f"version {n}: the previous version is of another exam")
    if (
        prev_manifest["signature"]["public_key_sha256"]
        != manifest["signature"]["public_key_sha256"]
    ):
        rep.problems.append(f"version {n}: signed by another key than version {n - 1}")
    # Whether optimisation ran is the previous version's: an appeal's correction
    # re-applies the same rules and steps (next_version keeps the flag).
    optimised = bool(prev_manifest.get("optimised"))
    if bool(manifest.get("optimised")) != optimised:
        rep.problems.append(
            f"version {n}: optimisation is {'on' if manifest.get('optimised') else 'off'}, "
            f"but {'on' if optimised else 'off'} in version {n - 1} (a version may not change it)"
        )
    bad = [c for c in corrections if not correctable(c.field)]
    for c in bad:
        rep.problems.append(
            f"version {n}: correction of {c.registration_number} changes {c.field!r}, "
            f"which an appeal may not correct"
        )
    if bad or not corrections or not reason.strip():
        if not corrections or not reason.strip():
            rep.problems.append(f"version {n}: no corrections or no reason given")
        return
    own = _own_files(files)
    try:
        inputs = pub.inputs_from_files(_own_files(previous))
        exam = pub.ExamInfo(**manifest["exam"])
        skd, final = _rebuilt(exam, inputs, corrections, optimised)
    except (pub.PublicationError, ValueError, TypeError) as exc:
        rep.problems.append(f"version {n}: the corrections do not apply to version {n - 1}: {exc}")
        return
    expected = pub.build_files(exam, inputs[0], skd, final, with_csv=False)
    differ = sorted(
        p
        for p in set(expected) | {p for p in own if p.endswith(".json") and p != pub.MANIFEST}
        if own.get(p) != expected.get(p)
    )
    if differ:
        rep.problems.append(
            f"version {n}: not version {n - 1} with the declared corrections and the rules "
            f"re-applied ({', '.join(differ[:5])} differ)"
        )
        return
    if changed_entries(_own_files(previous), own) != declared:
        rep.problems.append(f"version {n}: the declared changes are not the entries that differ")
        return
    rep.checks.append(
        f"version {n} = version {n - 1} with {len(corrections)} correction(s) "
        f"({', '.join(sorted({c.field for c in corrections}))}) and the rules re-applied; "
        f"{len(declared)} entries changed; reason: {reason.strip()}"
    )
