"""Reading a QTI package's manifest and items into a :class:`~item_bank.parsed.ParsedFile`.

See :mod:`item_bank.io_qti` for the mapping from QTI to Seleksi items;
:func:`item_bank.io_qti.parse_qti` drives the :class:`_Reader`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from item_bank.html import media_href, sniff_image_type
from item_bank.parsed import ParsedFile
from item_bank.qti_content import (
    _DROPPED,
    _MEDIA_ELEMENTS,
    _XHTML_ALLOWED_IN_HTML,
    _copy,
    _html_content,
    _is_rich,
    _remove_keep_tail,
    _unwrap_stem,
    text_content,
)
from item_bank.qti_mapping import Placement
from item_bank.qti_metadata import _provenance, _seleksi_fields
from item_bank.qti_package import MANIFEST, PackageError, _Package, _resolve
from item_bank.qti_scoring import _scoring
from item_bank.qti_xml import (
    CP_NS,
    QTI_VERSION_OF_NS,
    SELEKSI_NS,
    UnsafeXmlError,
    attr,
    local_name,
    name_of,
    namespace,
    parse_xml,
)
from item_bank.records import (
    OPTION_LETTERS,
    ContentAreaSpec,
    MediaFile,
    Problem,
    ScoringMode,
    StemFormat,
    SubtestSpec,
)


@dataclass
class _Candidate:
    """What an item offers for scoring before its subtest is known."""

    raw: dict[str, object]
    key: str | None  # option letter from correctResponse
    points: list[str] | None  # from mapping, one per option
    row: int
    item_id: str


@dataclass
class _Reader:
    parsed: ParsedFile
    mapping: Mapping[str, Placement]
    name: str
    candidates: list[_Candidate] = field(default_factory=list)

    # -- package level -------------------------------------------------------

    def read_package(self, pkg: _Package) -> None:
        if MANIFEST not in pkg.members:
            nested = [m for m in pkg.members if m.endswith("/" + MANIFEST)]
            hint = (
                f" (found {nested[0]!r}: zip the folder's contents, not the folder)"
                if nested
                else ""
            )
            raise PackageError(f"no {MANIFEST} at the top of the package{hint}")
        manifest = parse_xml(pkg.read(MANIFEST), MANIFEST)
        if local_name(manifest) != "manifest" or namespace(manifest) not in set(CP_NS.values()):
            raise PackageError(
                f"{MANIFEST} is not an IMS content package manifest (root "
                f"{manifest.tag!s}); expected QTI 2.1, 2.2 or 3.0"
            )
        self._read_subtests(manifest)
        cp = namespace(manifest)
        resources = manifest.findall(f"{{{cp}}}resources/{{{cp}}}resource")
        items = [r for r in resources if (r.get("type") or "").startswith("imsqti_item_xml")]
        if not items:
            types = sorted({r.get("type") or "?" for r in resources})
            raise PackageError(
                "the package holds no items (resources of type imsqti_item_xml…)"
                + (f"; it has: {', '.join(types)}" if types else "")
            )
        for row, res in enumerate(items, start=1):
            rid = res.get("identifier") or f"resource {row}"
            href = res.get("href")
            if href is None:
                files = res.findall(f"{{{cp}}}file")
                href = files[0].get("href") if files else None
            path = _resolve(MANIFEST, href) if href else None
            if path is None:
                self._fail(row, "href", f"resource {rid} has no item file inside the package", rid)
                continue
            if path not in pkg.members:
                self._fail(
                    row, "href", f"{path} is listed in the manifest but not in the package", rid
                )
                continue
            try:
                root = parse_xml(pkg.read(path), path)
            except UnsafeXmlError as exc:
                raise PackageError(str(exc)) from exc
            meta = res.find(f"{{{cp}}}metadata")
            seleksi = next(meta.iter(f"{{{SELEKSI_NS}}}item"), None) if meta is not None else None
            self._read_item(root, row, path, pkg, seleksi)

    def read_single(self, data: bytes) -> None:
        root = parse_xml(data, self.name)
        self._read_item(root, 1, self.name, None, None)

    def _read_subtests(self, manifest: etree._Element) -> None:
        for i, el in enumerate(manifest.iter(f"{{{SELEKSI_NS}}}subtest")):
            try:
                scoring = ScoringMode(el.get("scoring", ""))
                spec = SubtestSpec(
                    code=el.get("code", ""),
                    name=el.get("name", ""),
                    scoring=scoring,
                    points_correct=float(el.get("points-correct", "5")),
                    min_points=int(el.get("min-points", "1")),
                    max_points=int(el.get("max-points", "5")),
                    content_areas=tuple(
                        ContentAreaSpec(a.get("code", ""), a.get("name", ""))
                        for a in el.iter(f"{{{SELEKSI_NS}}}content-area")
                    ),
                )
            except ValueError as exc:
                self.parsed.problems.append(Problem(0, f"subtests[{i}]", f"unreadable ({exc})"))
                continue
            self.parsed.subtests.append((i, spec))

    def _fail(self, row: int, name: str, message: str, item_id: str | None) -> None:
        self.parsed.problems.append(Problem(row, name, message, item_id))

    # -- one item ------------------------------------------------------------

    def _read_item(
        self,
        root: etree._Element,
        row: int,
        path: str,
        pkg: _Package | None,
        seleksi: etree._Element | None,
    ) -> None:
        version = QTI_VERSION_OF_NS.get(namespace(root))
        qti_id = attr(root, "identifier") or None
        item_id = (seleksi.get("id") if seleksi is not None else None) or qti_id or f"row-{row}"
        if version is None or name_of(root) != "assessmentItem":
            self._fail(
                row,
                "item",
                f"{path} is not a QTI 2.1, 2.2 or 3.0 assessment item (root {root.tag!s})",
                item_id,
            )
            return
        fails: list[tuple[str, str]] = []
        for el in root.iter():
            n = name_of(el)
            if n in ("templateDeclaration", "templateProcessing"):
                fails.append(("template", "template (cloned) items are not supported"))
                break
        if (attr(root, "adaptive") or "false") == "true":
            fails.append(("adaptive", "adaptive items (several attempts) are not supported"))
        body = next((c for c in root if name_of(c) == "itemBody"), None)
        if body is None:
            self._fail(row, "itemBody", "the item has no body", item_id)
            return
        interactions = [
            el
            for el in body.iter()
            if isinstance(el.tag, str) and name_of(el).endswith("Interaction")
        ]
        if not interactions:
            fails.append(
                ("interaction", "no interaction; a Seleksi item is one multiple-choice question")
            )
        elif len(interactions) > 1:
            names = ", ".join(sorted({name_of(i) for i in interactions}))
            fails.append(
                (
                    "interaction",
                    f"{len(interactions)} interactions ({names}); a Seleksi item is one "
                    "multiple-choice question",
                )
            )
        elif name_of(interactions[0]) != "choiceInteraction":
            fails.append(
                (
                    "interaction",
                    f"{name_of(interactions[0])} is not delivered by Seleksi "
                    "(only choiceInteraction)",
                )
            )
        if fails:
            for where, message in fails:
                self._fail(row, where, message, item_id)
            return
        interaction = interactions[0]
        max_choices = attr(interaction, "maxChoices") or "1"
        if max_choices != "1":
            self._fail(
                row,
                "choiceInteraction.maxChoices",
                f"maxChoices={max_choices}: a candidate chooses exactly one option in Seleksi",
                item_id,
            )
            return
        choices = [c for c in interaction if name_of(c) == "simpleChoice"]
        response_id = attr(interaction, "responseIdentifier") or "RESPONSE"
        declaration = next(
            (
                d
                for d in root
                if name_of(d) == "responseDeclaration" and attr(d, "identifier") == response_id
            ),
            None,
        )
        letters = {
            attr(c, "identifier") or f"#{k}": OPTION_LETTERS[k]
            for k, c in enumerate(choices)
            if k < len(OPTION_LETTERS)
        }
        key, points, scoring_fails = _scoring(declaration, choices, letters)
        for where, message in scoring_fails:
            self._fail(row, where, message, item_id)
        if scoring_fails:
            return

        # The stem: the body without the interaction (its prompt stays in its place).
        body_copy = _copy(body)
        target = next(
            el
            for el in body_copy.iter()
            if isinstance(el.tag, str) and name_of(el) == "choiceInteraction"
        )
        prompt = next((c for c in target if name_of(c) == "prompt"), None)
        if prompt is None:
            _remove_keep_tail(target)
        else:
            holder = etree.Element(f"{{{namespace(target)}}}div")
            holder.text = prompt.text
            for c in list(prompt):
                holder.append(c)
            holder.tail = target.tail
            parent = target.getparent()
            assert parent is not None  # the interaction is inside the body
            parent.replace(target, holder)
        for el in list(body_copy.iter()):
            if isinstance(el.tag, str) and name_of(el) in _DROPPED and el.getparent() is not None:
                _remove_keep_tail(el)
        option_nodes = [_copy(c) for c in choices]

        problems_before = len(self.parsed.problems)
        for where, node in [
            ("stem", body_copy),
            *((f"options[{k}]", n) for k, n in enumerate(option_nodes)),
        ]:
            for el in node.iter():
                if el is node or not isinstance(el.tag, str):
                    continue
                if any(name_of(a) == "math" for a in el.iterancestors()):
                    continue  # reported once, at the math element
                n = name_of(el)
                if n in _MEDIA_ELEMENTS:
                    self._fail(
                        row,
                        where,
                        f"<{n}> (audio, video, embedded objects) is not delivered",
                        item_id,
                    )
                elif n == "math":
                    self._fail(row, where, "MathML is not shown by Seleksi terminals", item_id)
                elif n not in _XHTML_ALLOWED_IN_HTML and n not in _DROPPED:
                    self._fail(
                        row,
                        where,
                        f"<{local_name(el)}> is not supported in an item's text",
                        item_id,
                    )
        if len(self.parsed.problems) > problems_before:
            return

        declared_format = seleksi.get("stem-format") if seleksi is not None else None
        rich = any(_is_rich(n) for n in [body_copy, *option_nodes])
        stem_format = declared_format or (StemFormat.HTML.value if rich else StemFormat.TEXT.value)
        if stem_format == StemFormat.HTML.value:
            stem_root = _unwrap_stem(body_copy)
            ok = True
            for where, node in [
                ("stem", stem_root),
                *((f"options[{k}]", n) for k, n in enumerate(option_nodes)),
            ]:
                ok = self._store_images(node, row, where, item_id, path, pkg) and ok
            if not ok:
                return
            stem = _html_content(stem_root)
            options: list[str] = [_html_content(n) for n in option_nodes]
        else:
            stem = text_content(body_copy)
            options = [text_content(n) for n in option_nodes]

        raw: dict[str, object] = {
            "id": item_id,
            "stem": stem,
            "stem_format": stem_format,
            "options": options,
        }
        if seleksi is not None:
            _seleksi_fields(seleksi, raw)
        else:
            placement = self.mapping.get(item_id) or self.mapping.get("*")
            if placement is not None:
                raw["subtest"] = placement.subtest
                raw["content_area"] = placement.content_area
                raw["status"] = placement.status
            raw["source"] = _provenance(root, self.name)
        self.parsed.raw_items.append((row, raw))
        self.candidates.append(_Candidate(raw, key, points, row, item_id))

    def _store_images(
        self,
        node: etree._Element,
        row: int,
        where: str,
        item_id: str,
        path: str,
        pkg: _Package | None,
    ) -> bool:
        ok = True
        for img in node.iter():
            if not isinstance(img.tag, str) or name_of(img) != "img":
                continue
            src = img.get("src") or ""
            target = _resolve(path, src) if src else None
            if target is None:
                self._fail(
                    row,
                    where,
                    f"image {src[:80]!r} is not in the package; terminals load nothing "
                    "from elsewhere",
                    item_id,
                )
                ok = False
                continue
            if pkg is None or target not in pkg.members:
                self._fail(row, where, f"image {target} is missing from the package", item_id)
                ok = False
                continue
            data = pkg.read(target)
            mime = sniff_image_type(data)
            if mime is None:
                self._fail(
                    row,
                    where,
                    f"{target} is not a PNG, JPEG, GIF or WebP image (SVG is not accepted)",
                    item_id,
                )
                ok = False
                continue
            digest, href = media_href(data, mime)
            self.parsed.media.setdefault(
                digest, MediaFile(digest, mime, data, posixpath.basename(target))
            )
            img.set("src", href)
        return ok

    def finish(self, subtests: Mapping[str, SubtestSpec]) -> None:
        """Key or points, by the scoring of each item's subtest (known only now)."""
        unplaced = [c for c in self.candidates if not c.raw.get("subtest")]
        if unplaced:
            self.parsed.problems.append(
                Problem(
                    0,
                    "mapping",
                    f"{len(unplaced)} item(s) have no subtest and content area (the package has "
                    "no Seleksi metadata for them): give a mapping file (--mapping, columns "
                    "id,subtest,content_area; the id * places every other item)",
                )
            )
        for cand in self.candidates:
            spec = subtests.get(str(cand.raw.get("subtest") or ""))
            if spec is None:
                continue
            if spec.scoring is ScoringMode.DICHOTOMOUS:
                if cand.key is None:
                    self.parsed.problems.append(
                        Problem(
                            cand.row,
                            "correctResponse",
                            f"no correct response; subtest {spec.code} needs a key",
                            cand.item_id,
                        )
                    )
                cand.raw["key"] = cand.key
            else:
                if cand.points is None:
                    self.parsed.problems.append(
                        Problem(
                            cand.row,
                            "mapping",
                            f"no mapping of option points; subtest {spec.code} scores every option",
                            cand.item_id,
                        )
                    )
                cand.raw["points"] = cand.points
